"""Ran et al. (2024), Artsy: the report columns of the protocols in ``protocols/artsy/``.

The synapse probe (``evaluators/synapse_probe.py``, added to every Artsy run) records after each
task, per synapse, recall = P(fired | sample of its task) and precision = P(sample of its task |
fired) on the test sets of the tasks seen, for the effective gates (after the fallbacks) and the
raw thresholded ones. The paper reports neither (papers.md section 1); they show whether the
synapses select the right sub-network.

The claim the every-image protocols check: the abstract says Artsy "outperforms conventional
methods"; its baseline is EASE, over which reviewer 3 calls its advantage "marginal"
(papers.md section 1). No numbers of the paper are known, so the check is a comparison of rows.
"""

from __future__ import annotations

import math
from typing import Any

from . import Claim, Rows, compare_rows

#: the row labels of ``artsy-split-mnist-all`` and ``artsy-split-cifar10-all``
ARTSY_ROW = "artsy (synapse gating)"
COMPARED_ROWS = ("EASE-style (always connected)", "SimpleCIL")


def _nanmean(values) -> float | None:
    vals = [v for v in values or [] if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else None


def synapses(record: dict[str, Any]) -> dict[str, float | None]:
    """After the last task, the effective gates: synapse precision and recall (%, mean over the
    synapses) and the synapses fired per test sample; none for runs without synapses."""
    entries = (record.get("evaluations") or {}).get("synapse-probe")
    if not entries or (record["config"]["method"].get("gate") != "synapse"):
        return {}
    last = entries[-1]
    precision, recall = _nanmean(last["precision_effective"]), _nanmean(last["recall_effective"])
    return {
        "synapse precision %": None if precision is None else 100 * precision,
        "synapse recall %": None if recall is None else 100 * recall,
        "fired / sample": last["mean_fired_effective"],
    }


def per_synapse(record: dict[str, Any]) -> dict[str, float | None]:
    """After the last task, each synapse's precision and recall (%, effective gates):
    ``P1 %``, ``R1 %``, ... for the synapse of task 1, ..."""
    entries = (record.get("evaluations") or {}).get("synapse-probe")
    if not entries or (record["config"]["method"].get("gate") != "synapse"):
        return {}
    last, out = entries[-1], {}
    for k, (p, r) in enumerate(zip(last["precision_effective"], last["recall_effective"],
                                   strict=True)):
        out[f"P{k + 1} %"] = None if math.isnan(p) else 100 * p
        out[f"R{k + 1} %"] = 100 * r
    return out


def beats_ease_and_simplecil(rows: Rows) -> list[Claim]:
    """Artsy (synapse gating) ends with a higher average accuracy after the last task than the
    EASE-style network (every sub-network connected) and than SimpleCIL (prototypes of the
    frozen feature): Welch's test over seeds, p < 0.05; no verdict below two seeds a row."""
    return [
        compare_rows(rows, ARTSY_ROW, other, "average_accuracy",
                     f"Artsy's gating ends with a higher average accuracy after the last task "
                     f"than {other} (Welch p < 0.05)")
        for other in COMPARED_ROWS
    ]
