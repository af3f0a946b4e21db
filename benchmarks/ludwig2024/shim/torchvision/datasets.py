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
from torch.utils.data import Dataset

from neuroplastic.datasets.mnist import load_mnist
from neuroplastic.scenarios.builders import permutations


def _limit():
    value = os.environ.get("NEUROPLASTIC_SHIM_MNIST_LIMIT")
    return int(value) if value else None


def permutation_seed() -> int:
    return int(os.environ.get("NEUROPLASTIC_SHIM_PERMUTATION_SEED", "0"))


def second_task_permutation(seed: int) -> torch.Tensor:
    """The pixel order of mnist-permuted-pair's second task for ``permutation_seed=seed``."""
    return permutations(28 * 28, 2, seed, first_unpermuted=True)[1]


@functools.cache
def _mnist_splits():
    """{train: (uint8 28x28 images, labels)}, decoded once per process."""
    data = load_mnist()

    def pixels(x):
        # back to the uint8 pixels torchvision reads: load_mnist divided them by 255, so
        # rounding recovers them exactly
        return torch.as_tensor(x[:, 0] * 255).round().to(torch.uint8)

    n = _limit()
    return {
        True: (pixels(data.x_train)[:n], torch.as_tensor(data.y_train).long()[:n]),
        False: (pixels(data.x_test)[:n], torch.as_tensor(data.y_test).long()[:n]),
    }


@functools.cache
def _permuted_splits(seed: int):
    perm = second_task_permutation(seed)
    return {train: (x.reshape(len(x), -1)[:, perm].reshape(-1, 28, 28).contiguous(), y)
            for train, (x, y) in _mnist_splits().items()}


class MNIST(Dataset):
    def __init__(self, root=None, train=True, download=False, transform=None,
                 target_transform=None):
        self.data, self.targets = self._splits()[bool(train)]
        self.train = bool(train)
        self.transform, self.target_transform = transform, target_transform

    @staticmethod
    def _splits():
        return _mnist_splits()

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        x = self.data[index]
        if self.transform is not None:
            x = self.transform(x)
        y = int(self.targets[index])
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y


class FashionMNIST(MNIST):
    """Permuted MNIST standing in for Fashion-MNIST (see the module docstring)."""

    @staticmethod
    def _splits():
        return _permuted_splits(permutation_seed())
