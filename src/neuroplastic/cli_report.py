"""``neuroplastic report DIR``: Markdown + self-contained HTML from the run records in DIR."""

from __future__ import annotations


def cmd_report(args) -> int:
    from .report import write_report

    md, page = write_report(args.folder, args.out)
    print(f"wrote {md} and {page}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="tables (mean ± std over seeds) and plots from every run record in a folder",
    )
    p.add_argument("folder", help="folder of run records (searched recursively)")
    p.add_argument("--out", "-o", default=None,
                   help="output prefix: writes PREFIX.md, PREFIX.html and PREFIX_files/ "
                   "(default: FOLDER/report)")
    p.set_defaults(func=cmd_report)
