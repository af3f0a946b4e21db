"""MNIST through neuroplastic's own loader (``neuroplastic.datasets.mnist.load_mnist``, from
``$NEUROPLASTIC_DATA``), with torchvision's interface; Fashion-MNIST and USPS as placeholders.

His ``data_utils.py`` builds MNIST and Fashion-MNIST datasets and loaders when it is imported,
whatever the task sequence. Fashion-MNIST is not in the offline data here, so ``FashionMNIST``
is a one-item placeholder that raises as soon as an item is read: the permuted-MNIST protocol
never reads it, and a task sequence that does (``FMNIST``) fails loudly instead of training on
something else. ``USPS`` (commented out in his code) raises when built.

``NEUROPLASTIC_SHIM_MNIST_LIMIT=N`` keeps the first N images of each split (smoke runs only;
``_mnist.py`` is ``benchmarks/torchvision_mnist.py``, shared with the other runners).
"""

from torch.utils.data import Dataset

from ._mnist import MNIST, mnist_splits  # noqa: F401  (torchvision.datasets.MNIST)


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
