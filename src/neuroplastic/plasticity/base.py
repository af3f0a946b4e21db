"""A base for update rules that keep attributes of their own beside torch's optimizer state."""

from __future__ import annotations

import torch


class RuleOptimizer(torch.optim.Optimizer):
    """An update rule with per-parameter state in ``self.state`` (saved by ``state_dict``) and,
    where it needs them, public attributes of its own (a task count): a checkpoint stores both
    (``methods/state.py``); private attributes (lists of parameters) are rebuilt with it."""
