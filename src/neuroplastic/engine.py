"""The one training and evaluation loop.

For each task: ``begin_task``, epochs (or a number of iterations) of shuffled minibatches taken
as index slices of in-memory tensors, ``end_task``, then evaluation of every task of the stream
(seen and not yet seen) under ``torch.inference_mode()``, filling row ``i`` of the accuracy
matrix, then the run's evaluators (``evaluators/``: accuracy with task identity, the synapse
atlas, DGM's best-validation selection, Artsy's synapse probe, ...), which may also measure
after every epoch (``Evaluator.after_epoch``). Training and evaluation are timed separately.
After every task the engine can write a checkpoint: the method's state as plain data
(``Method.state_dict``: its model, optimizer and buffers as state dicts and tensors, no stream
data), the engine state and the random-number states, read back with
``torch.load(weights_only=True)`` into a freshly built method; a run resumed from it ends with
the same accuracy matrix as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .evaluators import Evaluator, accuracy, for_method
from .methods.base import Method
from .scenarios.task import Stream

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    """How long and in what batches each task is trained.

    ``iterations`` (steps per task) overrides ``epochs`` when set: van de Ven's protocols count
    iterations (2,000 per split-MNIST task), most others count epochs.
    """

    epochs: int = 1
    iterations: int | None = None
    batch_size: int = 128
    eval_batch_size: int = 1000
    #: epochs of each task in order (overrides ``epochs``; e.g. CLASSP's 4 epochs then 1)
    task_epochs: list[int] | None = None
    #: False keeps the data order (CLASSP's official stream is unshuffled)
    shuffle: bool = True
    #: call the model through torch.compile (``Method.compile_model``): faster steps, results
    #: within float rounding of the eager model, not bit-identical; off by default
    compile: bool = False

    def validate(self) -> None:
        from .errors import ConfigError

        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError("train.batch_size and train.eval_batch_size must be at least 1")
        if self.iterations is None and self.epochs < 1:
            raise ConfigError("train.epochs must be at least 1 (or set train.iterations)")
        if self.iterations is not None and self.iterations < 1:
            raise ConfigError("train.iterations must be at least 1")

        if self.task_epochs is not None and any(e < 1 for e in self.task_epochs):
            raise ConfigError("train.task_epochs must all be at least 1")

    def epochs_of(self, task_index: int) -> int:
        if self.task_epochs:
            return self.task_epochs[min(task_index, len(self.task_epochs) - 1)]
        return self.epochs

    def steps(self, n: int, task_index: int = 0) -> int:
        if self.iterations is not None:
            return self.iterations
        return self.epochs_of(task_index) * -(-n // self.batch_size)


@dataclass
class EngineState:
    """Everything the engine has measured so far; saved in checkpoints."""

    next_task: int = 0
    accuracy_matrix: list[list[float]] = field(default_factory=list)
    initial_accuracy: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    train_samples: int = 0
    task_train_seconds: list[float] = field(default_factory=list)
    task_mean_loss: list[float] = field(default_factory=list)
    #: what went wrong without stopping the run (a loss that became NaN, a task that changed no
    #: weight); written to the record, and a sweep counts such a run as failed
    warnings: list[str] = field(default_factory=list)
    #: what each evaluator measured after each task (evaluators/__init__.py): name -> one entry
    #: per task trained so far
    evaluations: dict[str, list] = field(default_factory=dict)


def evaluate(method: Method, stream: Stream, batch_size: int) -> list[float]:
    """Accuracy on every task's test set (task id passed only when the scenario gives it).

    Without the task id, tasks that share their test tensors (a task shown again by the
    ``repeat`` transform) get the same prediction, so each test set is measured once: the Hebb
    experiment's 90 presentations of 10 items cost 10 test sets per row, not 90.
    """
    method.model.eval()
    if stream.task_id_at_test:
        return accuracy(lambda x, task: method.predict(x, task.index), stream.tasks, batch_size)
    first: dict[tuple[int, int], int] = {}
    for i, task in enumerate(stream.tasks):
        first.setdefault((id(task.x_test), id(task.y_test)), i)
    distinct = [stream.tasks[i] for i in first.values()]
    measured = dict(zip(first, accuracy(lambda x, task: method.predict(x, None), distinct,
                                        batch_size), strict=True))
    return [measured[(id(t.x_test), id(t.y_test))] for t in stream.tasks]


def _batches(n: int, steps: int, settings: TrainSettings, generator: torch.Generator, device):
    """Index tensors of minibatches (shuffled per epoch unless ``shuffle`` is off): whole epochs,
    or exactly ``iterations`` batches."""
    remaining = steps
    while remaining > 0:
        if settings.shuffle:
            perm = torch.randperm(n, generator=generator).to(device)
        else:
            perm = torch.arange(n, device=device)
        for idx in perm.split(settings.batch_size):
            if remaining == 0:
                return
            remaining -= 1
            yield idx


def _rng_states(generator: torch.Generator) -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "engine": generator.get_state(),
    }


def _set_rng_states(states: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    generator.set_state(states["engine"])


#: the format of a checkpoint file: plain data only, read with ``weights_only=True``
CHECKPOINT_FORMAT = "neuroplastic-checkpoint/2"


def save_checkpoint(path: Path, method: Method, state: EngineState, generator) -> None:
    """The method's state as plain data (``Method.state_dict``: no pickled objects, no stream
    data), the engine's measurements and the random states, written atomically."""
    from dataclasses import asdict

    from .methods.state import pack

    payload = {
        "format": CHECKPOINT_FORMAT,
        "method": method.state_dict(),
        "engine": pack(asdict(state), "engine state"),
        "rng": pack(_rng_states(generator), "random states"),
        # what a report of an unfinished run shows (dgm table --partial), readable without
        # building the method
        "record_extra": pack(method.record_extra(), "record_extra"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: a half-written checkpoint is never read


def _checkpoint_fix(path: Path) -> str:
    return (f"to start the run afresh, run it without --resume (or delete {path}); to continue "
            "it, resume with the neuroplastic version and config that wrote it")


def _read_checkpoint(path: Path) -> dict:
    from .errors import CheckpointError

    fix = _checkpoint_fix(path)
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # truncated, not a torch file, or a pickled object: all refused
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read ({reason}); {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} file (written by "
                              f"an older neuroplastic?); {fix}")
    return payload


def checkpoint_progress(path: Path) -> dict:
    """What an unfinished run has measured so far, read from its checkpoint without building
    the method: ``accuracy_matrix``, ``train_seconds``, ``method_extra``, ``method_class``."""
    from .methods.state import unpack

    payload = _read_checkpoint(path)
    engine = unpack(payload["engine"], None, "engine state", [], {})
    return {
        "accuracy_matrix": engine["accuracy_matrix"],
        "train_seconds": engine["train_seconds"],
        "method_extra": unpack(payload.get("record_extra", {"__dict__": []}), None,
                               "record_extra", [], {}),
        "method_class": payload["method"].get("class", ""),
    }


def load_checkpoint(
    path: Path, method: Method, generator: torch.Generator, tasks: list
) -> EngineState:
    """Load a checkpoint into ``method`` (freshly built from the run's config) and return the
    engine state; restores the random states. Anything that does not load is a
    :class:`CheckpointError` naming the file and the fix."""
    from .errors import CheckpointError
    from .methods.state import StateError, unpack

    fix = _checkpoint_fix(path)
    payload = _read_checkpoint(path)
    try:
        method.load_state_dict(payload["method"], tasks)
        fields = unpack(payload["engine"], None, "engine state", tasks, {})
        rng = unpack(payload["rng"], None, "random states", tasks, {})
    except (StateError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} does not fit this run: {exc}; {fix}") from None
    known = {f.name for f in dataclasses.fields(EngineState)}
    state = EngineState(**{k: v for k, v in fields.items() if k in known})
    _set_rng_states(rng, generator)
    return state


def _snapshot(method: Method) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(parameter, copy) of every trainable weight, to tell afterwards whether any changed."""
    params = getattr(method, "trainable_parameters", None)
    if params is not None:
        weights = params()
    else:  # an object that follows the protocol without the base class
        model = getattr(method, "model", None)
        weights = [p for p in model.parameters() if p.requires_grad] if model is not None else []
    return [(p, p.detach().clone()) for p in weights]


def _learned_nothing(snapshot, had_gradients: bool) -> bool:
    """True when the task computed gradients but not one trainable weight moved: the update
    rule (e.g. a suppression threshold or a tiny learning rate) cancelled every step. Methods
    that train no weight by gradient (class-mean prototypes) compute none and are not judged."""
    if not snapshot or not had_gradients:
        return False
    return all(p.shape == old.shape and torch.equal(p.detach(), old) for p, old in snapshot)


def _warn(state: EngineState, message: str) -> None:
    log.warning(message)
    state.warnings.append(message)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=not enabled, mininterval=0.5)


def run_stream(
    method: Method,
    stream: Stream,
    settings: TrainSettings,
    seed: int = 0,
    *,
    checkpoint: Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
    on_task_end: Callable[[int, EngineState], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    evaluators: Sequence[Evaluator] = (),
) -> tuple[Method, EngineState]:
    """Train ``method`` through ``stream`` and return it with the filled engine state.

    After each task the engine measures the accuracy matrix row, then runs ``evaluators`` (plus
    those the method always needs, see ``evaluators.for_method``) into ``state.evaluations``.

    With ``resume`` and an existing ``checkpoint``, the method, the measurements so far and the
    random-number states are restored from it and training continues with the next task.
    """
    if progress is None:
        progress = sys.stderr.isatty()
    generator = torch.Generator().manual_seed(seed)
    device = method.device
    evaluators = for_method(method, list(evaluators), settings.eval_batch_size)
    if resume and checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint, method, generator, stream.tasks)
        method.resume(stream.tasks)
        if state.next_task < len(stream):
            done = "task 1" if state.next_task == 1 else f"tasks 1-{state.next_task}"
            log.info(
                "resuming from %s: %s done, continuing with task %d of %d",
                checkpoint, done, state.next_task + 1, len(stream),
            )
    else:
        if checkpoint is not None and checkpoint.exists():
            # a plain rerun starts over; the interrupted run's checkpoint is overwritten after
            # the first task, so say so while --resume can still use it
            log.warning(
                "%s holds an unfinished run of this config; starting over without it "
                "(rerun with --resume to continue from it instead)", checkpoint,
            )
        state = EngineState()
        start = time.perf_counter()
        state.initial_accuracy = evaluate(method, stream, settings.eval_batch_size)
        state.eval_seconds += time.perf_counter() - start

    for task in stream.tasks[state.next_task :]:
        x, y = task.x_train, task.y_train
        steps = settings.steps(len(y), task.index)
        bar = _progress(steps, f"task {task.index + 1}/{len(stream)}", progress)
        for evaluator in evaluators:
            evaluator.begin_task(method, task)
        start = time.perf_counter()
        method.begin_task(task)
        snapshot = _snapshot(method)
        loss_sum, samples, bad_loss = 0.0, 0, None
        per_epoch, epoch_eval = -(-len(y) // settings.batch_size), 0.0
        for step, idx in enumerate(_batches(len(y), steps, settings, generator, device)):
            loss = method.observe(x[idx], y[idx], task.index)
            if (step + 1) % per_epoch == 0:  # an epoch ends: evaluators that measure per epoch
                begin = time.perf_counter()
                for evaluator in evaluators:
                    evaluator.after_epoch(method, stream, task.index, (step + 1) // per_epoch - 1)
                epoch_eval += time.perf_counter() - begin
            if bad_loss is None and not math.isfinite(loss):
                bad_loss = (step, loss)
            loss_sum += loss
            samples += len(idx)
            if on_step is not None:
                on_step(task.index, loss)
            if progress:
                bar.update(1)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        had_gradients = any(p.grad is not None for p, _ in snapshot)
        method.end_task(task)
        elapsed = time.perf_counter() - start - epoch_eval
        state.eval_seconds += epoch_eval
        if not hasattr(state, "warnings"):  # a state saved before warnings were recorded
            state.warnings = []
        if bad_loss is not None:
            _warn(
                state,
                f"task {task.index + 1}: the loss became {bad_loss[1]} at step {bad_loss[0] + 1}; "
                "lower the learning rate or check the data for extreme values",
            )
        if _learned_nothing(snapshot, had_gradients):
            if loss_sum == 0.0:  # nothing to learn, rather than an update rule that refuses to
                cause = ("the loss was 0 at every step (a task of one class whose only active "
                         "output is its own, as in class-incremental one-class tasks), so "
                         "there was nothing to learn")
            else:
                cause = ("the optimizer's settings (learning rate, thresholds) cancel every "
                         "update, so the run learned nothing")
            _warn(state, f"task {task.index + 1}: no trainable weight changed; {cause}")
        del snapshot
        bar.close()
        state.train_seconds += elapsed
        state.task_train_seconds.append(elapsed)
        state.train_samples += samples
        state.task_mean_loss.append(loss_sum / max(1, steps))

        start = time.perf_counter()
        state.accuracy_matrix.append(evaluate(method, stream, settings.eval_batch_size))
        for evaluator in evaluators:
            result = evaluator.after_task(method, stream, task.index)
            state.evaluations.setdefault(evaluator.name, []).append(result)
        state.eval_seconds += time.perf_counter() - start
        state.next_task = task.index + 1
        if checkpoint is not None:
            save_checkpoint(checkpoint, method, state, generator)
        if on_task_end is not None:
            on_task_end(task.index, state)
    return method, state
