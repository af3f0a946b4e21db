"""Any ``.npz`` holding ``x_train, y_train, x_test, y_test`` (and optionally ``class_names``)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError, DataNotFoundError, NeuroplasticError
from .base import ArrayDataset

REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def _inputs(x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:  # (N, H, W) grey images: add the channel axis
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)  # channels-last (N, H, W, C), as most image dumps are
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)  # token ids and other integer codes stay integers
    return x.astype(np.float32)


def load_npz(path: str | os.PathLike) -> ArrayDataset:
    """Arrays from a ``.npz``. Images (N, H, W) get a channel axis, (N, H, W, C) become
    (N, C, H, W); uint8 is scaled to [0, 1]; flat features (N, D) stay as they are.

    Labels may be any integers: when they are not exactly ``0..K-1`` they are renumbered in
    sorted order and the original values become the class names (unless ``class_names`` is in
    the file).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"npz file {path} does not exist")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # a bare .npy saved under an .npz name
            raise DataError(
                f"{path} holds a single array, not named arrays; save it with "
                f"numpy.savez(path, {'=..., '.join(REQUIRED)}=...)"
            )
        with loaded as z:
            missing = [k for k in REQUIRED if k not in z.files]
            if missing:
                raise NeuroplasticError(
                    f"{path} lacks the arrays {', '.join(missing)} (it holds "
                    f"{', '.join(z.files) or 'nothing'}); an npz data set needs "
                    f"{', '.join(REQUIRED)}"
                )
            arrays = {k: z[k] for k in REQUIRED}
            names = [str(n) for n in z["class_names"]] if "class_names" in z.files else None
    except NeuroplasticError:
        raise
    except ValueError as exc:
        if "Object arrays" in str(exc):
            raise DataError(
                f"{path} holds object arrays (pickled Python objects), which are never loaded "
                "because unpickling can run code; save plain numeric arrays (e.g. "
                "numpy.asarray(x, dtype=numpy.float32))"
            ) from None
        if "pickled" in str(exc):  # neither a zip archive nor a .npy: NumPy tries pickle
            raise DataError(
                f"{path} is not an .npz file (neither a zip archive of arrays nor a NumPy "
                "array); write it with numpy.savez"
            ) from None
        raise DataError(f"{path} is not a readable .npz file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise DataError(
            f"{path} is not a readable .npz file ({type(exc).__name__}: {exc}); write it with "
            "numpy.savez"
        ) from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise DataError(
                f"{path}: x_{split} must be a numeric array of shape (N, features...), got "
                f"shape {x.shape} of {x.dtype}"
            )
        if y.ndim != 1 or len(x) != len(y) or not np.issubdtype(y.dtype, np.integer):
            raise NeuroplasticError(
                f"{path}: x_{split} {x.shape} and y_{split} {y.shape} ({y.dtype}) must have one "
                "integer label per row"
            )
        if len(y) == 0:
            raise DataError(
                f"{path}: the {split} split is empty (x_{split} has no rows); an npz data set "
                "needs samples in both splits"
            )
    values = np.unique(np.concatenate([arrays["y_train"], arrays["y_test"]]))
    y_train, y_test = arrays["y_train"].astype(np.int64), arrays["y_test"].astype(np.int64)
    if names is None:
        if values.min() >= 0 and len(values) == values.max() + 1:
            names = [str(v) for v in range(len(values))]
        else:
            y_train, y_test = np.searchsorted(values, y_train), np.searchsorted(values, y_test)
            names = [str(v) for v in values]
    elif values.min() < 0 or values.max() >= len(names):
        raise NeuroplasticError(
            f"{path}: labels {values.min()}..{values.max()} do not index the {len(names)} "
            "class_names"
        )
    return ArrayDataset(
        x_train=_inputs(arrays["x_train"]),
        y_train=y_train.astype(np.int64),
        x_test=_inputs(arrays["x_test"]),
        y_test=y_test.astype(np.int64),
        class_names=names,
        name=path.stem,
    )
