"""Image-folder trees: ``<path>/{train,test}/<class>/<image>``, as a folder or a tar archive.

The same reader serves any such tree (CIFAR-10 as JPEGs included). Members of a ``.tar.gz`` are
read straight from the archive in one sequential pass (no extraction to disk) and decoded with
Pillow; the decoded uint8 arrays are cached as ``.npz`` so the next load is a plain file read.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import re
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataNotFoundError, NeuroplasticError
from .base import ArrayDataset, cached_arrays, load_cache, save_cache, to_unit_float

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = set(".png .jpg .jpeg .bmp .gif .ppm .pgm .pbm .tif .tiff .webp".split())
SPLITS = {"train": "train", "training": "train", "test": "test", "testing": "test"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
PARALLEL_MIN = 5000  # below this, starting worker processes costs more than it saves
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _split_and_class(relpath: str) -> tuple[str, str] | None:
    """``.../<split>/<class>/<file>`` -> (split, class), or None for files outside the layout."""
    parts = relpath.split("/")  # archive names and as_posix() both use "/"
    if len(parts) < 3 or parts[-1].startswith("."):
        return None
    if os.path.splitext(parts[-1])[1].lower() not in IMAGE_SUFFIXES:
        return None
    split = SPLITS.get(parts[-3].lower())
    return (split, parts[-2]) if split else None


def _members(path: Path) -> Iterator[tuple[str, str, str, bytes]]:
    """(split, class, name, encoded bytes) of every image in a folder or archive."""
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path).as_posix()
            found = _split_and_class(rel) if file.is_file() else None
            if found:
                yield found[0], found[1], rel, file.read_bytes()
        return
    # Stream mode ("r|*") reads the archive once, front to back: a gzip stream cannot seek.
    with tarfile.open(path, "r|*") as tar:
        for member in tar:
            found = _split_and_class(member.name) if member.isfile() else None
            if found:
                f = tar.extractfile(member)
                if f is not None:
                    yield found[0], found[1], member.name, f.read()


def _decode(data: bytes, name: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("L" if img.mode in GRAY_MODES else "RGB")
            return np.asarray(img)
    except OSError as exc:
        raise NeuroplasticError(f"cannot decode image {name}: {exc}") from None


def _channels(pixels: np.ndarray, rgb: bool) -> np.ndarray:
    """(H, W) or (H, W, 3) to (H, W, C) with C = 3 when ``rgb`` else 1."""
    if pixels.ndim == 3:
        return pixels
    return np.repeat(pixels[..., None], 3, axis=2) if rgb else pixels[..., None]


def _decode_batch(batch: list[tuple[str, bytes]]) -> list[np.ndarray]:
    return [_decode(data, name) for name, data in batch]


def _decode_many(encoded: list[tuple[str, bytes]]) -> list[np.ndarray]:
    """Decode images, on several processes when there are many (CIFAR-10: 60,000 JPEGs).

    Pillow parses JPEG headers in Python, so threads do not help; worker processes roughly
    halve the time on two cores. Where processes cannot be started (a daemon worker, a
    restricted sandbox) the images are decoded here, one by one.
    """
    workers = min(os.cpu_count() or 1, 8)
    if len(encoded) < PARALLEL_MIN or workers < 2:
        return _decode_batch(encoded)
    size = -(-len(encoded) // (workers * 4))
    batches = [encoded[i : i + size] for i in range(0, len(encoded), size)]
    try:
        context = multiprocessing.get_context("spawn")  # fork is unsafe beside torch threads
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return [img for batch in pool.map(_decode_batch, batches) for img in batch]
    except NeuroplasticError:
        raise
    except Exception:  # noqa: BLE001 (no worker processes here: fall back to serial decoding)
        return _decode_batch(encoded)


def _natural(name: str) -> list:
    """Sort key putting ``2.png`` before ``10.png``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _read_tree(path: Path) -> dict[str, np.ndarray]:
    meta, encoded = [], []
    for split, cls, name, data in _members(path):
        meta.append((split, cls, name))
        encoded.append((name, data))
    images = _decode_many(encoded)
    del encoded
    records: dict[str, list[tuple[str, str, np.ndarray]]] = {"train": [], "test": []}
    for (split, cls, name), pixels in zip(meta, images, strict=True):
        if pixels.shape[:2] != images[0].shape[:2]:
            first, size = images[0].shape[:2], pixels.shape[:2]
            raise NeuroplasticError(
                f"images in {path} differ in size: {meta[0][2]} is {first[1]}x{first[0]} but "
                f"{name} is {size[1]}x{size[0]}; resize them to one size first"
            )
        records[split].append((cls, name, pixels))
    if not records["train"] or not records["test"]:
        raise NeuroplasticError(
            f"{path} holds no images in the layout <split>/<class>/<image> with both a train and "
            f"a test split (found {len(records['train'])} train, {len(records['test'])} test)"
        )
    classes = sorted({cls for split in records.values() for cls, _, _ in split})
    index = {c: i for i, c in enumerate(classes)}
    # Mixed grey and colour images: give every image three channels.
    rgb = any(p.ndim == 3 for split in records.values() for _, _, p in split)
    out: dict[str, np.ndarray] = {"class_names": np.array(classes)}
    for split, items in records.items():
        items.sort(key=lambda r: (index[r[0]], _natural(r[1])))  # archive order is arbitrary
        pixels = [_channels(p, rgb) for _, _, p in items]
        out[f"x_{split}"] = np.ascontiguousarray(np.stack(pixels).transpose(0, 3, 1, 2))
        out[f"y_{split}"] = np.array([index[c] for c, _, _ in items], dtype=np.int64)
    return out


def read_image_folder_uint8(path: str | os.PathLike, cache: bool = True) -> dict[str, np.ndarray]:
    """Decoded uint8 arrays (``x_train`` (N, C, H, W), ``y_train``, ..., ``class_names``)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataNotFoundError(f"image folder {path} does not exist")
    if not (path.is_dir() or is_archive(path)):
        raise NeuroplasticError(f"{path} is neither a folder nor a tar archive of images")
    cache_file = cached_arrays(path, "imagefolder-v1") if cache else None
    arrays = load_cache(cache_file) if cache_file else None
    if arrays is None:
        # 60,000 CIFAR JPEGs take about a minute: one line before, one after
        where = f"; cached as {cache_file}" if cache_file else ""
        logger.info("decoding the images of %s (once%s) ...", path, where)
        start = time.perf_counter()
        arrays = _read_tree(path)
        if cache_file:
            save_cache(cache_file, arrays)
        logger.info("decoded %d images in %.0f s", len(arrays["y_train"]) + len(arrays["y_test"]),
                    time.perf_counter() - start)
    return arrays


def load_image_folder(path: str | os.PathLike, cache: bool = True) -> ArrayDataset:
    """Any ``<path>/{train,test}/<class>/*`` tree (or a tar archive of one) as float32 [0, 1].

    Classes are the sorted folder names; grey images give one channel, colour images three.
    All images must have the same size. ``training``/``testing`` are accepted as split names,
    and the tree may sit under a top folder inside the archive.
    """
    arrays = read_image_folder_uint8(path, cache)
    return ArrayDataset(
        x_train=to_unit_float(arrays["x_train"]),
        y_train=arrays["y_train"],
        x_test=to_unit_float(arrays["x_test"]),
        y_test=arrays["y_test"],
        class_names=[str(c) for c in arrays["class_names"]],
        name=Path(path).name.split(".")[0],
    )
