"""``neuroplastic sweep FILE.yaml``: run a grid of configs on a process pool or on Ray."""

from __future__ import annotations

import sys


def parse_seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    import re

    from ..errors import ConfigError

    # commas or spaces between seeds; an empty item (0,,1 or a trailing comma) is a typo
    items = re.split(r"\s*,\s*|\s+", text.strip())
    try:
        seeds = [int(s) for s in items]
    except ValueError:
        raise ConfigError(
            f"--seeds must be integers separated by commas (e.g. 0,1,2), got {text!r}"
        ) from None
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:  # a seed listed twice would silently run once; say so instead
        raise ConfigError(f"--seeds {text!r} lists {repeated} more than once")
    return seeds


def parse_only(items: list[str] | None) -> dict[str, list[str]]:
    """``--only method=ewc,si --only scenario=domain`` -> {axis: [values]}."""
    from ..errors import ConfigError

    only: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--only takes AXIS=VALUE[,VALUE...], got {item!r}")
        only.setdefault(key.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return only


def add_only_argument(p) -> None:
    p.add_argument("--only", action="append", metavar="AXIS=V1,V2",
                   help="run only these values of a grid axis, repeatable (e.g. --only "
                   "scenario=domain --only method=ewc,si); the runs keep the names they have in "
                   "the whole sweep")


def cmd_sweep(args) -> int:
    from ..experiments.sweep import load_sweep, plan, restrict, run_sweep

    spec = restrict(load_sweep(args.file), parse_only(args.only))
    if args.dry_run:
        for run in plan(spec, parse_seeds(args.seeds)):
            print(f"{run.name}  [{run.label}]")
        return 0
    result = run_sweep(
        spec,
        out=args.out,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        tensorboard=args.tensorboard,
        seeds=parse_seeds(args.seeds),
        progress=not args.quiet,
    )
    print(result.summary(), file=sys.stderr)
    return 1 if result.failed else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="run a grid of configs x seeds (process pool or Ray); finished runs are skipped",
        description="Run every config of a sweep file. Runs are named by the hash of their "
        "resolved config; a run whose record exists is skipped, so rerunning an interrupted "
        "sweep completes only the missing runs. Failed runs are written as <name>.failed.json.",
    )
    p.add_argument("file", help="sweep file (YAML: base, grid, seeds, overrides)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local process pool (default) or Ray")
    p.add_argument("--workers", "-j", type=int, default=None,
                   help="parallel runs (default: the cores available; Ray: the cluster's CPUs)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (e.g. ray://head:10001 or auto); default: a local "
                   "Ray instance")
    p.add_argument("--out", "-o", default="runs", help="folder for run records (default: runs)")
    p.add_argument("--seeds", default=None, help="seeds replacing the file's list, e.g. 0,1,2")
    p.add_argument("--tensorboard", default=None, help="also log every run to this TensorBoard "
                   "folder")
    add_only_argument(p)
    p.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
