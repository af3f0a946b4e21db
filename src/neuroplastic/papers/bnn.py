"""Laborieux et al. (2021), "Synaptic metaplasticity in binarized neural networks" (Nature
Communications 12:2549): the claims the official-scale protocols check.

Fig. 2 of the paper: on permuted MNIST, a BNN without metaplasticity (m = 0) forgets earlier
tasks as it learns new ones, while with m = 1.35 it keeps them; accuracy on the first task after
the last grows with m. The rows are those of ``protocols/bnn/mbnn-pmnist-official.yaml``.
"""

from __future__ import annotations

from . import Claim, Rows, compare_rows, mean


def _first_task_final(records) -> list[float]:
    return [float(r["accuracy_matrix"][-1][0]) for r in records if r.get("accuracy_matrix")]


def metaplasticity_reduces_forgetting(rows: Rows) -> list[Claim]:
    claims = [
        compare_rows(rows, "m=1.35", "m=0 (BNN)", "average_accuracy",
                     "m = 1.35 ends with a higher mean accuracy over all tasks than m = 0 "
                     "(task-free test; Welch p < 0.05 over seeds)"),
        compare_rows(rows, "m=1.35", "m=0 (BNN)", "forgetting",
                     "m = 1.35 forgets less than m = 0 (max-so-far minus final, Welch p < 0.05)",
                     higher=False),
    ]
    ordered = [(label, _first_task_final(rows[label]))
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
