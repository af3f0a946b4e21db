"""Update rules as ``torch.optim.Optimizer`` subclasses, and the optimizer factory.

An optimizer is named in the config (``optimizer: {name: adam, lr: 0.001, reset: never}``); the
method receives an :class:`OptimizerFactory` and builds its optimizer from it, so any rule here
runs under any method. ``reset`` is the optimizer's lifetime across tasks: ``never`` keeps one
optimizer (and its state) for the whole stream, ``per_task`` builds a fresh one at every task
boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import params as params_mod
from ..errors import UnknownNameError
from ..registry import OPTIMIZERS

RESETS = ("never", "per_task")


@dataclass
class OptimizerFactory:
    name: str
    params: Any
    reset: str = "never"

    def build(self, parameters) -> torch.optim.Optimizer:
        return OPTIMIZERS.get(self.name).obj(parameters, self.params)


def optimizer_factory(spec: dict[str, Any]) -> OptimizerFactory:
    spec = dict(spec)
    name = spec.pop("name")
    reset = spec.pop("reset", "never")
    if reset not in RESETS:
        raise UnknownNameError("optimizer.reset", reset, list(RESETS))
    entry = OPTIMIZERS.get(name)
    p = params_mod.build(entry.params, spec, f"optimizer ({name})")
    return OptimizerFactory(name, p, reset)


__all__ = ["OptimizerFactory", "optimizer_factory", "RESETS"]
