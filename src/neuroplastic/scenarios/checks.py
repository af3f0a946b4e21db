"""Checks of the data of a stream, made when it is built, before the first training step.

Bad data used to train without a word: NaN features made the loss NaN and the accuracy
meaningless, an empty test split read as 0.00 %, classes found only in the test set vanished,
and a test set of the wrong width failed only after the first task had trained. Every check
here names the data set, the task and the fix.

One check can be switched off, because a user may mean it: a class of a task that has training
samples but none in the test split (its accuracy is then measured on the other classes only).
Set ``NEUROPLASTIC_ALLOW_MISSING_TEST_CLASSES=1`` to accept it with a warning. It is an
environment variable rather than a config key so that it changes no run's config or name.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .task import Stream, Task

log = logging.getLogger(__name__)

ALLOW_MISSING_TEST_CLASSES = "NEUROPLASTIC_ALLOW_MISSING_TEST_CLASSES"


def _allowed(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() in ("1", "true", "yes")


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (", ..." if len(rows) > limit else "")


def check_arrays(name: str, x_train, y_train, x_test, y_test) -> None:
    """Checks of a data set before it is split into tasks: both splits non-empty, one label per
    row, the same input shape in train and test, no class only in the test set."""
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(y) == 0:
            raise DataError(
                f"{name}: the {split} split is empty; the data needs samples in both x_train "
                "and x_test"
            )
        if len(x) != len(y):
            raise DataError(
                f"{name}: x_{split} has {len(x)} rows but y_{split} has {len(y)} labels; give "
                "one label per row"
            )
    if tuple(x_train.shape[1:]) != tuple(x_test.shape[1:]):
        raise DataError(
            f"{name}: x_train rows have shape {tuple(x_train.shape[1:])} but x_test rows "
            f"{tuple(x_test.shape[1:])}; both splits need the same features"
        )
    only_test = sorted(set(np.unique(np.asarray(y_test)).tolist())
                       - set(np.unique(np.asarray(y_train)).tolist()))
    if only_test:
        raise DataError(
            f"{name}: the classes {only_test} appear only in the test set, so no task would "
            "train on them and their test samples would be dropped; add training samples of "
            "them, or remove their test samples"
        )


def _where(stream: Stream, task: Task) -> str:
    label = f" ({task.name})" if task.name else ""
    return f"{stream.name or 'the data'}, task {task.index + 1}{label}"


def _check_finite(where: str, split: str, x: Tensor) -> None:
    if not x.dtype.is_floating_point:
        return
    finite = torch.isfinite(x)
    if bool(finite.all()):
        return
    bad_rows = (~finite).reshape(len(x), -1).any(1).cpu().numpy()
    raise DataError(
        f"{where}: x_{split} holds NaN or infinite values in {int(bad_rows.sum())} row(s) "
        f"(rows {_rows(bad_rows)}); replace or drop those rows in the data"
    )


def _class_list(stream: Stream, classes) -> str:
    names = stream.class_names
    return ", ".join(
        f"{c} ({names[c]})" if 0 <= c < len(names) and names[c] != str(c) else str(c)
        for c in classes
    )


def _classes(stream: Stream, classes) -> str:
    """'class 3' / 'classes 2, 3', with class names where they say more."""
    word = "class" if len(classes) == 1 else "classes"
    return f"{word} {_class_list(stream, classes)}"


def check_stream(stream: Stream, after_transforms: bool = False) -> None:
    """Raise :class:`DataError` naming the data set, the task and the fix when a task's data is
    unusable. ``after_transforms``: the stream has been through stream transforms, which may
    move labels across tasks on purpose, so only structural checks apply."""
    if not stream.tasks:
        raise DataError(f"{stream.name or 'the data'}: the stream holds no tasks")
    shape = tuple(stream.input_shape)
    for task in stream.tasks:
        where = _where(stream, task)
        for split, x, y in (
            ("train", task.x_train, task.y_train),
            ("test", task.x_test, task.y_test),
        ):
            if len(y) == 0:
                fix = (
                    "accuracy on it would read 0.00 %" if split == "test" else "it cannot learn"
                )
                raise DataError(
                    f"{where}: the {split} split is empty ({fix}); add {split} samples of its "
                    f"classes {_class_list(stream, task.classes)}, or leave the task out"
                )
            if len(x) != len(y):
                raise DataError(
                    f"{where}: x_{split} has {len(x)} rows but y_{split} {len(y)} labels"
                )
            if tuple(x.shape[1:]) != shape:
                raise DataError(
                    f"{where}: x_{split} rows have shape {tuple(x.shape[1:])}, but the stream's "
                    f"inputs have shape {shape}; every split needs the same features"
                )
            _check_finite(where, split, x)
            labels = torch.unique(y).tolist()
            outside = [c for c in labels if not 0 <= c < stream.num_outputs]
            if outside:
                raise DataError(
                    f"{where}: y_{split} holds labels {outside} outside the "
                    f"{stream.num_outputs} output units"
                )
            # training labels may lie outside the task's classes on purpose (benchmarks that
            # train wrongly labelled items); test labels never should
            if split == "test" and not after_transforms:
                foreign = sorted(set(labels) - set(task.classes))
                if foreign:
                    raise DataError(
                        f"{where}: y_{split} holds labels {foreign} that are not among the "
                        f"task's classes {list(task.classes)}"
                    )
        if after_transforms:
            continue
        train_classes = set(torch.unique(task.y_train).tolist())
        test_classes = set(torch.unique(task.y_test).tolist())
        only_test = sorted(test_classes - train_classes)
        if only_test:
            raise DataError(
                f"{where}: the test split holds {_classes(stream, only_test)}, which the "
                "training split lacks; add training samples of it, or remove those test samples"
            )
        no_test = sorted((train_classes & set(task.classes)) - test_classes)
        if no_test:
            message = (
                f"{where}: the training split holds {_classes(stream, no_test)}, which the test "
                "split lacks, so its accuracy is never measured"
            )
            if not _allowed(ALLOW_MISSING_TEST_CLASSES):
                raise DataError(
                    f"{message}; add test samples of it, or set "
                    f"{ALLOW_MISSING_TEST_CLASSES}=1 to run anyway"
                )
            log.warning("%s (accepted: %s is set)", message, ALLOW_MISSING_TEST_CLASSES)
