"""Learning without Forgetting (Li & Hoiem 2017, TPAMI; ECCV 2016), in van de Ven & Tolias'
form for the three scenarios ("Three scenarios for continual learning", 2019; code
GMvandeVen/continual-learning, ``replay_mode='current'`` with soft targets).

At the end of each task a frozen copy of the model is kept. On every later step the current
inputs are also scored by that copy, and the model is trained to match its softened outputs::

    KD = - sum_c softmax(z_old / T)_c * log softmax(z / T)_c      (summed over units, mean over
                                                                  the batch; van de Ven's
                                                                  ``loss_fn_kd``)

* class-incremental (``growing`` head): the teacher's targets are over every class active
  *before* this task, the student's outputs over every class active now; the new classes get
  target 0 (van de Ven's zero-padding of ``targets_norm``);
* domain-incremental (``shared``): all units;
* task-incremental (``multi`` / ``masked``): one term per previous task on that task's own
  head / units, averaged over the previous tasks.

Weighting (``weighting``): ``rnt`` (default) is van de Ven's ``rnt = 1/t`` rule, ``(1/t) CE +
(1 - 1/t) KD`` at task t (1-based), used by his 2019 code for LwF and still for replay;
``fixed`` is Li & Hoiem's ``CE + alpha * KD``. His 2019 code (commit 86802a8, the preprint's)
also multiplied KD by ``T^2`` and averaged it over the units instead of summing (fixed in commit
26f00db, May 2019): ``temperature_squared`` and ``unit_mean`` restore each (both off by default,
as in his current code).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method


def soft_cross_entropy(student: Tensor, target: Tensor, temperature: float, unit_mean: bool):
    """-sum_c target_c log softmax(student / T)_c, mean over the batch (or over batch and units
    with ``unit_mean``, van de Ven's 2019 code)."""
    per_unit = -(target * F.log_softmax(student / temperature, dim=1))
    return per_unit.mean() if unit_mean else per_unit.sum(1).mean()


@dataclass
class LwFParams:
    """LwF hyper-parameters."""

    #: distillation temperature; 2 in Li & Hoiem 2017 and van de Ven's ``--temp`` default
    temperature: float = 2.0
    #: rnt: (1/t) CE + (1-1/t) KD (van de Ven & Tolias 2019); fixed: CE + alpha KD (Li & Hoiem)
    weighting: Literal["rnt", "fixed"] = "rnt"
    #: weight of the distillation term under ``weighting: fixed`` (Li & Hoiem's lambda_o = 1)
    alpha: float = 1.0
    #: multiply KD by T^2 (Hinton et al. 2015; van de Ven's 2019 code); off in his current code
    temperature_squared: bool = False
    #: average KD over the units instead of summing (van de Ven's 2019 code, ``.mean()`` over
    #: batch and units, until commit 26f00db)
    unit_mean: bool = False

    def validate(self) -> None:
        if self.temperature <= 0:
            raise ConfigError(f"method.temperature must be > 0, got {self.temperature}")
        if self.alpha < 0:
            raise ConfigError(f"method.alpha must be >= 0, got {self.alpha}")


@METHODS.register("lwf")
class LwF(Method):
    """Learning without Forgetting: distil the previous model's outputs on the current inputs."""

    Params = LwFParams

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher: torch.nn.Module | None = None

    def end_task(self, task: Task) -> None:
        self.teacher = copy.deepcopy(self.model).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def _units(self, task_id: int | None, seen: int) -> Tensor:
        mask = self.info.logit_mask(task_id, seen)
        if mask is None:
            return torch.arange(self.info.num_outputs, device=self.device)
        return mask.nonzero().squeeze(1).to(self.device)

    def distill(self, x: Tensor, task_id: int, student: Tensor | None = None) -> Tensor:
        """KD of the current model against the frozen copy on inputs ``x``. ``student`` is the
        model's output ``model(x, None)`` when the caller already has it (every head's units)."""
        T = self.params.temperature
        seen = self.seen_tasks
        # one pass of each network serves every previous task: ``(x, None)`` answers on every
        # head's units, and each task's units are sliced out (van de Ven's code also runs the
        # model once for LwF; one pass per previous task made task 10 ten times slower)
        if student is None:
            student = self.model(x, None)
        with torch.no_grad():
            teacher = self.teacher(x, None)
        if self.info.head in ("multi", "masked"):
            terms = []
            for k in range(task_id):  # every previous task on its own head / units
                units = self._units(k, seen)
                target = F.softmax(teacher[:, units] / T, dim=1)
                terms.append(
                    soft_cross_entropy(student[:, units], target, T, self.params.unit_mean)
                )
            kd = torch.stack(terms).mean()
        else:
            new_units = self._units(task_id, seen)
            old_units = self._units(task_id, seen - 1)
            old = teacher[:, old_units]
            # teacher logits placed among the current units; new classes get target 0
            # (van de Ven's zero-padding of the target probabilities)
            current = student[:, new_units]
            position = torch.searchsorted(new_units, old_units)
            target = torch.zeros_like(current)
            target[:, position] = F.softmax(old / T, dim=1)
            kd = soft_cross_entropy(current, target, T, self.params.unit_mean)
        return kd * (T * T if self.params.temperature_squared else 1.0)

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        if self.teacher is None:
            loss = self.loss(x, y, task_id)
        else:
            # one forward pass for both terms: masking every unit but the task's (or the seen
            # classes') gives the logits ``model(x, task_id)`` would
            out = self.model(x, None)
            ce = F.cross_entropy(self.mask_logits(out, task_id), y)
            kd = self.distill(x, task_id, out)
            if self.params.weighting == "rnt":
                rnt = 1.0 / (task_id + 1)
                loss = rnt * ce + (1.0 - rnt) * kd
            else:
                loss = ce + self.params.alpha * kd
        loss = loss + self.penalty()
        loss.backward()
        self.optimizer.step()
        return loss.item()
