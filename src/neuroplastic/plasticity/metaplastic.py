"""Neuromimetic metaplasticity (Cho, Lee, Baek & Paik, arXiv 2407.07133, Neural Networks 2025).

Every weight ``w`` of the chosen layers carries a fixed *flexibility* ``f`` in (0, 1], drawn
once, and remembers its value at initialisation ``w_init``. At the start of every item (task)
the gradient of that weight is multiplied by a scale that is then held for the whole item::

    scale = 1 - tanh^2( s * (f - 1) / f * (w - w_init) )          (trainModel.m; paper's S(f, dw))

and the update is plain SGD (``sgdmupdate`` with momentum 0): ``w <- w - lr * scale * grad``.
``f = 1`` gives ``scale = 1`` (ordinary SGD, the "conventional" network); the smaller ``f``, the
sooner a weight that has moved away from its initial value stops moving (a "stable" synapse).
Biases (1-D parameters) are updated without scaling, as in the official code, which scales only
the ``Weights`` learnables of fc6, fc7 and fc8.

Source of every rule here: the official MATLAB code ``vsnnlab/Metaplasticity``
(``catast_function/trainModel.m``, ``hyperparameters.m``, the scripts' flexibility set-up), as
summarised in the project notes (papers.md section 2).

Edge case f -> 0 (as the code does it): ``coeff = (f - 1) / f`` is ``-inf`` at ``f = 0``; the
product with ``dw = 0`` is NaN, which the code maps to ``scale = 0``; with ``dw != 0``,
``tanh(+-inf)^2 = 1`` also gives 0. A weight with ``f = 0`` is therefore frozen from the first
item on. Here ``f = 0`` can only come from a uniform draw that hits 0 exactly (``torch.rand``
is in [0, 1)); it is handled the same way, explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..errors import ConfigError
from ..registry import OPTIMIZERS
from .base import RuleOptimizer
from .synapse_state import UNIT_EDGES, SynapseState

Flexibility = Literal["conventional", "stable", "hybrid", "increasing", "decreasing"]
FLEXIBILITIES = ("conventional", "stable", "hybrid", "increasing", "decreasing")


@dataclass
class MetaplasticSGDParams:
    """Settings of the metaplastic SGD rule; defaults are the official code's values."""

    #: learning rate; ``learnRate = 1e-4`` in hyperparameters.m
    lr: float = 1e-4
    #: steepness of the scale; ``s_item_10 = 4e5`` (use 2e5, ``s_item_30``, for 30 items).
    #: Tuned by the authors for lr 1e-4, batch 1024 and 5 epochs: retune it when those change.
    s: float = 4e5
    #: how flexibilities are drawn: conventional (f = 1), stable (f = stable_f), hybrid
    #: (f ~ U(0, 1), the paper's model; MATLAB ``rand``), increasing / decreasing (the
    #: supplement's biased pdfs, biased_flexibility_distribution.m)
    flexibility: Flexibility = "hybrid"
    #: the stable network's constant flexibility (``0.3*ones(numW)`` in the scripts)
    stable_f: float = 0.3
    #: parameter ``a`` of the biased pdfs: CDF F(x) = (1 - a) x^2 + a x (supplement, a = 0.5)
    bias_a: float = 0.5
    #: per_task: scale computed at each item's start and held (trainModel.m, the default);
    #: per_step: recomputed before every step (a stronger variant, not the paper's)
    recompute: Literal["per_task", "per_step"] = "per_task"
    #: which >=2-D parameters are metaplastic, as indices into the list of the optimizer's
    #: >=2-D parameters in model order (negative counts from the end; [-3, -2, -1] = the last
    #: three weight matrices). None: all of them (the code: every fully connected layer that
    #: trains, fc6-fc8). The optimizer receives parameters without names, hence indices.
    layers: list[int] | None = None
    #: seed of the flexibility draw (the code draws it once per trial with MATLAB ``rand``);
    #: null: drawn from torch's global generator, i.e. from the run's seed (one draw per trial)
    seed: int | None = 0

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"metaplastic-sgd: lr must be positive, got {self.lr}")
        if self.s < 0:
            raise ConfigError(f"metaplastic-sgd: s must be non-negative, got {self.s}")
        if not 0 < self.stable_f <= 1:
            raise ConfigError(f"metaplastic-sgd: stable_f must be in (0, 1], got {self.stable_f}")
        if not 0 <= self.bias_a <= 1:
            raise ConfigError(f"metaplastic-sgd: bias_a must be in [0, 1], got {self.bias_a}")


def biased_draw(shape: tuple[int, ...], a: float, generator: torch.Generator) -> Tensor:
    """Samples with CDF F(x) = (1 - a) x^2 + a x on [0, 1] (pdf 2(1 - a) x + a, increasing).

    Inverse-CDF sampling: solve (1 - a) x^2 + a x = u for x in [0, 1].
    """
    u = torch.rand(shape, generator=generator)
    if a >= 1:
        return u
    return (-a + torch.sqrt(a * a + 4 * (1 - a) * u)) / (2 * (1 - a))


def draw_flexibility(
    shape: tuple[int, ...], kind: str, generator: torch.Generator, stable_f: float = 0.3,
    a: float = 0.5,
) -> Tensor:
    """One flexibility per weight, drawn as the official scripts do for each network."""
    if kind == "conventional":
        return torch.ones(shape)
    if kind == "stable":
        return torch.full(shape, float(stable_f))
    if kind == "hybrid":
        return torch.rand(shape, generator=generator)
    if kind == "increasing":
        return biased_draw(shape, a, generator)
    if kind == "decreasing":
        return 1 - biased_draw(shape, a, generator)
    from ..errors import UnknownNameError

    raise UnknownNameError("flexibility", kind, list(FLEXIBILITIES))


def metaplastic_scale(w: Tensor, w_init: Tensor, f: Tensor, s: float) -> Tensor:
    """``1 - tanh^2(s * (f - 1) / f * (w - w_init))``, 0 where f = 0 (trainModel.m).

    The product is formed as ``s * dw * (f - 1) / f`` only where f > 0; at f = 0 the code's
    coefficient is -inf and the scale 0 whatever dw is (NaN at dw = 0 is mapped to 0 there).
    """
    dw = w - w_init
    zero = f <= 0
    safe_f = torch.where(zero, torch.ones_like(f), f)
    arg = s * (safe_f - 1) / safe_f * dw
    scale = 1 - torch.tanh(arg).square()
    return torch.where(zero, torch.zeros_like(scale), scale)


class MetaplasticSGD(RuleOptimizer):
    """Plain SGD whose weight gradients are multiplied by a per-weight metaplastic scale.

    State per metaplastic weight tensor: ``w_init`` (a copy at construction, which must be the
    network's initialisation), ``flexibility`` and the held ``scale``. Other parameters (biases,
    any parameter not selected by ``layers``) follow plain SGD.
    """

    def __init__(self, parameters, p: MetaplasticSGDParams):
        params = list(parameters)
        if params and isinstance(params[0], dict):
            raise ConfigError("metaplastic-sgd takes a plain list of parameters, not groups")
        super().__init__(params, dict(lr=p.lr))
        self.settings = p
        seed = p.seed if p.seed is not None else int(torch.randint(2**62, ()).item())
        generator = torch.Generator().manual_seed(seed)  # local: a Generator is not picklable
        matrices = [q for q in params if q.dim() >= 2]
        chosen = _select(len(matrices), p.layers)
        self._metaplastic: list[Tensor] = [matrices[i] for i in chosen]
        for q in self._metaplastic:
            f = draw_flexibility(tuple(q.shape), p.flexibility, generator, p.stable_f, p.bias_a)
            w0 = q.detach().clone()
            self.state[q]["w_init"] = w0
            self.state[q]["flexibility"] = f.to(device=q.device, dtype=q.dtype)
            self.state[q]["scale"] = torch.ones_like(w0)
        self.tasks_begun = 0
        self.last_task_index: int | None = None

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute every held scale from the current weights (the start of an item)."""
        for q in self._metaplastic:
            st = self.state[q]
            st["scale"] = metaplastic_scale(q, st["w_init"], st["flexibility"], self.settings.s)

    def begin_task(self, task_index: int) -> None:
        """Called by the method base at the start of each task: compute and hold the scale."""
        if self.tasks_begun == 0 and task_index > 0:
            raise ConfigError(
                "metaplastic-sgd was built after the first task (optimizer.reset: per_task?); "
                "it must keep w_init from the network's initialisation: use reset: never"
            )
        self.tasks_begun += 1
        self.last_task_index = task_index
        self.refresh()

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.settings.recompute == "per_step":
            self.refresh()
        for group in self.param_groups:
            lr = group["lr"]
            for q in group["params"]:
                if q.grad is None:
                    continue
                st = self.state.get(q)
                if st and "scale" in st:
                    q.add_(q.grad * st["scale"], alpha=-lr)
                else:
                    q.add_(q.grad, alpha=-lr)
        return loss

    def scale_summary(self) -> dict[str, float]:
        """Mean held scale and the fraction of weights below 0.5 (for run records)."""
        total = sum(st.numel() for st in (self.state[q]["scale"] for q in self._metaplastic))
        if total == 0:
            return {"mean_scale": math.nan, "frozen_fraction": math.nan}
        mean = sum(self.state[q]["scale"].sum().item() for q in self._metaplastic) / total
        low = sum((self.state[q]["scale"] < 0.5).sum().item() for q in self._metaplastic)
        return {"mean_scale": mean, "frozen_fraction": low / total}

    def synapse_state(self, names: dict[int, str]) -> dict[str, SynapseState]:
        """The flexibility ``f`` of every named metaplastic weight tensor and the scale held
        for the current item (the tensors ``step`` multiplies the gradient by)."""
        chosen = [q for q in self._metaplastic if id(q) in names]
        return {
            "scale": SynapseState(
                {names[id(q)]: self.state[q]["scale"] for q in chosen},
                "metaplastic SGD's held gradient scale 1 - tanh^2(s (f-1)/f (w - w_init)) "
                "(below 0.5: counted frozen, as scale_summary does)",
                "low", threshold=0.5, edges=UNIT_EDGES),
            "flexibility": SynapseState(
                {names[id(q)]: self.state[q]["flexibility"] for q in chosen},
                "metaplastic SGD's fixed flexibility f (1 = conventional, small = stable)",
                "low", edges=UNIT_EDGES),
        }


def _select(n: int, layers: list[int] | None) -> list[int]:
    if layers is None:
        return list(range(n))
    out = []
    for i in layers:
        if not -n <= i < n:
            raise ConfigError(
                f"metaplastic-sgd: layers index {i} out of range; the model has {n} trainable "
                "parameters with 2 or more dimensions"
            )
        out.append(i % n)
    return sorted(set(out))


@OPTIMIZERS.register(
    "metaplastic-sgd",
    params=MetaplasticSGDParams,
    summary="SGD with per-weight flexibility scale 1-tanh^2(s(f-1)/f dw) (Cho et al. 2024)",
)
def metaplastic_sgd(parameters, p: MetaplasticSGDParams) -> torch.optim.Optimizer:
    """Metaplastic SGD (neuromimetic metaplasticity, vsnnlab/Metaplasticity trainModel.m)."""
    return MetaplasticSGD(parameters, p)
