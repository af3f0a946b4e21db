"""``neuroplastic run``: train one or several configs (methods x seeds) and print a table.

A bare ``neuroplastic run`` is the quickstart preset's comparison of methods; every run of a
command line is resolved (validated) before the first one trains.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: the methods compared by a bare `neuroplastic run`, those that are installed
DEFAULT_COMPARISON = ["finetune", "ewc", "si", "lwf", "replay", "der", "joint"]
#: named presets: partial configs applied on top of the library defaults (config.DEFAULTS and
#: each component's Params) and below --config and every override
PRESETS_DIR = Path(__file__).parent.parent / "configs" / "presets"
#: the preset of a bare `neuroplastic run` (no --config, --method, --preset or key=value)
BARE_PRESET = "quickstart"
DEFAULT_CONFIG = PRESETS_DIR / f"{BARE_PRESET}.yaml"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path | None:
    """The file of a named preset (``none``: no preset, the library defaults)."""
    from ..errors import UnknownNameError

    if name == "none":
        return None
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        raise UnknownNameError("preset", name, [*preset_names(), "none"])
    return path


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "overrides",
        nargs="*",
        help="config overrides key=value (e.g. train.epochs=3), anywhere on the line",
    )
    p.add_argument("--config", "-c", help="YAML config file")
    p.add_argument(
        "--preset",
        help="named preset applied below --config and overrides: quickstart (what a bare "
        "`neuroplastic run` uses) or none (the library defaults; the default whenever --config, "
        "--method or an override is given)",
    )
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
    p.add_argument("--save-model", action="store_true",
                   help="also keep the trained model's weights: <out>/models/<run name>.pt (a "
                   "state dict, named in the record as model_file)")
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


def plan_runs(args) -> tuple[list, str, bool]:
    """Every run of a ``run`` command line, resolved and validated before the first trains:
    (runs, preset name, whether it is the preset's default method comparison)."""
    from .. import config as config_mod
    from ..experiment import resolve
    from ..registry import METHODS

    overrides = list(args.overrides)
    if args.config is None and overrides and _is_config_file(overrides[0]):
        # `neuroplastic run my.yaml key=value`: a YAML file where the overrides start
        args.config = overrides.pop(0)
    bare = args.config is None and args.method is None and not overrides and args.preset is None
    preset = args.preset or (BARE_PRESET if bare else "none")
    base = config_mod.read_yaml(preset_path(preset)) if preset != "none" else None
    # `--preset quickstart` alone reproduces the bare run exactly, method list included
    comparison = (
        preset == BARE_PRESET
        and args.config is None
        and args.method is None
        and not any(o.partition("=")[0].split(".")[0] == "method" for o in overrides)
    )
    if args.method is not None:  # `--method ""` is a mistake, not a request for the default
        methods = comma_list(args.method, "--method", "e.g. --method ewc,si")
    elif comparison:
        methods = [m for m in DEFAULT_COMPARISON if m in METHODS]
    else:
        methods = [None]
    seeds = (
        comma_list(str(args.seed), "--seed", "e.g. --seed 0,1,2")
        if args.seed is not None
        else [None]
    )
    flags = _flag_overrides(args)

    # resolve every run before the first one trains: a typo fails in a second, not an hour in
    runs = []
    for method in methods:
        for seed in seeds:
            extra = ([f"method={method}"] if method else []) + ([f"seed={seed}"] if seed else [])
            # --method replaces the config file's method block; method.* overrides then apply
            cfg = config_mod.load(args.config, flags + extra + overrides, base=base)
            runs.append(resolve(cfg))
    return runs, preset, comparison


def comma_list(text: str, flag: str, example: str) -> list[str]:
    """The values of a comma-separated flag; an empty or repeated value is an error (``--seed
    0,,1`` used to run seed 0 twice, ``--method ""`` to run the default method)."""
    from ..errors import ConfigError

    values = [v.strip() for v in text.split(",")]
    if not text.strip() or "" in values:
        raise ConfigError(f"{flag} {text!r} has an empty value; give names or numbers ({example})")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ConfigError(f"{flag} {text!r} lists {', '.join(repeated)} more than once")
    return values


def cmd_run(args) -> int:
    from ..experiment import run_resolved
    from ..preflight import check_before_training

    runs, preset, comparison = plan_runs(args)
    if len(runs) > 1 and not args.resume:
        # an update rule whose defaults would not train refuses before the first run trains
        for resolved in runs:
            check_before_training(resolved)
    if comparison:
        # say where the settings come from, and how to get the same numbers from a flag
        shown = ",".join(dict.fromkeys(r.config["method"]["name"] for r in runs))
        print(
            f"preset {preset} ({_settings_line(runs[0].config)}); the same as "
            f"`neuroplastic run --preset {preset} --method {shown}`",
            file=sys.stderr,
        )

    rows = []
    for i, resolved in enumerate(runs):
        cfg = resolved.config
        print(
            f"[{i + 1}/{len(runs)}] {cfg['method']['name']} on {cfg['benchmark']['name']} "
            f"({cfg['scenario']}-incremental), seed {cfg['seed']}: {_settings_line(cfg)}",
            file=sys.stderr,
        )
        hooks = {}
        if args.tensorboard:
            from ..tb_logger import TensorBoardLogger

            logger = TensorBoardLogger(args.tensorboard, resolved.name)
            hooks = {"on_step": logger.on_step, "on_task_end": logger.on_task_end}
        try:
            rec = run_resolved(
                resolved, out=args.out, resume=args.resume, progress=not args.quiet,
                save_model=args.save_model, **hooks
            )
        finally:
            if args.tensorboard:
                logger.close()
        rows.append(rec)
    print(format_table(rows))
    print(f"\nrun records in {args.out}/", file=sys.stderr)
    return 0


def _settings_line(cfg: dict) -> str:
    """The settings a reader needs to compare runs: epochs, batch, model, optimizer."""
    train = cfg["train"]
    budget = (
        f"{train['iterations']} iterations/task"
        if train.get("iterations")
        else f"{train['epochs']} epoch{'s' if train['epochs'] != 1 else ''}/task"
    )
    model = cfg["model"]
    shape = f" {'x'.join(map(str, model['hidden']))}" if model.get("hidden") else ""
    opt = cfg["optimizer"]
    lr = f" lr {opt['lr']:g}" if isinstance(opt.get("lr"), (int, float)) else ""
    return f"{budget}, batch {train['batch_size']}, {model['name']}{shape}, {opt['name']}{lr}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:6.2f}"


def format_table(records: list[dict]) -> str:
    """One row per run: method, optimizer and every setting that differs between the rows
    (so two rows that differ only in their update rule are never both labelled "finetune")."""
    from ..experiments.aggregate import differing_settings

    differ = differing_settings(
        [r["config"] for r in records], skip={"seed", "method.name", "optimizer.name"}
    )
    labels = [
        " ".join(f"{k}={v}" for k, v in differ_row.items()) for differ_row in differ["rows"]
    ]
    optimizers = [r["config"]["optimizer"]["name"] for r in records]
    opt_width = max([9, *map(len, optimizers)])
    header = (
        f"{'method':<14} {'optimizer':<{opt_width}} {'scenario':<8} {'seed':>4} {'avg acc %':>9} "
        f"{'forget %':>8} {'BWT %':>7} {'train s':>8} {'state MB':>8}"
    )
    if any(labels):
        header += "  differing settings"
    lines = [header, "-" * len(header)]
    for r, label, opt in zip(records, labels, optimizers, strict=True):
        m = r["metrics"]
        lines.append(
            f"{r['config']['method']['name']:<14} {opt:<{opt_width}} {r['config']['scenario']:<8} "
            f"{r['seed']:>4} {_pct(m['average_accuracy']):>9} {_pct(m['forgetting']):>8} "
            f"{_pct(m['bwt']):>7} {m['train_seconds']:>8.2f} {m['state_bytes'] / 1e6:>8.2f}"
            + (f"  {label}" if label else "")
        )
    return "\n".join(lines)


def _is_config_file(token: str) -> bool:
    return "=" not in token and token.endswith((".yaml", ".yml"))


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="train through a stream of tasks and write a run record")
    _add_run_args(p)
    p.set_defaults(func=cmd_run)
