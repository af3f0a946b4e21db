"""Measured-vs-target table of a van de Ven protocol from the run records that exist.

``neuroplastic reproduce NAME`` runs whatever is missing and then prints this table; this script
only reads, so a partial measurement (fewer seeds, an interrupted sweep) can be tabulated while
the rest still runs. It also prints every finished run without a target (replay, A-GEM, DER).

    python benchmarks/baselines_table.py vandeven-split-mnist-500it --seeds 0 [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from neuroplastic.cli_reproduce import compare, find_protocol, format_rows, read_targets
from neuroplastic.sweep import load_sweep, plan, records_of


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="protocol name, e.g. vandeven-split-mnist-500it")
    ap.add_argument("--seeds", default=None, help="e.g. 0,1,2 (default: the protocol's)")
    ap.add_argument("--out", default=None, help="records folder (default runs/reproduce/<name>)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = ap.parse_args()
    spec = load_sweep(find_protocol(args.name))
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    out = Path(args.out) if args.out else Path("runs") / "reproduce" / spec.name
    planned = records_of(plan(spec, seeds), out)
    # also every other record in the folder: runs made before an option was added to a method
    # (the LwF runs predate ``unit_mean``) are named by the hash of their config at the time
    from neuroplastic import record as record_mod

    names = {r["name"] for r in planned}
    extra = [record_mod.read(f) for f in sorted(out.glob("*.json"))]
    wanted = set(seeds) if seeds else None
    records = planned + [
        r for r in extra
        if r["name"] not in names and (wanted is None or r["seed"] in wanted)
    ]
    print(f"{spec.name}: {len(records)} finished runs in {out}")
    if spec.targets is not None:
        rows = compare(read_targets(spec.targets), records)
        print(format_rows(rows))
    # every finished (scenario, method) cell, with and without a target
    cells: dict[tuple[str, str, str], list[dict]] = {}
    for r in records:
        c = r["config"]
        key = (c["benchmark"]["name"], c["scenario"], c["method"]["name"])
        cells.setdefault(key, []).append(r)
    if args.markdown:
        targets = {}
        if spec.targets is not None:
            for t in read_targets(spec.targets):
                targets[(t.benchmark, t.scenario, t.method)] = (t.target, t.tolerance)
        print("\n| scenario | method | measured avg. acc. % (mean ± sd, n) | target % | "
              "within tol.? | train s / run |")
        print("|---|---|---|---|---|---|")
        order = {"task": 0, "domain": 1, "class": 2}
        keys = sorted(cells, key=lambda k: (k[0], order[k[1]], k[2]))
        for bench, scen, meth in keys:
            rs = cells[(bench, scen, meth)]
            acc = [100 * r["metrics"]["average_accuracy"] for r in rs]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            secs = statistics.mean(r["metrics"]["train_seconds"] for r in rs)
            tgt = targets.get((bench, scen, meth))
            ok = "-"
            if tgt is not None:
                ok = "yes" if abs(statistics.mean(acc) / 100 - tgt[0]) <= tgt[1] else "no"
            ttxt = "-" if tgt is None else f"{100 * tgt[0]:.2f} ± {100 * tgt[1]:.0f}"
            print(f"| {scen} | {meth} | {statistics.mean(acc):.2f} ± {sd:.2f} (n={len(acc)}) | "
                  f"{ttxt} | {ok} | {secs:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
