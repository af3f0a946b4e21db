"""Sweeps: a grid of runs over any config key, with seeds, on a process pool or a Ray cluster.

A sweep file (YAML)::

    name: vandeven-split-mnist
    description: one line
    targets: targets.csv          # optional, relative to this file (used by `reproduce`)
    base: {benchmark: {name: split-mnist}, train: {iterations: 2000}, threads: 1}
    rows:                         # optional: label -> config changes, one table row each
      adam: {optimizer: {name: adam, lr: 0.001}}
      sgd: {optimizer: {name: sgd, lr: 0.1}}
    grid:                         # cartesian product; dotted keys allowed
      scenario: [task, domain, class]
      method: [finetune, ewc]     # names, or full blocks {name: ewc, lambda_: 100}
    seeds: [0, 1, 2]
    overrides:                    # applied in order where the chosen values match `when`
      - when: {scenario: class, method: ewc}
        set: {method.lambda_: 1.0e9}
    imports: []                   # modules imported in every worker (your own components)
    claims: [bnn.metaplasticity_reduces_forgetting]   # checks in neuroplastic.papers.<module>
    report:                       # columns: metrics, dotted paths into a record, or paper
      columns: [average_accuracy, method_extra.task_identity.average_accuracy, dgm.a_t]
      plots: [dgm.growth_plot]    # functions in neuroplastic.papers.<module> (report)

``base`` may also be the path of a plain run config (e.g. the best config written by
``neuroplastic tune``), and a plain run config given as a sweep file is a one-run sweep.

Every run is named by the hash of its fully resolved config (``record.run_name``). A run whose
record exists in the output folder is skipped, so an interrupted sweep resumes where it stopped;
a run that raises is recorded as ``<name>.failed.json`` (never counted as done, retried by the
next invocation) and the sweep goes on. Records are written atomically by the runs themselves.
A record that is damaged (does not parse, lacks required fields) is moved aside to
``<name>.json.damaged`` and its run done again; a run flagged by the engine (no weight changed
in a task, or the loss became NaN) keeps its record but counts as failed, with the reason in
``<name>.failed.json``, and is not rerun (the same config would give the same).
All runs are resolved (validated) before the first one starts.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config as config_mod
from .. import record as record_mod
from ..errors import ConfigError, NeuroplasticError, UnknownNameError
from ..outputs import check_dir
from .aggregate import config_value

SWEEP_KEYS = (
    "name", "description", "targets", "base", "rows", "grid", "seeds", "overrides", "imports",
    "claims", "report",
)
#: keys of a protocol's ``report`` block
REPORT_KEYS = ("columns", "plots")
BACKENDS = ("local", "ray")
FAILED_SUFFIX = ".failed.json"
#: imported once by the local pool's fork server: the library, and the slow imports every run
#: pays otherwise (torch's optimizers import torch._dynamo; the small data sets use sklearn)
PRELOAD = [
    "neuroplastic.experiment", "neuroplastic.experiments.sweep", "torch._dynamo",
    "sklearn.datasets",
]


# --------------------------------------------------------------------------------------------
# the sweep file
# --------------------------------------------------------------------------------------------


@dataclass
class SweepSpec:
    name: str
    description: str = ""
    base: dict[str, Any] = field(default_factory=dict)
    #: label -> config changes merged into the base (before the grid): the rows of a table
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    seeds: list[int] | None = None
    overrides: list[dict[str, Any]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    targets: Path | None = None  # resolved against the sweep file's folder
    path: Path | None = None
    #: qualitative claims of the paper, each ``<module>.<function>`` in ``neuroplastic.papers``
    claims: list[str] = field(default_factory=list)
    #: what the reporter shows: ``columns`` (metric names, dotted paths into a record or paper
    #: column functions) and ``plots`` (paper plot functions), see ``report.rows_table``
    report: dict[str, Any] = field(default_factory=dict)


def dotted(key: str, value: Any) -> dict[str, Any]:
    """``'method.lambda_', 1`` -> ``{'method': {'lambda_': 1}}``; a bare block name (``method:
    ewc``) becomes ``{'method': {'name': 'ewc'}}`` so that it replaces the whole block."""
    parts = key.split(".")
    if len(parts) == 1 and parts[0] in config_mod.NAMED_BLOCKS and isinstance(value, str):
        value = {"name": value}
    node: dict[str, Any] = {parts[-1]: copy.deepcopy(value)}
    for part in reversed(parts[:-1]):
        node = {part: node}
    return node


def _matches(config: dict[str, Any], when: dict[str, Any]) -> bool:
    """Every ``key: value`` of ``when`` holds in ``config``; a block matches by its name, and a
    list in ``when`` matches any of its values."""
    for key, wanted in when.items():
        value = config_value(config, key)
        if isinstance(value, dict):
            value = value.get("name")
        options = wanted if isinstance(wanted, list) else [wanted]
        options = [o.get("name") if isinstance(o, dict) else o for o in options]
        if value not in options:
            return False
    return True


def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{what} must be a list, got {value!r}")
    return value


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (strict keys); a plain run config is a one-run sweep."""
    path = Path(path)
    data = config_mod.read_yaml(path)
    if data and all(k in config_mod.DEFAULTS for k in data):
        return SweepSpec(name=path.stem, base=data, path=path)
    return spec_from_dict(data, path)


def spec_from_dict(data: dict[str, Any], path: Path | None = None) -> SweepSpec:
    for key in data:
        if key not in SWEEP_KEYS:
            raise UnknownNameError("sweep file key", key, list(SWEEP_KEYS))
    folder = path.parent if path is not None else Path.cwd()
    base = data.get("base") or {}
    if isinstance(base, str):  # a run config file, e.g. the best config written by `tune`
        base = config_mod.read_yaml(folder / base)
    if not isinstance(base, dict):
        raise ConfigError(f"sweep base must be a mapping or a config file path, got {base!r}")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError("sweep grid must map config keys to lists of values")
    grid = {str(k): _as_list(v, f"grid.{k}") for k, v in grid.items()}
    for key, values in grid.items():
        if not values:
            raise ConfigError(f"grid.{key} is empty: the sweep would have no runs")
    rows = data.get("rows") or {}
    if not isinstance(rows, dict) or not all(isinstance(v, dict | None) for v in rows.values()):
        raise ConfigError("sweep rows must map a label to config changes (a mapping)")
    rows = {str(k): v or {} for k, v in rows.items()}
    seeds = data.get("seeds")
    if seeds is not None:
        seeds = [int(s) for s in _as_list(seeds, "seeds")]
    overrides = _as_list(data.get("overrides") or [], "overrides")
    for i, item in enumerate(overrides):
        if not isinstance(item, dict) or set(item) - {"when", "set"} or "set" not in item:
            raise ConfigError(f"overrides[{i}] must be a mapping with 'set' (and optional 'when')")
    targets = data.get("targets")
    claims = [str(c) for c in _as_list(data.get("claims") or [], "claims")]
    for claim in claims:
        module, _, function = claim.rpartition(".")
        if not module or not function:
            raise ConfigError(f"claims: {claim!r} must be <paper module>.<function>, e.g. "
                              "bnn.metaplasticity_reduces_forgetting")
    report = data.get("report") or {}
    if not isinstance(report, dict):
        raise ConfigError("sweep report must be a mapping (e.g. {columns: [average_accuracy]})")
    for key in report:
        if key not in REPORT_KEYS:
            raise UnknownNameError("report key", key, list(REPORT_KEYS))
    from ..papers import claim_function, is_paper_function

    for key in REPORT_KEYS:
        if key in report:
            report[key] = [str(c) for c in _as_list(report[key], f"report.{key}")]
    for column in report.get("columns", []):
        if is_paper_function(column):
            claim_function(column, "report column")  # a typo fails here, listing the choices
    for name in report.get("plots", []):
        claim_function(name, "report plot")
    return SweepSpec(
        name=str(data.get("name") or (path.stem if path else "sweep")),
        description=str(data.get("description") or ""),
        base=base,
        rows=rows,
        grid=grid,
        seeds=seeds,
        overrides=overrides,
        imports=[str(m) for m in _as_list(data.get("imports") or [], "imports")],
        targets=(folder / targets) if targets else None,
        path=path,
        claims=claims,
        report=report,
    )


# --------------------------------------------------------------------------------------------
# expansion and planning
# --------------------------------------------------------------------------------------------


@dataclass
class PlannedRun:
    name: str
    config: dict[str, Any]  # fully resolved (every default filled in)
    label: str  # the row, grid values and seed that made it, for messages
    row: str | None = None  # the protocol row it belongs to (None: the protocol has no rows)

    def record_path(self, out: Path) -> Path:
        return out / f"{self.name}.json"

    def failed_path(self, out: Path) -> Path:
        return out / f"{self.name}{FAILED_SUFFIX}"


def _value_label(value: Any) -> str:
    """A grid value as text: a block (a method with settings) by its name."""
    return str(value.get("name", value)) if isinstance(value, dict) else str(value)


def _label(choice: dict[str, Any], seed: int | None) -> str:
    parts = [f"{key}={_value_label(value)}" for key, value in choice.items()]
    if seed is not None:
        parts.append(f"seed={seed}")
    return " ".join(parts) or "base"


def expand(
    spec: SweepSpec, seeds: list[int] | None = None
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """``(label, row, config)`` of every run, the config merged but not yet resolved: base, the
    row's changes, grid values, matching overrides, then the seed. ``seeds`` replaces the file's
    seed list."""
    seeds = seeds if seeds is not None else spec.seeds
    keys = list(spec.grid)
    rows: dict[str | None, dict[str, Any]] = dict(spec.rows) or {None: {}}
    runs = []
    for (row, change), values in itertools.product(
        rows.items(), itertools.product(*(spec.grid[k] for k in keys))
    ):
        choice = dict(zip(keys, values, strict=True))
        cfg = config_mod.load(None, None, base=spec.base)
        cfg = config_mod.merge(cfg, config_mod.normalise(change))
        for key, value in choice.items():
            cfg = config_mod.merge(cfg, config_mod.normalise(dotted(key, value)))
        for item in spec.overrides:
            if _matches(cfg, item.get("when") or {}):
                for key, value in item["set"].items():
                    cfg = config_mod.merge(cfg, config_mod.normalise(dotted(str(key), value)))
        prefix = {} if row is None else {"row": row}
        for seed in seeds if seeds is not None else [None]:
            run = cfg if seed is None else config_mod.merge(cfg, {"seed": seed})
            runs.append((_label({**prefix, **choice}, seed), row, run))
    return runs


def restrict(spec: SweepSpec, only: dict[str, list[str]]) -> SweepSpec:
    """A copy of ``spec`` whose grid keeps, on each named axis, only the listed values (given as
    text, a method block by its name), and whose rows only the listed labels (axis ``row``).
    The runs keep their names, so records made by a restricted sweep count for the whole one
    and the reverse."""
    grid = dict(spec.grid)
    rows = dict(spec.rows)
    for key, wanted in only.items():
        if key == "row" and rows:
            wanted = _rejoin_labels(wanted, rows)
            for w in wanted:
                if w not in rows:
                    raise UnknownNameError("row", w, list(rows))
            rows = {label: change for label, change in rows.items() if label in wanted}
            continue
        if key not in grid:
            raise UnknownNameError("grid axis", key, list(grid) + (["row"] if rows else []))
        labels = [_value_label(v) for v in grid[key]]
        for w in wanted:
            if w not in labels:
                raise UnknownNameError(f"value of grid axis {key!r}", w, labels)
        grid[key] = [v for v, label in zip(grid[key], labels, strict=True) if label in wanted]
    return dataclasses.replace(spec, grid=grid, rows=rows)


def _rejoin_labels(pieces: list[str], labels) -> list[str]:
    """``--only row=`` splits its text at commas, but a row label may hold one ("linear probe,
    fine-tune"): pieces that are not a label on their own are joined with the next ones (", ")
    while that makes a label."""
    out, i = [], 0
    while i < len(pieces):
        j, joined = i, pieces[i]
        while joined not in labels and j + 1 < len(pieces):
            j += 1
            joined = f"{joined}, {pieces[j]}"
        if joined in labels:
            out.append(joined)
            i = j + 1
        else:  # no label: leave the piece as it was, for the error that lists the labels
            out.append(pieces[i])
            i += 1
    return out


def plan(spec: SweepSpec, seeds: list[int] | None = None) -> list[PlannedRun]:
    """Resolve every run before any starts: a typo fails here, in a second, naming the run."""
    from ..experiment import resolve

    import_all(spec.imports)
    planned: dict[str, PlannedRun] = {}
    for label, row, cfg in expand(spec, seeds):
        try:
            resolved = resolve(cfg)
        except UnknownNameError:
            raise  # already names the bad value and lists the choices
        except NeuroplasticError as exc:
            raise ConfigError(f"sweep {spec.name!r}, run [{label}]: {exc}") from None
        # two grid points that resolve to the same config are the same run
        planned.setdefault(resolved.name, PlannedRun(resolved.name, resolved.config, label, row))
    return list(planned.values())


def import_all(modules: list[str]) -> None:
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"sweep imports: cannot import {module!r}: {exc}") from None


# --------------------------------------------------------------------------------------------
# one run, in a worker
# --------------------------------------------------------------------------------------------


def flagged_error(rec: dict[str, Any]) -> str:
    """The failure message of a record whose run finished with warnings (see engine)."""
    return "run flagged: " + "; ".join(str(w) for w in rec["warnings"])


def execute(
    config: dict[str, Any],
    out: str,
    imports: list[str] | None = None,
    tensorboard: str | None = None,
    return_record: bool = False,
    threads: int = 1,
) -> dict[str, Any]:
    """Run one resolved config in this process; never raises for a failing run. ``threads``:
    torch threads when the config names none (the pool passes cores // workers).

    Returns ``{'name', 'status': 'done'|'failed', 'seconds', 'error', 'record'?}``. A failure is
    written as ``<name>.failed.json`` (error message and traceback) next to where the record
    would be; a success removes a stale failure file.
    """
    import torch

    from ..experiment import resolve, run_resolved

    start = time.perf_counter()
    name = record_mod.run_name(config)
    out_dir = Path(out)
    logger = None
    try:
        import_all(imports or [])
        resolved = resolve(config)
        if config.get("threads") is None:
            # cores // workers torch threads per run unless the config says otherwise: workers
            # x threads = cores, without oversubscription (the config and its hash unchanged)
            torch.set_num_threads(threads)
        kwargs: dict[str, Any] = {}
        if tensorboard:
            from ..tb_logger import TensorBoardLogger

            logger = TensorBoardLogger(tensorboard, name)
            kwargs["on_task_end"] = logger.on_task_end
            kwargs["on_step"] = logger.on_step
        rec = run_resolved(resolved, out=out_dir, resume=True, progress=False, **kwargs)
        failed = out_dir / f"{name}{FAILED_SUFFIX}"
        if rec.get("warnings"):
            # the run finished but learned nothing or diverged: its record is kept (nothing
            # lost), and the failure file says why it does not count as done
            error = flagged_error(rec)
            failure = {"name": name, "status": "failed", "error": error, "config": config,
                       "record": f"{name}.json", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            record_mod.write_json_atomic(failed, failure)
            result: dict[str, Any] = {"name": name, "status": "failed", "error": error}
            if return_record:
                result["failure"] = failure
        else:
            if failed.exists():
                failed.unlink()
            result = {"name": name, "status": "done", "error": None}
        if return_record:
            result["record"] = rec
    except Exception as exc:  # a failing run must not stop the sweep: record it and go on
        failure = {
            "name": name,
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "config": config,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        record_mod.write_json_atomic(out_dir / f"{name}{FAILED_SUFFIX}", failure)
        result = {"name": name, "status": "failed", "error": failure["error"]}
        if return_record:
            result["failure"] = failure
    finally:
        if logger is not None:
            logger.close()
    result["seconds"] = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------
# backends
# --------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    name: str
    out: Path
    planned: list[PlannedRun]
    skipped: list[str] = field(default_factory=list)  # records that already existed
    done: list[str] = field(default_factory=list)  # runs executed by this invocation
    failed: dict[str, str] = field(default_factory=dict)  # name -> error
    wall_seconds: float = 0.0
    backend: str = "local"
    workers: int = 1

    def summary(self) -> str:
        lines = [
            f"sweep {self.name!r}: {len(self.planned)} runs, {len(self.done)} run now, "
            f"{len(self.skipped)} already done, {len(self.failed)} failed "
            f"({self.backend}, {self.workers} worker(s), {self.wall_seconds:.1f} s); "
            f"records in {self.out}/"
        ]
        if self.failed:
            lines.append("failures (details in <name>.failed.json; rerun the sweep to retry):")
            # One paragraph per distinct error, so a missing data root that fails every run
            # is printed once with the names under it, not once per run.
            by_error: dict[str, list[str]] = {}
            for name, error in self.failed.items():
                by_error.setdefault(error, []).append(name)
            for error, names in by_error.items():
                lines += [f"  {name}:" for name in names[:-1]]
                lines.append(f"  {names[-1]}: {error}")
        return "\n".join(lines)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _progress(total: int, done_before: int, enabled: bool):
    from tqdm.auto import tqdm

    desc = "runs" if not done_before else f"runs ({done_before} already done)"
    return tqdm(total=total, desc=desc, unit="run", disable=not enabled, dynamic_ncols=True)


def run_sweep(
    spec: SweepSpec | str | Path,
    out: str | Path = "runs",
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    tensorboard: str | Path | None = None,
    seeds: list[int] | None = None,
    progress: bool | None = None,
) -> SweepResult:
    """Plan every run, skip those with a record, run the rest, and return what happened."""
    import sys

    if backend not in BACKENDS:
        raise UnknownNameError("sweep backend", backend, list(BACKENDS))
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    out = Path(out).resolve()
    runs = plan(spec, seeds)
    check_dir(out, "sweep --out")
    result = SweepResult(spec.name, out, runs, backend=backend)
    todo = []
    for r in runs:
        # a damaged record is moved aside (<name>.json.damaged) and its run done again
        rec = record_mod.read_valid(r.record_path(out), move_damaged=True)
        if rec is None:
            todo.append(r)
        elif rec.get("warnings"):
            # finished, but flagged (learned nothing, loss NaN): rerunning the same config
            # would give the same, so it is not retried, but it never counts as done
            result.failed[r.name] = flagged_error(rec)
        else:
            result.skipped.append(r.name)
    if progress is None:
        progress = sys.stderr.isatty()
    tb = str(Path(tensorboard).resolve()) if tensorboard else None
    start = time.perf_counter()
    bar = _progress(len(todo), len(result.skipped), progress and bool(todo))

    def finished(outcome: dict[str, Any]) -> None:
        if outcome["status"] == "done":
            result.done.append(outcome["name"])
        else:
            result.failed[outcome["name"]] = outcome["error"]
            bar.set_postfix(failed=len(result.failed), refresh=False)
        bar.update(1)

    try:
        if todo and backend == "local":
            result.workers = min(workers or default_workers(), len(todo))
            _run_local(todo, out, spec.imports, tb, result.workers, finished)
        elif todo:
            result.workers = _run_ray(todo, out, spec.imports, tb, workers, address, finished)
    finally:
        bar.close()
    result.wall_seconds = time.perf_counter() - start
    return result


def _library_modules() -> list[str]:
    """Every module of the library (found without importing them). The fork server imports
    them all once, so every run forks with its registries filled and with one version of the
    code: a module imported lazily by a later run would otherwise be read from disk as it is
    *then*, and mix with the version the server loaded when the sweep started (an edit to the
    source during a long sweep made every later run fail with an ImportError)."""
    import importlib.util
    import pkgutil

    spec = importlib.util.find_spec("neuroplastic")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = pkgutil.walk_packages(spec.submodule_search_locations, prefix="neuroplastic.",
                                  onerror=lambda name: None)
    return [m.name for m in found]


def _pool_context():
    import multiprocessing as mp

    # never fork a process that may hold torch threads or a Ray client: spawn a clean one
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # the fork server imports torch and the library once; every worker forks from it with them
    # loaded, instead of paying seconds of imports per worker (no effect once the server runs;
    # a module that fails to import is skipped)
    ctx.set_forkserver_preload(PRELOAD + _library_modules())
    return ctx


def _pool(workers: int):
    """A pool whose every run gets a fresh worker process (forked from the preloaded fork
    server): a run's peak memory (ru_maxrss) is then its own, not the maximum over the runs
    that an old worker executed before it, and no state leaks from one run into the next.
    Python 3.10 lacks ``max_tasks_per_child``: there workers are reused."""
    import sys
    from concurrent.futures import ProcessPoolExecutor

    kwargs = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
    return ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), **kwargs)


def _run_local(todo, out, imports, tb, workers, finished) -> None:
    """A process pool with at most ``workers`` runs in flight. A worker that dies (killed, out
    of memory) breaks the pool: its runs are recorded as failed and a fresh pool continues."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = list(todo)
    threads = max(1, default_workers() // workers)
    while queue:
        broken = False
        with _pool(workers) as pool:
            in_flight = {}
            while (queue or in_flight) and not broken:
                while queue and len(in_flight) < workers:
                    run = queue.pop(0)
                    future = pool.submit(execute, run.config, str(out), imports, tb, False, threads)
                    in_flight[future] = run
                completed, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in completed:
                    run = in_flight.pop(future)
                    try:
                        finished(future.result())
                    except BrokenProcessPool:
                        broken = True
                        finished(_worker_died(run, out))
            if broken:  # every run still in flight died with the pool
                for run in in_flight.values():
                    finished(_worker_died(run, out))


def _worker_died(run: PlannedRun, out: Path) -> dict[str, Any]:
    error = "worker process died (killed, out of memory or crashed) while this run was in flight"
    record_mod.write_json_atomic(
        run.failed_path(out),
        {"name": run.name, "status": "failed", "error": error, "config": run.config},
    )
    return {"name": run.name, "status": "failed", "error": error}


def _run_ray(todo, out, imports, tb, workers, address, finished) -> int:
    """One Ray task per run (1 CPU each). Workers run in a private temporary folder and return
    the record, which the driver writes: a cluster needs no shared filesystem."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the ray backend needs Ray: pip install 'neuroplastic[ray]'"
        ) from None

    started_here = start_ray(address, workers)
    try:
        # max_calls=1: a fresh worker process per run, so that its peak memory is its own
        remote = ray.remote(num_cpus=1, max_retries=0, max_calls=1)(_ray_execute)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        limit = workers or cpus
        queue = list(todo)
        in_flight: dict[Any, PlannedRun] = {}
        while queue or in_flight:
            while queue and len(in_flight) < limit:
                run = queue.pop(0)
                in_flight[remote.remote(run.config, imports, tb)] = run
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                run = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # the worker itself died
                    outcome = _worker_died(run, out)
                    outcome["error"] += f" ({type(exc).__name__})"
                _store(outcome, out)
                finished(outcome)
        return limit
    finally:
        if started_here:
            ray.shutdown()


def _ray_execute(config, imports, tb) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="neuroplastic-") as tmp:
        return execute(config, tmp, imports, tb, return_record=True)


def _store(outcome: dict[str, Any], out: Path) -> None:
    """Write what a Ray worker returned (atomically), as the local backend's worker would."""
    name = outcome["name"]
    if "record" in outcome:  # a flagged run (status failed) keeps its record too
        record_mod.write_json_atomic(out / f"{name}.json", outcome.pop("record"))
    if outcome["status"] == "done":
        failed = out / f"{name}{FAILED_SUFFIX}"
        if failed.exists():
            failed.unlink()
    elif "failure" in outcome:
        record_mod.write_json_atomic(out / f"{name}{FAILED_SUFFIX}", outcome.pop("failure"))


def records_of(runs: list[PlannedRun], out: str | Path) -> list[dict[str, Any]]:
    """The finished records of planned runs (those that exist), each with ``row``: the protocol
    row it belongs to (when the protocol has rows)."""
    out = Path(out)
    found = []
    for run in runs:
        rec = record_mod.read_valid(run.record_path(out))  # a damaged one is named, skipped
        if rec is not None:
            found.append(rec if run.row is None else {**rec, "row": run.row})
    return found


def start_ray(address: str | None, workers: int | None) -> bool:
    """Connect to the cluster at ``address``, or start a local Ray instance, unless Ray is
    already initialised; True when this call started it (so the caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=workers or default_workers(), include_dashboard=False,
                 log_to_driver=False)
    return True
