"""MNIST through neuroplastic's own loader (the data root, file checks and error messages of
``neuroplastic.datasets.mnist.load_mnist``), with torchvision's interface (``data`` as uint8
images, ``targets``, ``train_labels`` / ``test_labels``, ``transform``, ``target_transform``)."""

import torch
from torch.utils.data import Dataset

from neuroplastic.datasets.mnist import load_mnist


class MNIST(Dataset):
    def __init__(self, root, train=True, download=False, transform=None, target_transform=None):
        data = load_mnist()
        x, y = (data.x_train, data.y_train) if train else (data.x_test, data.y_test)
        # back to the uint8 pixels torchvision hands to its transforms: load_mnist divided them
        # by 255, so rounding recovers them exactly
        self.data = torch.as_tensor(x[:, 0] * 255).round().to(torch.uint8)
        self.targets = torch.as_tensor(y).long()
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
