"""Fine-tuning: train on each task in turn with no protection (the lower reference)."""

from __future__ import annotations

from ..registry import METHODS
from .base import Method


@METHODS.register("finetune", summary="plain sequential training, no protection (lower bound)")
class FineTune(Method):
    """Plain sequential training: the default step and nothing else."""
