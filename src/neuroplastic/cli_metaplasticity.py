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


# --- `neuroplastic reproduce metaplasticity-<experiment>` --------------------------------------


def reproducible() -> dict:
    """``metaplasticity-<config stem>`` for every committed experiment config (see
    ``cli_reproduce``); configs without an ``experiment`` key are plain run configs."""
    import functools

    from . import metaplasticity_experiments as mx
    from .cli_reproduce import Protocol, targets_next_to
    from .config import read_yaml

    found = {}
    for path in sorted(mx.CONFIG_DIR.glob("*.yaml")):
        experiment = read_yaml(path).get("experiment")
        if experiment not in mx.EXPERIMENTS:
            continue
        first = path.read_text().splitlines()[0].lstrip("# ").split(":")[0]
        if first.count("(") > first.count(")"):  # a parenthesis going on to the next line
            first = first[: first.rfind(" (")]
        found[f"metaplasticity-{path.stem}"] = Protocol(
            area="metaplasticity",
            description=f"Cho et al. 2024, {first}",
            run=functools.partial(_reproduce, experiment, path),
            # a variant config (e.g. serial-position-effnet) gets its own folder
            out="runs/metaplasticity" + ("" if path.stem == experiment else f"/{path.stem}"),
            targets=targets_next_to(path),
            note="papers.md section 2: the paper has figures only (no numbers); its qualitative "
            "claims are checked above",
        )
    return found


def _reproduce(experiment, path, out, seeds=None, workers=None, quiet=False):
    """Runs the experiment, or reuses ``<out>/<experiment>.json`` when it was written with the
    same config; ``seeds`` must be consecutive (trial t uses seed + t)."""
    import json
    from pathlib import Path

    from . import metaplasticity_experiments as mx
    from . import params as params_mod
    from .cli_reproduce import Outcome
    from .errors import ConfigError

    overrides = []
    if seeds:
        if list(seeds) != list(range(seeds[0], seeds[0] + len(seeds))):
            raise ConfigError("metaplasticity trials use consecutive seeds (seed, seed + 1, ...); "
                              f"got {seeds}")
        overrides = [f"seed={seeds[0]}", f"trials={len(seeds)}"]
    from . import record as record_mod

    p = mx.load_config(experiment, path, overrides)
    saved = Path(out) / f"{p.experiment}.json"
    config = json.loads(json.dumps(params_mod.to_dict(p)))
    # validated: a damaged result file is named, moved aside and the experiment run again
    result = record_mod.read_valid(
        saved, move_damaged=True, fields={"config": dict}, what="metaplasticity result"
    )
    if result is not None and result.get("config") == config:
        print(f"{saved}: finished with this config, reused", file=sys.stderr)
    else:
        log = None if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
        result = mx.run_experiment(p, out, log)
    print(f"## metaplasticity {experiment} ({p.trials} trials)\n")
    print(mx.format_markdown(result["summary"]))
    return Outcome(claims=mx.claims(p.experiment, result["summary"]))
