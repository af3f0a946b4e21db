"""The ``validation`` stream transform: hyper-parameters are chosen on held-out TRAINING data.

Each task's test set is replaced by a stratified, seeded ``fraction`` of its training set, and
those samples are removed from training. A run with this transform never sees the benchmark's
test data, so a hyper-parameter search over it (``neuroplastic tune``) cannot select
settings by their test accuracy, which would inflate the reported results.

``fraction`` defaults to 0.1: a named choice of this library, not taken from a paper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import ConfigError
from ..registry import TRANSFORMS
from .task import Stream

_TAG = 5  # mixed into the seed so that this transform's draws differ from the others'


@dataclass
class ValidationParams:
    """Share of each task's training samples, per class, held out as its validation set."""

    fraction: float = 0.1  # this library's choice (no source fixes it)

    def validate(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ConfigError(f"validation: fraction must be in (0, 1), got {self.fraction}")


def split_indices(labels: np.ndarray, fraction: float, rng: np.random.Generator):
    """(train, held-out) index arrays: ``round(fraction * n_c)`` of each class's ``n_c``
    samples held out (at least one when the class has two or more), original order kept."""
    held = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = int(round(fraction * len(idx)))
        k = min(max(k, 1 if len(idx) > 1 else 0), len(idx) - 1)
        if k > 0:
            held.append(rng.choice(idx, k, replace=False))
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


@TRANSFORMS.register(
    "validation",
    params=ValidationParams,
    summary="hold out part of each task's training data as its test set (for tuning)",
)
def validation(stream: Stream, params: ValidationParams, seed: int) -> Stream:
    params.validate()
    tasks = []
    for t, task in enumerate(stream.tasks):
        rng = np.random.default_rng([seed, _TAG, t])
        labels = task.y_train.cpu().numpy()
        keep, held = split_indices(labels, params.fraction, rng)
        if len(held) == 0:
            raise ConfigError(f"validation: task {t} has too few training samples to hold out")
        keep_t = torch.as_tensor(keep, device=task.y_train.device)
        held_t = torch.as_tensor(held, device=task.y_train.device)
        tasks.append(
            task.with_data(
                x_train=task.x_train[keep_t],
                y_train=task.y_train[keep_t],
                x_test=task.x_train[held_t],
                y_test=task.y_train[held_t],
            )
        )
    return replace(stream, tasks=tasks)
