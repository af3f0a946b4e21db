"""``neuroplastic reproduce NAME``: run a committed protocol and compare with the paper's numbers.

A protocol is a sweep file under ``neuroplastic/configs/<area>/``, found by its ``name`` field
or its file stem. Its runs are executed (finished records are reused), then every row of its
targets CSV (columns ``benchmark,scenario,method,metric,target,tolerance,source``; accuracies as
fractions) is compared with the mean over seeds of the matching runs: a row passes when
``|mean - target| <= tolerance``. Extra CSV columns are dotted config keys (e.g.
``method.lambda``) that a run must also match when the cell is not empty.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, UnknownNameError
from .sweep import SWEEP_KEYS

CONFIGS = Path(__file__).parent / "configs"
TARGET_COLUMNS = ("benchmark", "scenario", "method", "metric", "target", "tolerance", "source")
#: metrics stored as fractions, printed as percentages
FRACTIONS = {"average_accuracy", "forgetting", "bwt", "fwt", "final_accuracy"}


def protocols() -> dict[str, Path]:
    """name -> sweep file of every committed protocol (a file is known by its name and stem)."""
    import yaml

    found: dict[str, Path] = {}
    for path in sorted(CONFIGS.glob("*/*.yaml")):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        if not isinstance(data, dict) or not ("grid" in data or "base" in data):
            continue  # a plain run config, not a protocol
        if set(data) - set(SWEEP_KEYS):
            continue  # another format, run by its own subcommand
        found.setdefault(path.stem, path)
        if data.get("name"):
            found.setdefault(str(data["name"]), path)
    return found


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
    where: dict[str, str]  # extra columns: dotted config key -> value (as text)


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
        where = {
            k: v for k, v in row.items() if k and k not in TARGET_COLUMNS and v not in ("", None)
        }
        out.append(
            Target(row["benchmark"], row["scenario"], row["method"], row["metric"], target,
                   tolerance, row["source"], where)
        )
    return out


def _matches(group, t: Target) -> bool:
    import yaml

    from .aggregate import config_value

    if (group.benchmark, group.scenario, group.method) != (t.benchmark, t.scenario, t.method):
        return False
    for key, text in t.where.items():
        wanted = yaml.safe_load(text)
        value = config_value(group.config, key)
        if value != wanted and str(value) != text:
            return False
    return True


def _fmt(metric: str, value: float) -> str:
    return f"{100 * value:.2f}" if metric in FRACTIONS else f"{value:.4g}"


def compare(targets: list[Target], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (target, matching group of seeds); a target with no run is 'missing'."""
    from .aggregate import differing_keys, group_records

    groups = group_records(records)
    labels = differing_keys(groups)
    rows = []
    for t in targets:
        matching = [g for g in groups if _matches(g, t)]
        if not matching:
            rows.append({"target": t, "label": "", "stat": None, "status": "missing"})
        for g in matching:
            stat = g.stat(t.metric)
            if stat is None:
                status = "missing"
            else:
                status = "pass" if abs(stat[0] - t.target) <= t.tolerance else "FAIL"
            rows.append({"target": t, "label": labels.get(g.key, ""), "stat": stat,
                         "status": status})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    header = ["benchmark", "scenario", "method", "metric", "measured", "n", "target", "result",
              "source"]
    table = []
    for row in rows:
        t: Target = row["target"]
        stat = row["stat"]
        pct = " %" if t.metric in FRACTIONS else ""
        measured = "-" if stat is None else f"{_fmt(t.metric, stat[0])} ± {_fmt(t.metric, stat[1])}"
        method = t.method + (f" ({row['label']})" if row["label"] else "")
        table.append([
            t.benchmark, t.scenario, method, t.metric + pct, measured,
            "0" if stat is None else str(stat[2]),
            f"{_fmt(t.metric, t.target)} ± {_fmt(t.metric, t.tolerance)}", row["status"], t.source,
        ])
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(lines)


def cmd_reproduce(args) -> int:
    from .cli_sweep import _seeds
    from .sweep import load_sweep, plan, records_of, run_sweep

    if args.list or not args.name:
        by_file: dict[Path, list[str]] = {}
        for name, path in protocols().items():
            by_file.setdefault(path, []).append(name)
        for path, names in sorted(by_file.items()):
            print(f"{' | '.join(sorted(names, key=len, reverse=True)):<48} "
                  f"{path.relative_to(CONFIGS)}")
        return 0
    spec = load_sweep(find_protocol(args.name))
    out = Path(args.out) if args.out else Path("runs") / "reproduce" / spec.name
    seeds = _seeds(args.seeds)
    result = run_sweep(spec, out=out, backend=args.backend, workers=args.workers,
                       address=args.address, seeds=seeds, progress=not args.quiet)
    print(result.summary(), file=sys.stderr)
    records = records_of(plan(spec, seeds), out)
    if spec.description:
        print(f"{spec.name}: {spec.description}")
    if spec.targets is None:
        print("this protocol has no targets file; records are in", out)
        return 0
    rows = compare(read_targets(spec.targets), records)
    print(format_rows(rows))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("pass", "FAIL", "missing")}
    print(f"\n{counts['pass']} pass, {counts['FAIL']} fail, {counts['missing']} missing "
          f"(mean ± sample std over seeds; a row passes when |mean - target| <= tolerance)")
    if args.strict and (counts["FAIL"] or counts["missing"] or result.failed):
        return 1
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="run a committed protocol (or reuse its records) and compare with its targets",
    )
    p.add_argument("name", nargs="?", help="protocol name (omit, or --list, to list them)")
    p.add_argument("--list", action="store_true", help="list the protocols and exit")
    p.add_argument("--seeds", default=None, help="seeds replacing the protocol's, e.g. 0,1,2")
    p.add_argument("--out", "-o", default=None,
                   help="folder for run records (default: runs/reproduce/<name>)")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--workers", "-j", type=int, default=None)
    p.add_argument("--address", default=None, help="Ray cluster address")
    p.add_argument("--strict", action="store_true",
                   help="exit with code 1 when a row fails or is missing")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reproduce)
