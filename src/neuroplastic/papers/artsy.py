"""Ran et al. (2024), Artsy: the report columns of the protocols in ``protocols/artsy/``.

The synapse probe (``evaluators/synapse_probe.py``, added to every Artsy run) records after each
task, per synapse, recall = P(fired | sample of its task) and precision = P(sample of its task |
fired) on the test sets of the tasks seen, for the effective gates (after the fallbacks) and the
raw thresholded ones. The paper reports neither (papers.md section 1); they show whether the
synapses select the right sub-network.
"""

from __future__ import annotations

import math
from typing import Any


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
