"""Aguilar, Herbozo Contreras & Kavehei (2025), "Stochastic engrams for efficient continual
learning with binarized neural networks" (arXiv 2503.21436): the abstract's claims, checked on
the records of ``protocols/bnn/engram-*-official.yaml``. The paper has no code and no tables
were found (``shared/reference/papers.md``, section 4), so ``engram-bnn`` is our reconstruction
and these checks test the reconstruction against the abstract's words, not the paper's numbers.

The abstract: the engram BNN is "the only strategy capable of reaching average accuracies over
20 % in class-incremental scenarios" (split MNIST: 20 % is about one task of five), it reaches
"comparable domain-incremental results to full precision" methods, and it lowers peak memory.
Row names are those of the protocols; a protocol with a ``scenario`` grid passes both
scenarios' records under one row name, so each check keeps the scenario it is about.
"""

from __future__ import annotations

from . import Claim, Rows, compare_rows, mean, metric_values

ENGRAM = "engram-bnn"
FULL_PRECISION = "mlp 2x1024, Adam (full precision)"
ONE_TASK_OF_FIVE = 0.20


def _in_scenario(rows: Rows, scenario: str) -> Rows:
    return {label: [r for r in recs if r["config"].get("scenario") == scenario]
            for label, recs in rows.items()}


def only_engram_above_20_class_il(rows: Rows) -> list[Claim]:
    """Class-IL: every seed of the engram BNN above 20 % average accuracy, and every other
    row's mean at or below it."""
    text = ("class-IL: the engram BNN is the only row above 20 % average accuracy (every "
            "engram seed above 20 %, every other row's mean at or below 20 %)")
    rows = _in_scenario(rows, "class")
    engram = metric_values(rows.get(ENGRAM, []), "average_accuracy")
    others = {label: metric_values(recs, "average_accuracy") for label, recs in rows.items()
              if label != ENGRAM}
    missing = [label for label, v in [(ENGRAM, engram), *others.items()] if not v]
    if missing:
        return [Claim(text, f"not run yet: {', '.join(missing)}", None)]
    measured = ", ".join([f"{ENGRAM} {100 * mean(engram):.2f} (lowest seed "
                          f"{100 * min(engram):.2f})"]
                         + [f"{label} {100 * mean(v):.2f}" for label, v in others.items()])
    holds = (min(engram) > ONE_TASK_OF_FIVE
             and all(mean(v) <= ONE_TASK_OF_FIVE for v in others.values()))
    return [Claim(text, measured, holds)]


def domain_il_against_full_precision(rows: Rows) -> list[Claim]:
    """Domain-IL: the engram BNN against the full-precision MLP of the same width. The
    protocol's MLP is plain fine-tuning, not the "state-of-the-art" methods the abstract names,
    so this is measured and shown, not a verdict on the claim."""
    claim = compare_rows(
        _in_scenario(rows, "domain"), ENGRAM, FULL_PRECISION, "average_accuracy",
        "domain-IL: the engram BNN is comparable to full precision (here against full-precision "
        "fine-tuning only: shown, not checked)")
    return [Claim(claim.text, claim.measured, None)]


def memory_below_full_precision(rows: Rows) -> list[Claim]:
    """The abstract's lower peak memory: the engram BNN's training memory (how far the resident
    memory rose above its level at the stream's start, ``train_rss_rise_bytes``) below the
    full-precision MLP's, Welch p < 0.05. Records from before that metric have none: no
    verdict then."""
    text = ("the engram BNN's training memory (train_rss_rise_bytes) is below the full-precision "
            "MLP's (Welch p < 0.05)")
    out = []
    scenarios = sorted({r["config"].get("scenario") for recs in rows.values() for r in recs})
    for scenario in scenarios:
        sub = _in_scenario(rows, scenario)
        a = metric_values(sub.get(ENGRAM, []), "train_rss_rise_bytes")
        b = metric_values(sub.get(FULL_PRECISION, []), "train_rss_rise_bytes")
        prefix = f"{scenario}-IL: " if len(scenarios) > 1 else ""
        if not a or not b:
            out.append(Claim(prefix + text, "no train_rss_rise_bytes in the records yet", None))
            continue
        claim = compare_rows(sub, ENGRAM, FULL_PRECISION, "train_rss_rise_bytes", text,
                             higher=False)
        out.append(Claim(prefix + text, f"{claim.measured}; x{mean(a) / mean(b):.2f}",
                         claim.holds))
    return out
