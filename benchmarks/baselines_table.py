"""Measured-vs-target table of a van de Ven protocol from the run records that exist.

``neuroplastic reproduce NAME`` runs whatever is missing and then prints this table; this script
only reads, so a partial measurement (fewer seeds, an interrupted sweep) can be tabulated while
the rest still runs. It also prints every finished run without a target (replay, A-GEM, DER).

    python benchmarks/baselines_table.py vandeven-split-mnist-500it --seeds 0 [--markdown] [--grid]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from neuroplastic.experiments.aggregate import group_records
from neuroplastic.experiments.report import row_labels
from neuroplastic.experiments.reproduce import (
    compare,
    find_protocol,
    format_p,
    format_rows,
    matches,
    planned_targets,
    read_targets,
)
from neuroplastic.experiments.sweep import load_sweep, plan, records_of


def markdown_table(records: list[dict], targets: list) -> str:
    """Every finished configuration, with and without a target: records that differ in more
    than the seed (a setting added later, e.g. ``benchmark.pad``) stay on rows of their own."""
    groups = group_records(records)
    labels = row_labels(groups)
    order = {"task": 0, "domain": 1, "class": 2}
    lines = [
        "| scenario | method | measured avg. acc. % (mean ± sd, n) | target % | within tol.? "
        "| p (Welch) | train s / run |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in sorted(groups, key=lambda g: (g.benchmark, order[g.scenario], g.method)):
        mean, sd, n = g.stat("average_accuracy")
        secs = statistics.mean(r["metrics"]["train_seconds"] for r in g.records)
        t = next((t for t in targets if matches(g, t)), None)  # also e.g. method.mode
        target = "-" if t is None else f"{100 * t.target:.2f} ± {100 * t.tolerance:.0f}"
        ok = "-" if t is None else ("yes" if t.passes(mean) else "no")
        p = "-" if t is None else format_p(t.welch_p(mean, sd, n))
        method = g.method + (f" ({labels[g.key]})" if labels.get(g.key) else "")
        lines.append(f"| {g.scenario} | {method} | {100 * mean:.2f} ± {100 * sd:.2f} (n={n}) | "
                     f"{target} | {ok} | {p} | {secs:.0f} |")
    return "\n".join(lines)


def grid_table(records: list[dict], targets: list) -> str:
    """Scenario x method grid of the mean average accuracy (target in brackets), "-" where no
    run has finished: the compact form the README shows."""
    values: dict[tuple[str, str], list[float]] = {}
    for r in records:
        c = r["config"]
        values.setdefault((c["scenario"], c["method"]["name"]), []).append(
            r["metrics"]["average_accuracy"])
    benchmarks = {r["config"]["benchmark"]["name"] for r in records}
    by_cell = {(t.scenario, t.method): t.target for t in targets if t.benchmark in benchmarks}
    methods = list(dict.fromkeys([m for _, m in by_cell] + sorted(m for _, m in values)))
    lines = ["| scenario | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for scen in ("task", "domain", "class"):
        cells = []
        for m in methods:
            got, target = values.get((scen, m)), by_cell.get((scen, m))
            text = "-" if not got else f"{100 * statistics.mean(got):.1f}"
            cells.append(text + ("" if target is None else f" ({100 * target:.1f})"))
        lines.append(f"| {scen}-IL | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="protocol name, e.g. vandeven-split-mnist-500it")
    ap.add_argument("--seeds", default=None, help="e.g. 0,1,2 (default: the protocol's)")
    ap.add_argument("--out", default=None, help="records folder (default runs/reproduce/<name>)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    ap.add_argument("--grid", action="store_true",
                    help="also print a scenario x method grid of the protocol's own runs")
    args = ap.parse_args()
    spec = load_sweep(find_protocol(args.name))
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    out = Path(args.out) if args.out else Path("runs") / "reproduce" / spec.name
    runs = plan(spec, seeds)
    planned = records_of(runs, out)
    # also every other record in the folder: runs made before an option was added to a method
    # (the LwF runs predate ``unit_mean``) are named by the hash of their config at the time
    from neuroplastic import record as record_mod

    names = {r["name"] for r in planned}
    extra = record_mod.records_in(out)  # validated; failure files and damaged records left out
    wanted = set(seeds) if seeds else None
    records = planned + [
        r for r in extra
        if r["name"] not in names and (wanted is None or r["seed"] in wanted)
    ]
    print(f"{spec.name}: {len(records)} finished runs in {out}")
    targets = planned_targets(read_targets(spec.targets), runs) if spec.targets else []
    if targets:
        print(format_rows(compare(targets, records)))
    if args.grid:
        print()
        print(grid_table(planned, targets))
    if args.markdown:
        print()
        print(markdown_table(records, targets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
