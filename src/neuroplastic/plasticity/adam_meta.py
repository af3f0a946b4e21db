"""Adam_meta: Laborieux et al.'s metaplastic Adam for binarized networks.

Exactly ``Adam_meta.step`` of the official code (``Laborieux-Axel/SynapticMetaplasticityBNN``,
``Continual_Learning_Fig-2abcdefgh-3abcd-5cde/models_utils.py``; project notes, papers.md
Appendix A). For every parameter tensor ``W`` (for binary layers, the hidden weights ``W_h``)::

    g <- grad + weight_decay * W                      # L2 on the hidden weights
    m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
    step = lr * sqrt(1 - b2^k) / (1 - b1^k)
    1-D tensors (BatchNorm, biases):  W <- W - step * m / (sqrt(v) + eps)         (plain Adam)
    >= 2-D tensors (weights):
        f_meta = 1 - tanh^2(meta * |W|)
        W <- W - step * where(sign(W) * m > 0, f_meta * m, m) / (sqrt(v) + eps)

The update is ``-step * m / ...``, so it points toward zero exactly when ``sign(W)`` and ``m``
have the same sign: ``sign(W) * m > 0``. Only such updates, which would bring the hidden weight
closer to a flip of its binary value, are attenuated; updates that grow ``|W|`` never are.
``meta = 0`` gives ``f_meta = 1``: Adam with the code's bias correction (which puts ``eps``
outside the ``sqrt(1 - b2^k)`` correction; torch.optim.Adam puts it inside, a difference of
order ``eps``).

The official code builds a new ``Adam_meta`` at every task (moments reset): use
``reset: per_task`` in the optimizer block (the ``mbnn`` and ``engram-bnn`` defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import ConfigError
from ..registry import OPTIMIZERS
from .base import RuleOptimizer
from .synapse_state import UNIT_EDGES, SynapseState


@dataclass
class AdamMetaParams:
    """Defaults: lr 0.005 and meta 1.35, the README's permuted-MNIST setting
    (``--lr 0.005 --meta 1.35``); betas (0.9, 0.999) and eps 1e-8 from the class signature;
    weight_decay 0 (``--decay`` default; the README runs use 1e-7 or 1e-8).

    ``meta`` is one value for every weight tensor, or one per weight tensor (>= 2-D parameters in
    the model's parameter order: ``[m_layer1, m_layer2, ...]``, the official ``--meta m1 m2 ...``).
    """

    lr: float = 0.005
    meta: list[float] = field(default_factory=lambda: [1.35])
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optimizer.lr must be positive, got {self.lr}")
        if not self.meta or any(m < 0 for m in self.meta):
            raise ConfigError(f"optimizer.meta must be one or more values >= 0, got {self.meta}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"optimizer.betas must lie in [0, 1), got {self.betas}")


def f_meta(weight: Tensor, meta: float) -> Tensor:
    """``f_meta = 1 - tanh^2(meta |W_h|)`` as a new tensor: the factor :meth:`AdamMeta.step`
    multiplies updates toward a flip by (one temporary, operated on in place in the formula's
    order, so the step and the synapse atlas get the same bits)."""
    return weight.abs().mul_(meta).tanh_().pow_(2).neg_().add_(1)


class AdamMeta(RuleOptimizer):
    """Metaplastic Adam (see the module docstring). ``meta`` of each weight tensor is kept in
    its per-parameter state (``state[p]["meta"]``), so it travels with ``state_dict`` and
    checkpoints; 1-D tensors are never attenuated."""

    def __init__(self, params, lr=0.005, meta=1.35, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)
        weights = [p for g in self.param_groups for p in g["params"] if p.dim() > 1]
        metas = list(meta) if isinstance(meta, (list, tuple)) else [float(meta)]
        if len(metas) == 1:
            metas = metas * len(weights)
        if len(metas) != len(weights):
            raise ConfigError(
                f"optimizer.meta has {len(metas)} values but the model has {len(weights)} weight "
                "tensors (>= 2-D parameters); give one value, or one per weight tensor"
            )
        for p, m in zip(weights, metas, strict=True):
            self.state[p]["meta"] = float(m)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if "step" not in state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                k = state["step"]
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = v.sqrt().add_(group["eps"])
                step_size = group["lr"] * math.sqrt(1 - beta2**k) / (1 - beta1**k)
                meta = state.get("meta", 0.0) if p.dim() > 1 else 0.0
                if meta == 0:  # f_meta = 1 - tanh^2(0) = 1 everywhere: plain Adam, exactly
                    p.addcdiv_(m, denom, value=-step_size)
                    continue
                update = f_meta(p, meta)
                # only updates toward zero (sign(W_h) m > 0) are attenuated: elsewhere 1 * m = m
                update.masked_fill_(torch.sign(p).mul_(m) <= 0, 1.0).mul_(m)
                p.addcdiv_(update, denom, value=-step_size)
        return loss

    @torch.no_grad()
    def synapse_state(self, names: dict[int, str]) -> dict[str, SynapseState]:
        """``f_meta`` of every named weight tensor (>= 2-D) at its current hidden weights: the
        factor the next step multiplies an update toward a flip by (1 elsewhere)."""
        factors, magnitudes = {}, {}
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() > 1 and id(p) in names:
                    meta = self.state[p].get("meta", 0.0) if p in self.state else 0.0
                    factors[names[id(p)]] = f_meta(p.detach(), meta)
                    magnitudes[names[id(p)]] = p.detach().abs()
        return {
            "f_meta": SynapseState(
                factors, "Adam_meta's f_meta = 1 - tanh^2(m |W_h|): the factor on updates "
                "toward a flip of the binary weight (1 = free, 0 = frozen)", "low",
                edges=UNIT_EDGES),
            # the quantity f_meta ranks by, defined at every m (at m = 0 f_meta is 1 everywhere
            # and ranks nothing): what a flip has to undo, so m = 0 and m > 0 compare
            "hidden_magnitude": SynapseState(
                magnitudes, "|W_h|, the hidden weight's distance from a flip of its binary "
                "weight (f_meta decreases with it)", "high"),
        }


@OPTIMIZERS.register(
    "adam-meta",
    params=AdamMetaParams,
    summary="metaplastic Adam for BNN hidden weights (Laborieux)",
)
def adam_meta(parameters, p: AdamMetaParams) -> torch.optim.Optimizer:
    """Laborieux et al.'s Adam_meta: Adam whose updates toward a binary flip are scaled by
    1 - tanh^2(meta |W_h|)."""
    return AdamMeta(
        parameters,
        lr=p.lr,
        meta=list(p.meta),
        betas=tuple(p.betas),
        eps=p.eps,
        weight_decay=p.weight_decay,
    )
