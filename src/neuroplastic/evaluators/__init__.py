"""Evaluators: what is measured after each task besides the accuracy matrix.

The engine measures the accuracy matrix for every run. Anything else measured at task
boundaries (accuracy told the task through a method's own mechanism, the synapse atlas, a
paper's probe) is an evaluator: a small object the engine calls around each task, whose result
per task lands in ``EngineState.evaluations[name]`` (saved in checkpoints, so it survives resume)
and in the run record's ``evaluations`` block. Methods do not hold test sets to measure
themselves; an evaluator reads the stream the engine hands it.

A config names evaluators in its ``evaluators`` list (a name, or a mapping with ``name`` and the
evaluator's settings)::

    evaluators: [synapse-atlas]
    evaluators: [{name: synapse-atlas, full_tensors: true}]

An evaluator only measures: it must not change the method, the model or any random state, so a
run's training is the same with or without it (the run's identity, its config hash, still
includes the list, so records with and without an evaluator's results are never confused).
Evaluators that a method always needs (``task-identity`` for methods with a per-task mechanism)
are added by the engine without being named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from .. import params as params_mod
from ..registry import EVALUATORS


@dataclass
class NoSettings:
    """This evaluator has no settings."""


class Evaluator:
    """Base class: override ``after_task`` (and ``begin_task`` when something must be seen
    before the task trains, e.g. the weights it starts from)."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoSettings

    def __init__(self, params: Any = None):
        self.params = params if params is not None else self.Params()
        #: a folder for this run's files beside its record (``<out>/evaluations/<run name>/``),
        #: set by the experiment runner; None when the run writes no record (engine used alone)
        self.files: Path | None = None
        #: the run's ``train.eval_batch_size`` (set by :func:`build`)
        self.eval_batch_size = 1000

    def applies_to(self, method) -> bool:
        """False when this evaluator has nothing to measure for ``method`` (it is then skipped
        without error; the record says so by leaving the evaluator out)."""
        return True

    def begin_task(self, method, task) -> None:
        """Called before ``method.begin_task(task)``."""

    def after_epoch(self, method, stream, task_index: int, epoch: int) -> None:
        """Called after each full epoch (counted from 0) of task ``task_index``, before the
        next training step; for measurements taken during a task (DGM's best-validation
        selection). Its time counts as evaluation, not training."""

    def after_task(self, method, stream, task_index: int) -> Any:
        """Called after the engine measured the accuracy row of task ``task_index``; returns
        JSON-ready data (numbers, lists, dicts) stored as this task's entry."""
        raise NotImplementedError


def accuracy(predict, tasks, batch_size: int) -> list[float]:
    """Accuracy of ``predict(x, task) -> logits`` on each task's test set (eval mode, no
    gradients): the one accuracy loop every evaluator uses."""
    accuracies = []
    with torch.inference_mode():
        for task in tasks:
            correct = 0
            for start in range(0, len(task.y_test), batch_size):
                x = task.x_test[start : start + batch_size]
                y = task.y_test[start : start + batch_size]
                correct += (predict(x, task).argmax(1) == y).sum().item()
            accuracies.append(correct / max(1, len(task.y_test)))
    return accuracies


def build(specs: list, eval_batch_size: int) -> list[Evaluator]:
    """Evaluators from a config's ``evaluators`` list (names or ``{name: ..., settings}``),
    each checked: unknown names and settings list the valid ones."""
    out = []
    for spec in specs or []:
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        entry = EVALUATORS.get(spec.pop("name", None))
        settings = params_mod.build(entry.params, spec, entry.name) if entry.params else None
        evaluator = entry.obj(settings)
        evaluator.eval_batch_size = eval_batch_size
        out.append(evaluator)
    return out


def for_method(method, evaluators: list[Evaluator], eval_batch_size: int) -> list[Evaluator]:
    """The evaluators that apply to ``method``: the configured ones plus the ones the method
    always needs (``task-identity`` when it has a per-task mechanism, and those its class names
    in ``required_evaluators``, e.g. DGM's ``best-validation``, Artsy's ``synapse-probe``:
    measurements the method used to take itself, so records keep them without a config key)."""
    from .task_identity import TaskIdentity

    chosen = [e for e in evaluators if e.applies_to(method)]
    auto = [TaskIdentity()]
    for name in getattr(method, "required_evaluators", ()):
        entry = EVALUATORS.get(name)
        auto.append(entry.obj(entry.params() if entry.params else None))
    for evaluator in reversed(auto):
        evaluator.eval_batch_size = eval_batch_size
        if evaluator.applies_to(method) and not any(e.name == evaluator.name for e in chosen):
            chosen.insert(0, evaluator)
    return chosen
