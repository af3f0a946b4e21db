"""From a config to a run record: resolve and validate everything, then train and measure.

``resolve`` does all checking before any data is loaded or any step is taken: unknown names and
keys list the valid choices, impossible combinations are rejected with the reason.
``run`` builds the stream, model and method, runs the engine (with checkpoints and resume) and
writes the JSON run record.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import config as config_mod
from . import evaluators as evaluators_mod
from . import outputs, preflight
from . import params as params_mod
from . import record as record_mod
from .engine import TrainSettings, run_stream
from .errors import ConfigError, UnknownNameError
from .metrics import peak_rss_bytes, peak_rss_since_restart, restart_peak_rss, summary
from .models.classifier import build_model, model_bytes
from .plasticity import RESETS, optimizer_factory
from .registry import BENCHMARKS, EVALUATORS, METHODS, MODELS, OPTIMIZERS, TRANSFORMS, Entry
from .scenarios import checks as data_checks
from .scenarios.task import DEFAULT_HEAD, HEADS, SCENARIOS, check_head

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("runs")
FALLBACK_MODEL = {"name": "mlp"}
FALLBACK_OPTIMIZER = {"name": "adam"}


@dataclass
class Resolved:
    config: dict[str, Any]  # fully resolved, JSON-ready, every default filled in
    benchmark: Entry
    benchmark_params: Any
    method: Entry
    method_params: Any
    train: TrainSettings
    #: optimizer settings the config gave rather than left to defaults (not part of the config
    #: or its hash): a pre-flight refusal applies only to defaulted settings (preflight.py)
    explicit_optimizer: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return record_mod.run_name(self.config)


def _benchmark_entry(spec: dict[str, Any]) -> tuple[Entry, dict[str, Any]]:
    """A registered benchmark by name, or a generic one when the name is a path to data."""
    spec = dict(spec)
    name = str(spec.pop("name"))
    if name in BENCHMARKS:
        return BENCHMARKS.get(name), spec
    from .scenarios.benchmarks import resolve_benchmark

    entry, path = resolve_benchmark(name)  # lists the valid names when it is not a data path
    return entry, {**spec, "path": str(path)}


def _block(spec: dict[str, Any] | None, default: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec or {})
    if "name" not in spec:
        spec = {**default, **spec}
    return spec


def resolve(config: dict[str, Any]) -> Resolved:
    """Validate a merged config and fill every default; raises before any training."""
    cfg = config_mod.normalise(config)
    for key in config_mod.REQUIRED_BLOCKS:
        if "name" not in cfg[key]:  # e.g. `benchmark=` then `benchmark.n_tasks=3`
            raise ConfigError(f"{key} has settings but no name; add {key}.name=...")
    scenario = cfg["scenario"]
    if scenario not in SCENARIOS:
        raise UnknownNameError("scenario", scenario, list(SCENARIOS))
    head = cfg["head"] or DEFAULT_HEAD[scenario]
    if head not in HEADS:
        raise UnknownNameError("head policy", head, list(HEADS))
    check_head(scenario, head)  # here, not only when the stream is built: sweeps check it first

    bench_entry, bench_spec = _benchmark_entry(cfg["benchmark"])
    bench_params = params_mod.build(
        bench_entry.params, bench_spec, f"benchmark ({bench_entry.name})"
    )

    method_spec = dict(cfg["method"])
    method_entry = METHODS.get(method_spec.pop("name"))
    method_cls = method_entry.obj
    method_params = params_mod.build(
        method_cls.Params, method_spec, f"method ({method_entry.name})"
    )
    if method_cls.needs_task_id_at_test and scenario != "task":
        raise ConfigError(
            f"method {method_entry.name!r} needs the task id at test time, which the "
            f"{scenario}-incremental scenario does not give; use scenario: task"
        )

    default_model = method_cls.default_model or getattr(bench_entry.obj, "default_model", None)
    model_spec = _block(cfg["model"], default_model or FALLBACK_MODEL)
    model_name = model_spec.pop("name")
    model_entry = MODELS.get(model_name)
    model_params = params_mod.build(model_entry.params, model_spec, f"model ({model_name})")

    opt_spec = _block(cfg["optimizer"], method_cls.default_optimizer or FALLBACK_OPTIMIZER)
    opt_name = opt_spec.pop("name")
    reset = opt_spec.pop("reset", "never")
    if reset not in RESETS:
        raise UnknownNameError("optimizer.reset", reset, list(RESETS))
    opt_entry = OPTIMIZERS.get(opt_name)
    opt_params = params_mod.build(opt_entry.params, opt_spec, f"optimizer ({opt_name})")
    explicit_optimizer = frozenset(opt_spec)
    _check_rates(opt_params, "optimizer")
    _check_rates(method_params, "method")
    _probe_optimizer(opt_entry, opt_params, opt_name)

    train = params_mod.build(TrainSettings, cfg["train"], "train")
    if hasattr(method_params, "check_train"):  # a method setting tied to the epochs or steps
        method_params.check_train(train)

    transforms = _named_blocks(cfg["transforms"], TRANSFORMS, "transform")
    if not isinstance(cfg["evaluators"], list):
        raise ConfigError("evaluators must be a list of names or {name: ..., ...} mappings")
    evaluator_specs = _named_blocks(cfg["evaluators"], EVALUATORS, "evaluator", names_allowed=True)

    device = check_device(str(cfg["device"]))
    seed = params_mod.coerce(cfg["seed"], int, "seed")
    if not 0 <= seed < 2**32:  # NumPy's global seeding takes exactly this range
        raise ConfigError(f"seed must be an integer from 0 to 2**32 - 1, got {seed}")
    threads = cfg["threads"]
    if threads is not None:
        threads = params_mod.coerce(threads, int, "threads")
        if threads < 1:  # 0 used to mean "torch's default" without saying so
            raise ConfigError(
                f"threads must be at least 1, got {threads}; leave it out (null) for torch's "
                "default"
            )

    resolved = {
        "benchmark": {
            "name": bench_spec_name(cfg["benchmark"]),
            **params_mod.to_dict(bench_params),
        },
        "scenario": scenario,
        "head": head,
        "model": {"name": model_name, **params_mod.to_dict(model_params)},
        "method": {"name": method_entry.name, **params_mod.to_dict(method_params)},
        "optimizer": {"name": opt_name, "reset": reset, **params_mod.to_dict(opt_params)},
        "train": params_mod.to_dict(train),
        "transforms": transforms,
        "evaluators": evaluator_specs,
        "seed": seed,
        "device": device,
        "threads": threads,
    }
    return Resolved(
        resolved, bench_entry, bench_params, method_entry, method_params, train, explicit_optimizer
    )


def _named_blocks(items: list, registry, kind: str, names_allowed: bool = False) -> list[dict]:
    """A config list of ``{name: ..., settings}`` blocks (a transform, an evaluator), each
    checked against ``registry`` and its settings dataclass, resolved with every default
    filled in; ``names_allowed``: a bare name stands for the block with default settings."""
    out = []
    for item in items:
        if names_allowed and isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f"each {kind} needs a name, got {item!r}")
        item = dict(item)
        entry = registry.get(item.pop("name"))
        settings = params_mod.build(entry.params, item, f"{kind} ({entry.name})")
        out.append({"name": entry.name, **params_mod.to_dict(settings)})
    return out


DEVICE_TYPES = ("cpu", "cuda", "mps")


def check_device(device: str) -> str:
    """``device`` unchanged when torch can use it here; else a ConfigError listing the forms."""
    valid = "cpu, cuda, cuda:<index>, mps"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(f"device {device!r} is not a device name; valid: {valid}") from None
    if parsed.type not in DEVICE_TYPES:
        raise ConfigError(f"device {device!r} is not supported; valid: {valid}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but torch sees no CUDA device here")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(
                f"device {device!r}: torch sees {count} CUDA device(s), cuda:0 to cuda:{count - 1}"
            )
    if parsed.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(f"device {device!r} asked for, but torch sees no MPS device here")
    return device


def _check_rates(params: Any, block: str) -> None:
    """Every learning rate of a block (``lr``, ``*_lr``) must be a positive finite number: a
    negative one makes some optimizers raise mid-run and others climb the loss silently."""
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if (f.name == "lr" or f.name.endswith("_lr")) and isinstance(value, (int, float)):
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{block}.{f.name} must be a positive number, got {value}")


def _probe_optimizer(entry: Entry, params: Any, name: str) -> None:
    """Build the optimizer once on a throw-away weight: torch checks momentum, eps, betas and
    weight decay only when an optimizer is made, which would otherwise be after the data has
    loaded (a traceback then, a ConfigError now)."""
    try:
        entry.obj([torch.nn.Parameter(torch.zeros(2))], params)
    except ValueError as exc:
        raise ConfigError(f"optimizer ({name}): {exc}") from None
    except Exception:  # one that needs a real model (groups, layers) is checked when built
        pass


def bench_spec_name(spec: dict[str, Any]) -> str:
    return str(spec["name"])


def build_stream(resolved: Resolved):
    """The stream of a resolved config: the benchmark, then its stream transforms in order."""
    cfg = resolved.config
    stream = resolved.benchmark.obj(
        resolved.benchmark_params, cfg["scenario"], cfg["head"], cfg["seed"]
    )
    # the data as the benchmark built it, before transforms (which may mislabel on purpose)
    data_checks.check_stream(stream)
    for item in cfg["transforms"]:
        item = dict(item)
        entry = TRANSFORMS.get(item.pop("name"))
        stream = entry.obj(stream, params_mod.build(entry.params, item, entry.name), cfg["seed"])
    if cfg["transforms"]:
        data_checks.check_stream(stream, after_transforms=True)
    return stream


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_method(resolved: Resolved, stream):
    cfg = resolved.config
    model = build_model(cfg["model"], stream.info)
    optimizer = optimizer_factory(cfg["optimizer"])
    method = resolved.method.obj(model, stream.info, resolved.method_params, optimizer,
                                 cfg["device"])
    if resolved.train.compile:
        method.compile_model()
    return method


def run(
    config: dict[str, Any] | str | Path | None = None,
    overrides: list[str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run one config (a dict or a YAML path, plus ``key=value`` overrides) and return its
    record, which is also written as JSON; ``options`` are those of :func:`run_resolved`
    (``out``, ``resume``, ``progress``, ``skip_existing``, ``keep_checkpoint``, ``save_model``,
    hooks)."""
    if isinstance(config, (str, Path)):
        merged = config_mod.load(config, overrides)
    else:
        merged = config_mod.load(None, overrides, base=config or {})
    return run_resolved(resolve(merged), **options)


def run_resolved(
    resolved: Resolved,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
    skip_existing: bool = False,
    keep_checkpoint: bool = False,
    save_model: bool = False,
    on_task_end=None,
    on_step=None,
) -> dict[str, Any]:
    out_dir = Path(out) if out is not None else DEFAULT_OUT
    cfg = resolved.config
    path = out_dir / f"{resolved.name}.json"
    checkpoint = out_dir / "checkpoints" / f"{resolved.name}.pt"
    if skip_existing or resume:
        # a damaged record (truncated, edited) is moved aside and the run done again
        existing = record_mod.read_valid(path, move_damaged=True)
        if existing is not None:
            return existing
    if not (skip_existing or resume) and path.exists():
        # documented (README, Checkpoints and resume): a plain rerun trains again
        logger.info(
            "%s exists: training again and replacing it (--resume reuses a finished record)", path
        )
    # cheap checks first (nothing created), so a wrong --out fails before any data is loaded
    outputs.check_dir(out_dir, "--out", create=False)
    outputs.check_dir(checkpoint.parent, "checkpoint folder", create=False)
    # the config's threads and seed apply to this run only: the caller's torch thread count and
    # global random states (torch, NumPy, Python) are as they were when the call returns
    threads = torch.get_num_threads()
    py_state, np_state = random.getstate(), np.random.get_state()
    # torch.manual_seed also seeds every CUDA device: on CUDA, every device's state is restored
    devices = range(torch.cuda.device_count()) if cfg["device"].startswith("cuda") else []
    try:
        if cfg["threads"]:
            torch.set_num_threads(cfg["threads"])
        with torch.random.fork_rng(devices=devices):
            return _train_and_record(
                resolved, out_dir, path, checkpoint, resume, progress, keep_checkpoint,
                save_model, on_task_end, on_step,
            )
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        random.setstate(py_state)
        np.random.set_state(np_state)


def _training_memory(rss_at_start: int | None) -> dict[str, int]:
    """The resident-memory peak of the stream itself (training and its evaluations) and how far
    it rose above the memory held when the stream started (data, model): what one model costs
    over another, which the whole-process peak (set by loading the data) hides. Empty where the
    platform cannot restart the peak (metrics.restart_peak_rss)."""
    if rss_at_start is None:
        return {}
    peak = peak_rss_since_restart()
    return {"train_peak_rss_bytes": peak, "train_rss_rise_bytes": peak - rss_at_start}


def _train_and_record(
    resolved: Resolved, out_dir: Path, path: Path, checkpoint: Path, resume: bool,
    progress: bool | None, keep_checkpoint: bool, save_model: bool, on_task_end, on_step,
) -> dict[str, Any]:
    cfg = resolved.config
    wall_start = time.perf_counter()
    seed_everything(cfg["seed"])
    stream = build_stream(resolved).to(cfg["device"])
    method = build_method(resolved, stream)
    if not (resume and checkpoint_path(out_dir, resolved).exists()):
        # an update rule whose defaults would not train refuses here, before the first step
        preflight.check(resolved, stream, method, resolved.explicit_optimizer)
    # now that the data is good: create the folders, prove they take a file, and check there is
    # room for a checkpoint (the model with its optimizer state) and the record
    outputs.check_dir(out_dir, "--out")
    outputs.check_dir(checkpoint.parent, "checkpoint folder")
    outputs.check_space(out_dir, 4 * model_bytes(method.model) + 2**20)
    evaluators = evaluators_mod.build(cfg["evaluators"], resolved.train.eval_batch_size)
    for evaluator in evaluators:
        evaluator.files = out_dir / "evaluations" / resolved.name
    peak_before_training = peak_rss_bytes()
    rss_at_start = restart_peak_rss()
    method, state = run_stream(
        method,
        stream,
        resolved.train,
        seed=cfg["seed"],
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        on_task_end=on_task_end,
        on_step=on_step,
        evaluators=evaluators,
    )
    training_memory = _training_memory(rss_at_start)
    metrics = summary(state.accuracy_matrix, state.initial_accuracy)
    metrics.update(
        train_seconds=state.train_seconds,
        eval_seconds=state.eval_seconds,
        wall_seconds=time.perf_counter() - wall_start,
        train_samples=state.train_samples,
        train_samples_per_second=state.train_samples / max(state.train_seconds, 1e-9),
        **training_memory,
        peak_rss_bytes=max(peak_before_training, peak_rss_bytes(),
                           training_memory.get("train_peak_rss_bytes", 0)),
        state_bytes=method.state_bytes(),
        model_bytes=model_bytes(method.model),
    )
    rec = {
        "record_version": record_mod.RECORD_VERSION,
        "name": resolved.name,
        "config_hash": record_mod.config_hash(cfg),
        "config": cfg,
        "seed": cfg["seed"],
        "versions": record_mod.versions(),
        "device": _device_name(cfg["device"]),
        "stream": {
            "name": stream.name,
            "num_tasks": len(stream),
            "num_outputs": stream.num_outputs,
            "head": stream.head,
            "task_id_at_test": stream.task_id_at_test,
            "uses_task_identity": bool(
                stream.task_id_at_test or getattr(method, "uses_task_identity", False)
            ),
            "tasks": [
                {
                    "index": t.index,
                    "name": t.name,
                    "classes": list(t.classes),
                    "num_train": t.num_train,
                    "num_test": int(t.y_test.shape[0]),
                }
                for t in stream.tasks
            ],
        },
        "accuracy_matrix": state.accuracy_matrix,
        "initial_accuracy": state.initial_accuracy,
        "metrics": metrics,
        "task_train_seconds": state.task_train_seconds,
        "task_mean_loss": state.task_mean_loss,
        "warnings": list(getattr(state, "warnings", [])),
        "method_extra": _method_extra(method, state),
        # the configured evaluators' results, one entry per task (task identity, which every
        # method with such a mechanism gets, stays in method_extra.task_identity)
        "evaluations": {k: v for k, v in state.evaluations.items() if k != "task-identity"},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if save_model:
        # the trained weights, as a plain state dict (load with weights_only=True into the
        # model the record's config builds); written before the record, so a record always
        # has its model when one was asked for
        model_path = out_dir / "models" / f"{resolved.name}.pt"
        model_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = model_path.with_name(f".{model_path.name}.tmp")
        torch.save(method.model.state_dict(), tmp)
        tmp.replace(model_path)
        rec["model_file"] = str(Path("models") / model_path.name)
    record_mod.write_json_atomic(path, rec)
    if not keep_checkpoint and checkpoint.exists():
        checkpoint.unlink()
    return rec


def _method_extra(method, state) -> dict[str, Any]:
    """The method's own measurements, and the engine's accuracy with task identity where the
    method has such a mechanism (``method_extra.task_identity``, labelled as such)."""
    extra = method.record_extra()
    rows = state.evaluations.get("task-identity")
    if rows:
        last = rows[-1]
        extra["task_identity"] = {
            "note": method.task_identity_note,
            "accuracy_rows": rows,
            "average_accuracy": sum(last) / len(last),
        }
    return extra


def checkpoint_path(out_dir: Path, resolved: Resolved) -> Path:
    return out_dir / "checkpoints" / f"{resolved.name}.pt"


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def catalogue() -> dict[str, list[tuple[str, str]]]:
    return {
        "methods": [(e.name, e.summary) for e in METHODS.entries()],
        "benchmarks": [(e.name, e.summary) for e in BENCHMARKS.entries()],
        "scenarios": list(SCENARIOS.items()),
        "models": [(e.name, e.summary) for e in MODELS.entries()],
        "optimizers": [(e.name, e.summary) for e in OPTIMIZERS.entries()],
        "transforms": [(e.name, e.summary) for e in TRANSFORMS.entries()],
        "evaluators": [(e.name, e.summary) for e in EVALUATORS.entries()],
    }
