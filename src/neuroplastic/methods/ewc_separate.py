"""EWC exactly as CLASSP's official ``experiment_EWC.py`` pairs it (Ludwig 2024).

This is the baseline the CLASSP paper compares with on its vision pair, replicated step by step
from ``oswaldoludwig/CLASSP`` @ ea3fe3c, ``experiment_EWC.py``; it differs from EWC as
Kirkpatrick et al. define it (``methods/ewc.py``) in four ways, all kept on purpose:

1. **A separate model.** Before the stream starts, a second network of the same architecture
   with its own random initialisation is trained for one shuffled epoch of the first task's
   training set (SGD, lr 0.25, batch 32, dropout active). The Fisher and the anchor come from
   it, not from the network being trained.
2. **A batched Fisher divided by the number of images.** During that epoch the squared
   minibatch-mean gradient of every step is summed, and the sum is divided by the number of
   training images (60,000), not by the number of minibatches.
3. **No 1/2 and a fixed anchor.** The penalty is ``lambda * sum_i F_i (theta_i - theta_sep_i)^2``
   with ``lambda = 5000``, anchored to the separate model's final parameters.
4. **Switched on by step count.** The penalty is added from the step after one epoch of the
   first task (the script's ``iteration > iterations_first_dataset``: 1,875 steps of batch 32 on
   60,000 images), so it also acts during the first task's remaining epochs.

The main network's optimizer is the run's (the script: SGD, lr 0.25, no momentum). Everything is
a tensor attribute (Fisher and anchor flat, as in ``methods/ewc.py``), so checkpoints carry it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..plasticity.synapse_state import SynapseState
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method
from .ewc import flat_params, weighted_squared_distance


@dataclass
class EWCSeparateParams:
    """Defaults: ``experiment_EWC.py`` (lambda 5000; the separate model's SGD lr 0.25, batch 32,
    one shuffled epoch). ``penalty_from_step``: 0-based step of the main stream from which the
    penalty is added; None = one epoch of the first task at ``fisher_batch_size`` (the script's
    ``iterations_first_dataset``)."""

    lambda_: float = 5000.0
    fisher_lr: float = 0.25
    fisher_batch_size: int = 32
    fisher_epochs: int = 1
    penalty_from_step: int | None = None

    def validate(self) -> None:
        if self.lambda_ < 0:
            raise ConfigError(f"method.lambda_ must be >= 0, got {self.lambda_}")
        if self.fisher_lr <= 0:
            raise ConfigError(f"method.fisher_lr must be positive, got {self.fisher_lr}")
        if self.fisher_batch_size < 1 or self.fisher_epochs < 1:
            raise ConfigError("method.fisher_batch_size and method.fisher_epochs must be >= 1")
        if self.penalty_from_step is not None and self.penalty_from_step < 0:
            raise ConfigError("method.penalty_from_step must be >= 0 (or null)")


def _reinitialise(model: nn.Module) -> None:
    """A fresh random initialisation of every layer that has one (the script builds a new
    ``MyModel()`` for the separate model)."""
    for module in model.modules():
        if module is not model and hasattr(module, "reset_parameters"):
            module.reset_parameters()


@METHODS.register(
    "ewc-separate",
    summary="EWC as CLASSP's experiment_EWC.py pairs it: Fisher and anchor from a separate "
    "model trained one epoch (Ludwig 2024)",
)
class EWCSeparate(Method):
    Params = EWCSeparateParams

    def __init__(self, model, info, params, optimizer, device="cpu"):
        super().__init__(model, info, params, optimizer, device)
        self.steps = 0
        self.penalty_from = -1  # set when the separate model has been trained
        self.fisher: Tensor | None = None
        self.anchor: Tensor | None = None

    def begin_task(self, task: Task) -> None:
        super().begin_task(task)
        if task.index == 0:
            self._train_separate_model(task)

    def _train_separate_model(self, task: Task) -> None:
        p = self.params
        separate = copy.deepcopy(self.model)
        _reinitialise(separate)
        separate.train()
        params = [q for q in separate.parameters() if q.requires_grad]
        sgd = torch.optim.SGD(params, lr=p.fisher_lr)
        fisher = [torch.zeros_like(q) for q in params]
        n = len(task.y_train)
        batches_per_epoch = math.ceil(n / p.fisher_batch_size)
        for _ in range(p.fisher_epochs):
            order = torch.randperm(n).to(self.device)  # DataLoader(shuffle=True)
            for idx in order.split(p.fisher_batch_size):
                sgd.zero_grad(set_to_none=True)
                logits = self.mask_logits(separate(task.x_train[idx], None), None)
                F.cross_entropy(logits, task.y_train[idx]).backward()
                sgd.step()  # the script steps first, then reads the same .grad
                for f, q in zip(fisher, params, strict=True):
                    if q.grad is not None:
                        f.add_(q.grad * q.grad)
        self.fisher = torch.cat([f.reshape(-1) for f in fisher]) / n  # / len(dataset1)
        self.anchor = flat_params(params).detach().clone()
        self.penalty_from = (
            batches_per_epoch if p.penalty_from_step is None else p.penalty_from_step
        )

    def penalty(self) -> Tensor | float:
        step = self.steps
        self.steps += 1
        if self.fisher is None or step < self.penalty_from or self.params.lambda_ == 0:
            return 0.0
        distance = weighted_squared_distance(self.trainable_parameters(), self.fisher, self.anchor)
        return self.params.lambda_ * distance  # no 1/2: ewc_loss in experiment_EWC.py

    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds the separate model's Fisher, the tensor the penalty weighs distances by."""
        states = super().synapse_state()
        if self.fisher is not None:
            states["fisher"] = SynapseState(
                self.named_flat(self.fisher), "the Fisher of the separate model trained one "
                "epoch on the first task (experiment_EWC.py), as the penalty weighs it", "high")
        return states
