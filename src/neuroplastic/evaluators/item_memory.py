"""The ``item-memory`` evaluator: which items a network has memorized (Cho et al. 2024).

Source: "Neuromimetic metaplasticity for adaptive continual learning" (Cho, Lee, Baek & Paik,
arXiv 2407.07133), official MATLAB code ``vsnnlab/Metaplasticity``: ``testModel.m`` (per-class
accuracy on the test images of every item) and ``countMemorizedItems.m`` (an item is memorized
when its accuracy is above chance at p < ``targP`` = 0.05, chance being the accuracies obtained
with the test labels randomly permuted ``shuffleNum`` = 1000 times); papers.md section 2.

After every task it predicts the test images of every item of the stream in one batched pass
(an item is a class; a task repeated by the ``repeat`` transform is the same item, counted
once), computes each item's accuracy, its permutation p-value and how many of the items trained
so far are memorized. The permutations are drawn from the evaluator's own generator (never a
global random state), all at once per block of shuffles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..errors import ConfigError
from ..registry import EVALUATORS
from . import Evaluator


def per_item_accuracy(pred: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Fraction of each item's test images predicted as that item (testModel.m)."""
    hits = np.bincount(y[pred == y], minlength=n).astype(float)
    return hits / np.maximum(np.bincount(y, minlength=n), 1)


def permutation_pvalues(
    pred: np.ndarray, y: np.ndarray, n: int, shuffles: int, rng: np.random.Generator,
    rule: str = "ge",
) -> np.ndarray:
    """Per-item p-value of the accuracy against chance from ``shuffles`` permuted test labels.

    As countMemorizedItems.m: keep the predictions, permute the test labels, recompute every
    item's accuracy. ``rule: code`` is the code's fraction of permutations whose accuracy
    exceeds the observed one strictly (``numel(find(chances > samp)) / numel(chances)``);
    ``ge`` counts ties as exceeding and adds the observed labelling itself, the usual
    permutation p-value, so an item that is never predicted (accuracy 0, every chance 0) gets
    p = 1. (About 25 ms for 10 items x 100 test images and 1,000 shuffles; a version drawing
    the permutations in blocks with ``rng.permuted`` gave the same values and was not faster.)
    """
    observed = per_item_accuracy(pred, y, n)
    exceed = np.zeros(n)
    for _ in range(shuffles):
        chance = per_item_accuracy(pred, rng.permutation(y), n)
        exceed += chance >= observed if rule == "ge" else chance > observed
    if rule == "ge":
        return (exceed + 1) / (shuffles + 1)
    return exceed / shuffles


@dataclass
class ItemMemorySettings:
    """Defaults: the official code (hyperparameters.m, countMemorizedItems.m)."""

    shuffles: int = 1000  # shuffleNum: permutations of the test labels for the chance level
    p_value: float = 0.05  # targP: an item is memorized when p < p_value
    #: ge: p = (1 + #(chance >= observed)) / (1 + shuffles), the standard permutation p-value;
    #: code: p = #(chance > observed) / shuffles (countMemorizedItems.m), which calls an item
    #: with accuracy 0 "memorized" when the network never predicts it (all chances are 0 too)
    pvalue_rule: Literal["ge", "code"] = "ge"
    seed: int = 0  # the permutations of task t come from default_rng([seed, t])

    def validate(self) -> None:
        if self.shuffles < 1:
            raise ConfigError(f"item-memory: shuffles must be at least 1, got {self.shuffles}")
        if not 0 < self.p_value < 1:
            raise ConfigError(f"item-memory: p_value must be in (0, 1), got {self.p_value}")


def item_test_set(stream) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The test images of every item (class) of the stream once, their labels, and the items
    in label order: a repeated task adds nothing, its class is already there."""
    seen: set[int] = set()
    xs, ys = [], []
    for task in stream.tasks:
        if set(task.classes) <= seen:
            continue
        seen.update(task.classes)
        xs.append(task.x_test)
        ys.append(task.y_test)
    return torch.cat(xs), torch.cat(ys), sorted(seen)


@EVALUATORS.register("item-memory", ItemMemorySettings)
class ItemMemory(Evaluator):
    """Per-item accuracy, permutation p-value and memorized items after every task.

    Each task's entry: ``accuracy`` and ``pvalue`` per item (items are the stream's classes, in
    label order), ``trained`` (the items presented so far), ``memorized`` (how many of the
    trained items have p < ``p_value``) and ``memorized_all`` (how many items of any kind do).
    """

    name = "item-memory"
    Params = ItemMemorySettings

    def after_task(self, method, stream, task_index: int) -> dict:
        p = self.params
        x, y, items = item_test_set(stream)
        n = max(items) + 1
        given = stream.task_id_at_test
        method.model.eval()
        with torch.inference_mode():  # one batched pass over every item's test images
            pred = torch.cat([
                method.predict(x[i : i + self.eval_batch_size], task_index if given else None)
                .argmax(1) for i in range(0, len(y), self.eval_batch_size)
            ]).cpu().numpy()
        y_np = y.cpu().numpy()
        accuracy = per_item_accuracy(pred, y_np, n)
        rng = np.random.default_rng([p.seed, task_index])
        pvalue = permutation_pvalues(pred, y_np, n, p.shuffles, rng, p.pvalue_rule)
        trained = sorted({c for task in stream.tasks[: task_index + 1] for c in task.classes})
        memorized = pvalue < p.p_value
        return {
            "accuracy": [float(accuracy[c]) for c in items],
            "pvalue": [float(pvalue[c]) for c in items],
            "trained": trained,
            "memorized": int(sum(bool(memorized[c]) for c in trained)),
            "memorized_all": int(sum(bool(memorized[c]) for c in items)),
        }
