"""``neuroplastic classp``: the CLASSP comparison tables (Ludwig 2024) on the library's streams.

The protocol is committed YAML: ``configs/classp/comparison.yaml`` names every stream's base
config and its rows (CLASSP paper/official rules, ablations, SGD, Adam, AdaGrad, EWC, joint).
Each (row, seed) is one ordinary run whose JSON record lands in ``<out>/<stream>/``; runs whose
record exists are not run again, so an interrupted comparison continues where it stopped and
``--report`` rebuilds the table from the records alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).parent / "configs" / "classp"
COMPARISON = CONFIG_DIR / "comparison.yaml"


def load_comparison(path: Path = COMPARISON) -> dict[str, Any]:
    from .config import read_yaml

    return read_yaml(path)["streams"]


def row_config(stream: dict[str, Any], row: str, seed: int) -> dict[str, Any]:
    """The full config of one row of a stream: base file, then the row's changes, then seed."""
    from . import config as config_mod
    from .errors import UnknownNameError

    if row not in stream["rows"]:
        raise UnknownNameError("comparison row", row, list(stream["rows"]))
    base = config_mod.normalise(config_mod.read_yaml(CONFIG_DIR / stream["config"]))
    change = config_mod.normalise(stream["rows"][row] or {})
    return config_mod.merge(base, {**change, "seed": seed})


def _record_path(cfg: dict[str, Any], out: Path) -> Path:
    from . import config as config_mod
    from .experiment import resolve

    return out / f"{resolve(config_mod.load(None, None, base=cfg)).name}.json"


def _run_one(cfg: dict[str, Any], out: str) -> str:
    from .experiment import run

    start = time.perf_counter()
    run(cfg, out=out, progress=False, skip_existing=True)
    return f"{time.perf_counter() - start:.0f} s"


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.1f} ± {100 * sd:.1f}"


def _bytes(n: float) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def table(stream_name: str, rows: dict[str, list[dict]], missing: dict[str, str]) -> str:
    """Markdown: the summary table, then each row's mean accuracy matrix."""
    lines = [
        f"### {stream_name}",
        "",
        "| row | seeds | average accuracy % | forgetting % | final accuracy per task % "
        "| state bytes | state / model | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row, recs in rows.items():
        if not recs:
            lines.append(f"| {row} | 0 | missing: {missing.get(row, 'not run')} | | | | | |")
            continue
        m = [r["metrics"] for r in recs]
        final = [
            statistics.fmean(r["accuracy_matrix"][-1][j] for r in recs)
            for j in range(len(recs[0]["accuracy_matrix"][-1]))
        ]
        state = statistics.fmean(x["state_bytes"] for x in m)
        ratio = state / statistics.fmean(x["model_bytes"] for x in m)
        lines.append(
            f"| {row} | {len(recs)} | {_mean_sd([x['average_accuracy'] for x in m])} "
            f"| {_mean_sd([x['forgetting'] for x in m])} "
            f"| {' / '.join(f'{100 * a:.1f}' for a in final)} | {_bytes(state)} "
            f"| {ratio:.2f} | {statistics.fmean(x['train_seconds'] for x in m):.0f} |"
        )
    lines += ["", "Mean accuracy matrices (row i: after training task i; columns: tasks):", ""]
    for row, recs in rows.items():
        if not recs:
            continue
        n = len(recs[0]["accuracy_matrix"])
        mean = [
            [statistics.fmean(r["accuracy_matrix"][i][j] for r in recs) for j in range(n)]
            for i in range(n)
        ]
        text = " ; ".join(" ".join(f"{100 * a:5.1f}" for a in line) for line in mean)
        lines.append(f"- `{row}`: {text}")
    return "\n".join(lines) + "\n"


def compare(
    stream_names: list[str],
    seeds: list[int],
    out: Path,
    only_rows: list[str] | None = None,
    jobs: int = 1,
    report_only: bool = False,
    overrides: list[str] | None = None,
) -> str:
    from . import config as config_mod
    from .errors import NeuroplasticError, UnknownNameError
    from .record import read_valid

    streams = load_comparison()
    for name in stream_names:
        if name not in streams:
            raise UnknownNameError("classp stream", name, list(streams))
    extra = {}
    for text in overrides or []:
        extra = config_mod.merge(extra, config_mod.parse_override(text))
    # resolve every run first: a typo fails before anything trains
    plan: list[tuple[str, str, dict, Path]] = []
    missing: dict[tuple[str, str], str] = {}
    # seed-major order: a comparison stopped early still has every row for its first seeds
    for seed in seeds:
        for name in stream_names:
            for row in only_rows or list(streams[name]["rows"]):
                if (name, row) in missing:
                    continue
                cfg = config_mod.merge(row_config(streams[name], row, seed), extra)
                try:
                    path = _record_path(cfg, out / name)
                except UnknownNameError as exc:  # e.g. a method not installed yet
                    missing[(name, row)] = str(exc).split(";")[0]
                    continue
                plan.append((name, row, cfg, path))
    # a damaged record is moved aside (<name>.json.damaged) and its run done again
    todo = [(n, r, c, p) for n, r, c, p in plan if read_valid(p, move_damaged=True) is None]
    if todo and not report_only:
        print(f"{len(todo)} runs to do ({len(plan) - len(todo)} already recorded)", file=sys.stderr)
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(_run_one, c, str(out / n)): (n, r, c) for n, r, c, _ in todo}
            for future, (n, r, c) in futures.items():
                try:
                    took = future.result()
                    print(f"done {n} {r} seed {c['seed']} ({took})", file=sys.stderr)
                except NeuroplasticError as exc:
                    missing[(n, r)] = str(exc)
                    print(f"failed {n} {r} seed {c['seed']}: {exc}", file=sys.stderr)
    parts = []
    for name in stream_names:
        rows: dict[str, list[dict]] = {}
        for n, row, _, path in plan:
            if n == name:
                rows.setdefault(row, [])
                rec = read_valid(path)
                if rec is not None:
                    rows[row].append(rec)
        for n, row in missing:
            if n == name:
                rows.setdefault(row, [])
        parts.append(table(name, rows, {r: w for (n, r), w in missing.items() if n == name}))
    return "\n".join(parts)


def cmd_classp(args) -> int:
    from .errors import ConfigError

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        message = f"--seeds must be integers separated by commas, got {args.seeds!r}"
        raise ConfigError(message) from None
    streams = [s.strip() for s in args.stream.split(",") if s.strip()]
    rows = [r.strip() for r in args.rows.split(",")] if args.rows else None
    start = time.perf_counter()
    text = compare(
        streams, seeds, Path(args.out), rows, args.jobs, args.report, list(args.overrides)
    )
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    print(f"wall time {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "classp",
        help="CLASSP (Ludwig 2024) against SGD/Adam/AdaGrad/EWC/joint: run and tabulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "overrides", nargs="*", help="config overrides applied to every run (key=value)"
    )
    p.add_argument(
        "--stream",
        default="vision",
        help="comparison stream(s), comma-separated: vision, vision-fashion, permuted-mnist, "
        "split-mnist, sentiment-transformer, sentiment-minilm",
    )
    p.add_argument("--seeds", default="0,1,2", help="seeds, comma-separated (default 0,1,2)")
    p.add_argument("--rows", help="only these rows, comma-separated (default: all)")
    p.add_argument("--out", default="runs/classp", help="record folder (default runs/classp)")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (default 1)")
    p.add_argument("--report", action="store_true", help="tabulate existing records only")
    p.add_argument("--markdown", help="also write the tables to this file")
    p.set_defaults(func=cmd_classp)


# --- `neuroplastic reproduce classp-<stream>` --------------------------------------------------

CLASSP_ROWS = ("classp-paper", "classp-official")
BASELINE_ROWS = ("sgd", "adam", "adagrad", "ewc")


def reproducible() -> dict[str, Any]:
    """``classp-<stream>`` for every stream of the comparison (see ``cli_reproduce``)."""
    import functools

    from . import config as config_mod
    from .cli_reproduce import Protocol, targets_next_to

    found = {}
    for name, stream in load_comparison().items():
        base = config_mod.read_yaml(CONFIG_DIR / stream["config"])
        bench = base.get("benchmark")
        bench = bench.get("name") if isinstance(bench, dict) else bench
        found[f"classp-{name}"] = Protocol(
            area="classp",
            description=f"CLASSP (Ludwig 2024) vs SGD/Adam/AdaGrad/EWC/joint: {bench} "
            f"({base.get('scenario')}-IL), {len(stream['rows'])} rows",
            run=functools.partial(_reproduce, name),
            out="runs/classp",
            targets=targets_next_to(CONFIG_DIR / Path(stream["config"]).name),
            note="papers.md section 5: the paper's numbers are NOT FOUND; only its claims "
            "(accuracy, forgetting, memory vs the baselines) are checked",
        )
    return found


def stream_records(stream_name: str, seeds: list[int], out: Path) -> list[dict[str, Any]]:
    """The finished records of one stream, each tagged with its table row (``row``)."""
    from .errors import UnknownNameError
    from .record import read_valid

    stream = load_comparison()[stream_name]
    found = []
    for seed in seeds:
        for row in stream["rows"]:
            try:
                path = _record_path(row_config(stream, row, seed), out / stream_name)
            except UnknownNameError:  # a method not installed: its row stays missing
                continue
            rec = read_valid(path)
            if rec is not None:
                found.append({**rec, "row": row})
    return found


def claims(records: list[dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    """Ludwig 2024's claims (papers.md section 5): CLASSP beats SGD, Adam, AdaGrad and EWC in
    accuracy and forgetting, and needs less memory than EWC. Checked on the mean over seeds."""
    by_row: dict[str, list[dict]] = {}
    for r in records:
        by_row.setdefault(r["row"], []).append(r["metrics"])

    def mean(row: str, key: str) -> float:
        return statistics.fmean(m[key] for m in by_row[row])

    out = []
    for row in [r for r in CLASSP_ROWS if r in by_row]:
        others = [b for b in BASELINE_ROWS if b in by_row]
        for key, word, sign in (("average_accuracy", "higher average accuracy", 1),
                                ("forgetting", "less forgetting", -1)):
            if not others:
                continue
            mine = mean(row, key)
            text = ", ".join(f"{b} {100 * mean(b, key):.1f}" for b in others)
            holds = all(sign * (mine - mean(b, key)) > 0 for b in others)
            out.append((f"{row}: {word} than {'/'.join(others)}",
                        f"{100 * mine:.1f} % vs {text}", holds))
        if "ewc" in by_row:
            mine, ewc = mean(row, "state_bytes"), mean("ewc", "state_bytes")
            out.append((f"{row}: smaller memory footprint than EWC (method state bytes)",
                        f"{_bytes(mine)} vs {_bytes(ewc)}", mine < ewc))
    return out


def _reproduce(stream_name: str, out: Path, seeds: list[int] | None = None,
               workers: int | None = None, quiet: bool = False):
    from .cli_reproduce import Outcome

    seeds = seeds or [0, 1, 2]  # the subcommand's default
    args = argparse.Namespace(stream=stream_name, seeds=",".join(map(str, seeds)), rows=None,
                              out=str(out), jobs=workers or 1, report=False, markdown=None,
                              overrides=[])
    cmd_classp(args)
    records = stream_records(stream_name, seeds, Path(out))
    return Outcome(records=records, claims=claims(records))
