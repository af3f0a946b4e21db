"""MNIST through neuroplastic's own loader (the data root, file checks and error messages of
``neuroplastic.datasets.mnist.load_mnist``), with torchvision's interface (``data`` as uint8
images, ``targets``, ``train_labels`` / ``test_labels``, ``transform``, ``target_transform``)."""

import functools

import torch
from torch.utils.data import Dataset

from neuroplastic.datasets.mnist import load_mnist


@functools.cache
def _mnist_splits():
    """{train: (uint8 images, labels)}, decoded once per process: his permuted MNIST builds a
    train and a test set for every task, 20 datasets from the same four files."""
    data = load_mnist()

    def pixels(x):
        # back to the uint8 pixels torchvision hands to its transforms: load_mnist divided them
        # by 255, so rounding recovers them exactly
        return torch.as_tensor(x[:, 0] * 255).round().to(torch.uint8)

    return {
        True: (pixels(data.x_train), torch.as_tensor(data.y_train).long()),
        False: (pixels(data.x_test), torch.as_tensor(data.y_test).long()),
    }


class MNIST(Dataset):
    def __init__(self, root, train=True, download=False, transform=None, target_transform=None):
        self.data, self.targets = _mnist_splits()[bool(train)]
        self.train_labels = self.test_labels = self.targets
        self.transform, self.target_transform = transform, target_transform
        self._cache = None  # each image's transformed tensor, filled on first use (speed only)
        self._cached = torch.zeros(len(self.targets), dtype=torch.bool)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        if self._cached[index]:
            x = self._cache[index]
        else:
            x = self.data[index]
            if self.transform is not None:
                x = self.transform(x)
            if self._cache is None:
                self._cache = torch.empty((len(self.targets), *x.shape), dtype=x.dtype)
            self._cache[index] = x
            self._cached[index] = True
        y = int(self.targets[index])
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y
