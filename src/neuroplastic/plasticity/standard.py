"""The standard PyTorch optimizers, registered with typed settings."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..registry import OPTIMIZERS


@dataclass
class SGDParams:
    """Plain SGD (optionally with momentum)."""

    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0


@OPTIMIZERS.register("sgd", params=SGDParams)
def sgd(parameters, p: SGDParams) -> torch.optim.Optimizer:
    """Stochastic gradient descent (torch.optim.SGD)."""
    return torch.optim.SGD(parameters, lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)


@dataclass
class AdamParams:
    """Adam. Default lr 1e-3 and betas (0.9, 0.999): van de Ven & Tolias 2019 split-MNIST."""

    lr: float = 0.001
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0


@OPTIMIZERS.register("adam", params=AdamParams)
def adam(parameters, p: AdamParams) -> torch.optim.Optimizer:
    """Adam (torch.optim.Adam)."""
    return torch.optim.Adam(
        parameters, lr=p.lr, betas=tuple(p.betas), eps=p.eps, weight_decay=p.weight_decay
    )


@dataclass
class AdagradParams:
    """AdaGrad; CLASSP with p = 2 and threshold 0 reduces to it (Ludwig 2024)."""

    lr: float = 0.01
    eps: float = 1e-10
    weight_decay: float = 0.0


@OPTIMIZERS.register("adagrad", params=AdagradParams)
def adagrad(parameters, p: AdagradParams) -> torch.optim.Optimizer:
    """AdaGrad (torch.optim.Adagrad)."""
    return torch.optim.Adagrad(parameters, lr=p.lr, eps=p.eps, weight_decay=p.weight_decay)
