"""``neuroplastic metaplasticity <experiment>``: the experiments of Cho et al. (2024).

Each experiment reads its committed config (``configs/metaplasticity/<experiment>.yaml``),
applies ``key=value`` overrides, trains, writes ``<out>/<experiment>.{json,csv,md,png}`` and
prints the Markdown table with the wall time.
"""

from __future__ import annotations

import sys
import time


def register(subparsers) -> None:
    from .metaplasticity_experiments import EXPERIMENTS

    p = subparsers.add_parser(
        "metaplasticity",
        help="neuromimetic metaplasticity experiments (serial position, capacity, Hebb "
        "repetition, poisoning, frequency)",
    )
    p.add_argument("experiment", choices=EXPERIMENTS)
    p.add_argument("overrides", nargs="*", help="config overrides key=value (e.g. trials=1)")
    p.add_argument("--config", "-c", help="YAML config (default: the committed one)")
    p.add_argument("--trials", type=int, help="number of trials (item sequences)")
    p.add_argument("--out", "-o", default="runs/metaplasticity", help="output folder")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_metaplasticity)


def cmd_metaplasticity(args) -> int:
    from .metaplasticity_experiments import format_markdown, load_config, run_experiment

    overrides = list(args.overrides)
    if args.trials is not None:
        overrides.append(f"trials={args.trials}")
    params = load_config(args.experiment, args.config, overrides)  # fails before training

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    result = run_experiment(params, args.out, log)
    wall = time.perf_counter() - start
    print(f"## metaplasticity {args.experiment} ({params.trials} trials)\n")
    print(format_markdown(result["summary"]))
    print(f"\nwall time {wall:.1f} s; files in {args.out}/{args.experiment}.{{json,csv,md,png}}")
    return 0
