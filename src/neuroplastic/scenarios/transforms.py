"""Stream transforms: functions ``(stream, params, seed) -> new stream`` that compose with any
builder. They never modify the stream they are given (tensors are shared when unchanged, and
new ones are made when changed).

Each is registered in ``registry.TRANSFORMS`` with a dataclass of parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

from .. import params as params_module
from ..errors import ConfigError
from ..registry import TRANSFORMS
from .builders import subsample_per_class
from .task import Stream

# Each transform mixes its own tag into the seed, so two transforms given the same seed do not
# draw the same random numbers.
_TAGS = {"poison": 1, "repeat": 2, "mislabeled": 3, "subsample": 4}


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, _TAGS[name]])


def _check_tasks(stream: Stream, tasks: list[int], what: str) -> None:
    bad = [t for t in tasks if not 0 <= t < len(stream)]
    if bad:
        raise ConfigError(
            f"{what}: tasks {bad} do not exist; the stream has tasks 0..{len(stream) - 1}"
        )


def _check_fraction(fraction: float, what: str, upper: float | None = 1.0) -> None:
    if fraction < 0 or (upper is not None and fraction > upper):
        limit = f"[0, {upper}]" if upper is not None else ">= 0"
        raise ConfigError(f"{what}: fraction must be in {limit}, got {fraction}")


@dataclass
class PoisonParams:
    """Label poisoning: a fraction of the training targets of chosen tasks is replaced.

    ``labels: task`` gives each chosen sample a different class of the same task (every chosen
    sample gets a wrong label). ``labels: permutation`` is the data-poisoning pass of Cho et al.
    (Hebb_repetition_effect.m): one random permutation of the stream's classes (the code's fake
    labels, which may leave a class its own label) relabels the chosen samples that carry their
    task's own classes; ``derangement`` is the same with no class keeping its label. Samples of
    a task labelled with other classes (two-digit MNIST's mixed non-target images) keep theirs.
    """

    tasks: list[int] = field(default_factory=list)  # which tasks are poisoned (indices)
    fraction: float = 1.0  # share of each chosen task's training samples that get a wrong label
    labels: Literal["task", "permutation", "derangement"] = "task"

    def validate(self) -> None:
        _check_fraction(self.fraction, "poison")


@TRANSFORMS.register("poison", params=PoisonParams)
def poison(stream: Stream, params: PoisonParams, seed: int) -> Stream:
    """Replace a fraction of the training targets of chosen tasks by other targets of the task."""
    _check_fraction(params.fraction, "poison")
    _check_tasks(stream, params.tasks, "poison")
    rng = _rng("poison", seed)
    tasks = list(stream.tasks)
    if params.labels != "task":
        return replace(stream, tasks=_poison_by_permutation(tasks, params, rng, stream))
    for t in sorted(set(params.tasks)):
        task = tasks[t]
        classes = np.array(sorted(task.classes))
        if len(classes) < 2:
            raise ConfigError(f"poison: task {t} has one class, so no label can be made wrong")
        n = int(round(params.fraction * task.num_train))
        chosen = rng.choice(task.num_train, size=n, replace=False)
        y = task.y_train.clone()
        old = np.searchsorted(classes, y[chosen].cpu().numpy())
        # A shift of 1..k-1 positions (mod k) never lands on the old class: a derangement.
        shift = rng.integers(1, len(classes), size=n)
        y[torch.as_tensor(chosen, device=y.device)] = torch.as_tensor(
            classes[(old + shift) % len(classes)], device=y.device
        )
        tasks[t] = task.with_data(y_train=y, name=f"{task.name} (poisoned)".strip())
    return replace(stream, tasks=tasks)


def _poison_by_permutation(tasks: list, params: PoisonParams, rng: np.random.Generator,
                           stream: Stream) -> list:
    """``labels: permutation | derangement``: one fake label per class for the whole stream."""
    classes = sorted({c for task in stream.tasks for c in task.classes})
    while True:  # a derangement is redrawn until no class keeps its own label
        fake = rng.permutation(len(classes))
        if params.labels == "permutation" or not np.any(fake == np.arange(len(classes))):
            break
    lookup = torch.arange(max(classes) + 1)
    lookup[torch.as_tensor(classes)] = torch.as_tensor(np.asarray(classes)[fake])
    for t in sorted(set(params.tasks)):
        task = tasks[t]
        y = task.y_train.clone()
        own = torch.isin(y, torch.as_tensor(sorted(task.classes), device=y.device))
        eligible = torch.nonzero(own).flatten().cpu().numpy()
        n = int(round(params.fraction * len(eligible)))
        chosen = torch.as_tensor(np.sort(rng.choice(eligible, size=n, replace=False)),
                                 device=y.device)
        y[chosen] = lookup.to(y.device)[y[chosen]]
        tasks[t] = task.with_data(y_train=y, name=f"{task.name} (poisoned)".strip())
    return tasks


@dataclass
class RepeatParams:
    """Repetition of tasks (Hebb repetition): with no ``tasks``, the whole sequence is shown
    ``times`` times in all; with ``tasks``, those tasks are appended again after the sequence
    (in the order given), ``times - 1`` times."""

    times: int = 2  # presentations in all (1 leaves the stream unchanged)
    tasks: list[int] = field(default_factory=list)  # empty: repeat the whole sequence
    #: present the whole resulting sequence in a random order (the run's seed), e.g. the
    #: frequency experiment of Cho et al. (learning_frequency_varying.m: item k shown k times)
    shuffle: bool = False

    def validate(self) -> None:
        if self.times < 1:
            raise ConfigError(f"repeat: times must be at least 1, got {self.times}")


@TRANSFORMS.register("repeat", params=RepeatParams)
def repeat(stream: Stream, params: RepeatParams, seed: int) -> Stream:
    """Show tasks again later in the stream.

    A repeated task keeps its data, ``classes`` and ``label_map`` (so it trains the same output
    units, and with a multi-head policy the same head: heads are identified by their classes)
    and gets a new ``index``, its position in the new sequence.
    """
    params.validate()
    _check_tasks(stream, params.tasks, "repeat")
    originals = list(range(len(stream)))
    extra = originals if not params.tasks else list(params.tasks)
    sequence = originals + extra * (params.times - 1)
    if params.shuffle:
        sequence = [sequence[i] for i in _rng("repeat", seed).permutation(len(sequence))]
    shown: dict[int, int] = {}
    tasks = []
    for position, t in enumerate(sequence):
        shown[t] = shown.get(t, 0) + 1
        task = stream.tasks[t]
        name = task.name if shown[t] == 1 else f"{task.name} (repeat {shown[t]})"
        tasks.append(task.with_data(index=position, name=name))
    return replace(stream, tasks=tasks)


@dataclass
class MislabeledParams:
    """Wrongly labelled items from other tasks mixed into each task's training set, as in the
    metaplasticity experiments of Cho et al. (intermixed flexible/stable synapses)."""

    fraction: float = 0.1  # added samples, relative to the task's own training size
    tasks: list[int] = field(default_factory=list)  # tasks that receive them; empty: all

    def validate(self) -> None:
        _check_fraction(self.fraction, "mislabeled", upper=None)


@TRANSFORMS.register("mislabeled", params=MislabeledParams)
def mislabeled(stream: Stream, params: MislabeledParams, seed: int) -> Stream:
    """Add ``round(fraction * n_t)`` training samples of other tasks to task t, each labelled
    with a random target of task t. Drawn from the original stream, without replacement."""
    params.validate()
    _check_tasks(stream, params.tasks, "mislabeled")
    if len(stream) < 2:
        raise ConfigError("mislabeled needs at least two tasks (samples come from other tasks)")
    rng = _rng("mislabeled", seed)
    sizes = [t.num_train for t in stream.tasks]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    tasks = list(stream.tasks)
    for t in sorted(set(params.tasks or range(len(stream)))):
        task = stream.tasks[t]
        # Positions in the concatenation of every other task's training set.
        others = np.concatenate(
            [np.arange(starts[o], starts[o + 1]) for o in range(len(stream)) if o != t]
        )
        n = int(round(params.fraction * task.num_train))
        if n > len(others):
            raise ConfigError(
                f"mislabeled: task {t} needs {n} samples from other tasks, which hold only "
                f"{len(others)}; lower fraction"
            )
        picks = np.sort(rng.choice(others, size=n, replace=False))
        source = np.searchsorted(starts, picks, side="right") - 1
        xs = [task.x_train]
        for o in np.unique(source):
            local = torch.as_tensor(picks[source == o] - starts[o])
            xs.append(stream.tasks[o].x_train[local.to(stream.tasks[o].x_train.device)])
        classes = torch.as_tensor(sorted(task.classes), dtype=torch.int64)
        labels = classes[torch.as_tensor(rng.integers(0, len(classes), size=n))]
        tasks[t] = task.with_data(
            x_train=torch.cat(xs),
            y_train=torch.cat([task.y_train, labels.to(task.y_train.device)]),
        )
    return replace(stream, tasks=tasks)


@dataclass
class SubsampleParams:
    """Keep at most ``per_class`` training samples of each class (and ``test_per_class`` test
    samples, when set), drawn at random with the run's seed."""

    per_class: int = 100
    test_per_class: int | None = None

    def validate(self) -> None:
        if self.per_class < 1 or (self.test_per_class is not None and self.test_per_class < 1):
            raise ConfigError("subsample: per_class and test_per_class must be at least 1")


@TRANSFORMS.register("subsample", params=SubsampleParams)
def subsample(stream: Stream, params: SubsampleParams, seed: int) -> Stream:
    """At most ``per_class`` training samples per class in every task."""
    params.validate()
    tasks = []
    for t, task in enumerate(stream.tasks):
        rng_seed = int(_rng("subsample", seed).integers(2**31)) + t
        x_train, y_train = subsample_per_class(
            task.x_train, task.y_train, params.per_class, rng_seed
        )
        changes: dict[str, Any] = {"x_train": x_train, "y_train": y_train}
        if params.test_per_class is not None:
            changes["x_test"], changes["y_test"] = subsample_per_class(
                task.x_test, task.y_test, params.test_per_class, rng_seed
            )
        tasks.append(task.with_data(**changes))
    return replace(stream, tasks=tasks)


def apply_transform(
    stream: Stream, name: str, values: dict[str, Any] | None = None, seed: int = 0
) -> Stream:
    """Look up a transform by name, build its parameters from a mapping, and apply it."""
    entry = TRANSFORMS.get(name)
    block = params_module.build(entry.params, values, f"transforms.{name}")
    return entry.obj(stream, block, seed)


__all__ = [
    "MislabeledParams",
    "PoisonParams",
    "RepeatParams",
    "SubsampleParams",
    "apply_transform",
    "mislabeled",
    "poison",
    "repeat",
    "subsample",
]
