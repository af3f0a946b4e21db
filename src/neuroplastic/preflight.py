"""Pre-flight checks: refuse a run whose update rule, at its default settings, would not train.

Two rules ship with defaults tuned for other protocols, and on the library's small benchmarks
they leave the network where it started:

- CLASSP's paper rule steps a weight only where ``g^2 > threshold``; the default threshold 0.5 is
  the paper's vision setting (CLASSP.py default), far above the squared gradients of an MLP or a
  small CNN at initialisation (median ``|g|`` about 1e-3 on MNIST; see the comments of
  protocols/classp/classp-vision.yaml), so nearly every weight is blocked from the first step on.
- Metaplastic SGD's lr 1e-4 was tuned for batch 1024 and 5 epochs per item on AlexNet features
  (hyperparameters.m); a first task of a few dozen steps then moves the loss by a fraction of a
  per cent.

The check takes the gradient of the first batch of the first task on a copy of the method (the
real method, its optimizer and every random state are left untouched) and estimates what the
first task can do. When the culprit setting is a default, the run is refused with a message that
names the setting and a value that trains; when the user set it, the run goes ahead with a
warning (reproducing the paper's threshold on purpose is legitimate: the CLASSP comparison does).

Issue 22 adds an after-the-fact flag in the record ("no trainable weight changed during a task");
this is the up-front counterpart for rules whose defaults are known to stall.
"""

from __future__ import annotations

import copy
import logging
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .errors import ConfigError

logger = logging.getLogger(__name__)

#: below this fraction of weights passing CLASSP's threshold on the first batch, the rule is
#: said to block (nearly) every weight: at 0.5 on g^2 the MNIST CNN passes about 1e-6 of them
MIN_PASSING_FRACTION = 1e-3
#: below this first-order estimate of the relative loss decrease over the first task, a plain
#: gradient step rule is said not to train (Delta loss ~ -lr |g|^2 per step for small steps)
MIN_PREDICTED_DECREASE = 0.01
#: the decrease the suggested learning rate aims at (first order, so only an order of magnitude)
TARGET_DECREASE = 0.5
#: a plain SGD step larger than this is rarely stable on these networks
MAX_SUGGESTED_LR = 0.1


def first_task_steps(train, num_train: int) -> int:
    if train.iterations:
        return int(train.iterations)
    epochs = train.task_epochs[0] if getattr(train, "task_epochs", None) else train.epochs
    return int(epochs) * max(1, math.ceil(num_train / train.batch_size))


def _probe(method, stream, batch_size: int) -> tuple[float, list[torch.Tensor]] | None:
    """(loss, gradient per trainable tensor) on the first batch of the first task, computed on
    a copy of the method under saved random states; None when the method cannot be probed."""
    task = stream.tasks[0]
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            # the optimizer is left out of the copy (the memo maps it to None): the probe takes
            # no step, and an update rule's own pickling (RuleOptimizer) is not exercised here
            probe = copy.deepcopy(method, memo={id(method.optimizer): None})
            probe.begin_task(task)
            params = [p for p in probe.model.parameters() if p.requires_grad]
            x, y = task.x_train[:batch_size], task.y_train[:batch_size]
            loss = probe.loss(x, y, 0)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            return float(loss.detach()), [g for g in grads if g is not None]
    except Exception as exc:  # a method without a plain loss (GANs, ...): no check, no harm
        logger.debug("pre-flight probe skipped: %s", exc)
        return None
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _refuse_or_warn(message: str, explicit: bool) -> None:
    if explicit:
        logger.warning("%s (running anyway: you set it)", message)
    else:
        raise ConfigError(message)


def _classp(opt: dict[str, Any], loss, grads, steps, explicit: set[str]) -> None:
    if opt.get("rule", "paper") != "paper":
        return  # CLASSP.py's per-tensor test passes every tensor with a gradient below 1
    schedule = opt.get("task_thresholds") or [opt["threshold"]]
    threshold = float(schedule[0])
    total = sum(g.numel() for g in grads)
    if total == 0:
        return
    squares = torch.cat([g.detach().flatten().float() ** 2 for g in grads])
    passing = int((squares > threshold).sum())
    if passing / total >= MIN_PASSING_FRACTION:
        return
    # a threshold that lets about 10 % of this batch's weights through
    suggestion = float(torch.quantile(squares[: 1_000_000], 0.9))
    key = "optimizer.task_thresholds" if opt.get("task_thresholds") else "optimizer.threshold"
    origin = " (the default: the paper's vision setting)" if threshold == 0.5 else ""
    _refuse_or_warn(
        f"optimizer classp (paper rule) would update {passing} of {total} weights on the first "
        f"batch: {key} = {threshold:g} on g^2{origin} is above nearly every squared gradient "
        f"here (largest {float(squares.max()):.2g}). Set {key} lower (e.g. "
        f"optimizer.threshold={suggestion:.1g} passes about 10 % of them; 0 is AdaGrad-like), "
        f"or optimizer.rule=official",
        explicit=bool({"threshold", "task_thresholds"} & explicit),
    )


def _plain_steps(opt: dict[str, Any], loss, grads, steps, explicit: set[str], name: str) -> None:
    lr = float(opt["lr"]) / max(1e-12, 1.0 - float(opt.get("momentum", 0.0) or 0.0))
    if loss <= 0:
        return
    g2 = sum(float((g.detach().float() ** 2).sum()) for g in grads)
    predicted = steps * lr * g2 / loss
    if predicted >= MIN_PREDICTED_DECREASE:
        return
    # first order only: never suggest more than MAX_SUGGESTED_LR, ask for more steps instead
    suggestion = min(MAX_SUGGESTED_LR, float(opt["lr"]) * TARGET_DECREASE / max(predicted, 1e-12))
    _refuse_or_warn(
        f"optimizer {name} would barely train: at optimizer.lr = {opt['lr']:g} the first task's "
        f"{steps} steps lower the loss by about {100 * predicted:.2g} % (first-order estimate, "
        f"steps x lr x |g|^2 / loss, from the first batch). Raise optimizer.lr (e.g. "
        f"optimizer.lr={suggestion:.1g}) and/or train.epochs (or train.iterations)",
        explicit="lr" in explicit,
    )


CHECKS: dict[str, Callable[..., None]] = {
    "classp": _classp,
    "metaplastic-sgd": lambda *a: _plain_steps(*a, name="metaplastic-sgd"),
}


def check(resolved, stream, method, explicit: set[str] | frozenset[str] = frozenset()) -> None:
    """Refuse (ConfigError) or warn before training when the run's update rule would not train.

    ``explicit``: the optimizer settings the config gave (not defaulted), see module docstring.
    """
    opt = resolved.config["optimizer"]
    rule = CHECKS.get(opt["name"])
    if rule is None or not stream.tasks:
        return
    probed = _probe(method, stream, resolved.train.batch_size)
    if probed is None:
        return
    loss, grads = probed
    steps = first_task_steps(resolved.train, stream.tasks[0].num_train)
    rule(opt, loss, grads, steps, set(explicit))


def check_before_training(resolved) -> None:
    """The same check for a resolved config whose run has not started: builds its stream and
    method (seeded as the run will be) only when its update rule has a check, so that a command
    of several runs refuses before the first one trains rather than when the bad one's turn
    comes."""
    if resolved.config["optimizer"]["name"] not in CHECKS:
        return
    from .experiment import build_method, build_stream, seed_everything

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            seed_everything(resolved.config["seed"])
            stream = build_stream(resolved)
            method = build_method(resolved, stream)
            check(resolved, stream, method, resolved.explicit_optimizer)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
