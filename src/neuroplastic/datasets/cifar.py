"""CIFAR-10 from the canonical python pickles, their tarball, or an image-folder tree.

Sources, in the order tried (the lossless pickles first):

1. ``cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``, ``batches.meta``);
2. ``cifar-10-python.tar.gz`` (the same pickles, read from the archive without extracting);
3. an image-folder tree ``{train,test}/<class>/*.jpg|png`` as a folder or ``.tar.gz``, e.g.
   ``cifar10-jpeg.tar.gz`` (a JPEG copy: slightly lossy, see the data README);
4. a download of the canonical tarball (MD5-checked).

Each is looked for in ``<root>/cifar10/``, ``<root>/cifar-10/`` and ``<root>/``.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import tarfile
import time
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import NeuroplasticError
from .base import ArrayDataset, cached_arrays, load_cache, save_cache, to_unit_float
from .imagefolder import read_image_folder_uint8
from .root import ensure_files, find_file, resolve_root

logger = logging.getLogger(__name__)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
SUBDIRS = ["cifar10", "cifar-10", ""]
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
FOLDER_NAMES = ["cifar10-jpeg", "cifar10-png", "cifar10-images"]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only.

    The batches are pickles; refusing every other global means a tampered file cannot run code.
    """

    ALLOWED = {"_reconstruct", "ndarray", "dtype", "scalar"}

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):
            return super().find_class(module, name)  # how Python 3 pickles bytes at protocol 2
        if module.split(".")[0] == "numpy" and name in self.ALLOWED:
            # Old pickles name numpy.core.*, which numpy 2 renamed numpy._core.*.
            module = module.replace("numpy.core", "numpy._core", 1)
            try:
                return super().find_class(module, name)
            except (ImportError, AttributeError):
                return super().find_class(module.replace("numpy._core", "numpy.core"), name)
        raise pickle.UnpicklingError(f"CIFAR batch refers to {module}.{name}, which is not allowed")


def _unpickle(data: bytes) -> dict:
    # encoding="bytes": the canonical batches were pickled by Python 2 (keys are b"data", ...).
    obj = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    if not isinstance(obj, dict):
        raise NeuroplasticError("CIFAR batch is not a dict")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _batch_arrays(batch: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except KeyError as exc:
        raise NeuroplasticError(f"CIFAR batch {name} lacks the key {exc}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise NeuroplasticError(f"CIFAR batch {name}: data {data.shape}, labels {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def _from_batches(read) -> dict[str, np.ndarray]:
    """Assemble the arrays from a ``read(name) -> bytes`` over the batch files."""
    xs, ys = zip(*(_batch_arrays(_unpickle(read(n)), n) for n in TRAIN_BATCHES), strict=True)
    x_test, y_test = _batch_arrays(_unpickle(read("test_batch")), "test_batch")
    try:
        meta = _unpickle(read("batches.meta"))
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta["label_names"]]
    except (KeyError, FileNotFoundError):
        names = list(CIFAR10_CLASSES)
    return {
        "x_train": np.concatenate(xs),
        "y_train": np.concatenate(ys),
        "x_test": x_test,
        "y_test": y_test,
        "class_names": np.array(names),
    }


def _from_batch_dir(folder: Path) -> dict[str, np.ndarray]:
    def read(name: str) -> bytes:
        return (folder / name).read_bytes()

    return _from_batches(read)


def _from_batch_tar(path: Path) -> dict[str, np.ndarray]:
    files: dict[str, bytes] = {}
    with tarfile.open(path, "r|*") as tar:
        for member in tar:
            base = PurePosixPath(member.name).name
            if member.isfile() and (
                base in TRAIN_BATCHES or base in ("test_batch", "batches.meta")
            ):
                f = tar.extractfile(member)
                if f is not None:
                    files[base] = f.read()

    def read(name: str) -> bytes:
        if name not in files:
            if name == "batches.meta":
                raise FileNotFoundError(name)
            raise NeuroplasticError(f"{path} lacks the CIFAR batch {name}")
        return files[name]

    return _from_batches(read)


def _find_source(root: Path) -> tuple[str, Path] | None:
    for sub in SUBDIRS:
        folder = root / sub / "cifar-10-batches-py"
        if (folder / "data_batch_1").is_file():
            return "batches", folder
    tar = find_file(["cifar-10-python.tar.gz"], SUBDIRS, root)
    if tar:
        return "batch-tar", tar
    names = [f"{n}{s}" for n in FOLDER_NAMES for s in (".tar.gz", ".tgz", ".tar")]
    archive = find_file(names, SUBDIRS, root)
    if archive:
        return "folder", archive
    for sub in SUBDIRS:
        for name in FOLDER_NAMES:
            if (root / sub / name / "train").is_dir():
                return "folder", root / sub / name
    return None


def load_cifar10(root: str | os.PathLike | None = None) -> ArrayDataset:
    """CIFAR-10, 50,000 train / 10,000 test, (N, 3, 32, 32) float32 in [0, 1].

    Decoded arrays are cached (uint8 ``.npz``, keyed by source path, size and mtime), so only
    the first load decodes.
    """
    base = resolve_root(root)
    source = _find_source(base)
    if source is None:
        entry = ("cifar-10-python.tar.gz", ["cifar-10-python.tar.gz"], [CIFAR10_URL], CIFAR10_MD5)
        (tar,) = ensure_files(
            "CIFAR-10 (or an image folder cifar10-jpeg[.tar.gz] with train/ and test/)",
            [entry],
            SUBDIRS,
            base,
        )
        source = ("batch-tar", tar)
    kind, path = source
    if kind == "folder":
        arrays = read_image_folder_uint8(path)
    else:
        cache_file = cached_arrays(path, "cifar10-v1")
        arrays = load_cache(cache_file)
        if arrays is None:
            # about 14 s on two cores, once: say so rather than sit silent
            logger.info("decoding CIFAR-10 from %s (once; cached as %s) ...", path, cache_file)
            start = time.perf_counter()
            arrays = _from_batch_dir(path) if kind == "batches" else _from_batch_tar(path)
            save_cache(cache_file, arrays)
            logger.info("decoded CIFAR-10 in %.0f s", time.perf_counter() - start)
    names = [str(c) for c in arrays["class_names"]]
    y_train, y_test = arrays["y_train"], arrays["y_test"]
    if kind == "folder" and sorted(names) == sorted(CIFAR10_CLASSES):
        # Folder classes come sorted by name; map them to the canonical label order.
        remap = np.array([CIFAR10_CLASSES.index(n) for n in names], dtype=np.int64)
        y_train, y_test, names = remap[y_train], remap[y_test], list(CIFAR10_CLASSES)
    return ArrayDataset(
        x_train=to_unit_float(arrays["x_train"]),
        y_train=y_train,
        x_test=to_unit_float(arrays["x_test"]),
        y_test=y_test,
        class_names=names,
        name="cifar10",
    )
