"""Test-only methods for the sweep tests, imported by the sweep workers (`imports:`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from neuroplastic.methods.finetune import FineTune
from neuroplastic.registry import METHODS


@dataclass
class ExplodeParams:
    fail_at_task: int = 1  # the task whose first step fails
    hard: bool = False  # True: the worker process dies (os._exit) instead of raising


class Explode(FineTune):
    """Fine-tuning that fails inside training, at the first step of task ``fail_at_task``."""

    Params = ExplodeParams

    def observe(self, x, y, task_id):
        if task_id == self.params.fail_at_task:
            if self.params.hard:
                os._exit(3)  # a killed worker: no exception, no cleanup
            raise RuntimeError(f"test explosion in task {task_id}")
        return super().observe(x, y, task_id)


if "sweep-test-explode" not in METHODS:
    METHODS.register("sweep-test-explode", summary="test only: fails inside training")(Explode)
