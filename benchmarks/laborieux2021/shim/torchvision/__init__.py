"""The parts of torchvision Laborieux's continual-learning code uses, in plain torch (../../run.py).

His modules call ``torchvision.transforms.X`` and ``torchvision.datasets.X`` after a bare
``import torchvision``, so both submodules are imported here."""

from . import datasets, transforms  # noqa: F401
