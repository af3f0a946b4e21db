"""The one replay buffer of replay, A-GEM and DER: preallocated tensors with a fixed budget.

Everything lives in tensors allocated once on the method's device (inputs, targets, task ids,
optional logits), never in Python lists of samples (the Avalanche slow-buffer complaints,
anchors section 5, cluster 1). Two ways to fill it:

* ``reservoir`` (Vitter 1985; used by Chaudhry et al. 2019 "On tiny episodic memories" and by
  DER, Buzzega et al. 2020): every incoming sample ``n`` (counting from 0 over the whole stream)
  is stored in slot ``n`` while the buffer has room, then replaces a uniformly random slot
  ``j ~ U{0..n}`` when ``j < capacity``. Vectorised over a minibatch with the same result as a
  sequential loop (a later sample that draws the same slot overwrites an earlier one).
* ``class_balanced`` (van de Ven et al.'s ``--sample-selection=random`` memory sets): at the end
  of a task, each (task, class) group of that task gets an equal quota of randomly chosen
  samples; with a *total* budget, the quota of every group is ``capacity // groups so far`` and
  the older groups are shrunk to it (they were drawn at random, so keeping their first entries
  keeps a random subset).

The buffer never holds more than ``capacity`` samples; ``group_counts`` exposes the balance.
It is an ``nn.Module`` so the method's ``state_bytes`` counts it, ``.to`` moves it and
checkpoints pickle it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

SELECTIONS = ("reservoir", "class_balanced")
MEMORY_UNITS = ("class", "total")


def buffer_capacity(memory: int, unit: str, task_classes: tuple[tuple[int, ...], ...]) -> int:
    """Slots for ``memory`` samples per (task, class) group or in total.

    With ``unit='class'`` the groups are the (task, class) pairs of the whole stream: in domain-
    incremental streams class ``c`` of every task is its own group, as van de Ven's memory sets
    are built per context and class.
    """
    if unit == "class":
        return memory * sum(len(c) for c in task_classes)
    return memory


class ReplayBuffer(nn.Module):
    def __init__(
        self,
        capacity: int,
        input_shape: tuple[int, ...],
        *,
        input_dtype: torch.dtype = torch.float32,
        logit_dim: int | None = None,
        per_group: int | None = None,
        device: torch.device | str = "cpu",
    ):
        """``per_group`` fixes the class-balanced quota (memory per class); None shares
        ``capacity`` equally among the groups seen so far."""
        super().__init__()
        if capacity < 1:
            raise ValueError(f"replay buffer capacity must be at least 1, got {capacity}")
        self.capacity = int(capacity)
        self.per_group = per_group
        shape = (capacity, *input_shape)
        self.register_buffer("x", torch.zeros(shape, dtype=input_dtype, device=device))
        self.register_buffer("y", torch.zeros(capacity, dtype=torch.long, device=device))
        self.register_buffer("task", torch.zeros(capacity, dtype=torch.long, device=device))
        self.register_buffer(
            "logits",
            torch.zeros((capacity, logit_dim), device=device) if logit_dim else None,
        )
        self.size = 0  # filled slots (always the prefix 0..size-1)
        self.seen = 0  # samples offered to the reservoir so far
        self.groups = 0  # class-balanced (task, class) groups stored so far

    def __len__(self) -> int:
        return self.size

    # --- filling --------------------------------------------------------------------------
    def _write(
        self, slots: Tensor, x: Tensor, y: Tensor, task: Tensor, logits: Tensor | None
    ) -> None:
        self.x[slots] = x.to(self.x.dtype)
        self.y[slots] = y
        self.task[slots] = task
        if self.logits is not None:
            if logits is None:
                raise ValueError("this buffer stores logits; pass them with every sample")
            self.logits[slots] = logits.detach().to(self.logits.dtype)

    def add_reservoir(
        self, x: Tensor, y: Tensor, task_id: int | Tensor, logits: Tensor | None = None
    ) -> None:
        """Offer a minibatch to reservoir sampling (Vitter's algorithm R)."""
        n = len(y)
        if n == 0:
            return
        device = self.y.device
        index = torch.arange(self.seen, self.seen + n, device=device)  # stream position
        # a sample in a free slot goes there; otherwise it draws j ~ U{0..index} (inclusive)
        draw = (torch.rand(n, dtype=torch.float64, device=device) * (index + 1)).long()
        slots = torch.where(index < self.capacity, index, draw)
        keep = slots < self.capacity
        # several samples of one batch may draw the same slot: the last one wins, as in a loop
        position = torch.arange(n, device=device)
        last = torch.full((self.capacity,), -1, dtype=torch.long, device=device)
        last.scatter_reduce_(0, slots[keep], position[keep], reduce="amax")
        keep &= last[slots.clamp(max=self.capacity - 1)] == position
        src = position[keep]
        tasks = task_id if isinstance(task_id, Tensor) else torch.full((n,), task_id, device=device)
        self._write(
            slots[keep],
            x[src],
            y[src],
            tasks.to(device)[src],
            None if logits is None else logits[src],
        )
        self.seen += n
        self.size = min(self.capacity, self.seen)

    def add_class_balanced(
        self, x: Tensor, y: Tensor, task_id: int, logits: Tensor | None = None
    ) -> None:
        """Store a random, equal share of each class of one finished task's data."""
        classes = y.unique()
        total_groups = self.groups + len(classes)
        quota = self.per_group if self.per_group is not None else self.capacity // total_groups
        if quota * total_groups > self.capacity:
            raise ValueError(
                f"{total_groups} groups of {quota} samples do not fit a buffer of {self.capacity}"
            )
        if self.per_group is None and self.groups > 0:
            self._shrink_groups(quota)
        device = self.y.device
        for c in classes.tolist():
            idx = (y == c).nonzero().squeeze(1)
            idx = idx[torch.randperm(len(idx), device=idx.device)[:quota]]
            slots = torch.arange(self.size, self.size + len(idx), device=device)
            self._write(
                slots,
                x[idx],
                y[idx],
                torch.full((len(idx),), task_id, device=device),
                None if logits is None else logits[idx],
            )
            self.size += len(idx)
        self.groups = total_groups

    def _shrink_groups(self, quota: int) -> None:
        """Keep the first ``quota`` entries of every stored (task, class) group, compacted."""
        n = self.size
        key = self.task[:n] * (int(self.y[:n].max()) + 1 if n else 1) + self.y[:n]
        order = torch.argsort(key, stable=True)
        sorted_key = key[order]
        start = torch.ones_like(sorted_key, dtype=torch.bool)
        start[1:] = sorted_key[1:] != sorted_key[:-1]
        position = torch.arange(n, device=key.device)
        group_start = torch.cummax(torch.where(start, position, 0), 0).values
        rank = position - group_start
        kept = order[rank < quota].sort().values  # keep the original (storage) order
        m = len(kept)
        self.x[:m] = self.x[kept].clone()
        self.y[:m] = self.y[kept].clone()
        self.task[:m] = self.task[kept].clone()
        if self.logits is not None:
            self.logits[:m] = self.logits[kept].clone()
        self.size = m

    # --- reading --------------------------------------------------------------------------
    def sample(self, n: int) -> Tensor:
        """Indices of ``n`` stored samples, without replacement when the buffer holds enough."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if n <= self.size:
            return torch.randperm(self.size, device=self.y.device)[:n]
        return torch.randint(self.size, (n,), device=self.y.device)

    def group_counts(self) -> dict[tuple[int, int], int]:
        """Stored samples per (task, class) group (for checks and the run record)."""
        pairs, counts = torch.stack([self.task[: self.size], self.y[: self.size]]).unique(
            dim=1, return_counts=True
        )
        rows = zip(pairs.T.tolist(), counts.tolist(), strict=True)
        return {(int(t), int(c)): int(k) for (t, c), k in rows}


def grouped_logits(method, x: Tensor, task_ids: Tensor, current_task: int) -> Tensor:
    """Logits of a mixed batch under the head policy: in task-incremental streams (``multi`` /
    ``masked`` heads) each sample is scored by its own task's head / units, as ``joint.py`` does;
    otherwise one pass with the current task's masks (``growing``: every class seen so far)."""
    if method.info.head not in ("multi", "masked"):
        return method.logits(x, current_task)
    out = x.new_full((len(x), method.info.num_outputs), float("-inf"))
    for t in task_ids.unique().tolist():
        sel = task_ids == t
        out[sel] = method.logits(x[sel], t)
    return out


def grouped_outputs(model: nn.Module, x: Tensor, task_ids: Tensor, head: str) -> Tensor:
    """Raw model outputs (no masking) of a mixed batch, each sample through its own task's head
    when the model has one head per task; used by DER's logit matching."""
    if head != "multi":
        return model(x, None)
    out = None
    for t in task_ids.unique().tolist():
        sel = task_ids == t
        part = model(x[sel], t)
        if out is None:
            out = part.new_full((len(x), part.shape[1]), float("-inf"))
        out[sel] = part
    return out
