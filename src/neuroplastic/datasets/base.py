"""The common return type of the array loaders and small helpers shared by them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .root import cache_dir, source_key


@dataclass
class ArrayDataset:
    """A labelled data set in memory, already split into train and test.

    Images are float32 in [0, 1] shaped (N, C, H, W); flat features are (N, D); token ids of
    encoded text are int64 (N, L). Labels are int64 class indices into ``class_names``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] = field(default_factory=list)
    name: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def stratified_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with ``round(test_fraction * n_c)`` test samples of every class.

    Written here rather than taken from scikit-learn so the split never changes between library
    versions. Indices come back sorted, keeping the data set's own order.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def to_unit_float(x: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1]."""
    out = x.astype(np.float32)
    out /= 255.0
    return out


def cached_arrays(source: Path, tag: str) -> Path:
    """The cache file for decoded arrays of ``source`` (changes when the source changes).

    ``tag`` carries a format version: bump it when the decoded layout changes.
    """
    return cache_dir() / f"{tag}-{source_key(source)}.npz"


def load_cache(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None  # a truncated or foreign file: decode again


def save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a cache atomically; failing to cache never fails the load."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, **arrays)  # uncompressed: loading is then a plain read
        os.replace(tmp, path)
    except OSError:
        if tmp.exists():
            tmp.unlink()
