"""``neuroplastic bnn``: the binarized-network comparison tables (Laborieux 2021; engram BNN).

A suite is a committed YAML file (``configs/bnn/*.yaml``): ``title``, a ``base`` experiment
config, ``seeds`` and ``runs`` (label -> config changes merged into the base). Every
(label, seed) is an ordinary run whose JSON record lands in ``<out>/<suite>/<label>/``; records
that exist are not run again, so an interrupted suite continues where it stopped and
``--report`` rebuilds the outputs from the records alone. Outputs in ``<out>/<suite>/``:
``table.md`` (mean ± sd over seeds), ``matrices.md`` (mean accuracy matrices) and
``per_task.png`` (accuracy on every task over the stream, one panel per label).

    neuroplastic bnn table src/neuroplastic/configs/bnn/pmnist.yaml [--seeds 0,1] [--only mbnn]
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

from . import record as record_mod

CONFIG_DIR = Path(__file__).parent / "configs" / "bnn"
SUITE_KEYS = ("title", "base", "seeds", "runs")


def load_suite(path: str | Path) -> dict[str, Any]:
    from .config import read_yaml
    from .errors import ConfigError, UnknownNameError

    p = Path(path)
    if not p.exists() and (CONFIG_DIR / f"{path}.yaml").exists():
        p = CONFIG_DIR / f"{path}.yaml"  # a bare suite name: pmnist, split_mnist_class, ...
    suite = read_yaml(p)
    for key in suite:
        if key not in SUITE_KEYS:
            raise UnknownNameError("suite key", key, list(SUITE_KEYS))
    if not isinstance(suite.get("runs"), dict) or not suite["runs"]:
        raise ConfigError(f"suite {p} needs a non-empty 'runs' mapping (label -> config changes)")
    suite.setdefault("title", p.stem)
    suite.setdefault("seeds", [0])
    suite["name"] = p.stem
    return suite


def run_config(suite: dict[str, Any], label: str, seed: int) -> dict[str, Any]:
    from . import config as config_mod

    base = config_mod.normalise(suite.get("base") or {})
    change = config_mod.normalise(suite["runs"][label] or {})
    return config_mod.merge(config_mod.merge(base, change), {"seed": seed})


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", label).strip("_")


def run_suite(suite, out: Path, seeds, only, log=print) -> None:
    from . import config as config_mod
    from .experiment import resolve, run_resolved

    labels = only or list(suite["runs"])
    jobs = []
    # resolve everything first (a typo fails before the first run trains); seed-major order so
    # an interrupted suite has every label at the first seeds
    for seed in seeds:
        for label in labels:
            cfg = run_config(suite, label, seed)
            jobs.append((label, seed, resolve(config_mod.load(None, None, base=cfg))))
    for i, (label, seed, resolved) in enumerate(jobs, 1):
        start = time.perf_counter()
        rec = run_resolved(resolved, out=out / slug(label), progress=False, skip_existing=True)
        log(
            f"[{i}/{len(jobs)}] {label} seed {seed}: average accuracy "
            f"{rec['metrics']['average_accuracy']:.3f} ({time.perf_counter() - start:.0f} s)"
        )


def _records(out: Path, suite, labels) -> dict[str, list[dict[str, Any]]]:
    recs: dict[str, list[dict[str, Any]]] = {}
    for label in labels:
        folder = out / slug(label)
        # validated: a damaged record is named on the console and left out
        found = [rec for rec in record_mod.records_in(folder) if rec["seed"] in suite["seeds"]]
        if found:
            recs[label] = found
    return recs


def _mean_sd(values: list[float | None], scale: float = 100.0) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = statistics.fmean(values) * scale
    sd = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {sd:.1f}"


def _identity(rec) -> float | None:
    return (rec.get("method_extra") or {}).get("task_identity", {}).get("average_accuracy")


def table(suite, recs: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        f"### {suite['title']}",
        "",
        "| run | model | seeds | avg acc (%) | forgetting (%) | with task id (%) | model bytes "
        "| train s/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, rs in recs.items():
        m = [r["metrics"] for r in rs]
        model = rs[0]["config"]["model"]
        width = "x".join(str(h) for h in model.get("hidden", []))
        lines.append(
            f"| {label} | {model['name']} {width} | {len(rs)} "
            f"| {_mean_sd([x['average_accuracy'] for x in m])} "
            f"| {_mean_sd([x.get('forgetting') for x in m])} "
            f"| {_mean_sd([_identity(r) for r in rs])} "
            f"| {int(statistics.fmean(x['model_bytes'] for x in m)):,} "
            f"| {statistics.fmean(x['train_seconds'] for x in m):.0f} |"
        )
    lines += [
        "",
        "avg acc: mean accuracy over all tasks after the last one, task-free (no task id at "
        "test). 'with task id': per-task BatchNorm (mbnn) or each task's own engram (engram-bnn) "
        "chosen with the task id, recorded separately; it is not a task-free result.",
    ]
    return "\n".join(lines) + "\n"


def mean_matrix(rs) -> list[list[float]]:
    import numpy as np

    return np.mean([np.asarray(r["accuracy_matrix"]) for r in rs], axis=0).tolist()


def matrices(suite, recs) -> str:
    out = [f"### {suite['title']}: accuracy matrices (mean over seeds, %)", ""]
    for label, rs in recs.items():
        R = mean_matrix(rs)
        T = len(R)
        out += [f"**{label}** (row i: after training task i; column j: test on task j)", ""]
        out += ["| after \\ on | " + " | ".join(f"T{j + 1}" for j in range(T)) + " |"]
        out += ["|---" * (T + 1) + "|"]
        for i, row in enumerate(R):
            out += [f"| T{i + 1} | " + " | ".join(f"{100 * a:.1f}" for a in row) + " |"]
        out += [""]
    return "\n".join(out)


def plot(suite, recs, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(recs)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, (label, rs) in zip(axes.flat, recs.items(), strict=False):
        R = mean_matrix(rs)
        T = len(R)
        for j in range(T):
            xs = list(range(j + 1, T + 1))
            ax.plot(xs, [100 * R[i - 1][j] for i in xs], marker="o", ms=3, label=f"task {j + 1}")
        ax.set_title(label, fontsize=9)
        ax.set_ylim(-2, 102)
        ax.set_xticks(range(1, T + 1))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.supxlabel("tasks trained")
    fig.supylabel("test accuracy (%)")
    fig.suptitle(suite["title"], fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_table(args) -> int:
    from .errors import ConfigError, UnknownNameError

    suite = load_suite(args.suite)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(suite["seeds"])
    suite["seeds"] = seeds
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    for label in only or []:
        if label not in suite["runs"]:
            raise UnknownNameError("suite run label", label, list(suite["runs"]))
    out = Path(args.out) / suite["name"]
    start = time.perf_counter()
    if not args.report:
        run_suite(suite, out, seeds, only)
    recs = _records(out, suite, only or list(suite["runs"]))
    if not recs:
        raise ConfigError(f"no run records under {out}; run without --report first")
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table(suite, recs))
    (out / "matrices.md").write_text(matrices(suite, recs))
    plot(suite, recs, out / "per_task.png")
    print(table(suite, recs))
    print(f"wrote {out / 'table.md'}, {out / 'matrices.md'}, {out / 'per_task.png'} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("bnn", help="binarized-network comparison tables (mBNN, engram BNN)")
    sub = p.add_subparsers(dest="bnn_command", required=True)
    t = sub.add_parser("table", help="run a suite (configs/bnn/*.yaml) and write its tables")
    t.add_argument("suite", help="suite YAML path, or a name in configs/bnn (e.g. pmnist)")
    t.add_argument("--seeds", help="seeds separated by commas (default: the suite's)")
    t.add_argument("--only", help="run labels separated by commas (default: all)")
    t.add_argument("--out", default="runs/bnn", help="folder for records and tables")
    t.add_argument("--report", action="store_true", help="only rebuild tables from records")
    t.set_defaults(func=cmd_table)


# --- `neuroplastic reproduce bnn-<suite>` ------------------------------------------------------


def reproducible() -> dict[str, Any]:
    """``bnn-<suite>`` for every committed suite (see ``cli_reproduce``)."""
    import functools

    from .cli_reproduce import Protocol, targets_next_to

    found = {}
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        suite = load_suite(path)
        found[f"bnn-{path.stem.replace('_', '-')}"] = Protocol(
            area="bnn",
            description=f"BNN / mBNN / engram BNN suite: {suite['title']}",
            run=functools.partial(_reproduce, path),
            out="runs/bnn",
            targets=targets_next_to(path),
            note="papers.md Appendix A and section 4: no table numbers of Laborieux 2021 or "
            "Aguilar 2025 are recorded; the one number (engram BNN above 20 % in class-IL) is a "
            "target of bnn-split-mnist-class",
        )
    return found


def _reproduce(path: Path, out: Path, seeds: list[int] | None = None,
               workers: int | None = None, quiet: bool = False):
    from .cli_reproduce import Outcome, suite_command_args

    suite = load_suite(path)
    cmd_table(suite_command_args(path, out, seeds))
    suite["seeds"] = seeds or suite["seeds"]
    recs = _records(Path(out) / suite["name"], suite, list(suite["runs"]))
    return Outcome(records=[{**r, "row": label} for label, rs in recs.items() for r in rs])
