"""MNIST through neuroplastic's own loader (``neuroplastic.datasets.mnist.load_mnist``, from
``$NEUROPLASTIC_DATA``), with torchvision's interface; Fashion-MNIST and USPS as placeholders.

His ``data_utils.py`` builds MNIST and Fashion-MNIST datasets and loaders when it is imported,
whatever the task sequence. Fashion-MNIST is not in the offline data here, so ``FashionMNIST``
is a one-item placeholder that raises as soon as an item is read: the permuted-MNIST protocol
never reads it, and a task sequence that does (``FMNIST``) fails loudly instead of training on
something else. ``USPS`` (commented out in his code) raises when built.

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
def _mnist_splits():
    """{train: (uint8 28x28 images, labels)}, decoded once per process (every permuted task
    builds a train and a test set from the same four files)."""
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
    def __init__(self, root=None, train=True, download=False, transform=None,
                 target_transform=None):
        self.data, self.targets = _mnist_splits()[bool(train)]
        self.train = bool(train)
        self.transform, self.target_transform = transform, target_transform

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


class FashionMNIST(Dataset):
    """Placeholder: built at import time by his data_utils.py, never read on the pMNIST protocol."""

    def __init__(self, root=None, train=True, download=False, transform=None,
                 target_transform=None):
        self.train = bool(train)

    def __len__(self):
        return 1  # his DataLoader(shuffle=True) needs a positive length when it is built

    def __getitem__(self, index):
        raise RuntimeError("Fashion-MNIST is not available in this shim (no FashionMNIST files "
                           "offline); leave FMNIST out of --task-sequence")


class USPS(Dataset):
    def __init__(self, *args, **kwargs):
        raise RuntimeError("USPS is not available in this shim; leave USPS out of --task-sequence")
