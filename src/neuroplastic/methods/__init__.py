"""Continual-learning methods, one file each, registered by name in ``registry.METHODS``."""

from .base import Method, NoParams, tensor_bytes

__all__ = ["Method", "NoParams", "tensor_bytes"]
