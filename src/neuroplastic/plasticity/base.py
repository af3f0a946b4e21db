"""A base for update rules that keep attributes of their own beside torch's optimizer state."""

from __future__ import annotations

import torch


class RuleOptimizer(torch.optim.Optimizer):
    """``torch.optim.Optimizer`` pickles only ``defaults``, ``state`` and ``param_groups``. The
    engine's checkpoints pickle the whole method, optimizer included, so a rule with settings or
    buffers stored as attributes (CLASSP's rule switch, metaplasticity's held scales) would lose
    them on resume. This base keeps every public attribute."""

    def __getstate__(self):
        state = super().__getstate__()
        state.update({k: v for k, v in vars(self).items() if not k.startswith("__")})
        return state
