"""The ``neuroplastic`` command line: run, list (sweep, tune, reproduce and report join later).

User errors (unknown names, bad config, missing data) print one clear line and exit with code 2;
an interrupted run says how to resume it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import NeuroplasticError

#: the methods compared by a bare `neuroplastic run`, those that are installed
DEFAULT_COMPARISON = ["finetune", "ewc", "si", "lwf", "replay", "der", "joint"]
DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.yaml"


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", help="config overrides key=value (e.g. train.epochs=3)")
    p.add_argument("--config", "-c", help="YAML config file")
    p.add_argument("--method", "-m", help="method name, or several separated by commas")
    p.add_argument("--benchmark", "-b", help="benchmark name, or a path to your own data")
    p.add_argument("--scenario", "-s", help="task | domain | class")
    p.add_argument("--model", help="model name (mlp, cnn, ...)")
    p.add_argument("--optimizer", help="optimizer name (adam, sgd, ...)")
    p.add_argument("--epochs", type=int, help="epochs per task")
    p.add_argument("--iterations", type=int, help="iterations per task (overrides epochs)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", help="seed, or several separated by commas")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--out", "-o", default="runs", help="folder for run records (default: runs)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--tensorboard", metavar="DIR", help="log loss and accuracies to TensorBoard")


def _flag_overrides(args) -> list[str]:
    pairs = [
        ("benchmark", args.benchmark),
        ("scenario", args.scenario),
        ("model", args.model),
        ("optimizer", args.optimizer),
        ("train.epochs", args.epochs),
        ("train.iterations", args.iterations),
        ("train.batch_size", args.batch_size),
        ("device", args.device),
    ]
    return [f"{k}={v}" for k, v in pairs if v is not None]


def cmd_run(args) -> int:
    from . import config as config_mod
    from .experiment import resolve, run_resolved
    from .registry import METHODS

    bare = args.config is None and args.method is None and not args.overrides
    config_path = args.config or (DEFAULT_CONFIG if bare else None)
    if args.method:
        methods = [m.strip() for m in args.method.split(",") if m.strip()]
    elif bare:
        methods = [m for m in DEFAULT_COMPARISON if m in METHODS]
    else:
        methods = [None]
    seeds = [s.strip() for s in str(args.seed).split(",")] if args.seed is not None else [None]
    flags = _flag_overrides(args)

    # resolve every run before the first one trains: a typo fails in a second, not an hour in
    runs = []
    for method in methods:
        for seed in seeds:
            extra = ([f"method={method}"] if method else []) + ([f"seed={seed}"] if seed else [])
            # --method replaces the config file's method block; method.* overrides then apply
            cfg = config_mod.load(config_path, flags + extra + list(args.overrides))
            runs.append(resolve(cfg))

    rows = []
    for i, resolved in enumerate(runs):
        cfg = resolved.config
        print(
            f"[{i + 1}/{len(runs)}] {cfg['method']['name']} on {cfg['benchmark']['name']} "
            f"({cfg['scenario']}-incremental), seed {cfg['seed']}",
            file=sys.stderr,
        )
        hooks = {}
        if args.tensorboard:
            from .tb_logger import TensorBoardLogger

            logger = TensorBoardLogger(args.tensorboard, resolved.name)
            hooks = {"on_step": logger.on_step, "on_task_end": logger.on_task_end}
        try:
            rec = run_resolved(
                resolved, out=args.out, resume=args.resume, progress=not args.quiet, **hooks
            )
        finally:
            if args.tensorboard:
                logger.close()
        rows.append(rec)
    print(format_table(rows))
    print(f"\nrun records in {args.out}/", file=sys.stderr)
    return 0


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:6.2f}"


def format_table(records: list[dict]) -> str:
    header = (
        f"{'method':<14} {'scenario':<8} {'seed':>4} {'avg acc %':>9} {'forget %':>8} "
        f"{'BWT %':>7} {'train s':>8} {'state MB':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in records:
        m = r["metrics"]
        lines.append(
            f"{r['config']['method']['name']:<14} {r['config']['scenario']:<8} {r['seed']:>4} "
            f"{_pct(m['average_accuracy']):>9} {_pct(m['forgetting']):>8} {_pct(m['bwt']):>7} "
            f"{m['train_seconds']:>8.2f} {m['state_bytes'] / 1e6:>8.2f}"
        )
    return "\n".join(lines)


def cmd_list(args) -> int:
    from .experiment import catalogue

    for section, items in catalogue().items():
        print(f"{section}:")
        width = max((len(n) for n, _ in items), default=0)
        for name, summary in items:
            print(f"  {name:<{width}}  {summary}")
        print()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuroplastic", description="Brain-inspired continual learning on real benchmarks."
    )
    sub = parser.add_subparsers(dest="command")
    p_run = sub.add_parser("run", help="train through a stream of tasks and write a run record")
    _add_run_args(p_run)
    p_run.set_defaults(func=cmd_run)
    p_list = sub.add_parser("list", help="methods, benchmarks, scenarios, models, optimizers")
    p_list.set_defaults(func=cmd_list)
    for extension in _extensions():
        extension(sub)
    return parser


def _extensions():
    """Subcommands that live in their own modules: every ``neuroplastic/cli_*.py`` defines
    ``register(subparsers)`` (sweep, tune, reproduce, report, the papers' experiments)."""
    import importlib
    import pkgutil

    import neuroplastic

    names = sorted(m.name for m in pkgutil.iter_modules(neuroplastic.__path__))
    return [
        importlib.import_module(f"neuroplastic.{n}").register for n in names if n.startswith("cli_")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except NeuroplasticError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted; finished tasks are checkpointed: rerun with --resume", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
