"""Joint training: every step sees all data of the tasks so far (the upper reference).

Run through the same engine as every other method, joint training is *cumulative*: at task t
each minibatch is drawn uniformly from the union of tasks 0..t, with the same number of steps per
task as the other methods. After the last task the model has been trained on all tasks at once
for the last task's budget, on top of the earlier tasks' training (van de Ven et al. 2022 call
this the "joint"/offline upper target).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method


@METHODS.register("joint", summary="cumulative training on all tasks seen so far (upper bound)")
class Joint(Method):
    """Cumulative joint training on the union of all tasks seen so far (upper bound)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.x_seen: Tensor | None = None
        self.y_seen: Tensor | None = None
        self.task_of: Tensor | None = None

    def begin_task(self, task: Task) -> None:
        super().begin_task(task)
        ids = torch.full_like(task.y_train, task.index)
        if self.x_seen is None:
            self.x_seen, self.y_seen, self.task_of = task.x_train, task.y_train, ids
        else:
            self.x_seen = torch.cat([self.x_seen, task.x_train])
            self.y_seen = torch.cat([self.y_seen, task.y_train])
            self.task_of = torch.cat([self.task_of, ids])

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        idx = torch.randint(len(self.y_seen), (len(y),), device=self.y_seen.device)
        xb, yb, tb = self.x_seen[idx], self.y_seen[idx], self.task_of[idx]
        self.optimizer.zero_grad(set_to_none=True)
        if self.info.head in ("multi", "masked"):
            # each sample is scored by its own task's head / units
            loss = sum(
                torch.nn.functional.cross_entropy(
                    self.logits(xb[tb == t], t), yb[tb == t], reduction="sum"
                )
                for t in tb.unique().tolist()
            ) / len(yb)
        else:
            loss = self.loss(xb, yb, task_id)
        loss.backward()
        self.optimizer.step()
        return loss.item()
