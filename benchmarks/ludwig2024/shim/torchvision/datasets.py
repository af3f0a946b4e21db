"""MNIST through neuroplastic's own loader (``neuroplastic.datasets.mnist.load_mnist``, from
``$NEUROPLASTIC_DATA``), with torchvision's interface; ``FashionMNIST`` serves permuted MNIST.

Fashion-MNIST, the second task of CLASSP's experiment_CV.py / experiment_EWC.py, is not in the
offline data here. As in our protocol ``classp-vision-official`` (benchmark
``mnist-permuted-pair``), the second task is MNIST under one fixed pixel permutation: the same
images and labels as ``MNIST``, pixels reordered. The permutation is drawn by the same function
as that benchmark (``neuroplastic.scenarios.builders.permutations``: task 1 of two, the first
unpermuted) from ``$NEUROPLASTIC_SHIM_PERMUTATION_SEED`` (default 0, the benchmark's default
``permutation_seed``), so both see identical second-task images.

``NEUROPLASTIC_SHIM_MNIST_LIMIT=N`` keeps the first N images of each split (smoke runs only).
"""

import functools
import os

import torch

from neuroplastic.scenarios.builders import permutations

from ._mnist import MNIST, mnist_splits


def permutation_seed() -> int:
    return int(os.environ.get("NEUROPLASTIC_SHIM_PERMUTATION_SEED", "0"))


def second_task_permutation(seed: int) -> torch.Tensor:
    """The pixel order of mnist-permuted-pair's second task for ``permutation_seed=seed``."""
    return permutations(28 * 28, 2, seed, first_unpermuted=True)[1]


@functools.cache
def _permuted_splits(seed: int):
    perm = second_task_permutation(seed)
    return {train: (x.reshape(len(x), -1)[:, perm].reshape(-1, 28, 28).contiguous(), y)
            for train, (x, y) in mnist_splits().items()}


class FashionMNIST(MNIST):
    """Permuted MNIST standing in for Fashion-MNIST (see the module docstring)."""

    @staticmethod
    def _splits():
        return _permuted_splits(permutation_seed())
