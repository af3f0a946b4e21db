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
from .base import Method, optimizer_state_bytes, tensor_bytes


@METHODS.register("joint", summary="cumulative training on all tasks seen so far (upper bound)")
class Joint(Method):
    """Cumulative joint training on the union of all tasks seen so far (upper bound)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the stream's own Task objects, not copies: nothing is concatenated, and a checkpoint
        # stores only their indices (methods/state.py), so it stays the size of the model
        self.seen: list[Task] = []
        self.offsets = torch.zeros(1, dtype=torch.long)  # cumulative training-set sizes

    def begin_task(self, task: Task) -> None:
        super().begin_task(task)
        self.seen.append(task)
        self.offsets = torch.cat([self.offsets, self.offsets[-1:] + task.num_train])

    def state_bytes(self) -> int:
        held = [(task.x_train, task.y_train) for task in self.seen]
        return tensor_bytes(held) + optimizer_state_bytes(self.optimizer)

    def _sample(self, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """``n`` samples drawn uniformly from the union of the tasks so far, with their task
        indices, in draw order: the same draws as indexing one concatenated tensor."""
        idx = torch.randint(int(self.offsets[-1]), (n,))
        which = torch.searchsorted(self.offsets, idx, right=True) - 1
        local = idx - self.offsets[which]
        x0, y0 = self.seen[0].x_train, self.seen[0].y_train
        which, local = which.to(x0.device), local.to(x0.device)
        xb, yb = x0.new_empty((n, *x0.shape[1:])), y0.new_empty(n)
        for k in which.unique().tolist():
            rows = which == k
            xb[rows] = self.seen[k].x_train[local[rows]]
            yb[rows] = self.seen[k].y_train[local[rows]]
        return xb, yb, which  # tasks arrive in order, so seen[k] is task k

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        xb, yb, tb = self._sample(len(y))
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
