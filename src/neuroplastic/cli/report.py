"""``neuroplastic report DIR``: Markdown + self-contained HTML from the run records in DIR."""

from __future__ import annotations


def cmd_report(args) -> int:
    from ..experiments.report import write_report

    md, page = write_report(args.folder, args.out)
    print(f"wrote {md}, {page} and {page.with_suffix('.csv')}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="settings and results tables (mean ± std over seeds), plots and a tidy CSV from "
        "every run record in a folder",
    )
    p.add_argument("folder", help="folder of run records (searched recursively)")
    p.add_argument("--out", "-o", default=None,
                   help="output prefix: writes PREFIX.md, PREFIX.html, PREFIX.csv (tidy: one "
                   "row per run and metric) and PREFIX_files/ (default: FOLDER/report)")
    p.set_defaults(func=cmd_report)
