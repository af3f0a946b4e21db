"""``neuroplastic dgm``: the Dynamic Generative Memory tables (Ostapenko et al. 2019).

The protocols are committed run configs, one per method:
``configs/dgm/<protocol>_<method>.yaml`` for the protocols ``mnist10`` (10 tasks of one class,
the paper's), ``mnist5`` and ``cifar10`` (5 tasks of two classes) and the methods dgmw, dgma,
dgr, replay, finetune and joint. ``run`` executes them for the seeds asked, through the sweep
machinery: runs go in parallel on a process pool, each is named by the hash of its resolved
config, a finished record is reused, an interrupted GAN run resumes from its per-task
checkpoint and a failing run is written as ``<name>.failed.json`` while the others go on.
Records land in ``<out>/<protocol>/``; GAN runs also write a grid of generated samples after
every task to ``<figures>/samples_<protocol>_<method>_s<seed>/``.

    neuroplastic dgm run mnist10 [--methods dgmw,dgr] [--seeds 0,1,2] [--workers 2]
    neuroplastic dgm table mnist10 [--partial] [--markdown]
    neuroplastic dgm figures mnist10      # growth plot + table file; lists the sample grids

A_t is the accuracy over all classes seen after task t. Every task of a protocol has the same
number of classes, so it is the plain mean of the engine's per-task accuracies. The GAN methods
also report the official code's selection: the test accuracy at the epoch of best validation
accuracy (``method_extra.official_selection``).
"""

from __future__ import annotations

import copy
import functools
import statistics
import sys
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).parent / "configs" / "dgm"
PROTOCOLS = {
    "mnist10": "MNIST, 10 tasks of one class (the paper's protocol)",
    "mnist5": "MNIST, 5 tasks of two classes",
    "cifar10": "CIFAR-10, 5 tasks of two classes",
}
METHODS = ("dgmw", "dgma", "dgr", "replay", "finetune", "joint")
GAN_METHODS = ("dgmw", "dgma", "dgr")
GROWING = ("dgmw", "dgma")
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_OUT = Path("runs") / "dgm"
DEFAULT_FIGURES = Path("docs") / "figures" / "dgm"


# --------------------------------------------------------------------------------------------
# the committed runs
# --------------------------------------------------------------------------------------------


def check_protocol(protocol: str) -> str:
    from .errors import UnknownNameError

    if protocol not in PROTOCOLS:
        raise UnknownNameError("dgm protocol", protocol, list(PROTOCOLS))
    return protocol


def check_methods(methods: list[str] | tuple[str, ...] | None) -> list[str]:
    from .errors import ConfigError, UnknownNameError

    methods = list(methods) if methods else list(METHODS)
    for method in methods:
        if method not in METHODS:
            raise UnknownNameError("dgm method", method, list(METHODS))
    if len(set(methods)) != len(methods):
        raise ConfigError(f"--methods names a method twice: {','.join(methods)}")
    return methods


def config_path(protocol: str, method: str) -> Path:
    return CONFIG_DIR / f"{check_protocol(protocol)}_{method}.yaml"


def sample_dir(figures: str | Path, protocol: str, method: str, seed: int) -> str:
    return str(Path(figures) / f"samples_{protocol}_{method}_s{seed}")


def run_config(
    protocol: str,
    method: str,
    seed: int,
    figures: str | Path | None = DEFAULT_FIGURES,
    overrides: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The merged config of one run: the committed file, the seed, the GAN methods' sample
    folder (none when ``figures`` is None), then ``key=value`` overrides. The same config as
    ``neuroplastic run <file> seed=<seed> method.sample_dir=<folder> <overrides>``."""
    from . import config as config_mod

    cfg = config_mod.load(config_path(protocol, method), [f"seed={seed}"])
    if method in GAN_METHODS and figures is not None:  # a path, not parsed as YAML
        folder = sample_dir(figures, protocol, method, seed)
        cfg = config_mod.merge(cfg, {"method": {"sample_dir": folder}})
    return config_mod.load(None, list(overrides), base=cfg)


def sweep_spec(
    protocol: str,
    methods: list[str] | None = None,
    seeds: list[int] | tuple[int, ...] = DEFAULT_SEEDS,
    figures: str | Path | None = DEFAULT_FIGURES,
    overrides: list[str] | tuple[str, ...] = (),
):
    """The protocol as a sweep: a grid over method and seed, where each point's override sets
    the whole committed config of that (method, seed) (the configs differ in more than the
    method block: model, optimizer)."""
    from .sweep import SweepSpec

    check_protocol(protocol)
    methods = check_methods(methods)
    items = []
    for method in methods:
        for seed in seeds:
            cfg = run_config(protocol, method, seed, figures, overrides)
            items.append({"when": {"method": method, "seed": seed}, "set": cfg})
    return SweepSpec(
        name=f"dgm-{protocol}",
        description=PROTOCOLS[protocol],
        grid={"method": methods, "seed": list(seeds)},
        overrides=items,
    )


def plan_runs(protocol: str, methods=None, seeds=DEFAULT_SEEDS, figures=DEFAULT_FIGURES,
              overrides=()) -> list:  # fmt: skip
    """Every run resolved (validated) before any starts; ``sweep.PlannedRun`` items."""
    from .sweep import plan

    return plan(sweep_spec(protocol, methods, seeds, figures, overrides))


def run_protocol(
    protocol: str,
    methods: list[str] | None = None,
    seeds: list[int] | tuple[int, ...] = DEFAULT_SEEDS,
    workers: int | None = None,
    out: str | Path = DEFAULT_OUT,
    figures: str | Path | None = DEFAULT_FIGURES,
    overrides: list[str] | tuple[str, ...] = (),
    progress: bool | None = None,
):
    """Run what is missing on a process pool; returns the sweep result and the finished
    records of the planned runs (reused or new)."""
    from .sweep import records_of, run_sweep

    spec = sweep_spec(protocol, methods, seeds, figures, overrides)
    folder = Path(out) / protocol
    result = run_sweep(spec, out=folder, workers=workers, progress=progress)
    return result, records_of(result.planned, folder)


def reproducible() -> dict[str, Any]:
    """``dgm-<protocol>`` for ``neuroplastic reproduce`` (see ``cli_reproduce``): every method of
    the protocol for the given seeds (default 0, 1, 2), records under ``<out>/<protocol>/``
    (default ``runs/dgm``, shared with ``neuroplastic dgm run``); prints the A_t table."""
    from .cli_reproduce import Protocol

    return {
        f"dgm-{protocol}": Protocol(
            area="dgm",
            description=f"DGM (Ostapenko et al. 2019), {description}: {', '.join(METHODS)}",
            run=functools.partial(_reproduce, protocol),
            out=str(DEFAULT_OUT),
            note="papers.md section 3 records A_t numbers only for ImageNet-50, which is not run "
            "here; the MNIST and CIFAR-10 tables are CPU-sized (docs/dgm.md)",
        )
        for protocol, description in PROTOCOLS.items()
    }


def _reproduce(protocol: str, out: Path, seeds: list[int] | None = None,
               workers: int | None = None, quiet: bool = False):
    from .cli_reproduce import Outcome

    seeds = list(seeds) if seeds else list(DEFAULT_SEEDS)
    result, records = run_protocol(protocol, seeds=seeds, workers=workers, out=Path(out),
                                   progress=not quiet)
    print(result.summary(), file=sys.stderr)
    print(report(protocol, *collect(protocol, seeds=seeds, out=Path(out))))
    return Outcome(records=records)


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


def _identity(config: dict[str, Any]) -> str:
    """A run's config hash without its sample folder, which does not change its results."""
    from .record import config_hash

    cfg = copy.deepcopy(config)
    cfg["method"].pop("sample_dir", None)
    return config_hash(cfg)


def _read_folder(folder: Path) -> list[dict[str, Any]]:
    """The run records directly in ``folder`` (not failures, not other JSON)."""
    from .record import records_in

    return records_in(folder)  # a damaged record is named on the console and left out


def _from_checkpoint(path: Path, seed: int | None = None) -> dict[str, Any]:
    """A partial record of an unfinished run: the tasks done so far, from its checkpoint (read
    as plain data, never unpickled)."""
    from .engine import checkpoint_progress

    progress = checkpoint_progress(path)
    return {
        "name": path.stem,
        "partial": True,
        "seed": _seed_of(path.stem) if seed is None else seed,
        "accuracy_matrix": progress["accuracy_matrix"],
        "metrics": {"train_seconds": progress["train_seconds"]},
        "method_extra": progress["method_extra"],
        "method_name": _method_name(progress["method_class"]),
    }


def _seed_of(run_name: str) -> int:
    for part in reversed(run_name.split("-")):
        if part.startswith("s") and part[1:].isdigit():
            return int(part[1:])
    return 0


def _method_name(class_path: str) -> str:
    """The registered name of the method class a checkpoint names (``module.Class``)."""
    from .registry import METHODS as REGISTRY

    for name in REGISTRY.names():
        cls = REGISTRY.get(name).obj
        if f"{cls.__module__}.{cls.__qualname__}" == class_path:
            return name
    return class_path.rsplit(".", 1)[-1].lower()


def collect(
    protocol: str,
    methods: list[str] | None = None,
    seeds: list[int] | tuple[int, ...] = DEFAULT_SEEDS,
    out: str | Path = DEFAULT_OUT,
    figures: str | Path | None = DEFAULT_FIGURES,
    overrides: list[str] | tuple[str, ...] = (),
    partial: bool = False,
    every: bool = False,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Records by row name (method, or ``method (partial)``) and failures (run name -> error).

    By default only the committed runs (method x seed, with ``overrides``) are taken; a record
    matches whatever its sample folder. ``partial`` adds unfinished runs read from their
    per-task checkpoints; ``every`` takes every record in the folder instead."""
    from .record import read_valid

    folder = Path(out) / check_protocol(protocol)
    records = _read_folder(folder)
    found: dict[str, list[dict[str, Any]]] = {}
    failures: dict[str, str] = {}
    if every:
        done = {r["name"] for r in records}
        for rec in records:
            found.setdefault(rec["config"]["method"]["name"], []).append(rec)
        if partial:
            for path in sorted((folder / "checkpoints").glob("*.pt")):
                if path.stem not in done:
                    rec = _from_checkpoint(path)
                    found.setdefault(f"{rec['method_name']} (partial)", []).append(rec)
        return found, failures
    by_name = {r["name"]: r for r in records}
    by_identity: dict[str, dict[str, Any]] = {}
    for rec in records:
        by_identity.setdefault(_identity(rec["config"]), rec)
    for run in plan_runs(protocol, methods, seeds, figures, overrides):
        method, seed = run.config["method"]["name"], run.config["seed"]
        rec = by_name.get(run.name) or by_identity.get(_identity(run.config))
        if rec is not None:
            found.setdefault(method, []).append(rec)
            continue
        if run.failed_path(folder).exists():
            failure = read_valid(run.failed_path(folder), fields={}, what="failure file")
            failures[run.name] = str((failure or {}).get("error", "?"))
        checkpoint = folder / "checkpoints" / f"{run.name}.pt"
        if partial and checkpoint.exists():
            found.setdefault(f"{method} (partial)", []).append(_from_checkpoint(checkpoint, seed))
    return found, failures


# --------------------------------------------------------------------------------------------
# tables and figures
# --------------------------------------------------------------------------------------------


def a_t(record: dict[str, Any]) -> list[float]:
    """A_t for t = 1..T: mean accuracy over the tasks seen (equal classes per task)."""
    return [sum(row[: t + 1]) / (t + 1) for t, row in enumerate(record["accuracy_matrix"])]


def selection_a_t(record: dict[str, Any]) -> list[float] | None:
    """A_t of the official selection (test accuracy at the best-validation epoch), if any."""
    sel = (record.get("method_extra") or {}).get("official_selection")
    return [s["average"] for s in sel["per_task"]] if sel else None


def _mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.fmean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def _order(names) -> list[str]:
    def key(name: str):
        base = name.split(" ")[0]
        return (METHODS.index(base) if base in METHODS else len(METHODS), base, name)

    return sorted(names, key=key)


def table_rows(records: dict[str, list[dict[str, Any]]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: per method the plain A_t (engine, after each task's last epoch) and,
    for the GAN methods, the official selection's A_t; mean ± sd over seeds (a cell is empty
    unless every seed reached that task); training seconds per task; generator size."""
    n_tasks = max((len(r["accuracy_matrix"]) for rs in records.values() for r in rs), default=0)
    head = ["method", "seeds"] + [f"A{t + 1}" for t in range(n_tasks)]
    head += ["s / task", "G weights", "G channels"]
    rows = []
    for name in _order(records):
        rs = sorted(records[name], key=lambda r: r["seed"])
        seeds = ",".join(str(r["seed"]) for r in rs)
        per_task = [r["metrics"]["train_seconds"] / max(1, len(r["accuracy_matrix"])) for r in rs]
        growth = [(r.get("method_extra") or {}).get("growth") for r in rs]
        if all(growth):
            weights = f"{statistics.fmean(g[-1]['generator_weights'] for g in growth):,.0f}"
            channels = "/".join(
                f"{statistics.fmean(g[-1]['channels'][i] for g in growth):.0f}"
                for i in range(len(growth[0][-1]["channels"]))
            )
        else:
            weights = channels = "-"
        curves = {"plain": [a_t(r) for r in rs]}
        selected = [selection_a_t(r) for r in rs]
        if all(s is not None for s in selected):
            curves["sel."] = selected
        for kind, cs in curves.items():
            label = name if len(curves) == 1 else _with_kind(name, kind)
            cells = [
                _mean_sd([c[t] for c in cs]) if all(len(c) > t for c in cs) else ""
                for t in range(n_tasks)
            ]
            first = kind == "plain"
            rows.append([label, seeds, *cells, f"{statistics.fmean(per_task):.0f}" if first
                         else "", weights if first else "", channels if first else ""])  # fmt: skip
    return head, rows


def _with_kind(name: str, kind: str) -> str:
    base, _, rest = name.partition(" ")
    return f"{base} {kind}" + (f" {rest}" if rest else "")


def format_table(head: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def report(
    protocol: str,
    records: dict[str, list[dict[str, Any]]],
    failures: dict[str, str] | None = None,
    markdown: bool = False,
) -> str:
    """The A_t table of a protocol, with its title and notes."""
    head, rows = table_rows(records)
    title = f"DGM {protocol}: {PROTOCOLS[protocol]}. A_t (%) = accuracy over all classes seen "
    title += "after task t, mean ± sd over seeds"
    notes = [
        "plain: the engine's accuracy after each task's last epoch; sel.: the official code's "
        "selection, test accuracy at the epoch of best validation accuracy",
        "s / task: training wall seconds per task; G weights / G channels: generator size after "
        "the last task (mean over seeds)",
    ]
    if any(name.endswith("(partial)") for name in records):
        notes.append("(partial): unfinished runs, the tasks done so far read from checkpoints")
    text = [("### " if markdown else "") + title, ""]
    text.append(format_table(head, rows, markdown) if rows else "no records found")
    text += ["", *notes]
    if failures:
        text += ["", "failed runs (details in <name>.failed.json; `run` retries them):"]
        text += [f"  {name}: {error}" for name, error in failures.items()]
    return "\n".join(text)


def growth_plot(records: dict[str, list[dict[str, Any]]], path: Path, title: str) -> bool:
    """Channels per generator layer and the free fraction after every task, for the growing
    methods: the mean over every seed with a growth record, the band its range (min to max),
    so one seed's path is never shown as the method's; False when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = [n for n in _order(records) if n.split(" ")[0] in GROWING]
    names = [n for n in names if (records[n][0].get("method_extra") or {}).get("growth")]
    if not names:
        return False
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        runs = sorted(
            (r for r in records[name] if (r.get("method_extra") or {}).get("growth")),
            key=lambda r: r["seed"],
        )
        growths = [r["method_extra"]["growth"] for r in runs]
        steps = min(len(g) for g in growths)  # a partial run counts for the tasks it finished
        tasks = [g["task"] + 1 for g in growths[0][:steps]]
        layers = len(growths[0][0]["channels"])
        for layer in range(layers):
            values = np.array([[g[t]["channels"][layer] for t in range(steps)] for g in growths])
            line = ax.plot(tasks, values.mean(0), marker="o", label=f"conv{layer + 1}")[0]
            if len(growths) > 1:
                ax.fill_between(tasks, values.min(0), values.max(0), color=line.get_color(),
                                alpha=0.2)
        free = np.array([[g[t].get("free_fraction", 1.0) for t in range(steps)]
                         for g in growths])
        ax2 = ax.twinx()
        ax2.plot(tasks, free.mean(0), "k--", label="free fraction")
        if len(growths) > 1:
            ax2.fill_between(tasks, free.min(0), free.max(0), color="k", alpha=0.08)
        ax2.set_ylim(0, 1)
        unit = "weights" if name.startswith("dgmw") else "channels"
        ax2.set_ylabel(f"free fraction of {unit} (dashed)")
        ax.set_xlabel("after task")
        ax.set_xticks(tasks)
        ax.set_ylabel("output channels")
        seeds = ", ".join(str(r["seed"]) for r in runs)
        spread = "mean, band = range over seeds" if len(runs) > 1 else "one seed"
        ax.set_title(f"{title}: {name}\n(seeds {seeds}; {spread})", fontsize=9)
        handles = ax.get_legend_handles_labels()
        extra = ax2.get_legend_handles_labels()
        ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def sample_grids(records: dict[str, list[dict[str, Any]]]) -> list[tuple[str, int, Path]]:
    """(method, seed, folder) of the sample grids the finished GAN runs wrote."""
    found = []
    for name in _order(records):
        for rec in sorted(records[name], key=lambda r: r["seed"]):
            folder = ((rec.get("config") or {}).get("method") or {}).get("sample_dir")
            if folder:
                found.append((name, rec["seed"], Path(folder)))
    return found


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------


def _seeds(text: str) -> list[int]:
    from .errors import ConfigError

    try:
        seeds = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"--seeds must be integers separated by commas, got {text!r}") from None
    if not seeds:
        raise ConfigError("--seeds names no seed")
    return seeds


def _methods(text: str | None) -> list[str]:
    return check_methods([m.strip() for m in text.split(",") if m.strip()] if text else None)


def _figures(args) -> Path | None:
    return None if args.no_samples else Path(args.figures)


def _collect(args, partial: bool):
    return collect(
        check_protocol(args.protocol), _methods(args.methods), _seeds(args.seeds), args.out,
        _figures(args), args.set, partial=partial, every=getattr(args, "all", False),
    )  # fmt: skip


def cmd_run(args) -> int:
    protocol = check_protocol(args.protocol)
    result, _ = run_protocol(
        protocol, _methods(args.methods), _seeds(args.seeds), args.workers, args.out,
        _figures(args), args.set, progress=False if args.quiet else None,
    )  # fmt: skip
    print(result.summary(), file=sys.stderr)
    records, failures = _collect(args, partial=False)
    print(report(protocol, records, failures, args.markdown))
    return 1 if result.failed else 0


def cmd_table(args) -> int:
    records, failures = _collect(args, partial=args.partial)
    print(report(args.protocol, records, failures, args.markdown))
    return 0 if records else 1


def cmd_figures(args) -> int:
    records, failures = _collect(args, partial=args.partial)
    if not records:
        print(f"no records for {args.protocol} under {Path(args.out) / args.protocol}",
              file=sys.stderr)  # fmt: skip
        return 1
    target = Path(args.figures)
    target.mkdir(parents=True, exist_ok=True)
    table_file = target / f"table_{args.protocol}.md"
    table_file.write_text(report(args.protocol, records, failures, markdown=True) + "\n")
    print(f"table:       {table_file}")
    plot = target / f"growth_{args.protocol}.png"
    if growth_plot(records, plot, args.protocol):
        print(f"growth plot: {plot}")
    else:
        print("growth plot: no dgmw/dgma record with a growth history")
    grids = sample_grids(records)
    if not grids:
        print("sample grids: none (no finished GAN run with a sample folder)")
    for name, seed, folder in grids:
        pngs = sorted(folder.glob("samples_task*.png")) if folder.exists() else []
        state = f"{len(pngs)} grids, last {pngs[-1].name}" if pngs else "missing"
        print(f"samples:     {name} seed {seed}: {folder}/ ({state})")
    return 0


def _add_common(p, what: str) -> None:
    p.add_argument("protocol", metavar="PROTOCOL", help=f"{' | '.join(PROTOCOLS)}")
    p.add_argument("--methods", help=f"comma-separated, of {','.join(METHODS)} (default: all)")
    p.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)),
                   help="comma-separated (default 0,1,2)")  # fmt: skip
    p.add_argument(
        "--out",
        "-o",
        default=str(DEFAULT_OUT),
        help=f"record folder; {what} <out>/<protocol>/ (default {DEFAULT_OUT})",
    )
    p.add_argument(
        "--figures",
        default=str(DEFAULT_FIGURES),
        help=f"folder of sample grids, growth plot, table (default {DEFAULT_FIGURES})",
    )
    p.add_argument(
        "--no-samples",
        action="store_true",
        help="GAN runs write no sample grids (a different config, so other runs)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override applied to every run, repeatable (e.g. "
        "train.epochs=1); pass the same ones to `table` to find those runs",
    )


def register(subparsers) -> None:
    import argparse

    p = subparsers.add_parser(
        "dgm",
        help="Dynamic Generative Memory (DGMw, DGMa) against DGR/replay/finetune/joint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="dgm_command", required=True)
    r = sub.add_parser("run", help="run the committed configs of a protocol, then tabulate")
    _add_common(r, "records in")
    r.add_argument("--workers", "-j", type=int, default=None,
                   help="runs in parallel (default: one per core)")  # fmt: skip
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    r.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    r.set_defaults(func=cmd_run)
    t = sub.add_parser("table", help="the A_t table from the records (mean ± sd over seeds)")
    _add_common(t, "records read from")
    t.add_argument("--partial", action="store_true",
                   help="also unfinished runs, from their per-task checkpoints")  # fmt: skip
    t.add_argument(
        "--all",
        action="store_true",
        help="every record in the folder, whatever its config and seed",
    )
    t.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    t.set_defaults(func=cmd_table)
    f = sub.add_parser(
        "figures", help="write the growth plot and table to --figures; list sample grids"
    )
    _add_common(f, "records read from")
    f.add_argument("--partial", action="store_true", help="as for table")
    f.add_argument("--all", action="store_true", help="as for table")
    f.set_defaults(func=cmd_figures)
