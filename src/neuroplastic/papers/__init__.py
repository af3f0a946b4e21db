"""Paper-specific checks: one small module per seed paper, each a set of claim functions.

A protocol names its claims as ``<module>.<function>`` (``claims: [bnn.metaplasticity_reduces_
forgetting]``). A claim function takes the protocol's finished records grouped by row
(``{row label: [record, ...]}``, rows in the protocol's order) and returns a list of
:class:`Claim`: what the paper says and how it is checked, what was measured, and whether it
holds (None when a row it needs has not run yet). Claims never train anything.

A protocol's ``report`` block may name paper functions too: a **column** ``<module>.<function>``
takes one record and returns ``{title: value}`` (one or more table columns, values in the units
shown, e.g. percent; an empty dict where the record has nothing to show), and a **plot**
``<module>.<function>`` takes the records by row, a PNG path and a title and returns whether it
drew anything. ``experiments/report.py`` draws them.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

Rows = dict[str, list[dict[str, Any]]]


@dataclass
class Claim:
    text: str  # the paper's claim and the rule that checks it
    measured: str
    holds: bool | None  # None: not checkable yet (a row it needs has no records)


def paper_modules() -> list[str]:
    """The names of the paper modules (``bnn``, ``classp``, ``dgm``, ...), found without
    importing them."""
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__))


def is_paper_function(name: str) -> bool:
    """Whether ``name`` reads ``<paper module>.<function>`` (a report column may also be a
    dotted path into a record, such as ``method_extra.task_identity.average_accuracy``)."""
    module_name, _, function = name.rpartition(".")
    return bool(function) and module_name in paper_modules()


def claim_function(name: str, kind: str = "claim") -> Callable[..., Any]:
    """The function ``<module>.<function>`` of ``neuroplastic.papers`` (a claim, a report
    column or a plot: ``kind`` names it in errors), or a clear error."""
    module_name, _, function = name.rpartition(".")
    if module_name not in paper_modules():
        raise ConfigError(f"{kind} {name!r}: there is no paper module "
                          f"neuroplastic.papers.{module_name}; valid: {', '.join(paper_modules())}")
    module = importlib.import_module(f"{__name__}.{module_name}")
    fn = getattr(module, function, None)
    if not callable(fn):
        choices = sorted(n for n, v in vars(module).items()
                         if callable(v) and not n.startswith("_") and n[0].islower()
                         and getattr(v, "__module__", "") == module.__name__)
        raise ConfigError(f"{kind} {name!r}: neuroplastic.papers.{module_name} has no function "
                          f"{function!r}; valid: {', '.join(choices)}")
    return fn


def check_claims(names: list[str], rows: Rows) -> list[Claim]:
    out: list[Claim] = []
    for name in names:
        out += claim_function(name)(rows)
    return out


def metric_values(records: list[dict[str, Any]], metric: str) -> list[float]:
    vals = []
    for rec in records:
        value = rec.get("metrics", {}).get(metric)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            vals.append(float(value))
    return vals


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided Welch t-test p-value of two sets of seeds (None with fewer than 2 each)."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import ttest_ind

    if len(set(a)) == 1 and len(set(b)) == 1:
        return 0.0 if a[0] != b[0] else 1.0
    return float(ttest_ind(a, b, equal_var=False).pvalue)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def compare_rows(rows: Rows, better: str, worse: str, metric: str, text: str,
                 higher: bool = True, alpha: float = 0.05) -> Claim:
    """``better`` beats ``worse`` on ``metric`` (higher or lower is better): the means differ
    in that direction and Welch's test over seeds gives p < ``alpha``. With fewer than two
    seeds on a side there is no test, so no verdict (None): the measured text gives the means
    and their n."""
    a, b = metric_values(rows.get(better, []), metric), metric_values(rows.get(worse, []), metric)
    if not a or not b:
        missing = [r for r, v in ((better, a), (worse, b)) if not v]
        return Claim(text, f"not run yet: {', '.join(missing)}", None)
    diff = mean(a) - mean(b)
    p = welch_p(a, b)
    right_way = diff > 0 if higher else diff < 0
    holds = None if p is None else bool(right_way and p < alpha)
    scale, unit = ((100, "") if metric in ("average_accuracy", "forgetting", "bwt")
                   else (2**-20, " MiB") if metric.endswith("_bytes") else (1, ""))
    measured = (f"{better} {scale * mean(a):.2f}{unit} (n={len(a)}) vs {worse} "
                f"{scale * mean(b):.2f}{unit} (n={len(b)})"
                + (", too few seeds for a test" if p is None else f", Welch p={p:.3g}"))
    return Claim(text, measured, holds)
