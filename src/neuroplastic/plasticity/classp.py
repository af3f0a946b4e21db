"""CLASSP: continual learning through adjustment suppression and sparsity promotion.

Ludwig, "CLASSP: a Biologically-Inspired Approach to Continual Learning through Adjustment
Suppression and Sparsity Promotion", arXiv 2405.09637 (2024); official code
``oswaldoludwig/CLASSP`` (``CLASSP.py``, commit ``eebd00d``).

The rule (paper, README pseudo-code), element-wise for every weight ``w_i`` at step ``t``::

    if g_i^2 > threshold:
        A_i <- A_i + |g_i|^p                        # the accumulator grows only where applied
        w_i <- w_i - lr * g_i / (eps + A_i)^(1/p)

Weights that have received many (large) updates learn more slowly ("adjustment suppression",
a generalised AdaGrad: p = 2 and threshold 0 is AdaGrad), and weights whose gradient is small
are not touched at all ("sparsity promotion"), leaving them free for later tasks.

Which gradients are in the sum (``include_current``)
    The paper's equation as summarised in the project's notes sums ``k = 0 .. t-1`` (the
    accumulator *before* the current gradient); the README pseudo-code, which the author says
    "represents the algorithm in CLASSP.py", adds ``|g|^p`` first and then scales (``k <= t``).
    The default follows the README: (1) it is the author's own description of the rule; (2) the
    paper's claim that p = 2, threshold 0 is AdaGrad holds only when the current gradient is in
    the sum (Duchi et al. 2011; ``torch.optim.Adagrad``); (3) with the empty accumulator of
    ``k <= t-1`` the first applied step of every weight is ``lr * g / eps^(1/p)``, 20,000 times
    the gradient at the paper's lr 0.2 and eps 1e-5, which wrecks a network in one step.
    ``include_current: false`` gives the ``t-1`` reading for anyone who wants it.

``rule: official`` reproduces ``CLASSP.py`` exactly, including its four departures from the
paper (project notes, papers.md section 5):

1. the threshold test is per *tensor*: ``(g ** 2).any() > threshold`` compares a boolean with
   the threshold, so any threshold in [0, 1) passes every tensor with a non-zero gradient and
   any threshold >= 1 blocks every tensor;
2. the accumulator always adds ``|g|`` (``grad_sum.add_(grad.abs()) ** power`` discards the
   power), so p only enters through the ``1/p`` root;
3. the current gradient is added before the scaling (``k <= t``), and ``eps`` sits inside the
   root: ``lr / (grad_sum + eps) ** (1/p)``;
4. the settings are read once per step, from the call's arguments or else from the *first*
   parameter group, and then used for every group (the local variables of the group loop keep
   the first group's values), so per-group settings are ignored.

The paper's vision protocol trains the first task with scaling off ("plain SGD while the
accumulator fills"; ``step(apply_scaling=False)``) and the second with scaling on and threshold
0. Here that is ``scale_from_task: 1`` and ``task_thresholds: [0.5, 0.0]``, switched by
``begin_task(task_index)``, which the method base calls at every task boundary. The phase lives
in the parameter groups, so ``state_dict``/``load_state_dict`` carry it together with the
accumulators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ..errors import ConfigError
from ..registry import OPTIMIZERS
from .base import RuleOptimizer
from .synapse_state import SynapseState

RULES = ("paper", "official")


@dataclass
class CLASSPParams:
    """CLASSP settings. Defaults are the paper's computer-vision ones (official
    ``experiment_CV.py`` and ``CLASSP.py`` defaults): lr 0.2, threshold 0.5, eps 1e-5, p 1. The
    sentiment experiment of the official code uses lr 0.025, threshold 0.99, eps 1e-4, p 1."""

    lr: float = 0.2  # alpha (Ludwig 2024; CLASSP.py default)
    threshold: float = 0.5  # on g^2 (CLASSP.py default; experiment_CV.py first phase)
    eps: float = 1e-5  # epsilon inside the root (CLASSP.py default)
    p: float = 1.0  # power of the generalised AdaGrad accumulator (CLASSP.py default 1)
    #: paper: element-wise threshold and |g|^p accumulator; official: CLASSP.py exactly
    rule: Literal["paper", "official"] = "paper"
    #: paper rule only: True sums k <= t (README pseudo-code, AdaGrad), False k <= t-1 (the
    #: equation as summarised); see the module docstring for why True is the default
    include_current: bool = True
    #: tasks with index < scale_from_task take plain lr*g steps while the accumulator fills
    #: (experiment_CV.py: apply_scaling=False on MNIST, so 1 there; 0 = scaling throughout,
    #: as in experiment_SA.py)
    scale_from_task: int = 0
    #: threshold of each task in order (the last one repeats); None: ``threshold`` everywhere.
    #: experiment_CV.py uses [0.5, 0.0]
    task_thresholds: list[float] | None = None

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optimizer classp: lr must be positive, got {self.lr}")
        if self.p <= 0:
            raise ConfigError(f"optimizer classp: p must be positive, got {self.p}")
        if self.eps < 0:
            raise ConfigError(f"optimizer classp: eps must be >= 0, got {self.eps}")
        if self.rule == "paper" and not self.include_current and self.eps == 0:
            raise ConfigError(
                "optimizer classp: include_current false divides the first step by eps, "
                "which must then be positive"
            )
        if self.scale_from_task < 0:
            raise ConfigError("optimizer classp: scale_from_task must be >= 0")
        thresholds = [self.threshold, *(self.task_thresholds or [])]
        if self.rule == "paper" and any(t < 0 for t in thresholds):
            # g^2 > negative passes zero gradients too: with an empty accumulator 0/0 = NaN
            raise ConfigError(f"optimizer classp: thresholds must be >= 0, got {thresholds}")
        if self.task_thresholds is not None and not self.task_thresholds:
            raise ConfigError("optimizer classp: task_thresholds must list at least one value")


def _phase_value(group: dict, key: str, override):
    """The group's setting for its current task, unless the call overrides it."""
    if override is not None:
        return override
    if key == "apply_scaling":
        return group["task_index"] >= group["scale_from_task"]
    if key == "threshold" and group["task_thresholds"]:
        schedule = group["task_thresholds"]
        return schedule[min(group["task_index"], len(schedule) - 1)]
    return group[key]


class CLASSP(RuleOptimizer):
    """CLASSP update rule (paper default, or ``rule='official'`` for CLASSP.py exactly).

    Every setting may differ per parameter group (paper rule). ``step`` accepts the official
    code's per-call overrides ``lr, threshold, eps, p, apply_scaling``.
    """

    def __init__(
        self,
        params,
        lr: float = 0.2,
        threshold: float = 0.5,
        eps: float = 1e-5,
        p: float = 1.0,
        rule: str = "paper",
        include_current: bool = True,
        scale_from_task: int = 0,
        task_thresholds: list[float] | None = None,
    ):
        if rule not in RULES:
            from ..errors import UnknownNameError

            raise UnknownNameError("CLASSP rule", rule, list(RULES))
        defaults = dict(
            lr=lr,
            threshold=threshold,
            eps=eps,
            p=p,
            include_current=include_current,
            scale_from_task=scale_from_task,
            task_thresholds=list(task_thresholds) if task_thresholds else None,
            task_index=0,  # the phase; saved with the groups in state_dict
        )
        self.rule = rule
        super().__init__(params, defaults)

    def begin_task(self, task_index: int) -> None:
        """Enter task ``task_index``: picks its scaling phase and threshold in every group."""
        for group in self.param_groups:
            group["task_index"] = int(task_index)

    def state_dict(self):
        out = super().state_dict()
        out["rule"] = self.rule
        return out

    def load_state_dict(self, state_dict) -> None:
        state_dict = dict(state_dict)
        rule = state_dict.pop("rule", self.rule)
        if rule != self.rule:
            raise ConfigError(f"CLASSP state saved with rule {rule!r}, loaded into {self.rule!r}")
        super().load_state_dict(state_dict)

    @torch.no_grad()
    def step(
        self,
        closure=None,
        *,
        lr: float | None = None,
        threshold: float | None = None,
        eps: float | None = None,
        p: float | None = None,
        apply_scaling: bool | None = None,
    ):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        call = dict(lr=lr, threshold=threshold, eps=eps, p=p, apply_scaling=apply_scaling)
        if self.rule == "official":
            self._step_official(call)
        else:
            self._step_paper(call)
        return loss

    # --- the paper's rule -------------------------------------------------------------------
    def _step_paper(self, call: dict) -> None:
        for group in self.param_groups:
            s = {k: _phase_value(group, k, v) for k, v in call.items()}
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                state = self.state[param]
                if "grad_sum" not in state:
                    state["grad_sum"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                acc = state["grad_sum"]
                applied = grad * grad > s["threshold"]  # element-wise sparsity test
                if not applied.any():
                    continue
                increment = grad.abs().pow(s["p"]).masked_fill_(~applied, 0.0)
                if group["include_current"]:
                    acc.add_(increment)  # sum over k <= t (README pseudo-code)
                if s["apply_scaling"]:
                    update = grad / (acc + s["eps"]).pow(1.0 / s["p"])
                else:
                    update = grad.clone()  # plain SGD step while the accumulator fills
                if not group["include_current"]:
                    acc.add_(increment)  # sum over k <= t-1: added after the step
                param.add_(update.masked_fill_(~applied, 0.0), alpha=-s["lr"])

    # --- the synapse atlas ------------------------------------------------------------------
    @torch.no_grad()
    def synapse_state(self, names: dict[int, str]) -> dict[str, SynapseState]:
        """The accumulator ``A`` of every named weight tensor (>= 2-D; the optimizer's own
        ``grad_sum``, zeros before its first applied step) and the step multiplier it implies,
        ``1 / (A + eps)^(1/p)`` in the scaling phase (1 while scaling is off), the factor on
        ``lr * g`` of a step that adds nothing more to ``A``. ``A`` grows exactly where the
        threshold lets an update through, so the atlas's growth fraction is the fraction of
        weights let through during the task."""
        accumulators, multipliers = {}, {}
        first = self.param_groups[0]  # rule official: the first group's settings (quirk 4)
        for group in self.param_groups:
            settings = group if self.rule == "paper" else first
            eps, power = settings["eps"], settings["p"]
            scaling = _phase_value(settings, "apply_scaling", None)
            for param in group["params"]:
                if param.dim() < 2 or id(param) not in names:
                    continue
                state = self.state[param] if param in self.state else {}
                acc = state.get("grad_sum")
                acc = acc if acc is not None else torch.zeros_like(param)
                accumulators[names[id(param)]] = acc
                multipliers[names[id(param)]] = (
                    (acc + eps).pow(1.0 / power).reciprocal() if scaling else torch.ones_like(acc)
                )
        return {
            "accumulator": SynapseState(
                accumulators, "CLASSP's accumulator A = sum of |g|^p over the applied updates "
                "(high = adjusted often, suppressed)", "high", report_growth=True),
            "step_multiplier": SynapseState(
                multipliers, "CLASSP's step multiplier 1 / (A + eps)^(1/p) on lr * g (low = "
                "suppressed; 1 while scaling is off)", "low"),
        }

    # --- CLASSP.py, quirks included -------------------------------------------------------
    def _step_official(self, call: dict) -> None:
        # Quirk 4: the settings are fixed by the call or by the first group, then shared by all.
        settings = dict(call)
        for group in self.param_groups:
            for key in settings:
                if settings[key] is None:
                    settings[key] = _phase_value(group, key, None)
            lr, threshold = settings["lr"], settings["threshold"]
            eps, power, scaling = settings["eps"], settings["p"], settings["apply_scaling"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                state = self.state[param]
                if "grad_sum" not in state:
                    state["grad_sum"] = torch.zeros_like(param)
                # Quirk 1: a boolean (any non-zero g^2 in the tensor) compared with threshold.
                if (grad**2).any() > threshold:
                    # Quirks 2 and 3: |g| whatever p, current gradient included.
                    state["grad_sum"].add_(grad.abs())
                    if scaling:
                        factor = lr / (state["grad_sum"] + eps).pow(1 / power)
                        param.add_(-factor * grad)
                    else:
                        param.add_(grad, alpha=-lr)


@OPTIMIZERS.register(
    "classp", params=CLASSPParams, summary="CLASSP: thresholded generalised AdaGrad (Ludwig 2024)"
)
def classp(parameters, p: CLASSPParams) -> torch.optim.Optimizer:
    """CLASSP (Ludwig 2024): element-wise thresholded, accumulator-scaled updates."""
    return CLASSP(
        parameters,
        lr=p.lr,
        threshold=p.threshold,
        eps=p.eps,
        p=p.p,
        rule=p.rule,
        include_current=p.include_current,
        scale_from_task=p.scale_from_task,
        task_thresholds=p.task_thresholds,
    )
