"""Memory Aware Synapses (Aljundi et al. 2018, ECCV, "Memory Aware Synapses: Learning what
(not) to forget").

After each task, the importance of parameter ``i`` is the mean over the task's data of the
magnitude of the gradient of the squared L2 norm of the network output (eqs. 2-4)::

    Omega_i += 1/N sum_k | d ||F(x_k; theta)||_2^2 / d theta_i |

and every later step adds ``lambda * sum_i Omega_i (theta_i - theta*_i)^2`` (eq. 5), ``theta*``
being the parameters at the end of the last task. Importances of successive tasks are summed, as
in the authors' code (``MAS_utils``: the new omega is added to the previous one). ``F`` is the
output over the task's active units (its own head in task-incremental streams). The paper's
per-sample gradients are the default; ``per_sample: false`` takes the magnitude of minibatch
gradients instead, as the authors' code and Avalanche's ``MASPlugin`` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError
from ..plasticity.synapse_state import SynapseState
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method
from .ewc import (
    active_units,
    flat_grads,
    flat_params,
    per_sample_grad_power_sum,
    weighted_squared_distance,
)


def _squared_norm(out: Tensor, _unused: Tensor) -> Tensor:
    return out.pow(2).sum(1)


@dataclass
class MASParams:
    """MAS hyper-parameters."""

    #: regularisation strength; 1.0 is the value of Aljundi et al. 2018 (object recognition)
    #: and Avalanche's default
    lambda_: float = 1.0
    #: True: mean of per-sample gradient magnitudes (the paper, eq. 4); False: of minibatch
    #: gradients (the authors' code)
    per_sample: bool = True
    #: samples of the task used for the importance; None = all of its training set (the paper)
    samples: int | None = None
    #: minibatch size of the importance pass
    batch_size: int = 128

    def validate(self) -> None:
        if self.lambda_ < 0:
            raise ConfigError(f"method.lambda_ must be >= 0, got {self.lambda_}")
        if self.samples is not None and self.samples < 1:
            raise ConfigError("method.samples must be at least 1 (or null for all)")
        if self.batch_size < 1:
            raise ConfigError("method.batch_size must be at least 1")


@METHODS.register("mas")
class MAS(Method):
    """Memory Aware Synapses: importance from the sensitivity of the output norm."""

    Params = MASParams

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        theta = flat_params(self.trainable_parameters()).detach()
        self.omega = torch.zeros_like(theta)
        self.anchor = theta.clone()
        self.has_importance = False

    def importance(self, task: Task) -> Tensor:
        model, params, p = self.model, self.trainable_parameters(), self.params
        was_training = model.training
        model.eval()
        x = task.x_train
        if p.samples is not None:
            x = x[torch.randperm(len(x), device=x.device)[: p.samples]]
        active = active_units(self, task.index)
        total = torch.zeros_like(self.omega)
        try:
            for s in range(0, len(x), p.batch_size):
                xb = x[s : s + p.batch_size]
                if p.per_sample:
                    dummy = torch.zeros(len(xb), dtype=torch.long, device=xb.device)
                    total += per_sample_grad_power_sum(
                        model, params, xb, task.index, active, _squared_norm, dummy, power=1.0
                    )
                else:
                    model.zero_grad(set_to_none=True)
                    out = model(xb, task.index)
                    out = out if active is None else out[:, active]
                    out.pow(2).sum(1).mean().backward()
                    total += flat_grads(params).abs() * len(xb)
        finally:
            model.zero_grad(set_to_none=True)
            model.train(was_training)
        return total / max(1, len(x))

    def end_task(self, task: Task) -> None:
        self.omega.add_(self.importance(task))
        self.anchor.copy_(flat_params(self.trainable_parameters()).detach())
        self.has_importance = True

    def penalty(self) -> Tensor:
        if not self.has_importance:
            return torch.zeros((), device=self.device)
        params = self.trainable_parameters()
        return self.params.lambda_ * weighted_squared_distance(params, self.omega, self.anchor)

    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds the importance the penalty uses, once a task has ended."""
        states = super().synapse_state()
        if self.has_importance:
            states["omega"] = SynapseState(
                self.named_flat(self.omega), "MAS's importance Omega (Aljundi eq. 4), summed over "
                "past tasks, as the penalty weighs it", "high")
        return states

    def record_extra(self) -> dict[str, Any]:
        return {"omega_mean": float(self.omega.mean()), "omega_max": float(self.omega.max())}
