"""Elastic Weight Consolidation (Kirkpatrick et al. 2017, PNAS 114:3521) and online EWC
(Schwarz et al. 2018, "Progress & Compress", ICML).

After each task, the diagonal of the Fisher information ``F`` is estimated at the trained
parameters ``theta*`` and every later step adds (van de Ven's ``ewc_loss``, both code versions)::

    offline:  lambda/2 * sum_k sum_i F_k,i (theta_i - theta*_k,i)^2     one term per past task
    online:   lambda/2 * sum_i gamma F*_i (theta_i - theta*_i)^2        F* <- gamma F* + F_new

(online EWC applies ``gamma`` both when the new Fisher is folded in and inside the penalty, as
Schwarz et al. eq. 6 and van de Ven's code do; with the default gamma = 1 it does not matter).

**Which Fisher.** The estimate is an option; the default, ``exact``, is the one van de Ven's
current code uses (``--fisher-labels=all``, GMvandeVen/continual-learning
``models/cl/continual_learner.py::estimate_fisher``): for every sample, the squared gradient of
``-log p(c|x)`` is weighted by the model's own predicted probability ``p(c|x)`` and summed over
the *active* classes, with the model in eval mode, batch size 1, then averaged over samples.
``predicted`` (the argmax label) is what the 2019 preprint's code did (commit 86802a8,
``label = output.max(1)[1]``); ``sampled`` draws one label from ``p``; ``empirical`` uses the
true label; ``batched`` squares minibatch-mean gradients of the true-label loss, as Avalanche's
``EWCPlugin`` does (an estimate of a different quantity, kept for comparison).

Per-sample gradients: for models whose trainable parameters all sit in ``nn.Linear`` layers, a
closed form (per-sample outer products, summed by one matrix product; the exact Fisher shares one
forward pass among all classes and batches their backward passes); ``torch.func``
(``functional_call`` + ``vmap`` + ``grad``) in chunks for any other model. Parameters and
importances are single flat tensors (one row per stored task), never per-parameter Python lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..plasticity.synapse_state import SynapseState
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method

FisherKind = Literal["exact", "sampled", "predicted", "empirical", "batched"]


# --- flat-parameter and per-sample-gradient helpers (shared by SI and MAS) ---------------------
def flat_params(params: list[nn.Parameter]) -> Tensor:
    """All parameters as one vector (differentiable: the penalty's gradient flows through)."""
    return torch.cat([p.reshape(-1) for p in params])


def flat_grads(params: list[nn.Parameter]) -> Tensor:
    """All ``.grad`` as one vector; a parameter without gradient (another task's head) gives 0."""
    return torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    )


def flat_views(flat: Tensor, params: list[nn.Parameter]) -> list[Tensor]:
    """``flat`` cut into views shaped like ``params`` (no copy: writes go to ``flat``)."""
    views, offset = [], 0
    for p in params:
        views.append(flat[offset : offset + p.numel()].view_as(p))
        offset += p.numel()
    return views


def write_flat_grads(params: list[nn.Parameter], flat: Tensor) -> None:
    """Copy a flat gradient vector back into the parameters' ``.grad`` (in place)."""
    for p, part in zip(params, flat_views(flat, params), strict=True):
        if p.grad is None:
            if not part.any():
                continue  # keep "no gradient" (Adam skips such parameters entirely)
            p.grad = torch.zeros_like(p)
        p.grad.copy_(part)


class _WeightedSquaredDistance(torch.autograd.Function):
    """``sum_i w_i (theta_i - c_i)^2`` with its gradient ``2 w (theta - c)`` written per
    parameter tensor: no concatenation of the parameters, whose copy and its backward cost more
    than the penalty itself (``benchmarks/ewc_cost.py``: 2M-parameter permuted-MNIST MLP)."""

    @staticmethod
    def forward(ctx, weight: Tensor, center: Tensor, *params: Tensor) -> Tensor:
        total = weight.new_zeros(())
        scaled = []
        views = zip(params, flat_views(weight, params), flat_views(center, params), strict=True)
        for p, w, c in views:
            diff = p.detach() - c
            weighted = diff * w
            total += torch.dot(weighted.reshape(-1), diff.reshape(-1))
            scaled.append(weighted)
        ctx.scaled = scaled  # w (theta - c), all the backward pass needs
        return total

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        twice = 2.0 * grad_out
        return (None, None, *[s * twice for s in ctx.scaled])


def weighted_squared_distance(params: list[nn.Parameter], weight: Tensor, center: Tensor) -> Tensor:
    """``sum_i weight_i (theta_i - center_i)^2`` over the flat ``weight`` and ``center``: the
    quadratic penalty of EWC, SI and MAS, differentiable in the parameters."""
    return _WeightedSquaredDistance.apply(weight, center, *params)


def active_units(method: Method, task_id: int | None) -> Tensor | None:
    """Indices of the output units active for ``task_id`` (None: all are active)."""
    mask = method.logit_mask(task_id)
    return None if mask is None else mask.nonzero().squeeze(1)


def _chunk_size(num_params: int, budget: int = 1 << 25) -> int:
    """Samples per vmap chunk so that the (chunk, P) gradient block stays near 128 MiB."""
    return max(1, min(256, budget // max(1, num_params)))


class _NotSeparable(Exception):
    """The fast per-sample path does not apply (a parameter outside nn.Linear, a Linear used on
    sequences or twice in one pass): use torch.func instead."""


def _linear_parameter_ids(model: nn.Module) -> set[int]:
    """ids of the weights and biases of the model's ``nn.Linear`` layers."""
    return {id(t) for m in model.modules() if isinstance(m, nn.Linear)
            for t in (m.weight, m.bias) if t is not None}


def _linear_modules(model: nn.Module, params: list[nn.Parameter]) -> list[nn.Linear]:
    owned = _linear_parameter_ids(model)
    if any(id(p) not in owned for p in params):
        raise _NotSeparable
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _linear_forward(model, params, x, task_id):
    """Forward pass recording every ``nn.Linear``'s input and output (raises ``_NotSeparable``
    when a parameter sits outside one, or a layer runs twice or on sequences)."""
    linears = _linear_modules(model, params)
    inputs: dict[int, Tensor] = {}
    outputs: dict[int, Tensor] = {}

    def hook(module, args, out):
        if id(module) in outputs or args[0].ndim != 2:
            raise _NotSeparable
        inputs[id(module)] = args[0].detach()
        outputs[id(module)] = out

    handles = [m.register_forward_hook(hook) for m in linears]
    try:
        out = model(x, task_id)
    finally:
        for h in handles:
            h.remove()
    used = [m for m in linears if id(m) in outputs]
    return out, used, inputs, outputs


def _outer_power_sums(params, used, inputs, deltas, power) -> Tensor:
    """Per layer, ``sum_b d_b a_b^power`` as one matrix product, from the already-reduced
    ``d_b`` (the weighted ``|delta_b|^power``), flattened in ``params`` order."""
    stats: dict[int, Tensor] = {}
    for m, d in zip(used, deltas, strict=True):
        if d is None:
            continue
        stats[id(m.weight)] = d.T @ inputs[id(m)].abs().pow(power)
        if m.bias is not None:
            stats[id(m.bias)] = d.sum(0)
    return torch.cat([stats.get(id(p), torch.zeros_like(p)).reshape(-1) for p in params])


def _linear_path(model, params, x, task_id, active, loss_fn, targets, weights, power) -> Tensor:
    """Sum over samples of ``weight_b * |per-sample gradient_b| ** power`` for a model whose
    trainable parameters all sit in ``nn.Linear`` layers used once per sample.

    The per-sample gradient of a linear layer is the outer product ``delta_b a_b^T`` of the
    gradient at its output and its input, so ``|delta_b a_b^T|^k = |delta_b|^k |a_b|^k`` and the
    sum over the batch is one matrix product (Goodfellow 2015, "Efficient per-example gradient
    computations"). In eval mode the samples' losses are independent, so one backward pass of
    their sum gives every ``delta_b``.
    """
    out, used, inputs, outputs = _linear_forward(model, params, x, task_id)
    losses = loss_fn(out if active is None else out[:, active], targets)
    deltas = torch.autograd.grad(losses.sum(), [outputs[id(m)] for m in used], allow_unused=True)
    reduced = [None if d is None else d.abs().pow(power) * weights[:, None] for d in deltas]
    return _outer_power_sums(params, used, inputs, reduced, power)


def _linear_expected_fisher(model, params, x, task_id, active, class_chunk: int = 16) -> Tensor:
    """``sum_b sum_c p(c|x_b) |d(-log p(c|x_b))/d theta|^2`` (the exact Fisher's sum) for an
    all-``nn.Linear`` model, with one forward pass for all classes.

    A layer's input ``a_b`` does not depend on the class, so ``sum_c p_c (delta_bc a_b^T)^2 =
    (sum_c p_c delta_bc^2) a_b^2``: only the backward pass is repeated per class, batched
    (``is_grads_batched``) from the output gradients ``p - e_c`` of the cross-entropy, and each
    layer's weight statistic is a single matrix product instead of one per class.
    """
    out, used, inputs, outputs = _linear_forward(model, params, x, task_id)
    logits = out if active is None else out[:, active]
    prob = F.softmax(logits, dim=1).detach()
    n_classes = prob.shape[1]
    targets = [outputs[id(m)] for m in used]
    reduced: list[Tensor | None] = [None] * len(used)
    eye = torch.eye(n_classes, device=x.device)
    for c0 in range(0, n_classes, class_chunk):
        cs = slice(c0, min(n_classes, c0 + class_chunk))
        seeds = prob.unsqueeze(0) - eye[cs, None, :]  # (classes, B, n_classes): d nll_c / d logits
        last = cs.stop >= n_classes
        grads = torch.autograd.grad(
            logits, targets, seeds, retain_graph=not last, is_grads_batched=True, allow_unused=True
        )
        for i, g in enumerate(grads):
            if g is None:
                continue
            part = (g.square() * prob.T[cs, :, None]).sum(0)
            reduced[i] = part if reduced[i] is None else reduced[i] + part
    return _outer_power_sums(params, used, inputs, reduced, 2.0)


def _vmap_path(model, params, x, task_id, active, loss_fn, targets, weights, power) -> Tensor:
    """The same sum with per-sample gradients from torch.func (any model vmap can trace)."""
    names = {id(p): n for n, p in model.named_parameters()}
    wanted = [names[id(p)] for p in params]
    trainable = {n: p.detach() for n, p in model.named_parameters() if n in set(wanted)}
    frozen = {n: p.detach() for n, p in model.named_parameters() if n not in trainable}
    buffers = dict(model.named_buffers())

    def one(params_, xi, ti):
        out = torch.func.functional_call(
            model, ({**params_, **frozen}, buffers), (xi.unsqueeze(0), task_id)
        )
        return loss_fn(out if active is None else out[:, active], ti.unsqueeze(0)).sum()

    sizes = [trainable[n].numel() for n in wanted]
    total = torch.zeros(sum(sizes), device=x.device)
    parts = total.split(sizes)  # views: each parameter's slice of the flat sum
    per_grad = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))
    chunk = _chunk_size(total.numel())
    for s in range(0, len(x), chunk):
        xs = x[s : s + chunk]
        g = per_grad(trainable, xs, targets[s : s + chunk])
        w = weights[s : s + chunk]
        for n, part in zip(wanted, parts, strict=True):
            # the (chunk, P) per-sample block is reduced in place and summed by one
            # matrix-vector product: no concatenated copy, no weighted temporary (profiled on
            # the CNN: cat, abs and the weighting took two thirds of the Fisher's time)
            gn = g[n].reshape(len(xs), -1)
            gn = gn.square_() if power == 2 else gn.abs_().pow_(power)
            part.addmv_(gn.T, w)
    return total


def per_sample_grad_power_sum(
    model: nn.Module,
    params: list[nn.Parameter],
    x: Tensor,
    task_id: int | None,
    active: Tensor | None,
    loss_fn,
    targets: Tensor,
    weights: Tensor | None = None,
    power: float = 2.0,
    fast: bool = True,
) -> Tensor:
    """``sum_b weights_b * |d loss_fn(f(x_b), targets_b) / d theta| ** power`` as a flat vector.

    ``loss_fn(outputs, targets)`` returns one loss per sample. Exact per-sample gradients: a
    closed form for nn.Linear models (``fast``), torch.func (vmap) otherwise.
    """
    weights = torch.ones(len(x), device=x.device) if weights is None else weights
    args = (x, task_id, active, loss_fn, targets, weights, power)
    if fast:
        try:
            return _linear_path(model, params, *args)
        except _NotSeparable:
            pass
        # a mixed model (the CNN: convolutions, then nn.Linear layers): its Linear layers in
        # closed form, only the rest through torch.func. On the MNIST CNN the per-sample
        # gradients of fc1 (1.18 M of its 1.2 M weights) were most of the vmap path's time.
        linears = _linear_parameter_ids(model)
        linear = [p for p in params if id(p) in linears]
        rest = [p for p in params if id(p) not in linears]
        if linear and rest:
            try:
                sums = dict(zip(map(id, linear), _linear_path(model, linear, *args).split(
                    [p.numel() for p in linear]), strict=True))
            except _NotSeparable:
                pass
            else:
                sums.update(zip(map(id, rest), _vmap_path(model, rest, *args).split(
                    [p.numel() for p in rest]), strict=True))
                return torch.cat([sums[id(p)] for p in params])
    return _vmap_path(model, params, *args)


def _nll(out: Tensor, label: Tensor) -> Tensor:
    return F.cross_entropy(out, label, reduction="none")


def estimate_fisher(
    method: Method,
    task: Task,
    kind: str,
    samples: int | None,
    batch_size: int,
    chunk: int = 1000,
) -> Tensor:
    """Diagonal Fisher information (flat, one entry per trainable parameter) on ``task``'s
    training data, with the model in eval mode (Avalanche PR #723: train mode changes BatchNorm
    statistics) and only the task's active output units (van de Ven's ``allowed_classes``)."""
    model = method.model
    was_training = model.training
    model.eval()
    params = method.trainable_parameters()
    num_params = sum(p.numel() for p in params)
    x_all, y_all = task.x_train, task.y_train
    order = torch.randperm(len(y_all), device=y_all.device)  # van de Ven's loader shuffles
    if samples is not None:
        order = order[:samples]
    x_all, y_all = x_all[order], y_all[order]
    active = active_units(method, task.index)
    # targets in the active-unit index space (position of the true unit among the active ones)
    if active is None:
        y_local = y_all
    else:
        lookup = torch.full((method.info.num_outputs,), -1, dtype=torch.long, device=y_all.device)
        lookup[active] = torch.arange(len(active), device=y_all.device)
        y_local = lookup[y_all]
    fisher = torch.zeros(num_params, device=method.device)
    try:
        if kind == "batched":
            count = 0
            for start in range(0, len(y_all), batch_size):
                xb, yb = x_all[start : start + batch_size], y_local[start : start + batch_size]
                model.zero_grad(set_to_none=True)
                out = model(xb, task.index)
                out = out if active is None else out[:, active]
                F.cross_entropy(out, yb).backward()
                fisher += flat_grads(params) ** 2
                count += 1
            return fisher / max(1, count)
        one_forward = kind == "exact"  # until the model turns out not to be all-Linear
        for start in range(0, len(y_all), chunk):
            xb, yb = x_all[start : start + chunk], y_local[start : start + chunk]
            if one_forward:
                # E_{c ~ p(.|x)} [(d log p(c|x) / d theta)^2] over every active class, with
                # its own forward pass (the probabilities below would be a second one)
                try:
                    fisher += _linear_expected_fisher(model, params, xb, task.index, active)
                    continue
                except _NotSeparable:
                    one_forward = False
            with torch.no_grad():
                out = model(xb, task.index)
                prob = F.softmax(out if active is None else out[:, active], dim=1)
            if kind == "exact":
                for c in range(prob.shape[1]):
                    labels = torch.full_like(yb, c)
                    fisher += per_sample_grad_power_sum(
                        model, params, xb, task.index, active, _nll, labels, prob[:, c]
                    )
                continue
            if kind == "sampled":
                labels = torch.multinomial(prob, 1).squeeze(1)
            elif kind == "predicted":
                labels = prob.argmax(1)
            elif kind == "empirical":
                labels = yb
            else:
                raise ConfigError(f"unknown Fisher estimate {kind!r}")
            fisher += per_sample_grad_power_sum(model, params, xb, task.index, active, _nll, labels)
        return fisher / max(1, len(y_all))
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)


@dataclass
class EWCParams:
    """EWC hyper-parameters.

    ``lambda_`` (``lambda`` is a Python keyword, so the key is ``lambda_``): default 100, van de
    Ven's current value for permuted MNIST in every scenario (``params/param_values.py``, 2022).
    The protocols in ``protocols/vandeven/`` set the values of his 2019 code (commit f0b1461), which
    made the preprint's numbers: permuted MNIST 500 / 500 / 1, split MNIST 1e7 / 1e6 / 1e8 (task /
    domain / class), with the ``predicted`` Fisher. The scale matches his because the Fisher is
    likewise a per-sample *mean*.
    """

    lambda_: float = 100.0
    #: offline: one penalty per task (Kirkpatrick 2017; van de Ven's ``--ewc`` default);
    #: online: one running Fisher with decay ``gamma`` (Schwarz 2018)
    mode: Literal["offline", "online"] = "offline"
    #: online EWC's decay of the old Fisher; 1.0 is van de Ven's default (``--gamma``)
    gamma: float = 1.0
    #: exact (van de Ven's current default) | predicted (his 2019 code) | sampled | empirical |
    #: batched (Avalanche); see the module docstring
    fisher: FisherKind = "exact"
    #: samples of the task used for the Fisher; None = the whole training set, van de Ven's
    #: ``fisher_n=None`` default
    fisher_samples: int | None = None
    #: minibatch size of the ``batched`` estimate only (Avalanche uses the training batch size;
    #: 128 is the batch size of van de Ven's protocols)
    fisher_batch_size: int = 128

    def validate(self) -> None:
        if self.lambda_ < 0:
            raise ConfigError(f"method.lambda_ must be >= 0, got {self.lambda_}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"method.gamma must be in [0, 1], got {self.gamma}")
        if self.fisher_samples is not None and self.fisher_samples < 1:
            raise ConfigError("method.fisher_samples must be at least 1 (or null for all)")
        if self.fisher_batch_size < 1:
            raise ConfigError("method.fisher_batch_size must be at least 1")


@METHODS.register("ewc")
class EWC(Method):
    """Elastic Weight Consolidation, offline or online, with a choice of Fisher estimate."""

    Params = EWCParams

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        num = sum(p.numel() for p in self.trainable_parameters())
        #: (k, P) Fisher diagonals and anchors: one row per past task (offline) or one (online)
        self.fishers = torch.zeros(0, num, device=self.device)
        self.anchors = torch.zeros(0, num, device=self.device)
        self._square: tuple[Tensor, Tensor, Tensor] | None = None

    def end_task(self, task: Task) -> None:
        p = self.params
        fisher = estimate_fisher(self, task, p.fisher, p.fisher_samples, p.fisher_batch_size)
        theta = flat_params(self.trainable_parameters()).detach().clone()
        if p.mode == "offline" or len(self.fishers) == 0:
            if p.mode == "offline":
                self.fishers = torch.cat([self.fishers, fisher[None]])
                self.anchors = torch.cat([self.anchors, theta[None]])
            else:
                self.fishers, self.anchors = fisher[None], theta[None]
        else:
            self.fishers[0].mul_(p.gamma).add_(fisher)  # F* <- gamma F* + F_new
            self.anchors[0].copy_(theta)
        self._square = None  # the completed square below is stale

    def _completed_square(self) -> tuple[Tensor, Tensor, Tensor]:
        """``sum_k F_k (theta - theta*_k)^2 = W (theta - c)^2 + r`` with ``W = sum_k F_k``,
        ``c = sum_k F_k theta*_k / W`` and the constant ``r = sum_k F_k (theta*_k - c)^2``.

        The same penalty and gradient (``2 sum_k F_k (theta - theta*_k)``), at the cost of one
        term however many tasks are stored: with 9 offline terms on the 2M-parameter
        permuted-MNIST MLP the direct sum took 14 times as long as a training step
        (``benchmarks/ewc_cost.py``).
        Computed once per task (lazily, so checkpoints of older versions load)."""
        if getattr(self, "_square", None) is not None:
            return self._square
        self._square = self._square_terms()
        return self._square

    def _square_terms(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(W, c, r)`` of :meth:`_completed_square`, computed without caching them."""
        if len(self.fishers) == 1:  # already a square: keep the anchor exact
            return (self.fishers[0], self.anchors[0], torch.zeros((), device=self.device))
        weight = self.fishers.sum(0)
        stored = weight > 0
        center = (self.fishers * self.anchors).sum(0) / torch.where(stored, weight, 1.0)
        center = torch.where(stored, center, self.anchors[-1])  # W = 0: any centre works
        residual = (self.fishers * (self.anchors - center) ** 2).sum()
        return (weight, center, residual)

    def penalty(self) -> Tensor:
        if len(self.fishers) == 0:
            return torch.zeros((), device=self.device)
        scale = 1.0 if self.params.mode == "offline" else self.params.gamma
        weight, center, residual = self._completed_square()
        params = self.trainable_parameters()
        quadratic = weighted_squared_distance(params, weight, center) + residual
        return 0.5 * self.params.lambda_ * scale * quadratic

    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds the Fisher weight ``W`` the penalty uses (offline: ``sum_k F_k``; online: the
        running ``F*``, which the penalty also scales by gamma), once a task has ended."""
        states = super().synapse_state()
        if len(self.fishers):
            square = getattr(self, "_square", None) or self._square_terms()  # never cached here
            states["fisher"] = SynapseState(
                self.named_flat(square[0]), "EWC's Fisher diagonal as the penalty weighs it "
                "(offline: summed over past tasks; online: the running F*)", "high")
        return states

    def record_extra(self) -> dict[str, Any]:
        f = self.fishers
        return {
            "fisher_mean": [float(r.mean()) for r in f],
            "fisher_max": [float(r.max()) for r in f],
            "penalty_terms": int(len(f)),
            "fisher_finite": bool(torch.isfinite(f).all()) if len(f) else True,
            "num_params": int(f.shape[1]) if f.ndim == 2 else 0,
            "log10_lambda": math.log10(self.params.lambda_) if self.params.lambda_ > 0 else None,
        }
