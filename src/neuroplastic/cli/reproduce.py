"""``neuroplastic reproduce NAME``: run a committed protocol (or reuse its records), then compare
with its targets and claims (``experiments/reproduce.py``) and print the protocol's table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..experiments.report import flagged_runs, markdown_table, protocol_plots, rows_table
from ..experiments.reproduce import (
    DEFAULT_OUT,
    Outcome,
    compare,
    find_protocol,
    format_claims,
    format_rows,
    listing,
    planned_targets,
    read_targets,
    text_table,
    with_settings,
)


def cmd_reproduce(args) -> int:
    from .sweep import parse_seeds

    if args.list or not args.name:
        rows = listing()
        header = ["name", "area", "targets", "description"]
        print(text_table(header, [[n, a, "yes" if t else "-", d] for n, a, t, d in rows]))
        return 0
    return _reproduce_sweep(args, find_protocol(args.name), parse_seeds(args.seeds))


def _reproduce_sweep(args, path: Path, seeds: list[int] | None) -> int:
    from ..experiments.sweep import load_sweep, plan, records_of, restrict, run_sweep
    from ..papers import check_claims
    from .sweep import parse_only

    spec = restrict(load_sweep(path), parse_only(args.only))
    if getattr(args, "set", None):
        spec = with_settings(spec, args.set)
    out = Path(args.out) if args.out else DEFAULT_OUT / spec.name
    failed = False
    if not args.no_run:
        result = run_sweep(spec, out=out, backend=args.backend, workers=args.workers,
                           address=args.address, seeds=seeds, progress=not args.quiet)
        print(result.summary(), file=sys.stderr)
        failed = bool(result.failed)
    if spec.description:
        print(f"{spec.name}: {spec.description}")
    planned = plan(spec, seeds)
    records = records_of(planned, out)
    print(f"{len(records)} of {len(planned)} runs have records in {out}/")
    if spec.rows or spec.report:
        # a grid axis other than the stream and the method is named on every line (a row with
        # only its 2-epoch runs so far reads "dgma train.epochs=2", not "dgma")
        axes = tuple(k for k in spec.grid if k not in ("method", "scenario", "benchmark"))
        header, table = rows_table(list(spec.rows), spec.report.get("columns"), records, axes)
        print(markdown_table(header, table) if args.markdown else text_table(header, table))
        print()
        for line in flagged_runs(records):
            print(f"flagged: {line}")
    rows: dict[str, list[dict[str, Any]]] = {label: [] for label in spec.rows}
    for rec in records:
        rows.setdefault(rec.get("row"), []).append(rec)
    for path in protocol_plots(spec.report.get("plots", []), rows, out / "figures", spec.name):
        print(f"plot: {path}")
    claims = []
    if spec.claims:
        claims = [(c.text, c.measured, c.holds) for c in check_claims(spec.claims, rows)]
    outcome = Outcome(records=records, claims=claims)
    return _report(args, spec.targets, outcome, out, failed=failed, planned=planned)


def _report(args, targets: Path | None, outcome: Outcome, out,
            failed: bool, planned=None) -> int:
    bad = failed
    if targets is not None:
        wanted = read_targets(targets)
        if planned is not None:
            wanted = planned_targets(wanted, planned)
        rows = compare(wanted, outcome.records)
        print(format_rows(rows))
        counts = {s: sum(r["status"] == s for r in rows) for s in ("pass", "FAIL", "missing")}
        print(f"\n{counts['pass']} pass, {counts['FAIL']} fail, {counts['missing']} missing "
              f"(mean ± sample std over seeds; a row passes when |mean - target| <= tolerance, "
              f"or for ≥ / ≤ rows when the mean is on the stated side; p (Welch): two-sided "
              f"Welch t-test of our seeds against the paper's, where its s.e.m. and seed count "
              f"are known)")
        bad = bad or bool(counts["FAIL"] or counts["missing"])
    if outcome.claims:
        print()
        print(format_claims(outcome.claims))
        held = [h for _, _, h in outcome.claims]
        unchecked = f", {held.count(None)} not checked automatically" if None in held else ""
        print(f"\n{held.count(True)} hold, {held.count(False)} fail{unchecked} (the paper gives "
              "no numbers for these claims)")
        bad = bad or False in held
    if targets is None and not outcome.claims:
        print("this protocol has no targets file; records are in", out)
    if args.strict and bad:
        return 1
    return 0


def register(subparsers) -> None:
    from .sweep import add_only_argument

    p = subparsers.add_parser(
        "reproduce",
        help="run a committed protocol (or reuse its records) and compare with its targets",
    )
    p.add_argument("name", nargs="?", help="protocol name (omit, or --list, to list them)")
    p.add_argument("--list", action="store_true", help="list the protocols and exit")
    p.add_argument("--seeds", default=None, help="seeds replacing the protocol's, e.g. 0,1,2")
    p.add_argument("--out", "-o", default=None,
                   help="folder for run records (default: runs/protocols/<name>)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="sweeps only")
    p.add_argument("--workers", "-j", type=int, default=None,
                   help="parallel runs (default: one per core)")
    p.add_argument("--address", default=None, help="Ray cluster address (sweeps only)")
    add_only_argument(p)  # sweeps only
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change a setting of every run of the protocol, repeatable (e.g. --set "
                   "device=cuda); the runs then get their own record names")
    p.add_argument("--no-run", action="store_true",
                   help="run nothing: tabulate the records that exist (e.g. while the protocol "
                   "runs elsewhere, or from committed records with --out)")
    p.add_argument("--markdown", action="store_true",
                   help="print the results table as Markdown (for the docs)")
    p.add_argument("--strict", action="store_true",
                   help="exit with code 1 when a row fails or is missing, or a claim fails")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reproduce)
