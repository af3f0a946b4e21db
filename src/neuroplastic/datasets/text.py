"""Text data: the VADER sentiment ground truth, generic CSV/TSV/JSONL tables, a vocabulary.

Texts become int64 token ids padded with 0 (``PAD``); models read the padding mask from the 0s.
"""

from __future__ import annotations

import csv
import html
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError, NeuroplasticError
from .base import stratified_split
from .root import missing_message, resolve_root

logger = logging.getLogger(__name__)

PAD, UNK = 0, 1
# Lower-cased words (with an apostrophe part: "don't"), runs of ! or ?, and simple emoticons:
# punctuation and emoticons carry sentiment, especially in tweets.
TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[!?]+|[:;=]-?[()dp]")

VADER_FILES = {
    "tweets": "tweets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
VADER_SUBDIR = "sentiment/vader"
SENTIMENT_CLASSES = ["negative", "positive"]


@dataclass
class TextDataset:
    """Texts with int64 labels indexing ``class_names``, and optionally a domain per text."""

    texts: list[str]
    labels: np.ndarray
    domains: list[str] | None = None
    class_names: list[str] = field(default_factory=list)
    name: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Iterable[int]) -> TextDataset:
        idx = np.asarray(list(indices), dtype=np.int64)
        return TextDataset(
            texts=[self.texts[i] for i in idx],
            labels=self.labels[idx],
            domains=None if self.domains is None else [self.domains[i] for i in idx],
            class_names=list(self.class_names),
            name=self.name,
        )

    def domain(self, name: str) -> TextDataset:
        if self.domains is None:
            raise NeuroplasticError(f"{self.name or 'text data set'} has no domains")
        return self.subset(i for i, d in enumerate(self.domains) if d == name)

    def domain_names(self) -> list[str]:
        """Domains in order of first appearance."""
        return list(dict.fromkeys(self.domains or []))


def split_text(data: TextDataset, test_fraction: float = 0.2, seed: int = 0):
    """Train and test parts, stratified by label within each domain (seeded, deterministic)."""
    domains = data.domains or [""] * len(data)
    keys = list(zip(domains, data.labels.tolist(), strict=True))
    groups = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    strata = np.array([groups[k] for k in keys], dtype=np.int64)
    train, test = stratified_split(strata, test_fraction, seed)
    return data.subset(train), data.subset(test)


def tokenize(text: str) -> list[str]:
    return TOKEN_RE.findall(text.lower())


@dataclass
class Vocabulary:
    """Token <-> id map; id 0 is padding (``<pad>``), id 1 unknown words (``<unk>``)."""

    itos: list[str]

    def __post_init__(self) -> None:
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], min_freq: int = 1, max_size: int | None = None):
        """From training texts: tokens seen ``min_freq`` times or more, most frequent first
        (ties alphabetical, so the ids never depend on dict order); ``max_size`` counts the two
        special tokens."""
        counts = Counter(tok for text in texts for tok in tokenize(text))
        tokens = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            if max_size < 2:
                raise NeuroplasticError(f"vocabulary max_size must be at least 2, got {max_size}")
            tokens = tokens[: max_size - 2]
        return cls(["<pad>", "<unk>", *tokens])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, texts: Sequence[str], max_len: int) -> np.ndarray:
        """(N, max_len) int64 ids, truncated, padded with ``PAD``. A text without any token
        becomes a single ``UNK`` so that no row is all padding (a mean over no tokens is NaN)."""
        out = np.zeros((len(texts), max_len), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.stoi.get(t, UNK) for t in tokenize(text)[:max_len]] or [UNK]
            out[row, : len(ids)] = ids
        return out


def _read_vader_file(path: Path, domain: str) -> list[tuple[float, str]]:
    # Decode leniently: a few bytes in these files are not valid UTF-8.
    text = path.read_bytes().decode("utf-8", errors="replace")
    rows = []
    # Split on line ends only: str.splitlines would also split at form feeds etc. inside a text.
    for lineno, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        try:
            rating = float(parts[1])
        except (IndexError, ValueError):
            raise NeuroplasticError(
                f"{path}:{lineno}: expected 'id<TAB>rating<TAB>text', got {line[:60]!r}"
            ) from None
        rows.append((rating, html.unescape(parts[2]) if len(parts) > 2 else ""))
    return rows


def load_vader(
    root: str | os.PathLike | None = None,
    neutral_threshold: float = 0.5,
    domains: Sequence[str] = tuple(VADER_FILES),
) -> TextDataset:
    """The VADER ground truth (Hutto & Gilbert 2014): human-rated sentences in four domains.

    Files: ``<root>/sentiment/vader/{tweets,movieReviewSnippets,amazonReviewSnippets,
    nytEditorialSnippets}_GroundTruth.txt`` (``id<TAB>mean rating -4..4<TAB>text``, CRLF).
    Domains: ``tweets``, ``movies``, ``amazon``, ``nyt``. Label 1 (positive) when the mean rating
    is > 0, 0 (negative) when < 0.

    Near-neutral rule: sentences with ``abs(rating) < neutral_threshold`` are dropped, and so
    are exact zeros (they have no sign). The default 0.5 keeps, for tweets / movies / amazon /
    nyt, 2,345/1,087, 4,996/5,076, 1,750/1,235, 1,187/1,783 positive/negative sentences; with
    0.0 only the exact zeros go (2,897/1,299, 5,242/5,326, 2,128/1,482, 2,204/2,742).
    """
    unknown = [d for d in domains if d not in VADER_FILES]
    if unknown:
        raise NeuroplasticError(f"unknown VADER domains {unknown}; valid: {list(VADER_FILES)}")
    base = resolve_root(root)
    folder = base / VADER_SUBDIR
    missing = [VADER_FILES[d] for d in domains if not (folder / VADER_FILES[d]).is_file()]
    if missing:
        hint = (
            "They ship in the vaderSentiment 3.3.2 source distribution (not the wheel), inside "
            "additional_resources/hutto_ICWSM_2014.tar.gz."
        )
        message = missing_message("VADER sentiment data", missing, VADER_SUBDIR, base, hint)
        raise DataNotFoundError(message)
    texts, labels, doms = [], [], []
    for domain in domains:
        for rating, text in _read_vader_file(folder / VADER_FILES[domain], domain):
            if rating == 0 or abs(rating) < neutral_threshold:
                continue
            texts.append(text)
            labels.append(1 if rating > 0 else 0)
            doms.append(domain)
    labels_array = np.array(labels, dtype=np.int64)
    return TextDataset(texts, labels_array, doms, list(SENTIMENT_CLASSES), name="vader")


def _read_rows(path: Path) -> list[dict]:
    suffix = path.suffix.lower()
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        if suffix in (".jsonl", ".ndjson"):
            rows = []
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise NeuroplasticError(f"{path}:{lineno}: bad JSON ({exc})") from None
            return rows
        if suffix in (".csv", ".tsv", ".txt"):
            return list(csv.DictReader(f, delimiter="," if suffix == ".csv" else "\t"))
    raise NeuroplasticError(f"{path}: unknown table format {suffix!r}; use .csv, .tsv or .jsonl")


def _class_order(values: list) -> list:
    """Sorted label values: numerically when every label is an integer (as int or text)."""
    try:
        return sorted(set(values), key=lambda v: (int(str(v)), str(v)))
    except ValueError:
        return sorted(set(values), key=str)


def load_text_table(
    path: str | os.PathLike,
    text_column: str = "text",
    label_column: str = "label",
    domain_column: str | None = None,
    auto_domain: bool = False,
) -> TextDataset:
    """A labelled text table (``.csv``, ``.tsv``, ``.jsonl``): one row per text.

    Classes are the distinct labels, sorted (numerically when they are integers); their text
    forms become ``class_names``. With ``auto_domain`` and no ``domain_column``, a column named
    ``domain`` in the first row is used as the domain column.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"text table {path} does not exist")
    rows = _read_rows(path)
    if not rows:
        raise NeuroplasticError(f"{path} holds no rows")
    if auto_domain and not domain_column and "domain" in rows[0]:
        domain_column = "domain"
        logger.info(
            "%s: using its column 'domain' as the domain column (one task per domain); "
            "benchmark.domain_column='' turns this off", path.name
        )
    needed = [c for c in (text_column, label_column, domain_column) if c]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise NeuroplasticError(
                f"{path}: row {i + 1} is a JSON {type(row).__name__}, not an object with the "
                f"columns {', '.join(needed)}"
            )
        absent = [c for c in needed if c not in row or row[c] is None]
        if absent:
            raise NeuroplasticError(
                f"{path}: row {i + 1} lacks the column(s) {', '.join(absent)}; columns present: "
                f"{', '.join(map(str, row))}"
            )
    texts = [str(row[text_column]) for row in rows]
    if not any(tokenize(t) for t in texts):
        # every row would become the single unknown token: nothing to learn from, silently
        raise NeuroplasticError(
            f"{path}: no row of the column {text_column!r} holds a word; is text_column the "
            f"column with the texts? (columns: {', '.join(map(str, rows[0]))})"
        )
    raw = [row[label_column] for row in rows]
    order = _class_order([str(v) for v in raw])
    index = {v: i for i, v in enumerate(order)}
    return TextDataset(
        texts=texts,
        labels=np.array([index[str(v)] for v in raw], dtype=np.int64),
        domains=[str(row[domain_column]) for row in rows] if domain_column else None,
        class_names=[str(v) for v in order],
        name=path.stem,
    )
