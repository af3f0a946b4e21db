"""Ostapenko et al. (2019), Dynamic Generative Memory: the report columns and the growth plot of
the protocols in ``protocols/dgm/``.

A_t is the paper's metric (papers.md section 3): the accuracy over all classes seen after task
t. Every task of these protocols has the same number of classes, so it is the plain mean of the
engine's per-task accuracies. The GAN methods also have the official code's selection, the test
accuracy at the epoch of best validation accuracy, measured by the ``best-validation``
evaluator (``evaluations.best-validation``, one entry per task).

The claim the epochs protocol checks: DGM's masks and growth protect the generator where deep
generative replay (DGR, Shin et al. 2017; the paper's baseline, here the same GAN without masks
or growth) forgets, so DGMw and DGMa end above DGR. The paper's own MNIST numbers are not known
(papers.md section 3), so the check is a comparison of rows, made separately at every epochs
budget and named with it: below the official 101 epochs it is evidence at that budget only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import Claim, Rows, compare_rows

#: methods whose generator grows (the growth plot draws these)
GROWING = ("dgmw", "dgma")
#: epochs per task of the official code (``niter`` 101 on MNIST, papers.md section 3)
OFFICIAL_EPOCHS = 101


def _a_t(matrix: list[list[float]]) -> list[float]:
    return [sum(row[: t + 1]) / (t + 1) for t, row in enumerate(matrix)]


def a_t(record: dict[str, Any]) -> dict[str, float]:
    """``A1 % .. AT %``: the engine's accuracy over the classes seen, after each task's last
    epoch."""
    return {f"A{t + 1} %": 100 * a for t, a in enumerate(_a_t(record["accuracy_matrix"]))}


def _selections(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``best-validation`` evaluator's entries, one per task (none where not measured)."""
    return (record.get("evaluations") or {}).get("best-validation") or []


def selected_a_t(record: dict[str, Any]) -> dict[str, float]:
    """``sel. A1 % ..``: the official selection (test accuracy at the best-validation epoch),
    for the runs that measured it."""
    entries = _selections(record)
    return {f"sel. A{t + 1} %": 100 * e["average"] for t, e in enumerate(entries)}


def selected_final(record: dict[str, Any]) -> dict[str, float]:
    """``sel. A_T %``: the official selection after the last task only (a narrow table, e.g.
    ``dgm-mnist10-epochs``, where one line per epochs budget already makes many lines)."""
    entries = _selections(record)
    return {"sel. A_T %": 100 * entries[-1]["average"]} if entries else {}


def seconds_per_task(record: dict[str, Any]) -> dict[str, float]:
    return {"s / task": record["metrics"]["train_seconds"] / max(1, len(record["accuracy_matrix"]))}


def generator_size(record: dict[str, Any]) -> dict[str, float]:
    """The generator after the last task: its weights and the output channels of each layer."""
    growth = (record.get("method_extra") or {}).get("growth")
    if not growth:
        return {}
    last = growth[-1]
    out = {"G weights": float(last["generator_weights"])}
    out.update({f"G conv{i + 1} ch.": float(c) for i, c in enumerate(last["channels"])})
    return out


def _by_epochs(rows: Rows) -> dict[int, Rows]:
    """The records of every row split by the epochs per task (``train.epochs``)."""
    out: dict[int, Rows] = {}
    for name, records in rows.items():
        for rec in records:
            out.setdefault(rec["config"]["train"]["epochs"], {}).setdefault(name, []).append(rec)
    return dict(sorted(out.items()))


def masks_beat_generative_replay(rows: Rows) -> list[Claim]:
    """At every epochs budget where DGR has records: DGMw and DGMa end with a higher A_T (the
    mean accuracy over all classes after the last task) than DGR, Welch's test over seeds,
    p < 0.05."""
    claims = []
    for epochs, budget in _by_epochs(rows).items():
        if "dgr" not in budget:
            continue
        scale = ("the official budget" if epochs == OFFICIAL_EPOCHS
                 else f"official: {OFFICIAL_EPOCHS}")
        for mine in GROWING:
            claims.append(compare_rows(
                budget, mine, "dgr", "average_accuracy",
                f"{epochs} epochs per task ({scale}): {mine} ends with a higher A_T than DGR "
                f"(Welch p < 0.05)"))
    return claims


def growth_plot(rows: Rows, path: Path, title: str) -> bool:
    """Channels per generator layer and the free fraction after every task, for the growing
    methods: the mean over every seed with a growth record, the band its range (min to max),
    so one seed's path is never shown as the method's; False when there is nothing to plot."""
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: the process's backend is left alone

    def growth(rec):
        return (rec.get("method_extra") or {}).get("growth")

    names = [n for n, recs in rows.items() if any(growth(r) for r in recs)
             and recs[0]["config"]["method"]["name"] in GROWING]
    if not names:
        return False
    fig = Figure(figsize=(5 * len(names), 3.5))
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        runs = sorted((r for r in rows[name] if growth(r)), key=lambda r: r["seed"])
        growths = [growth(r) for r in runs]
        steps = min(len(g) for g in growths)
        tasks = [g["task"] + 1 for g in growths[0][:steps]]
        for layer in range(len(growths[0][0]["channels"])):
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
        unit = "weights" if runs[0]["config"]["method"]["name"] == "dgmw" else "channels"
        ax2.set_ylabel(f"free fraction of {unit} (dashed)")
        ax.set_xlabel("after task")
        ax.set_xticks(tasks)
        ax.set_ylabel("output channels")
        seeds = ", ".join(str(r["seed"]) for r in runs)
        spread = "mean, band = range over seeds" if len(runs) > 1 else "one seed"
        ax.set_title(f"{title}: {name}\n(seeds {seeds}; {spread})", fontsize=9)
        handles, labels = ax.get_legend_handles_labels()
        extra_handles, extra_labels = ax2.get_legend_handles_labels()
        ax.legend(handles + extra_handles, labels + extra_labels, loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return True


def epochs_plot(rows: Rows, path: Path, title: str) -> bool:
    """A_T after the last task against the epochs per task (``train.epochs``), one line per
    row: the mean over seeds with the band from lowest to highest (dotted: the official
    best-validation selection, GAN methods). The curve the epochs sweep is for: where the final
    accuracy stops rising. False when no row has records at two or more budgets."""
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: the process's backend is left alone

    budgets = _by_epochs(rows)
    curves = {name: [(e, budget[name]) for e, budget in budgets.items() if name in budget]
              for name in rows}
    curves = {name: points for name, points in curves.items() if points}
    if not any(len(c) > 1 for c in curves.values()):
        return False
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for name, points in curves.items():
        epochs = [e for e, _ in points]
        final = [np.array([100 * _a_t(r["accuracy_matrix"])[-1] for r in recs])
                 for _, recs in points]
        # seeds per point, e.g. "3/1 seeds" while the larger budgets are still running
        seeds = "/".join(str(len(v)) for v in final) if len({len(v) for v in final}) > 1 \
            else str(len(final[0]))
        line = ax.plot(epochs, [v.mean() for v in final], marker="o",
                       label=f"{name} ({seeds} seeds)")[0]
        ax.fill_between(epochs, [v.min() for v in final], [v.max() for v in final],
                        color=line.get_color(), alpha=0.15)
        selected = [[selected_final(r).get("sel. A_T %") for r in recs] for _, recs in points]
        if all(v and None not in v for v in selected):
            ax.plot(epochs, [float(np.mean(v)) for v in selected], ":", marker=".",
                    color=line.get_color())
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.axvline(OFFICIAL_EPOCHS, color="gray", linestyle="--", linewidth=1)
    ticks = sorted({e for c in curves.values() for e, _ in c} | {OFFICIAL_EPOCHS})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlim(min(ticks) / 1.3, OFFICIAL_EPOCHS * 1.3)
    ax.set_xlabel(f"epochs per task (dashed: the official {OFFICIAL_EPOCHS})")
    ax.set_ylabel("A_T after the last task %")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(f"{title}\n(mean over seeds, band = range; dotted: official selection)",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return True
