"""Averaged Gradient Episodic Memory (A-GEM; Chaudhry, Ranzato, Rohrbach & Elhoseiny 2019,
ICLR, "Efficient Lifelong Learning with A-GEM").

Every step computes the gradient ``g`` of the current batch's loss and a reference gradient
``g_ref`` of the loss on a batch drawn from the episodic memory. If they conflict
(``g . g_ref < 0``), ``g`` is replaced by its projection (eq. 11)::

    g~ = g - (g . g_ref) / (g_ref . g_ref) * g_ref

which satisfies ``g~ . g_ref = 0``, so the step does not increase the memory loss to first
order. Otherwise ``g`` is used as is. The memory and its filling are those of ``replay``
(class-balanced at each task's end by default, van de Ven's A-GEM; reservoir as an option);
the reference batch has the size of the current batch unless ``replay_batch_size`` is set
(Chaudhry et al. used 256; van de Ven the training batch size). Replayed samples of several
tasks are scored on their own heads in task-incremental streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..registry import METHODS
from .buffer import grouped_logits
from .ewc import flat_grads, write_flat_grads
from .replay import BufferMethod, ReplayParams


@dataclass
class AGEMParams(ReplayParams):
    """A-GEM hyper-parameters (the buffer options of ``replay``; ``weighting`` is unused)."""

    #: added to g_ref . g_ref in the projection for numerical safety; 0 in van de Ven's code
    #: (``eps_agem``)
    eps: float = 0.0


def project(g: Tensor, g_ref: Tensor, eps: float = 0.0) -> tuple[Tensor, bool]:
    """A-GEM's projection of ``g`` against ``g_ref`` (eq. 11); returns (gradient, projected?)."""
    dot = torch.dot(g, g_ref)
    if dot >= 0:
        return g, False
    norm2 = torch.dot(g_ref, g_ref) + eps
    # A memory the model fits perfectly has a reference gradient whose squares underflow to 0 in
    # float32 while the dot product is still a tiny negative number: the division would turn the
    # step into NaN (it did, on split-MNIST task-IL). Such a g_ref constrains nothing.
    if norm2 <= 0:
        return g, False
    return g - (dot / norm2) * g_ref, True


@METHODS.register("agem")
class AGEM(BufferMethod):
    """A-GEM: project the gradient when it conflicts with the memory's average gradient."""

    Params = AGEMParams

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0
        self.projections = 0

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        params = self.trainable_parameters()
        batch = self.replay_batch(len(y)) if task_id > 0 else None
        g_ref = None
        if batch is not None:
            xr, yr, tr = batch
            self.optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(grouped_logits(self, xr, tr, task_id), yr).backward()
            g_ref = flat_grads(params)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(x, y, task_id) + self.penalty()
        loss.backward()
        if g_ref is not None:
            g, projected = project(flat_grads(params), g_ref, self.params.eps)
            if projected:
                write_flat_grads(params, g)
                self.projections += 1
            self.steps += 1
        self.optimizer.step()
        self.store(x, y, task_id)
        return loss.item()

    def record_extra(self) -> dict[str, Any]:
        return {
            **super().record_extra(),
            "projected_fraction": self.projections / self.steps if self.steps else 0.0,
        }
