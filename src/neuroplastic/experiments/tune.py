"""Hyper-parameter search with Ray Tune: random search and ASHA early stopping, on validation data.

A tune file (YAML)::

    name: ewc-split-mnist
    base: {benchmark: {name: split-mnist}, method: {name: ewc}, threads: 1}
    search:                       # dotted config keys -> a distribution
      optimizer.lr: {loguniform: [1.0e-4, 1.0e-2]}
      method.lambda_: {choice: [1, 10, 100, 1000]}
      model.hidden: {choice: [[100, 100], [400, 400]]}
    num_samples: 20               # trials (random search)
    metric: average_accuracy      # any accuracy-matrix metric of `metrics.summary`
    mode: max                     # max | min
    validation_fraction: 0.1      # share of each task's training data held out
    seed: 0                       # the search's random state (the runs use base's seed)

Distributions: ``uniform: [lo, hi]``, ``loguniform: [lo, hi]``, ``randint: [lo, hi)``,
``choice: [values...]``. Every trial appends the ``validation`` stream transform to its config,
so it trains on the rest of each task's TRAINING data and is scored on the held-out part: the
test data is never used. After each task the trial reports the metric of the tasks seen so
far (the accuracy sub-matrix of tasks 0..i) to Tune, which is what lets ASHA stop weak trials
after a few tasks. The best config (without the validation transform, fully resolved) is
written as a YAML file that ``neuroplastic run --config`` and ``neuroplastic sweep`` accept.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..errors import ConfigError, NeuroplasticError, UnknownNameError
from .sweep import dotted, import_all, start_ray

TUNE_KEYS = ("name", "description", "base", "search", "num_samples", "metric", "mode",
             "validation_fraction", "seed", "grace_period", "reduction_factor", "imports")
DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
METRICS = ("average_accuracy", "average_incremental_accuracy", "bwt", "forgetting",
           "learning_accuracy")


@dataclass
class TuneSpec:
    name: str
    base: dict[str, Any]
    search: dict[str, dict[str, list[Any]]]
    description: str = ""
    num_samples: int = 10
    metric: str = "average_accuracy"
    mode: str = "max"
    validation_fraction: float = 0.1  # this library's choice, see scenarios/validation.py
    seed: int = 0
    grace_period: int = 1  # ASHA: tasks every trial trains before it may be stopped
    reduction_factor: float = 2.0  # ASHA: keep the best 1/rf at each rung (Li et al. 2020)
    imports: list[str] = field(default_factory=list)
    path: Path | None = None


def _number(value: Any, where: str) -> float:
    try:
        return float(value)  # YAML reads 1e-4 (no dot) as a string
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None


def load_tune(path: str | Path) -> TuneSpec:
    path = Path(path)
    data = config_mod.read_yaml(path)
    for key in data:
        if key not in TUNE_KEYS:
            raise UnknownNameError("tune file key", key, list(TUNE_KEYS))
    base = data.get("base") or {}
    if isinstance(base, str):
        base = config_mod.read_yaml(path.parent / base)
    search = data.get("search") or {}
    if not isinstance(search, dict) or not search:
        raise ConfigError("a tune file needs `search`: config keys mapped to distributions")
    checked = {}
    for key, dist in search.items():
        if not isinstance(dist, dict) or len(dist) != 1:
            raise ConfigError(f"search.{key} must be one of {{{', '.join(DISTRIBUTIONS)}: ...}}")
        (kind, args), = dist.items()
        if kind not in DISTRIBUTIONS:
            raise UnknownNameError(f"distribution of search.{key}", kind, list(DISTRIBUTIONS))
        if not isinstance(args, list) or not args:
            raise ConfigError(f"search.{key}.{kind} needs a list")
        if kind != "choice":
            if len(args) != 2:
                raise ConfigError(f"search.{key}.{kind} needs [low, high]")
            args = [_number(a, f"search.{key}") for a in args]
            if not args[0] < args[1] or (kind == "loguniform" and args[0] <= 0):
                raise ConfigError(f"search.{key}.{kind}: need 0 < low < high, got {args}")
        checked[str(key)] = {kind: args}
    spec = TuneSpec(
        name=str(data.get("name") or path.stem),
        base=base,
        search=checked,
        description=str(data.get("description") or ""),
        num_samples=int(data.get("num_samples", 10)),
        metric=str(data.get("metric", "average_accuracy")),
        mode=str(data.get("mode", "max")),
        validation_fraction=_number(data.get("validation_fraction", 0.1), "validation_fraction"),
        seed=int(data.get("seed", 0)),
        grace_period=int(data.get("grace_period", 1)),
        reduction_factor=_number(data.get("reduction_factor", 2), "reduction_factor"),
        imports=[str(m) for m in data.get("imports") or []],
        path=path,
    )
    if spec.metric not in METRICS:
        raise UnknownNameError("tune metric", spec.metric, list(METRICS))
    if spec.mode not in ("max", "min"):
        raise UnknownNameError("tune mode", spec.mode, ["max", "min"])
    if spec.num_samples < 1 or spec.grace_period < 1 or spec.reduction_factor <= 1:
        raise ConfigError("num_samples and grace_period must be >= 1, reduction_factor > 1")
    return spec


def trial_config(base: dict[str, Any], sample: dict[str, Any], fraction: float | None):
    """base + sampled values (+ the validation transform when ``fraction`` is given)."""
    cfg = config_mod.load(None, None, base=base)
    for key, value in sample.items():
        cfg = config_mod.merge(cfg, config_mod.normalise(dotted(key, value)))
    if fraction is not None:
        cfg["transforms"] = [*cfg["transforms"], {"name": "validation", "fraction": fraction}]
    return cfg


def check(spec: TuneSpec) -> None:
    """Resolve the corners of the search space before any trial starts (typos fail fast)."""
    from ..experiment import resolve

    import_all(spec.imports)
    for key, dist in spec.search.items():
        (kind, args), = dist.items()
        for value in args:
            if kind == "randint":
                value = int(value)
            try:
                resolve(trial_config(spec.base, {key: value}, spec.validation_fraction))
            except UnknownNameError:
                raise
            except NeuroplasticError as exc:
                raise ConfigError(f"tune {spec.name!r}, search.{key}={value!r}: {exc}") from None


def _space(spec: TuneSpec) -> dict[str, Any]:
    from ray import tune

    space = {}
    for key, dist in spec.search.items():
        (kind, args), = dist.items()
        if kind == "uniform":
            space[key] = tune.uniform(*args)
        elif kind == "loguniform":
            space[key] = tune.loguniform(*args)
        elif kind == "randint":
            space[key] = tune.randint(int(args[0]), int(args[1]))
        else:
            space[key] = tune.choice(args)
    return space


def partial_metrics(matrix: list[list[float]], initial: list[float]) -> dict[str, float]:
    """The metrics of the tasks seen so far: the square sub-matrix of tasks 0..i (a metric that
    needs two tasks, like forgetting, is 0 after the first)."""
    from ..metrics import summary

    n = len(matrix)
    sub = [row[:n] for row in matrix]
    values = summary(sub, initial[:n] if initial else None)
    return {k: (0.0 if v is None else float(v)) for k, v in values.items() if k in METRICS}


def _trial(sample: dict[str, Any], base=None, fraction=None, imports=None) -> None:
    """One Tune trial: a run on the validation split, reporting after every task."""
    import torch
    from ray import tune

    from ..experiment import run

    import_all(imports or [])
    cfg = trial_config(base, sample, fraction)
    if cfg.get("threads") is None:
        torch.set_num_threads(1)

    def report(task_index: int, state) -> None:
        metrics = partial_metrics(state.accuracy_matrix, state.initial_accuracy)
        tune.report({**metrics, "tasks_trained": task_index + 1})

    with tempfile.TemporaryDirectory(prefix="neuroplastic-tune-") as tmp:
        run(cfg, out=tmp, progress=False, on_task_end=report)


@dataclass
class TuneOutcome:
    best_config: dict[str, Any]  # resolved, without the validation transform
    best_sample: dict[str, Any]
    best_value: float
    trials: list[dict[str, Any]]  # sample, last metric value, tasks trained, status
    path: Path | None
    wall_seconds: float

    def table(self, metric: str) -> str:
        lines = [f"{'tasks':>5} {metric:>22}  sample"]
        for t in self.trials:
            value = "-" if t["value"] is None else f"{t['value']:.4f}"
            lines.append(f"{t['tasks_trained']:>5} {value:>22}  {t['sample']}")
        return "\n".join(lines)


def run_tune(
    spec: TuneSpec | str | Path,
    out: str | Path | None = None,
    workers: int | None = None,
    address: str | None = None,
) -> TuneOutcome:
    """Run the search and write the best config to ``out`` (default ``<name>-best.yaml``)."""
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
        from ray.tune.search import BasicVariantGenerator
    except ImportError:
        raise ConfigError("tune needs Ray Tune: pip install 'neuroplastic[ray]'") from None
    from ..experiment import build_stream, resolve

    if not isinstance(spec, TuneSpec):
        spec = load_tune(spec)
    check(spec)
    # the number of tasks (ASHA's max_t): the stream is built once here, on the driver
    n_tasks = len(build_stream(resolve(trial_config(spec.base, {}, spec.validation_fraction))))

    started_here = start_ray(address, workers)
    start = time.perf_counter()
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trial, base=spec.base, fraction=spec.validation_fraction,
                                 imports=spec.imports),
            {"cpu": 1},
        )
        scheduler = ASHAScheduler(
            time_attr="tasks_trained", max_t=n_tasks, grace_period=min(spec.grace_period, n_tasks),
            reduction_factor=spec.reduction_factor,
        )
        storage = Path(tempfile.mkdtemp(prefix="neuroplastic-tune-")).resolve()
        tuner = tune.Tuner(
            trainable,
            param_space=_space(spec),
            tune_config=tune.TuneConfig(
                metric=spec.metric, mode=spec.mode, num_samples=spec.num_samples,
                scheduler=scheduler, search_alg=BasicVariantGenerator(random_state=spec.seed),
                max_concurrent_trials=workers,
            ),
            run_config=tune.RunConfig(name=spec.name, storage_path=str(storage), verbose=0),
        )
        results = tuner.fit()
        trials = []
        for r in results:
            m = r.metrics or {}
            trials.append({
                "sample": dict(r.config),
                "value": m.get(spec.metric),
                "tasks_trained": int(m.get("tasks_trained", 0)),
                "error": None if r.error is None else str(r.error).splitlines()[0],
            })
        finished = [t for t in trials if t["value"] is not None and t["tasks_trained"] == n_tasks]
        if not finished:
            errors = "; ".join(t["error"] for t in trials if t["error"]) or "none finished"
            raise ConfigError(f"tune {spec.name!r}: no trial finished ({errors})")
        sign = 1 if spec.mode == "max" else -1
        best = max(finished, key=lambda t: sign * t["value"])
        trials.sort(key=lambda t: (-t["tasks_trained"], -sign * (t["value"] or -math.inf)))
    finally:
        if started_here:
            ray.shutdown()
    best_config = resolve(trial_config(spec.base, best["sample"], None)).config
    path = Path(out) if out is not None else Path(f"{spec.name}-best.yaml")
    outcome = TuneOutcome(best_config, best["sample"], best["value"], trials, path,
                          time.perf_counter() - start)
    write_best(outcome, spec)
    return outcome


def write_best(outcome: TuneOutcome, spec: TuneSpec) -> None:
    import yaml

    header = [
        f"# best config of `neuroplastic tune` {spec.name!r} "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        f"# {spec.metric} = {outcome.best_value:.4f} on the validation split "
        f"({spec.validation_fraction:g} of each task's training data), not on test data",
        f"# {len(outcome.trials)} trials, random search + ASHA; sampled values: "
        f"{outcome.best_sample}",
        "# run it: neuroplastic run --config THIS_FILE   (or use it as a sweep's `base`)",
    ]
    body = yaml.safe_dump(copy.deepcopy(outcome.best_config), sort_keys=False)
    assert outcome.path is not None
    outcome.path.parent.mkdir(parents=True, exist_ok=True)
    outcome.path.write_text("\n".join(header) + "\n" + body)
