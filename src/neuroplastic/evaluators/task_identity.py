"""The ``task-identity`` evaluator: accuracy told the task through the method's own mechanism."""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import EVALUATORS
from . import Evaluator, accuracy


@dataclass
class TaskIdentitySettings:
    #: test batch for this measure (null: the run's ``train.eval_batch_size``); mbnn uses the
    #: official code's 1000 by default through its own ``identity_eval_batch_size``
    batch_size: int | None = None


@EVALUATORS.register("task-identity", TaskIdentitySettings)
class TaskIdentity(Evaluator):
    """Accuracy on every task seen so far, the method told each sample's task through its own
    mechanism (per-task BatchNorm, a task's own engram): a second, clearly labelled measure
    beside the task-free accuracy matrix, never a replacement for it. Added automatically for
    methods that have such a mechanism (``Method.task_identity_note``)."""

    name = "task-identity"
    Params = TaskIdentitySettings

    def applies_to(self, method) -> bool:
        return method.task_identity_note is not None

    def after_task(self, method, stream, task_index: int) -> list[float]:
        batch = (self.params.batch_size
                 or getattr(method.params, "identity_eval_batch_size", None)
                 or self.eval_batch_size)
        method.model.eval()
        return accuracy(lambda x, task: method.predict_with_task_identity(x, task.index),
                        stream.tasks[: task_index + 1], batch)


