"""Synaptic Intelligence (Zenke, Poole & Ganguli 2017, ICML, "Continual learning through
synaptic intelligence").

During task ``mu`` every step accumulates the path integral ``w_i += -g_i * delta_theta_i`` (the
parameter's contribution to the drop in loss, eq. 3 with the Euler discretisation of the
update). At the end of the task the importance grows by ``omega_i += w_i / (Delta_i^2 + xi)``
(eq. 5) where ``Delta_i`` is the parameter's total change over the task, and every later step
adds the surrogate loss ``c * sum_i omega_i (theta_i - theta~_i)^2`` (eq. 4), ``theta~`` being
the parameters at the end of the previous task.

**Which gradient.** ``g`` is an option. Zenke et al.'s own code uses the gradient of the
*unregularised* task loss. van de Ven's code (both the 2019 version, commit 86802a8
``train.py``, and the current ``models/cl/continual_learner.py::update_importance_estimates``)
reads ``p.grad`` after ``loss_total.backward()``, i.e. the gradient of the loss *including* the
SI surrogate term; the default, ``total``, follows van de Ven because his are the reference
numbers. ``unregularized`` follows Zenke.

**Snapshots are clones.** ``theta~`` and the previous step's parameters are copies
(``clone``), never views of the live weights: with views, ``delta_theta`` is always 0 and SI
silently becomes fine-tuning (Avalanche 0.6.0's bug, anchors section 5). All state is flat
tensors over the trainable parameters, updated in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from ..errors import ConfigError
from ..plasticity.synapse_state import SynapseState
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method
from .ewc import flat_params, flat_views, weighted_squared_distance


@dataclass
class SIParams:
    """SI hyper-parameters. ``c`` default 10: van de Ven's current split-MNIST task-IL and
    permuted-MNIST value (``params/param_values.py``, 2022). The protocols in
    ``protocols/vandeven/`` set his 2019 code's values (commit f0b1461), which made the preprint's
    numbers: permuted MNIST 5 / 5 / 0.1, split MNIST 50 / 500 / 0.5 (task / domain / class)."""

    c: float = 10.0
    #: damping xi of eq. 5; 0.1 in Zenke et al. 2017 (split MNIST) and van de Ven's ``--epsilon``
    xi: float = 0.1
    #: total: gradient of loss + surrogate (van de Ven's code); unregularized: task loss only
    #: (Zenke et al.'s code)
    gradient: Literal["total", "unregularized"] = "total"

    def validate(self) -> None:
        if self.c < 0:
            raise ConfigError(f"method.c must be >= 0, got {self.c}")
        if self.xi <= 0:
            raise ConfigError(f"method.xi must be > 0 (it bounds omega), got {self.xi}")


@METHODS.register("si")
class SI(Method):
    """Synaptic Intelligence: online path-integral importance with a quadratic surrogate loss."""

    Params = SIParams

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        theta = flat_params(self.trainable_parameters()).detach()
        self.omega = torch.zeros_like(theta)  # importance, accumulated over tasks
        self.w = torch.zeros_like(theta)  # path integral of the current task
        self.theta_task_start = theta.clone()  # theta~: parameters at the end of the last task
        self.theta_prev_step = theta.clone()  # parameters before the current step
        self.has_importance = False

    def begin_task(self, task: Task) -> None:
        super().begin_task(task)
        self.w.zero_()
        self.theta_prev_step.copy_(flat_params(self.trainable_parameters()).detach())

    def penalty(self) -> Tensor:
        if not self.has_importance:
            return torch.zeros((), device=self.device)
        params = self.trainable_parameters()
        return self.params.c * weighted_squared_distance(params, self.omega, self.theta_task_start)

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        params = self.trainable_parameters()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(x, y, task_id)
        if self.params.gradient == "unregularized":
            loss.backward()
            # copies: the penalty's gradient is added to .grad after
            grads = [None if p.grad is None else p.grad.clone() for p in params]
            reg = self.penalty()
            if reg.requires_grad:
                reg.backward()
            total = loss.detach() + reg.detach()
        else:
            total = loss + self.penalty()
            total.backward()
            grads = [p.grad for p in params]
        self.optimizer.step()
        # w += -g * delta_theta (Zenke eq. 3, per step), then remember theta for the next step;
        # per parameter tensor on views of the flat state (no concatenation per step)
        with torch.no_grad():
            paths = flat_views(self.w, params)
            previous = flat_views(self.theta_prev_step, params)
            for p, g, w, prev in zip(params, grads, paths, previous, strict=True):
                if g is not None:  # None: no gradient (another task's head), Adam left p alone
                    w.addcmul_(g, p - prev, value=-1.0)
                prev.copy_(p)
        return float(total.detach())

    def end_task(self, task: Task) -> None:
        theta = flat_params(self.trainable_parameters()).detach()
        delta = theta - self.theta_task_start
        self.omega.add_(self.w / (delta**2 + self.params.xi))  # Zenke eq. 5
        self.theta_task_start.copy_(theta)
        self.has_importance = True

    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds the importance the penalty uses, once a task has ended."""
        states = super().synapse_state()
        if self.has_importance:
            states["omega"] = SynapseState(
                self.named_flat(self.omega), "SI's importance omega (Zenke eq. 5), summed over "
                "past tasks, as the surrogate loss weighs it", "high")
        return states

    def record_extra(self) -> dict[str, Any]:
        return {
            "omega_mean": float(self.omega.mean()),
            "omega_max": float(self.omega.max()),
            "omega_negative_fraction": float((self.omega < 0).float().mean()),
        }
