"""``neuroplastic artsy``: the Artsy / EASE / SimpleCIL / linear-probe comparison tables.

A suite is a committed YAML file (``configs/artsy/*.yaml``) with ``title``, a ``base``
experiment config, ``seeds`` and ``runs`` (label -> config changes merged into the base). Each
(label, seed) is an ordinary ``neuroplastic`` run whose JSON record is written to
``<out>/<suite>/<label>/seed<k>.json``; existing records are reused, so an interrupted suite
continues and ``--report`` rebuilds ``table.md`` from the records alone.

    neuroplastic artsy src/neuroplastic/configs/artsy/split_cifar10.yaml [--seeds 0] [--only artsy]
"""

from __future__ import annotations

import math
import re
import statistics
import time
from pathlib import Path
from typing import Any

from . import record as record_mod

CONFIG_DIR = Path(__file__).parent / "configs" / "artsy"
SUITE_KEYS = ("title", "base", "base_label", "seeds", "runs", "variants")


def load_suite(path: str | Path) -> dict[str, Any]:
    from .config import read_yaml
    from .errors import ConfigError, UnknownNameError

    p = Path(path)
    if not p.exists() and (CONFIG_DIR / f"{path}.yaml").exists():
        p = CONFIG_DIR / f"{path}.yaml"
    suite = read_yaml(p)
    for key in suite:
        if key not in SUITE_KEYS:
            raise UnknownNameError("suite key", key, list(SUITE_KEYS))
    kind = "variants" if "variants" in suite else "runs"
    if not isinstance(suite.get(kind), dict) or not suite[kind]:
        raise ConfigError(f"suite {p} needs a non-empty '{kind}' mapping (label -> changes)")
    suite.setdefault("title", p.stem)
    suite.setdefault("seeds", [0])
    suite["name"] = p.stem
    return suite


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", label).strip("_")


def _config(suite: dict[str, Any], label: str, seed: int) -> dict[str, Any]:
    from . import config as config_mod

    base = config_mod.normalise(suite.get("base") or {})
    change = suite["runs"][label] or {}
    # a changed block replaces the base's block when it names another component
    merged = config_mod.merge(base, config_mod.normalise(change))
    return config_mod.merge(merged, {"seed": seed})


def run_suite(suite, out: Path, seeds, only, log=print) -> None:
    from . import config as config_mod
    from .experiment import resolve, run_resolved

    labels = [label for label in suite["runs"] if not only or label in only]
    jobs = []
    for label in labels:  # resolve everything first: a typo fails before any training
        for seed in seeds:
            cfg = config_mod.load(None, None, base=_config(suite, label, seed))
            jobs.append((label, seed, resolve(cfg)))
    for label, seed, resolved in jobs:
        path = out / suite["name"] / _slug(label) / f"seed{seed}.json"
        if record_mod.read_valid(path, move_damaged=True) is not None:
            log(f"{label} seed {seed}: exists, skipped")
            continue
        start = time.perf_counter()
        record = run_resolved(resolved, out=path.parent / f"tmp-seed{seed}", progress=False)
        record_mod.write_json_atomic(path, record)
        m = record["metrics"]
        log(
            f"{label} seed {seed}: last {m['average_accuracy']:.4f} "
            f"AIA {m['average_incremental_accuracy']:.4f} ({time.perf_counter() - start:.0f} s)"
        )


def _mean_sd(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    values = [v * scale for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _nanmean(values) -> float | None:
    vals = [v for v in values or [] if v is not None and not math.isnan(v)]
    return statistics.fmean(vals) if vals else None


def table(suite, out: Path) -> str:
    rows = [
        f"### {suite['title']}",
        "",
        "| run | seeds | last acc. % | avg. incr. acc. % | synapse precision % | "
        "synapse recall % | synapses fired / sample | train s | eval s | peak RSS MB | "
        "method state KB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label in suite["runs"]:
        records = [
            rec
            for p in sorted((out / suite["name"] / _slug(label)).glob("seed*.json"))
            if (rec := record_mod.read_valid(p)) is not None
        ]
        if not records:
            continue
        metric = [r["metrics"] for r in records]
        extra = [r.get("method_extra") or {} for r in records]
        rows.append(
            "| "
            + " | ".join(
                [
                    label,
                    str(len(records)),
                    _mean_sd([m["average_accuracy"] for m in metric], 100),
                    _mean_sd([m["average_incremental_accuracy"] for m in metric], 100),
                    _mean_sd([_nanmean(e.get("synapse_precision")) for e in extra], 100),
                    _mean_sd([_nanmean(e.get("synapse_recall")) for e in extra], 100),
                    _mean_sd([e.get("mean_fired") for e in extra], 1, 2),
                    _mean_sd([m["train_seconds"] for m in metric], 1, 0),
                    _mean_sd([m["eval_seconds"] for m in metric], 1, 0),
                    _mean_sd([m["peak_rss_bytes"] for m in metric], 1e-6, 0),
                    _mean_sd([m["state_bytes"] for m in metric], 1e-3, 0),
                ]
            )
            + " |"
        )
    per_task = ["", "Per-synapse precision / recall (%, effective gates, mean over seeds):", ""]
    for label in suite["runs"]:
        records = [
            rec
            for p in sorted((out / suite["name"] / _slug(label)).glob("seed*.json"))
            if (rec := record_mod.read_valid(p)) is not None
        ]
        extra = [r.get("method_extra") or {} for r in records]
        if not extra or not extra[0].get("synapse_precision") or extra[0].get("gate") != "synapse":
            continue
        n = len(extra[0]["synapse_precision"])
        cells = []
        for k in range(n):
            prec = _mean_sd([e["synapse_precision"][k] for e in extra], 100, 0)
            rec = _mean_sd([e["synapse_recall"][k] for e in extra], 100, 0)
            cells.append(f"t{k}: {prec} / {rec}")
        per_task.append(f"- {label}: " + "; ".join(cells))
    return "\n".join(rows + (per_task if len(per_task) > 3 else [])) + "\n"


class _Variant:
    """An Artsy inference variant riding on a base run: its own options, synapses and replay
    buffer, the base run's sub-networks and prototypes (shared, never copied)."""

    def __init__(self, label: str, params, seeds):
        import torch

        self.label, self.params, self.seeds = label, params, seeds
        self.synapses = torch.nn.ModuleList()
        self.replay_f0 = None
        self.replay_task = None
        self.history: list = []
        self.notes: list = []
        self.rows: list[list[float]] = []
        self.seconds = 0.0
        self.extra: dict = {}

    def bind(self, base):
        """A shallow copy of the base method carrying this variant's own state."""
        import copy

        import torch

        m = copy.copy(base)
        m.p = m.params = self.params
        m.synapses = self.synapses
        if self.replay_f0 is None:
            self.replay_f0 = torch.zeros(0, base.dim)
            self.replay_task = torch.zeros(0, dtype=torch.long)
        m.replay_f0, m.replay_task = self.replay_f0, self.replay_task
        m.history, m.synapse_note = self.history, self.notes
        return m

    def keep(self, m) -> None:
        self.synapses, self.replay_f0, self.replay_task = m.synapses, m.replay_f0, m.replay_task


def ablate(suite, out: Path, seeds, log=print) -> None:
    """One Artsy training run per seed (the base config); at every task end each variant trains
    its own synapses (the same sequential protocol, with its own replay buffer) and is evaluated
    on every task with the base run's sub-networks and prototypes.

    Variants change only synapse/inference options, so they share the trained sub-networks:
    a paired comparison (e.g. gated vs always connected on the same adapters) at the cost of
    one training per seed. The global random state is saved and restored around the variants,
    so the base run trains exactly as it would alone. Each variant gets a full accuracy matrix.
    """
    for seed in seeds:
        _ablate_seed(suite, out, seed, log)


def _ablate_seed(suite, out: Path, seed: int, log) -> None:
    import torch

    from . import config as config_mod
    from . import metrics
    from . import params as params_mod
    from .engine import evaluate, run_stream
    from .experiment import build_method, build_stream, resolve, seed_everything
    from .methods.artsy import ArtsyParams

    path = out / suite["name"] / f"seed{seed}.json"
    if record_mod.read_valid(path, move_damaged=True, fields=ABLATION_FIELDS) is not None:
        log(f"seed {seed}: exists, skipped")
        return
    cfg = config_mod.merge(config_mod.normalise(suite["base"]), {"seed": seed})
    resolved = resolve(config_mod.load(None, None, base=cfg))
    if resolved.config["threads"]:
        torch.set_num_threads(resolved.config["threads"])
    base_values = dict(resolved.config["method"])
    base_values.pop("name")
    variants = []
    for label, changes in suite["variants"].items():
        changes = dict(changes or {})
        only = changes.pop("seeds", None)
        if only is not None and seed not in only:
            continue
        p = params_mod.build(ArtsyParams, {**base_values, **changes}, f"variant {label}")
        variants.append(_Variant(label, p, only))
    seed_everything(seed)
    stream = build_stream(resolved)
    method = build_method(resolved, stream)

    def at_task_end(t, state):
        start = time.perf_counter()
        rng = torch.get_rng_state()
        torch.manual_seed(10_000 * seed + t)
        with torch.no_grad():
            task = stream.tasks[t]
            f0 = base._f0(task.x_train)
            for v in variants:
                begin = time.perf_counter()
                m = v.bind(base)
                if v.params.gate == "synapse":
                    m._train_synapses(task, f0, task.y_train)
                m._probe_synapses(t)
                v.rows.append(evaluate(m, stream, resolved.train.eval_batch_size))
                v.keep(m)
                v.extra = m.record_extra()
                v.seconds += time.perf_counter() - begin
        torch.set_rng_state(rng)
        log(f"seed {seed} task {t}: variants {time.perf_counter() - start:.0f} s")

    base = method
    start = time.perf_counter()
    method, state = run_stream(
        method, stream, resolved.train, seed, progress=False, on_task_end=at_task_end
    )
    rows = {}
    for v in variants:
        summary = metrics.summary(v.rows)
        rows[v.label] = {
            "accuracy_matrix": v.rows,
            "last_accuracy": summary["average_accuracy"],
            "average_incremental_accuracy": summary["average_incremental_accuracy"],
            "synapse_precision": v.extra.get("synapse_precision"),
            "synapse_recall": v.extra.get("synapse_recall"),
            "mean_fired": v.extra.get("mean_fired"),
            "synapse_history": v.extra.get("synapse_history"),
            "seconds": v.seconds,
        }
        log(f"seed {seed} {v.label}: last {summary['average_accuracy']:.4f}")
    base_summary = metrics.summary(state.accuracy_matrix)
    record = {
        "config": resolved.config,
        "base": {
            "accuracy_matrix": state.accuracy_matrix,
            "last_accuracy": base_summary["average_accuracy"],
            "average_incremental_accuracy": base_summary["average_incremental_accuracy"],
            "train_seconds": state.train_seconds,
            "eval_seconds": state.eval_seconds,
            "state_bytes": method.state_bytes(),
            "peak_rss_bytes": metrics.peak_rss_bytes(),
            "method_extra": method.record_extra(),
        },
        "wall_seconds": time.perf_counter() - start,
        "variants": rows,
    }
    record_mod.write_json_atomic(path, record)


#: the fields of an ablation record (the base run and its variants on one seed)
ABLATION_FIELDS = {"config": dict, "base": dict, "variants": dict}


def _ablation_records(folder: Path) -> list[dict]:
    """The ablation records in ``folder``, validated (a damaged one is named and left out)."""
    found = (
        record_mod.read_valid(p, fields=ABLATION_FIELDS, what="ablation record")
        for p in sorted(folder.glob("seed*.json"))
    )
    return [rec for rec in found if rec is not None]


def ablation_table(suite, out: Path) -> str:
    records = _ablation_records(out / suite["name"])
    rows = [
        f"### {suite['title']}",
        "",
        "Every row of a seed uses the same trained sub-networks and prototypes; only the synapse "
        "stage and inference change. Base run (sub-network training, shared): train "
        + _mean_sd([r["base"]["train_seconds"] for r in records], 1, 0)
        + " s, peak RSS "
        + _mean_sd([r["base"]["peak_rss_bytes"] for r in records], 1e-6, 0)
        + " MB, method state "
        + _mean_sd([r["base"]["state_bytes"] for r in records], 1e-3, 0)
        + " KB.",
        "",
        "| variant | changes | seeds | last acc. % | avg. incr. acc. % | synapse precision % | "
        "synapse recall % | fired / sample | variant s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    if records:
        bases = [r["base"] for r in records]
        prec = [_nanmean(b["method_extra"].get("synapse_precision")) for b in bases]
        rec = [_nanmean(b["method_extra"].get("synapse_recall")) for b in bases]
        rows.append(
            f"| {suite.get('base_label', 'base run')} | (base config) | {len(bases)} | "
            + " | ".join(
                [
                    _mean_sd([b["last_accuracy"] for b in bases], 100),
                    _mean_sd([b["average_incremental_accuracy"] for b in bases], 100),
                    _mean_sd(prec, 100),
                    _mean_sd(rec, 100),
                    _mean_sd([b["method_extra"].get("mean_fired") for b in bases], 1, 2),
                    "(eval " + _mean_sd([b["eval_seconds"] for b in bases], 1, 0) + ")",
                ]
            )
            + " |"
        )
    for label, variant in suite["variants"].items():
        vals = [r["variants"][label] for r in records if label in r["variants"]]
        if not vals:
            continue
        shown = {k: v for k, v in (variant or {}).items() if k != "seeds"}
        changes = ", ".join(f"{k}={v}" for k, v in shown.items()) or "(base options)"
        rows.append(
            f"| {label} | {changes} | {len(vals)} | "
            + " | ".join(
                [
                    _mean_sd([v["last_accuracy"] for v in vals], 100),
                    _mean_sd([v["average_incremental_accuracy"] for v in vals], 100),
                    _mean_sd([_nanmean(v["synapse_precision"]) for v in vals], 100),
                    _mean_sd([_nanmean(v["synapse_recall"]) for v in vals], 100),
                    _mean_sd([v["mean_fired"] for v in vals], 1, 2),
                    _mean_sd([v["seconds"] for v in vals], 1, 0),
                ]
            )
            + " |"
        )
    per = ["", "Per-synapse precision / recall after the last task (%, mean over seeds):", ""]
    for label in suite["variants"]:
        vals = [r["variants"][label] for r in records if label in r["variants"]]
        if not vals or not vals[0].get("synapse_precision"):
            continue
        if (suite["variants"][label] or {}).get("gate", "synapse") != "synapse":
            continue
        cells = [
            f"t{k}: "
            + _mean_sd([v["synapse_precision"][k] for v in vals], 100, 0)
            + " / "
            + _mean_sd([v["synapse_recall"][k] for v in vals], 100, 0)
            for k in range(len(vals[0]["synapse_precision"]))
        ]
        per.append(f"- {label}: " + "; ".join(cells))
    return "\n".join(rows + (per if len(per) > 3 else [])) + "\n"


def cmd_artsy(args) -> int:
    suite = load_suite(args.suite)
    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(suite["seeds"])
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    if "variants" in suite:
        if not args.report:
            ablate(suite, out, seeds)
        text = ablation_table(suite, out)
    else:
        if not args.report:
            run_suite(suite, out, seeds, only)
        text = table(suite, out)
    (out / suite["name"]).mkdir(parents=True, exist_ok=True)
    (out / suite["name"] / "table.md").write_text(text)
    print(text)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "artsy", help="run an Artsy comparison suite (configs/artsy/*.yaml) and write its table"
    )
    p.add_argument("suite", help="suite YAML (or a name in configs/artsy: split_cifar10, ...)")
    p.add_argument("--seeds", help="seeds to run, e.g. 0,1,2 (default: the suite's)")
    p.add_argument("--only", help="labels to run, separated by commas")
    p.add_argument("--out", "-o", default="runs/artsy", help="output folder (default runs/artsy)")
    p.add_argument("--report", action="store_true", help="only rebuild table.md from records")
    p.set_defaults(func=cmd_artsy)


# --- `neuroplastic reproduce artsy-<suite>` ----------------------------------------------------


def reproducible() -> dict[str, Any]:
    """``artsy-<suite>`` for every committed suite (see ``cli_reproduce``)."""
    import functools

    from .cli_reproduce import Protocol, targets_next_to

    found = {}
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        suite = load_suite(path)
        kind = ("Artsy vs EASE-style on shared sub-networks" if "variants" in suite
                else "SimpleCIL / linear probes")
        found[f"artsy-{path.stem.replace('_', '-')}"] = Protocol(
            area="artsy",
            description=f"{kind}: {suite['title']}",
            run=functools.partial(_reproduce, path),
            out="runs/artsy",
            targets=targets_next_to(path),
            note="papers.md section 1: Artsy's Table 1 is NOT FOUND; its only numbers are EASE's "
            "CIFAR-100 B0 Inc5 ViT-B/16 logs (avg 91.51 / last 85.80 IN21K, 90.62 / 84.21 IN1K), "
            "another benchmark and backbone than this protocol, so nothing is compared",
        )
    return found


def suite_records(suite, out: Path, seeds) -> list[dict[str, Any]]:
    """The suite's records as run records tagged with their table ``row``; a variants suite's
    base run and every variant become one record each (the variant's method options merged
    into the config, metrics ``average_accuracy`` = last accuracy, ``average_incremental_
    accuracy``)."""
    import copy

    found = []
    if "variants" not in suite:
        for label in suite["runs"]:
            for p in sorted((out / suite["name"] / _slug(label)).glob("seed*.json")):
                rec = record_mod.read_valid(p)
                if rec is not None and rec.get("seed") in seeds:
                    found.append({**rec, "row": label})
        return found
    for rec in _ablation_records(out / suite["name"]):
        seed = rec["config"].get("seed")
        if seed not in seeds:
            continue
        runs = [(suite.get("base_label", "base run"), {}, rec["base"])]
        runs += [(label, suite["variants"][label] or {}, v)
                 for label, v in rec["variants"].items() if label in suite["variants"]]
        for label, changes, values in runs:
            config = copy.deepcopy(rec["config"])
            config["method"].update({k: v for k, v in changes.items() if k != "seeds"})
            metrics = {"average_accuracy": values["last_accuracy"],
                       "average_incremental_accuracy": values["average_incremental_accuracy"]}
            found.append({"config": config, "seed": seed, "metrics": metrics, "row": label,
                          "accuracy_matrix": values["accuracy_matrix"]})
    return found


def _reproduce(path: Path, out: Path, seeds: list[int] | None = None,
               workers: int | None = None, quiet: bool = False):
    from .cli_reproduce import Outcome, suite_command_args

    suite = load_suite(path)
    cmd_artsy(suite_command_args(path, out, seeds))
    return Outcome(records=suite_records(suite, Path(out), seeds or suite["seeds"]))
