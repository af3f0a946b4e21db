"""MNIST with torchvision's interface, read through neuroplastic's own loader
(``neuroplastic.datasets.mnist.load_mnist``, from ``$NEUROPLASTIC_DATA``): shared by the shims of
the official-code runners (each links it as ``shim/torchvision/_mnist.py``).

``NEUROPLASTIC_SHIM_MNIST_LIMIT=N`` keeps the first N images of each split (smoke runs only).
"""

import functools
import os

import torch
from torch.utils.data import Dataset

from neuroplastic.datasets.mnist import load_mnist


def _limit():
    value = os.environ.get("NEUROPLASTIC_SHIM_MNIST_LIMIT")
    return int(value) if value else None


@functools.cache
def mnist_splits():
    """{train: (uint8 28x28 images, labels)}, decoded once per process (a permuted-MNIST task
    sequence builds a train and a test set per task from the same four files)."""
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


class MNIST(Dataset):
    """torchvision.datasets.MNIST: items (transformed uint8 image, int label)."""

    def __init__(self, root=None, train=True, download=False, transform=None,
                 target_transform=None):
        self.data, self.targets = self._splits()[bool(train)]
        self.train = bool(train)
        self.transform, self.target_transform = transform, target_transform

    @staticmethod
    def _splits():
        return mnist_splits()

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
