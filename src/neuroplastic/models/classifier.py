"""The body + head split shared by every model, and the multi-head output layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .. import params as params_mod
from ..registry import MODELS
from ..scenarios.task import StreamInfo


class MultiHead(nn.Module):
    """One linear head per task, written into the scenario's global output space.

    Logits of units that do not belong to the addressed task are ``-inf``; with ``task_id=None``
    every head answers for its own units (used only for inspection, never for task-free
    evaluation, which a multi-head stream does not allow).
    """

    def __init__(
        self, in_features: int, task_classes: tuple[tuple[int, ...], ...], num_outputs: int
    ):
        super().__init__()
        self.num_outputs = num_outputs
        # a task shown again later (a repeat transform) has the same classes: it reuses its head
        distinct = list(dict.fromkeys(tuple(c) for c in task_classes))
        self.head_of_task = [distinct.index(tuple(c)) for c in task_classes]
        self.heads = nn.ModuleList(nn.Linear(in_features, len(c)) for c in distinct)
        for h, classes in enumerate(distinct):
            self.register_buffer(f"units_{h}", torch.tensor(classes, dtype=torch.long))

    def units(self, head: int) -> Tensor:
        return getattr(self, f"units_{head}")

    def forward(self, features: Tensor, task_id: int | None = None) -> Tensor:
        out = features.new_full((features.shape[0], self.num_outputs), float("-inf"))
        heads = range(len(self.heads)) if task_id is None else [self.head_of_task[task_id]]
        for h in heads:
            out[:, self.units(h)] = self.heads[h](features)
        return out


class Classifier(nn.Module):
    def __init__(self, body: nn.Module, feature_dim: int, info: StreamInfo):
        super().__init__()
        self.body = body
        self.feature_dim = feature_dim
        if info.head == "multi":
            self.head: nn.Module = MultiHead(feature_dim, info.task_classes, info.num_outputs)
        else:
            self.head = nn.Linear(feature_dim, info.num_outputs)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def classify(self, features: Tensor, task_id: int | None = None) -> Tensor:
        if isinstance(self.head, MultiHead):
            return self.head(features, task_id)
        return self.head(features)

    def forward(self, x: Tensor, task_id: int | None = None) -> Tensor:
        return self.classify(self.body(x), task_id)


def build_model(spec: dict[str, Any], info: StreamInfo) -> nn.Module:
    """Build the model named ``spec['name']`` with the rest of ``spec`` as its parameters."""
    spec = dict(spec)
    entry = MODELS.get(spec.pop("name"))
    p = params_mod.build(entry.params, spec, f"model ({entry.name})") if entry.params else None
    return entry.obj(p, info)


def model_bytes(model: nn.Module) -> int:
    """Bytes of parameters and buffers, as stored (a packed binary model reports its packing)."""
    packed = getattr(model, "packed_bytes", None)
    if callable(packed):
        return int(packed())
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        total += t.numel() * t.element_size()
    return total
