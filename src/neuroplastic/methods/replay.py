"""Experience replay with a fixed memory budget (ER; Chaudhry et al. 2019, "On tiny episodic
memories in continual learning"; van de Ven, Tuytelaars & Tolias 2022, "Three types of
incremental learning", whose ER uses 100 stored samples per class on split MNIST).

From the second task on, every step draws a replay batch of the same size as the current batch
from the buffer (without replacement while the buffer holds enough) and minimises (van de Ven's
``rnt`` rule, ``train_a_batch``)::

    (1/t) CE(current batch) + (1 - 1/t) CE(replay batch)          t = 1-based task index

or, with ``weighting: equal``, ``CE(current) + CE(replay)``: the loss of the two batches
concatenated, up to a factor 2 (Mammoth's / Chaudhry's ER). In task-incremental streams each
replayed sample is scored by its own task's head / units (grouped by task id, as ``joint.py``).

The buffer (``buffer.py``) is filled either class-balanced at the end of each task (van de Ven's
random per-class memory sets; the default) or by reservoir sampling of every training batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..plasticity.synapse_state import SynapseState
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method
from .buffer import ReplayBuffer, buffer_capacity, grouped_logits


@dataclass
class ReplayParams:
    """Replay hyper-parameters."""

    #: memory budget in samples, per (task, class) group or in total (``memory_unit``); 100 per
    #: class is van de Ven et al. 2022's split-MNIST budget (10 per class on permuted MNIST)
    memory: int = 100
    #: class: ``memory`` per class of the stream (van de Ven's ``--budget``); total: one budget
    #: shared by all classes seen so far
    memory_unit: Literal["class", "total"] = "class"
    #: class_balanced: random per-class selection at each task's end (van de Ven's
    #: ``--sample-selection=random``); reservoir: reservoir sampling of the stream (Chaudhry 2019)
    selection: Literal["class_balanced", "reservoir"] = "class_balanced"
    #: rnt: (1/t) CE_new + (1-1/t) CE_replay (van de Ven); equal: CE_new + CE_replay
    weighting: Literal["rnt", "equal"] = "rnt"
    #: replay batch size; None = the size of the current batch (van de Ven and Mammoth)
    replay_batch_size: int | None = None

    def validate(self) -> None:
        if self.memory < 1:
            raise ConfigError(f"method.memory must be at least 1, got {self.memory}")
        if self.replay_batch_size is not None and self.replay_batch_size < 1:
            raise ConfigError("method.replay_batch_size must be at least 1 (or null)")


class BufferMethod(Method):
    """Shared by replay and A-GEM: a buffer sized from the params and filled as they ask."""

    store_logits = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        p = self.params
        capacity = buffer_capacity(p.memory, p.memory_unit, self.info.task_classes)
        per_group = p.memory if p.memory_unit == "class" else None
        dtype = torch.long if self.info.vocab_size is not None else torch.float32
        self.buffer = ReplayBuffer(
            capacity,
            self.info.input_shape,
            input_dtype=dtype,
            logit_dim=self.info.num_outputs if self.store_logits else None,
            per_group=per_group,
            device=self.device,
        )

    def replay_batch(self, n: int) -> tuple[Tensor, Tensor, Tensor] | None:
        if len(self.buffer) == 0:
            return None
        size = self.params.replay_batch_size or n
        idx = self.buffer.sample(size)
        return self.buffer.x[idx], self.buffer.y[idx], self.buffer.task[idx]

    def store(self, x: Tensor, y: Tensor, task_id: int) -> None:
        if self.params.selection == "reservoir":
            self.buffer.add_reservoir(x, y, task_id)

    def end_task(self, task: Task) -> None:
        if self.params.selection == "class_balanced":
            self.buffer.add_class_balanced(task.x_train, task.y_train, task.index)

    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds the buffer's composition: stored samples per class (over the stream's output
        units; in domain streams one unit holds every task's samples of that class)."""
        states = super().synapse_state()
        stored = self.buffer.y[: len(self.buffer)]
        counts = torch.bincount(stored, minlength=self.info.num_outputs)
        states["buffer_per_class"] = SynapseState(
            {"buffer": counts}, "replay buffer: stored samples per class (output unit)", "none",
            per_synapse=False)
        return states

    def record_extra(self) -> dict[str, Any]:
        counts = self.buffer.group_counts()
        return {
            "buffer_size": len(self.buffer),
            "buffer_capacity": self.buffer.capacity,
            "buffer_min_per_group": min(counts.values()) if counts else 0,
            "buffer_max_per_group": max(counts.values()) if counts else 0,
        }


@METHODS.register("replay")
class Replay(BufferMethod):
    """Experience replay from a fixed-budget buffer (class-balanced or reservoir)."""

    Params = ReplayParams

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(x, y, task_id)
        batch = self.replay_batch(len(y))
        if batch is not None:
            xr, yr, tr = batch
            replay = F.cross_entropy(grouped_logits(self, xr, tr, task_id), yr)
            if self.params.weighting == "rnt":
                rnt = 1.0 / (task_id + 1)
                loss = rnt * loss + (1.0 - rnt) * replay
            else:
                loss = loss + replay
        loss = loss + self.penalty()
        loss.backward()
        self.optimizer.step()
        self.store(x, y, task_id)
        return loss.item()
