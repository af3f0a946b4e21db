"""Grouping run records over seeds: the one rule behind `report` and `reproduce`.

Two records are averaged together only when their resolved configs are identical except for the
seed AND they were produced by the same neuroplastic version. Anything else (another
hyper-parameter, another library version) is a separate group, shown as a separate row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import record as record_mod


def seedless_hash(config: dict[str, Any]) -> str:
    """The config hash with the seed removed: equal for the seeds of one experiment."""
    return record_mod.config_hash({k: v for k, v in config.items() if k != "seed"})


def version_of(rec: dict[str, Any]) -> str:
    return str(rec.get("versions", {}).get("neuroplastic", "?"))


@dataclass
class Group:
    key: tuple[str, str]  # (seedless config hash, neuroplastic version)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def config(self) -> dict[str, Any]:
        return self.records[0]["config"]

    @property
    def version(self) -> str:
        return self.key[1]

    @property
    def benchmark(self) -> str:
        return str(self.config["benchmark"]["name"])

    @property
    def scenario(self) -> str:
        return str(self.config["scenario"])

    @property
    def method(self) -> str:
        return str(self.config["method"]["name"])

    @property
    def seeds(self) -> list[int]:
        return sorted(int(r["seed"]) for r in self.records)

    def values(self, metric: str) -> list[float]:
        out = []
        for r in self.records:
            v = r.get("metrics", {}).get(metric)
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                out.append(float(v))
        return out

    def stat(self, metric: str) -> tuple[float, float, int] | None:
        """(mean, sample standard deviation, n) over seeds, or None when no seed has it."""
        return mean_std(self.values(metric))

    def mean_matrix(self) -> list[list[float]]:
        """The accuracy matrix averaged over seeds (element-wise)."""
        mats = [r["accuracy_matrix"] for r in self.records]
        rows, cols = len(mats[0]), len(mats[0][0]) if mats[0] else 0
        return [
            [sum(m[i][j] for m in mats) / len(mats) for j in range(cols)] for i in range(rows)
        ]


def mean_std(values: list[float]) -> tuple[float, float, int] | None:
    if not values:
        return None
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std, n


def group_records(records: list[dict[str, Any]]) -> list[Group]:
    """Records grouped by (config without seed, library version), in a stable order; a seed
    recorded twice in one group (copies of the same run) is counted once."""
    groups: dict[tuple[str, str], Group] = {}
    for rec in records:
        key = (seedless_hash(rec["config"]), version_of(rec))
        group = groups.setdefault(key, Group(key))
        if any(r["seed"] == rec["seed"] for r in group.records):
            continue
        group.records.append(rec)
    return sorted(
        groups.values(), key=lambda g: (g.benchmark, g.scenario, g.method, g.version, g.key[0])
    )


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_value(config: dict[str, Any], dotted_key: str) -> Any:
    """The value at a dotted key; a part that is an integer indexes a list (``-1``: the last
    entry, e.g. ``evaluations.item-memory.-1.memorized``)."""
    cur: Any = config
    for part in dotted_key.split("."):
        if isinstance(cur, list) and part.lstrip("-").isdigit():
            if not -len(cur) <= int(part) < len(cur):
                return None
            cur = cur[int(part)]
            continue
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def differing_settings(
    configs: list[dict[str, Any]], skip: set[str] | frozenset[str] = frozenset({"seed"})
) -> dict[str, Any]:
    """The settings (dotted keys) whose values differ between resolved configs.

    Returns ``{"keys": [...], "rows": [{key: value, ...} per config]}``; a key absent from one
    config (another optimizer's setting, say) is left out of that row. Keys in ``skip``, or
    under a skipped prefix (``skip={"method"}`` skips ``method.*``), are never listed. Used for
    the settings table of a report and the row labels of the ``run`` command's table, so that
    two rows are never shown under one name when anything but the seed tells them apart.
    """
    flat = [_flatten(c) for c in configs]

    def skipped(key: str) -> bool:
        return any(key == s or key.startswith(f"{s}.") for s in skip)

    def peers(key: str, i: int) -> list[int]:
        # a named block's settings are compared only between configs with the same name: EWC's
        # lambda_ is not "a setting that differs" from fine-tuning, which has none
        block, _, rest = key.partition(".")
        if rest and rest != "name" and block in _NAMED:
            name = flat[i].get(f"{block}.name")
            return [j for j in range(len(flat)) if flat[j].get(f"{block}.name") == name]
        return list(range(len(flat)))

    keys = sorted({k for f in flat for k in f if not skipped(k)})
    varying = [
        k
        for k in keys
        if any(
            len({repr(flat[j].get(k, _MISSING)) for j in peers(k, i)}) > 1
            for i in range(len(flat))
            if k in flat[i]
        )
    ]
    rows = [{k: f[k] for k in varying if k in f} for f in flat]
    return {"keys": varying, "rows": rows}


_NAMED = ("benchmark", "model", "method", "optimizer")
_MISSING = object()
