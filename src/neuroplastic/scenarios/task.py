"""Task and Stream: the data of a continual-learning problem, and nothing that trains.

Conventions (one place, used by every method and by the engine):

* ``Task.y_*`` are *targets in the output space* of the scenario. In task- and class-incremental
  streams they are global class indices ``0..num_outputs-1`` (task t of split-MNIST holds targets
  ``2t`` and ``2t+1``); in domain-incremental streams they are the within-task labels shared by
  every task (``0..k-1``).
* ``Task.classes`` lists the output units the task uses; ``Task.label_map`` maps the original
  data-set label to that output unit.
* The **head policy** says how the output layer behaves:

  - ``multi``: one linear head per task (task-incremental, task id needed at test);
  - ``masked``: a single head whose logits outside the task's classes are masked, in training and
    at test (task-incremental with one head, Mammoth's "task-IL" evaluation);
  - ``growing``: a single head in which only the classes seen so far are active, in training and
    at test (van de Ven's class-incremental "active classes");
  - ``shared``: a single head, all units always active (domain-incremental; class-incremental
    with every unit live from the start).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from ..errors import ConfigError

SCENARIOS = {
    "task": "task-incremental: the task id is given in training and at test (multi-head default)",
    "domain": "domain-incremental: same label space in every task, no task id at test",
    "class": "class-incremental: new classes each task, one head, no task id at test",
}
HEADS = ("multi", "masked", "growing", "shared")
DEFAULT_HEAD = {"task": "multi", "domain": "shared", "class": "growing"}


def check_head(scenario: str, head: str) -> None:
    """Reject a head policy the scenario cannot use. A function of the config alone, so that
    ``experiment.resolve`` (and with it every sweep, before its first run) checks it too."""
    if scenario == "task" and head not in ("multi", "masked"):
        raise ConfigError(
            f"head {head!r} ignores the task id; task-incremental needs multi or masked"
        )
    if scenario != "task" and head in ("multi", "masked"):
        raise ConfigError(
            f"head {head!r} needs the task id at test, which the {scenario}-"
            "incremental scenario does not give"
        )


@dataclass
class Task:
    index: int
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: list[int]
    label_map: dict[int, int]
    name: str = ""

    @property
    def num_train(self) -> int:
        return int(self.y_train.shape[0])

    def with_data(self, **changes) -> Task:
        return replace(self, **changes)


@dataclass(frozen=True)
class StreamInfo:
    """What a method may know about a stream without its data."""

    scenario: str
    head: str
    num_outputs: int
    task_classes: tuple[tuple[int, ...], ...]
    input_shape: tuple[int, ...]
    num_tasks: int
    task_id_at_test: bool
    vocab_size: int | None = None  # text streams: inputs are token ids below this (0 = padding)

    def logit_mask(self, task_id: int | None, seen_tasks: int) -> Tensor | None:
        """Boolean mask of the active output units, or None when all are active.

        ``task_id`` is the task of the batch when it is known (always in training; at test only
        when ``task_id_at_test``); ``seen_tasks`` is how many tasks have begun training.
        """
        if self.head in ("multi", "masked") and task_id is not None:
            active = self.task_classes[task_id]
        elif self.head == "growing":
            active = sorted({c for t in self.task_classes[:seen_tasks] for c in t})
        else:
            return None
        if len(active) == self.num_outputs:
            return None
        mask = torch.zeros(self.num_outputs, dtype=torch.bool)
        mask[list(active)] = True
        return mask


@dataclass
class Stream:
    tasks: list[Task]
    scenario: str
    head: str
    num_outputs: int
    input_shape: tuple[int, ...]
    name: str = ""
    class_names: list[str] = field(default_factory=list)
    vocab_size: int | None = None  # text streams: inputs are token ids below this (0 = padding)

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            from ..errors import UnknownNameError

            raise UnknownNameError("scenario", self.scenario, list(SCENARIOS))
        if self.head not in HEADS:
            from ..errors import UnknownNameError

            raise UnknownNameError("head policy", self.head, list(HEADS))
        check_head(self.scenario, self.head)

    @property
    def task_id_at_test(self) -> bool:
        return self.scenario == "task"

    @property
    def info(self) -> StreamInfo:
        return StreamInfo(
            scenario=self.scenario,
            head=self.head,
            num_outputs=self.num_outputs,
            task_classes=tuple(tuple(t.classes) for t in self.tasks),
            input_shape=tuple(self.input_shape),
            num_tasks=len(self.tasks),
            task_id_at_test=self.task_id_at_test,
            vocab_size=self.vocab_size,
        )

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks)

    def to(self, device: torch.device | str) -> Stream:
        tasks = [
            t.with_data(
                x_train=t.x_train.to(device),
                y_train=t.y_train.to(device),
                x_test=t.x_test.to(device),
                y_test=t.y_test.to(device),
            )
            for t in self.tasks
        ]
        return replace(self, tasks=tasks)
