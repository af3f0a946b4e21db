"""Metaplastic binarized network (Laborieux et al., Nature Communications 2021).

The mechanism lives in the model (``bnn``: sign weights and activations, BatchNorm, no biases)
and in the update rule (``adam-meta``: updates toward a flip of a binary weight scaled by
``1 - tanh^2(m |W_h|)``), created afresh at every task as in the official code
(``optimizer.reset: per_task``). With ``optimizer.meta: 0`` this is the plain BNN baseline.

``per_task_bn`` (the official "task" scenario; off by default here): the BatchNorm scale and
shift are saved at the end of every task and reloaded to test that task. That needs the task id
at test, so the run is marked ``uses_task_identity``. When the scenario gives the task id
(task-incremental), ``predict`` uses the saved parameters of that task. When it does not
(domain-/class-incremental), the engine's accuracy matrix stays task-free (current BatchNorm for
every task) and a second, clearly labelled matrix measured *with* the task id is recorded in
``method_extra['task_identity']`` (lower triangle: row i, tasks 0..i, each tested with its own
saved BatchNorm after training task i).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method


@dataclass
class MBNNParams:
    """``per_task_bn``: official code, "task" scenario (``models_utils.py`` saves ``bn_states``
    per task and reloads them to test); default off so results are task-free.
    ``identity_eval_batch_size``: batch of the task-identity evaluation; BatchNorm without
    running statistics normalises with test-batch statistics, so it matters: 1000 is the
    official pMNIST test batch size (and the engine's default ``eval_batch_size``)."""

    per_task_bn: bool = False
    identity_eval_batch_size: int = 1000

    def validate(self) -> None:
        if self.identity_eval_batch_size < 2:
            raise ConfigError("method.identity_eval_batch_size must be at least 2 (BatchNorm)")


def batchnorm_modules(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def bn_state(model: nn.Module) -> list[tuple[Tensor, Tensor]]:
    """Copies of every BatchNorm's scale and shift, in module order."""
    mods = batchnorm_modules(model)
    return [(bn.weight.detach().clone(), bn.bias.detach().clone()) for bn in mods]


def load_bn_state(model: nn.Module, state: list[tuple[Tensor, Tensor]]) -> None:
    with torch.no_grad():
        for bn, (w, b) in zip(batchnorm_modules(model), state, strict=True):
            bn.weight.copy_(w)
            bn.bias.copy_(b)


@METHODS.register("mbnn", summary="metaplastic binarized network, Adam_meta (Laborieux 2021)")
class MetaplasticBNN(Method):
    """Binarized network trained with Adam_meta; optional per-task BatchNorm (task identity)."""

    Params = MBNNParams
    default_model = {"name": "bnn"}
    default_optimizer = {"name": "adam-meta", "reset": "per_task"}

    def __init__(self, model, info, params, optimizer, device="cpu"):
        super().__init__(model, info, params, optimizer, device)
        if params.per_task_bn:
            if not batchnorm_modules(self.model):
                raise ConfigError("method.per_task_bn needs a model with BatchNorm (e.g. bnn)")
            self.uses_task_identity = True  # recorded in the run record's stream block
            if not info.task_id_at_test:
                # the engine measures accuracy with each task's own BatchNorm as well
                self.task_identity_note = (
                    "per-task BatchNorm reloaded with the TASK ID at test; the main accuracy "
                    "matrix is task-free (current BatchNorm for every task)")
        self.task_bn: dict[int, list[tuple[Tensor, Tensor]]] = {}

    def end_task(self, task: Task) -> None:
        if self.params.per_task_bn:
            self.task_bn[task.index] = bn_state(self.model)

    def predict(self, x: Tensor, task_id: int | None) -> Tensor:
        if self.params.per_task_bn and task_id is not None and task_id in self.task_bn:
            current = bn_state(self.model)
            load_bn_state(self.model, self.task_bn[task_id])
            try:
                return self.logits(x, task_id)
            finally:
                load_bn_state(self.model, current)
        return self.logits(x, task_id)

    def predict_with_task_identity(self, x: Tensor, task_id: int) -> Tensor:
        """The task's own saved BatchNorm (the official "task" scenario), logits over the
        scenario's active units."""
        current = bn_state(self.model)
        load_bn_state(self.model, self.task_bn[task_id])
        try:
            return self.logits(x, None)
        finally:
            load_bn_state(self.model, current)
