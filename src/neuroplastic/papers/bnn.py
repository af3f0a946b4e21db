"""Laborieux et al. (2021), "Synaptic metaplasticity in binarized neural networks" (Nature
Communications 12:2549): the claims the official-scale protocols check.

Fig. 2 of the paper: on permuted MNIST, a BNN without metaplasticity (m = 0) forgets earlier
tasks as it learns new ones, while with m = 1.35 it keeps them; accuracy on the first task after
the last grows with m. The rows are those of ``protocols/bnn/mbnn-pmnist-official.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from . import Claim, Rows, compare_rows, mean


def _first_task_final(record) -> float:
    """Accuracy on the first task after the last one (task-free, the current BatchNorm)."""
    return float(record["accuracy_matrix"][-1][0])


def metaplasticity_reduces_forgetting(rows: Rows) -> list[Claim]:
    claims = [
        compare_rows(rows, "m=1.35", "m=0 (BNN)", "average_accuracy",
                     "m = 1.35 ends with a higher mean accuracy over all tasks than m = 0 "
                     "(task-free test; Welch p < 0.05 over seeds)"),
        compare_rows(rows, "m=1.35", "m=0 (BNN)", "forgetting",
                     "m = 1.35 forgets less than m = 0 (max-so-far minus final, Welch p < 0.05)",
                     higher=False),
    ]
    ordered = [(label, [_first_task_final(r) for r in rows[label] if r.get("accuracy_matrix")])
               for label in ("m=0 (BNN)", "m=0.5", "m=1.0", "m=1.35") if rows.get(label)]
    text = "accuracy on the first task after the last one rises with m (means, in m order)"
    if len(ordered) < 2:
        claims.append(Claim(text, "fewer than two values of m have run", None))
    else:
        means = [mean(v) for _, v in ordered]
        measured = ", ".join(f"{label} {100 * m:.1f}" for (label, _), m in zip(ordered, means,
                                                                                strict=True))
        rising = all(b > a for a, b in zip(means, means[1:], strict=False))
        enough = all(len(v) >= 2 for _, v in ordered)  # a verdict needs seeds to compare
        claims.append(Claim(text, measured + ("" if enough else " (fewer than 2 seeds: no "
                                              "verdict yet)"), rising if enough else None))
    return claims


def meta_plot(rows: Rows, path: Path, title: str) -> bool:
    """Fig. 2 of the paper from the records: left, the mean accuracy and the first task's final
    accuracy against m (each seed a dot, the line through the means; the task-identity test,
    each task with its own saved BatchNorm, dashed where recorded); right, every task's accuracy
    after the last task, one line per m (mean over seeds). False when no row has a record."""
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: the process's backend is left alone

    def meta(rec) -> float:
        value = rec["config"]["optimizer"].get("meta", 0.0)
        return float(value[0] if isinstance(value, list) else value)

    def own_bn_first(rec) -> float | None:
        rows_ti = ((rec.get("method_extra") or {}).get("task_identity") or {}).get(
            "accuracy_rows")
        return float(rows_ti[-1][0]) if rows_ti else None

    runs = sorted((r for recs in rows.values() for r in recs if r.get("accuracy_matrix")),
                  key=meta)
    if not runs:
        return False
    ms = sorted({meta(r) for r in runs})
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    series = [("mean accuracy, all tasks", lambda r: float(np.mean(r["accuracy_matrix"][-1])),
               "-"),
              ("task 1 after the last task", _first_task_final, "-"),
              ("task 1, its own BatchNorm (task id)", own_bn_first, "--")]
    for label, value, style in series:
        points = [(meta(r), value(r)) for r in runs if value(r) is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        means = [np.mean([y for x, y in points if x == m]) for m in ms if m in xs]
        line = left.plot([m for m in ms if m in xs], 100 * np.array(means), style, marker="o",
                         label=label)[0]
        left.scatter(xs, 100 * np.array(ys), color=line.get_color(), s=12, alpha=0.5)
    left.set_xlabel("metaplasticity m")
    left.set_ylabel("test accuracy % (dots: seeds)")
    left.set_xticks(ms)
    left.legend(fontsize=7)
    for m in ms:
        finals = np.array([r["accuracy_matrix"][-1] for r in runs if meta(r) == m])
        tasks = np.arange(1, finals.shape[1] + 1)
        right.plot(tasks, 100 * finals.mean(0), marker="o", label=f"m = {m:g} (n={len(finals)})")
    right.set_xticks(tasks)
    right.set_xlabel("task (in the order learnt)")
    right.set_ylabel("accuracy after the last task %\n(current BatchNorm, task-free)")
    right.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return True
