"""Reproduce the DGM tables: A_t after each task, growth plots and generated sample grids.

    NEUROPLASTIC_DATA=/path/to/data python benchmarks/dgm_tables.py mnist10 \
        [--methods dgmw dgr ...] [--seeds 0 1 2] [--out runs/dgm] [--figures docs/figures/dgm]
    python benchmarks/dgm_tables.py mnist10 --table-only     # rebuild from existing records

Experiments (configs in src/neuroplastic/configs/dgm/<experiment>_<method>.yaml): ``mnist10``
(10 tasks of one class, the paper's), ``mnist5`` (5 tasks of two classes), ``cifar10`` (5 tasks
of two classes). A_t is the accuracy over all classes seen after task t; every task of one
experiment has the same number of classes, so the class-weighted mean of the engine's per-task
accuracies is their plain mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "src" / "neuroplastic" / "configs" / "dgm"
EXPERIMENTS = ("mnist10", "mnist5", "cifar10")
METHODS = ("dgmw", "dgma", "dgr", "replay", "finetune", "joint")
GAN_METHODS = ("dgmw", "dgma", "dgr")


def a_t(record: dict) -> list[float]:
    """A_t for t = 1..T: mean accuracy over the tasks seen (equal classes per task)."""
    rows = record["accuracy_matrix"]
    return [sum(row[: t + 1]) / (t + 1) for t, row in enumerate(rows)]


def run_one(experiment: str, method: str, seed: int, out: Path, figures: Path) -> dict:
    from neuroplastic import experiment as exp

    overrides = [f"seed={seed}"]
    if method in GAN_METHODS:
        overrides.append(f"method.sample_dir={figures / f'samples_{experiment}_{method}_s{seed}'}")
    start = time.perf_counter()
    rec = exp.run(CONFIGS / f"{experiment}_{method}.yaml", overrides, out=out / experiment,
                  skip_existing=True)  # fmt: skip
    print(f"{experiment} {method} seed {seed}: A_T = {a_t(rec)[-1]:.4f} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    return rec


def load(out: Path, experiment: str, partial: bool = False) -> dict[str, list[dict]]:
    """Finished run records; with ``partial`` also the tasks done so far by unfinished runs,
    read from the engine's per-task checkpoints (marked ``partial``)."""
    found: dict[str, list[dict]] = {}
    done = set()
    for path in sorted((out / experiment).glob("*.json")):
        rec = json.loads(path.read_text())
        done.add(rec["name"])
        found.setdefault(rec["config"]["method"]["name"], []).append(rec)
    if partial:
        import torch

        for path in sorted((out / experiment / "checkpoints").glob("*.pt")):
            if path.stem in done:
                continue
            ckpt = torch.load(path, weights_only=False, map_location="cpu")
            method, state = ckpt["method"], ckpt["state"]
            rec = {
                "name": path.stem,
                "partial": True,
                "seed": _seed_of(path.stem),
                "accuracy_matrix": state.accuracy_matrix,
                "metrics": {"train_seconds": state.train_seconds},
                "method_extra": method.record_extra(),
            }
            name = _method_name(method)
            found.setdefault(name + " (partial)", []).append(rec)
    return found


def _seed_of(run_name: str) -> int:
    for part in run_name.split("-"):
        if part.startswith("s") and part[1:].isdigit():
            return int(part[1:])
    return 0


def _method_name(method) -> str:
    from neuroplastic.registry import METHODS

    for name in METHODS.names():
        if type(method) is METHODS.get(name).obj:
            return name
    return type(method).__name__.lower()


def _fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def table(records: dict[str, list[dict]]) -> str:
    """Markdown: A_t per method (mean ± sd over seeds), the official selection's A_T for the
    GAN methods, training time per task and the final generator size."""
    n_tasks = max(len(r["accuracy_matrix"]) for rs in records.values() for r in rs)
    head = ["method", "seeds"] + [f"A{t + 1}" for t in range(n_tasks)]
    head += ["A_T official sel.", "s / task", "G weights"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = [m for m in METHODS if m in records] + sorted(set(records) - set(METHODS))
    for method in order:
        rs = records[method]
        curves = [a_t(r) for r in rs]
        cells = [method, ",".join(str(r["seed"]) for r in rs)]
        cells += [_fmt([c[t] for c in curves]) if all(len(c) > t for c in curves) else "" for t in
                  range(n_tasks)]  # fmt: skip
        sel = [r["method_extra"].get("official_selection") for r in rs]
        cells.append(_fmt([s["per_task"][-1]["average"] for s in sel]) if all(sel) else "-")
        per_task = [r["metrics"]["train_seconds"] / len(r["accuracy_matrix"]) for r in rs]
        cells.append(f"{statistics.mean(per_task):.0f}")
        growth = [r["method_extra"].get("growth") for r in rs]
        cells.append(str(growth[0][-1]["generator_weights"]) if all(growth) else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth_plot(records: dict[str, list[dict]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in records if m.split(" ")[0] in ("dgmw", "dgma")]
    if not methods:
        return
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 3.5), squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        growth = records[method][0]["method_extra"]["growth"]
        tasks = [g["task"] + 1 for g in growth]
        for layer in range(3):
            channels = [g["channels"][layer] for g in growth]
            ax.plot(tasks, channels, marker="o", label=f"conv{layer + 1}")
        ax2 = ax.twinx()
        ax2.plot(tasks, [g["free_fraction"] for g in growth], "k--", label="free fraction")
        ax2.set_ylim(0, 1)
        unit = "weights" if method.startswith("dgmw") else "channels"
        ax2.set_ylabel(f"free fraction of {unit}")
        ax.set_xlabel("after task")
        ax.set_ylabel("output channels")
        ax.set_title(f"{title}: {method} (seed {records[method][0]['seed']})")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("experiment", choices=EXPERIMENTS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "dgm")
    ap.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures" / "dgm")
    ap.add_argument("--table-only", action="store_true", help="only rebuild tables and plots")
    ap.add_argument("--partial", action="store_true",
                    help="also report unfinished runs from their per-task checkpoints")
    args = ap.parse_args(argv)
    if not args.table_only:
        for method in args.methods:
            for seed in args.seeds:
                run_one(args.experiment, method, seed, args.out, args.figures)
    records = load(args.out, args.experiment, args.partial)
    if not records:
        print("no records found", file=sys.stderr)
        return 1
    md = table(records)
    print(md)
    args.figures.mkdir(parents=True, exist_ok=True)
    (args.figures / f"table_{args.experiment}.md").write_text(md + "\n")
    growth_plot(records, args.figures / f"growth_{args.experiment}.png", args.experiment)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
