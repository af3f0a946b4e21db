"""The ``best-validation`` evaluator: DGM's official accuracy selection.

The official DGM code (``SAP-archive/machine-learning-dgm``, ``approaches/DGMw.py``) holds out
15 % of each task's training images (``pc_valid`` of ``dataloaders/split_MNIST.py``), evaluates
the classifier on the validation and test sets of every seen task every 2 epochs and after the
last one, and reports the test accuracy at the evaluation with the best validation accuracy
("best selected test acc"). That number is recorded here, per task, beside the engine's plain
accuracy after the last epoch, never instead of it.

The method draws the held-out images (``DGM.validation_split``, a fixed draw per task) and never
trains on them; this evaluator reads the same split from the stream and the test sets from the
stream, so the method keeps no test data. It only evaluates (eval mode, no random numbers), so
training is the same with or without it. Added to every DGM run with ``official_selection``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ..registry import EVALUATORS
from . import Evaluator, NoSettings, accuracy

#: the official code's evaluation batch
BATCH = 1000


@EVALUATORS.register("best-validation", NoSettings)
class BestValidation(Evaluator):
    """DGM's official selection: per task, the test accuracy (every seen task, and their mean
    weighted by classes) at the epoch of best validation accuracy; every evaluation is kept,
    and a diagnostic, the test accuracy with BatchNorm statistics re-estimated
    (``DGM.bn_recalibrated_model``)."""

    name = "best-validation"

    def applies_to(self, method) -> bool:
        return bool(getattr(method.params, "official_selection", False))

    def begin_task(self, method, task) -> None:
        self.best_valid, self.best_test, self.evaluations, self.epochs = -1.0, [], [], 0

    def after_epoch(self, method, stream, task_index: int, epoch: int) -> None:
        self.epochs = epoch + 1
        if epoch % method.params.eval_every == 0:  # the code validates when epoch % 2 == 0
            self._select(method, stream, task_index)

    def after_task(self, method, stream, task_index: int) -> dict[str, Any]:
        self._select(method, stream, task_index)  # the code validates after the last epoch
        seen = stream.tasks[: task_index + 1]
        model = method.bn_recalibrated_model(stream.tasks[task_index])
        recalibrated = self._accuracies(method, seen, model)
        return {
            "task": task_index,
            "best_valid_accuracy": self.best_valid,
            "test_accuracy_per_task": self.best_test,
            "average": _class_weighted(seen, self.best_test),
            "evaluations": self.evaluations,
            "bn_recalibrated": {"test_accuracy_per_task": recalibrated,
                                "average": _class_weighted(seen, recalibrated)},
        }

    def _select(self, method, stream, task_index: int) -> None:
        seen = stream.tasks[: task_index + 1]
        held = []
        for task in seen:
            x, y = method.validation_split(task)
            held.append(SimpleNamespace(x_test=x, y_test=y))
        valid = _class_weighted(seen, self._accuracies(method, held))
        test = self._accuracies(method, seen)
        self.evaluations.append(
            {"epochs": self.epochs, "valid": valid, "test": _class_weighted(seen, test)})
        if valid > self.best_valid:  # strict, as the code's best_valid_acc < acc_av
            self.best_valid, self.best_test = valid, test

    @staticmethod
    def _accuracies(method, tasks, model=None) -> list[float]:
        """Accuracy of the classifier (or ``model``, a copy of it) over every class seen, no
        task id (the code's class-incremental test)."""
        model = method.model if model is None else model
        model.eval()
        return accuracy(lambda x, task: method.mask_logits(model(method.to_gan(x)), None),
                        tasks, BATCH)


def _class_weighted(tasks, accuracies: list[float]) -> float:
    sizes = [len(t.classes) for t in tasks[: len(accuracies)]]
    return sum(a * n for a, n in zip(accuracies, sizes, strict=True)) / max(1, sum(sizes))
