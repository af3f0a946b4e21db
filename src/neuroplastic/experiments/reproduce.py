"""Reproduce a committed protocol: find it, compare its records with the paper's numbers.

``neuroplastic reproduce NAME`` (``cli/reproduce.py``) runs the protocol and reports with these.

Every protocol is a protocol file (``sweep.py``'s format) under ``neuroplastic/protocols/<area>/``
(or, for the older van de Ven sweeps, ``neuroplastic/configs/<area>/``), found by its ``name``
field or its file stem and listed by ``neuroplastic reproduce --list``. Its runs go through the
one runner (``run_sweep``: finished records reused, failed runs recorded); its ``report`` block
gives the table's columns and plots (``report``, paper columns from ``papers/``) and its
``claims`` the paper's qualitative claims, checked on the records.

Then every row of the protocol's targets CSV (columns ``benchmark,scenario,method,metric,target,
tolerance,source``; accuracies as fractions) is compared with the mean over seeds of the
matching runs. Optional columns: ``check`` (``within``, the default: ``|mean - target| <=
tolerance``; ``at-least``: ``mean >= target - tolerance``; ``at-most``: ``mean <= target +
tolerance``), ``row`` (the area's table row a record came from, e.g. a CLASSP or BNN row label),
``target_sem`` and ``target_n`` (the paper's own standard error of its mean and its number of
seeds: when both are given, the table adds the two-sided p-value of Welch's t-test of our seeds
against the paper's, so a miss can be told apart from seed noise), and any other column is a
dotted config key (e.g. ``method.lambda_``) that a run must also match when the cell is not empty.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UnknownNameError
from .report import FRACTIONS
from .sweep import SWEEP_KEYS

#: the committed protocols, one folder per area
PROTOCOLS = Path(__file__).parent.parent / "protocols"
#: where ``reproduce NAME`` keeps a protocol's records unless --out says otherwise
DEFAULT_OUT = Path("runs") / "protocols"
TARGET_COLUMNS = ("benchmark", "scenario", "method", "metric", "target", "tolerance", "source")
CHECKS = ("within", "at-least", "at-most")
#: optional columns giving the paper's own spread (s.e.m. of its mean, number of seeds)
SPREAD_COLUMNS = ("target_sem", "target_n")


@dataclass
class Outcome:
    """What a protocol's run gives its report: its records and the claims checked."""

    #: run records (``config``, ``seed``, ``metrics``), each may carry ``row``: its table row
    records: list[dict[str, Any]] = field(default_factory=list)
    #: the paper's qualitative claims, checked: (claim and rule, measured, holds or None)
    claims: list[tuple[str, str, bool | None]] = field(default_factory=list)


def _sweep_files() -> list[tuple[Path, dict[str, Any]]]:
    import yaml

    found = []
    for path in sorted(PROTOCOLS.glob("*/*.yaml")):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        if not isinstance(data, dict) or not ("grid" in data or "base" in data):
            continue  # a plain run config, not a protocol
        if set(data) - set(SWEEP_KEYS):
            continue  # not a protocol file
        found.append((path, data))
    return found


def protocols() -> dict[str, Path]:
    """name -> sweep file of every committed sweep protocol (known by its name and stem)."""
    found: dict[str, Path] = {}
    for path, data in _sweep_files():
        found.setdefault(path.stem, path)
        if data.get("name"):
            found.setdefault(str(data["name"]), path)
    return found


def listing() -> list[tuple[str, str, bool, str]]:
    """(names, area, has targets, description) of every protocol, sweeps first."""
    rows = []
    for path, data in _sweep_files():
        names = [str(data["name"])] if data.get("name") else []
        names += [path.stem] if path.stem not in names else []
        rows.append((" | ".join(names), path.parent.name, bool(data.get("targets")),
                     str(data.get("description") or path.name)))
    return rows


def find_protocol(name: str) -> Path:
    known = protocols()
    if name not in known:
        raise UnknownNameError("protocol", name, list(known))
    return known[name]


@dataclass
class Target:
    benchmark: str
    scenario: str
    method: str
    metric: str
    target: float
    tolerance: float
    source: str
    where: dict[str, str]  # extra columns: dotted config key (or ``row``) -> value (as text)
    check: str = "within"  # within | at-least | at-most
    sem: float | None = None  # the paper's standard error of its mean (``target_sem``)
    n: int | None = None  # the paper's number of seeds (``target_n``)

    def welch_p(self, mean: float, sd: float, n: int) -> float | None:
        """Two-sided p-value of Welch's t-test between our seeds (``mean``, sample ``sd``, ``n``)
        and the paper's (``target`` with s.d. ``sem * sqrt(n_paper)``); None when either side
        has fewer than 2 seeds or the paper's spread is not given. A small p says the gap is
        larger than both sets of seeds' noise explains; a large p says it may be seed noise."""
        if self.sem is None or self.n is None or n < 2 or self.n < 2:
            return None
        from scipy.stats import ttest_ind_from_stats

        paper_sd = self.sem * self.n ** 0.5
        if sd == 0 and paper_sd == 0:
            return None
        result = ttest_ind_from_stats(mean, sd, n, self.target, paper_sd, self.n,
                                      equal_var=False)
        return float(result.pvalue)

    def passes(self, mean: float) -> bool:
        if self.check == "at-least":
            return mean >= self.target - self.tolerance
        if self.check == "at-most":
            return mean <= self.target + self.tolerance
        return abs(mean - self.target) <= self.tolerance


def read_targets(path: Path) -> list[Target]:
    if not path.exists():
        raise ConfigError(f"targets file {str(path)!r} does not exist")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i, row in enumerate(rows, start=2):
        missing = [c for c in TARGET_COLUMNS if c not in row]
        if missing:
            raise ConfigError(f"{path.name}: missing columns {missing}")
        try:
            target, tolerance = float(row["target"]), float(row["tolerance"])
        except ValueError:
            raise ConfigError(
                f"{path.name} line {i}: target and tolerance must be numbers"
            ) from None
        try:
            sem = float(row["target_sem"]) if row.get("target_sem") else None
            n_paper = int(row["target_n"]) if row.get("target_n") else None
        except ValueError:
            raise ConfigError(
                f"{path.name} line {i}: target_sem must be a number and target_n an integer"
            ) from None
        check = row.get("check") or "within"
        if check not in CHECKS:
            raise ConfigError(f"{path.name} line {i}: check must be one of {CHECKS}, got "
                              f"{check!r}")
        where = {
            k: v for k, v in row.items()
            if k and k not in (*TARGET_COLUMNS, *SPREAD_COLUMNS, "check") and v not in ("", None)
        }
        out.append(
            Target(row["benchmark"], row["scenario"], row["method"], row["metric"], target,
                   tolerance, row["source"], where, check, sem, n_paper)
        )
    return out


def _config_holds(config: dict[str, Any], t: Target) -> bool:
    """Whether ``config`` has every dotted-key value of the target's extra columns (``row``,
    recorded beside the config, is checked by the caller)."""
    import yaml

    from .aggregate import config_value

    for key, text in t.where.items():
        if key == "row":
            continue
        value = config_value(config, key)
        if value != yaml.safe_load(text) and str(value) != text:
            return False
    return True


def matches(group, t: Target) -> bool:
    if (group.benchmark, group.scenario, group.method) != (t.benchmark, t.scenario, t.method):
        return False
    if "row" in t.where and str(group.records[0].get("row")) != t.where["row"]:
        return False  # the area's table row, recorded beside the config
    return _config_holds(group.config, t)


def _fmt(metric: str, value: float) -> str:
    return f"{100 * value:.2f}" if metric in FRACTIONS else f"{value:.4g}"


def compare(targets: list[Target], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (target, matching group of seeds); a target with no run is 'missing'."""
    from .aggregate import group_records
    from .report import row_labels

    groups = group_records(records)
    labels = row_labels(groups)
    rows = []
    for t in targets:
        matching = [g for g in groups if matches(g, t)]
        if not matching:
            rows.append({"target": t, "label": "", "stat": None, "status": "missing", "p": None})
        for g in matching:
            stat = g.stat(t.metric)
            if stat is None:
                status, p = "missing", None
            else:
                status = "pass" if t.passes(stat[0]) else "FAIL"
                p = t.welch_p(*stat)
            label = g.records[0].get("row") or labels.get(g.key, "")
            rows.append({"target": t, "label": label, "stat": stat, "status": status, "p": p})
    return rows


def _target_text(t: Target) -> str:
    value, tol = _fmt(t.metric, t.target), _fmt(t.metric, t.tolerance)
    if t.check == "within":
        return f"{value} ± {tol}"
    sign = "≥" if t.check == "at-least" else "≤"
    return f"{sign} {value}" + (f" ({'-' if sign == '≥' else '+'}{tol})" if t.tolerance else "")


def text_table(header: list[str], table: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in table]
    return "\n".join(lines)


def format_rows(rows: list[dict[str, Any]]) -> str:
    header = ["benchmark", "scenario", "method", "metric", "measured", "n", "target", "result",
              "p (Welch)", "source"]
    table = []
    for row in rows:
        t: Target = row["target"]
        stat = row["stat"]
        pct = " %" if t.metric in FRACTIONS else ""
        measured = "-" if stat is None else f"{_fmt(t.metric, stat[0])} ± {_fmt(t.metric, stat[1])}"
        label = row["label"] or t.where.get("row", "")
        method = t.method + (f" ({label})" if label and label != t.method else "")
        table.append([
            t.benchmark, t.scenario, method, t.metric + pct, measured,
            "0" if stat is None else str(stat[2]), _target_text(t), row["status"],
            format_p(row.get("p")), t.source,
        ])
    return text_table(header, table)


def format_p(p: float | None) -> str:
    """A p-value for a table: '-' when there is none, '<0.001' below that."""
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_claims(claims: list[tuple[str, str, bool | None]]) -> str:
    marks = {True: "holds", False: "FAILS", None: "see table"}
    return text_table(["claim (paper) and how it is checked here", "measured", "result"],
                  [[c, m, marks[h]] for c, m, h in claims])


def with_settings(spec, settings: list[str]):
    """The protocol with ``key=value`` settings merged into its base (e.g. ``device=cuda``):
    every run changes, so its records get other names than the committed protocol's."""
    import dataclasses

    from .. import config as config_mod

    base = config_mod.normalise(spec.base)
    for text in settings:
        base = config_mod.merge(base, config_mod.parse_override(text))
    return dataclasses.replace(spec, base=base)


def planned_targets(targets: list[Target], planned) -> list[Target]:
    """The targets of the cells (benchmark, scenario, method, and the target's extra config
    columns, e.g. ``method.mode``) that ``planned`` runs: a targets file may serve several
    protocols (split and permuted MNIST share one) and ``--only`` runs part of one."""
    configs = [run.config for run in planned]
    return [
        t for t in targets
        if any((c["benchmark"]["name"], c["scenario"], c["method"]["name"])
               == (t.benchmark, t.scenario, t.method) and _config_holds(c, t) for c in configs)
    ]  # fmt: skip
