"""SimpleCIL: a frozen pre-trained backbone and cosine class-mean prototypes, nothing trained.

Zhou, Ye, Zhan, Liu, "Revisiting Class-Incremental Learning with Pre-Trained Models:
Generalizability and Adaptivity are All You Need" (IJCV 2024; the SimpleCIL baseline of EASE):
after each task, the prototype of every new class is the mean pre-trained feature of its
training samples; a test sample gets the class of the most cosine-similar prototype. Old
prototypes never change, so there is no forgetting beyond the growing number of classes.

Inputs are either pooled features (``split-*-effnet`` with ``representation: pooled``; the
stream's inputs are used as they are) or images / prefix activations through a frozen backbone
model (``model: {name: efficientnet-lite0, input: image|prefix}``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method


@METHODS.register("simplecil", summary="frozen backbone + cosine class-mean prototypes")
class SimpleCIL(Method):
    """Frozen pre-trained features, class-mean prototypes, cosine nearest prototype."""

    def __init__(self, model, info, params, optimizer, device="cpu"):
        backbone = getattr(getattr(model, "body", None), "backbone", None)
        self.pooled_input = len(info.input_shape) == 1
        if not self.pooled_input and backbone is None:
            raise ConfigError(
                "simplecil needs pooled features (a *-effnet benchmark with representation: "
                "pooled) or a frozen backbone model (model: efficientnet-lite0)"
            )
        if info.scenario == "domain":
            raise ConfigError("simplecil learns new classes per task: use scenario class or task")
        super().__init__(model, info, params, optimizer, device)
        dim = info.input_shape[0] if self.pooled_input else model.feature_dim
        self.prototypes = torch.zeros(info.num_outputs, dim, device=self.device)
        self.known = torch.zeros(info.num_outputs, dtype=torch.bool, device=self.device)

    def _features(self, x: Tensor) -> Tensor:
        return x.flatten(1) if self.pooled_input else self.model.body(x)

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        return 0.0  # nothing is trained: prototypes are computed from the whole task in end_task

    @torch.no_grad()
    def end_task(self, task: Task) -> None:
        self.model.eval()
        feats = torch.cat(
            [self._features(task.x_train[s : s + 500]) for s in range(0, task.num_train, 500)]
        )
        for c in task.classes:
            self.prototypes[c] = feats[task.y_train == c].mean(0)
            self.known[c] = True

    @torch.no_grad()
    def predict(self, x: Tensor, task_id: int | None) -> Tensor:
        f = F.normalize(self._features(x), dim=1)
        logits = f @ F.normalize(self.prototypes, dim=1).T
        logits = logits.masked_fill(~self.known, float("-inf")) if self.known.any() else logits
        return self.mask_logits(logits, task_id)
