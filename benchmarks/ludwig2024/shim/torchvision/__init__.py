"""The parts of torchvision CLASSP's vision experiments use, in plain torch (see ../../run.py)."""

from . import datasets, transforms  # noqa: F401
