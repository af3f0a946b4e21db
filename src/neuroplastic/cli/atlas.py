"""``neuroplastic atlas RUN_OR_FOLDER ...``: the synapse atlas of one or several runs."""

from __future__ import annotations


def cmd_atlas(args) -> int:
    from ..experiments.atlas import write_atlas

    md, page = write_atlas(args.paths, args.out, args.state)
    print(f"wrote {md} and {page}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "atlas",
        help="the synapse atlas: per layer and task, what each run did to its synapses "
        "(runs with evaluators=[synapse-atlas]), one run or several side by side",
    )
    p.add_argument("paths", nargs="+", metavar="RUN_OR_FOLDER",
                   help="run records (.json) or folders of them (searched recursively)")
    p.add_argument("--out", "-o", default=None,
                   help="output prefix: writes PREFIX.md, PREFIX.html and PREFIX_files/ "
                   "(default: atlas in the first folder, or beside the first record)")
    p.add_argument("--state", default=None,
                   help="the state to draw where a run has it (e.g. fisher, f_meta, "
                   "accumulator); default: each run's first consolidation state")
    p.set_defaults(func=cmd_atlas)
