"""Issue 23, a researcher's first hour: one set of defaults and a named preset, overrides
anywhere on the line, help examples that parse, options that can be listed."""

from __future__ import annotations

import argparse

import pytest

from neuroplastic import config as config_mod
from neuroplastic import record as record_mod
from neuroplastic.cli import build_parser, main, parse_args
from neuroplastic.cli.helptext import EXAMPLES, subparsers_of
from neuroplastic.cli.run import (
    BARE_PRESET,
    DEFAULT_COMPARISON,
    format_table,
    plan_runs,
    preset_path,
)
from neuroplastic.errors import UnknownNameError
from neuroplastic.experiment import resolve


def _plan(argv):
    return plan_runs(parse_args(build_parser(), ["run", *argv]))


def test_bare_run_is_the_quickstart_preset_and_keeps_its_hashes():
    bare, preset, comparison = _plan([])
    assert preset == BARE_PRESET and comparison
    assert [r.config["method"]["name"] for r in bare] == DEFAULT_COMPARISON
    # --preset quickstart alone reproduces the bare run exactly
    flag, _, _ = _plan(["--preset", "quickstart"])
    assert [r.name for r in flag] == [r.name for r in bare]
    # ... and so does the preset file as a config, per method
    for r in bare:
        method = r.config["method"]["name"]
        from_file = resolve(config_mod.load(preset_path("quickstart"), [f"method={method}"]))
        assert record_mod.config_hash(from_file.config) == record_mod.config_hash(r.config)
    # and one row of it by flag: the replay row of the bare table, same run name
    (replay,), _, _ = _plan(["--preset", "quickstart", "--method", "replay"])
    assert replay.name == next(r.name for r in bare if r.config["method"]["name"] == "replay")
    assert replay.config["train"]["epochs"] == 10 and replay.config["train"]["batch_size"] == 32


def test_without_a_preset_the_library_defaults_apply():
    (run,), preset, comparison = _plan(["--method", "replay"])
    assert preset == "none" and not comparison
    assert run.config == resolve(config_mod.load(None, ["method=replay"])).config
    assert run.config["train"]["epochs"] == 1 and run.config["train"]["batch_size"] == 128


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="quickstart"):
        _plan(["--preset", "nope"])


def test_overrides_anywhere_on_the_line():
    args = parse_args(
        build_parser(),
        ["run", "--benchmark", "split-digits", "benchmark.n_tasks=2", "--method", "finetune",
         "--epochs", "2", "threads=1", "seed=3"],
    )
    assert args.overrides == ["benchmark.n_tasks=2", "threads=1", "seed=3"]
    (run,), _, _ = plan_runs(args)
    assert run.config["threads"] == 1 and run.config["seed"] == 3
    assert run.config["benchmark"]["n_tasks"] == 2 and run.config["train"]["epochs"] == 2


def test_a_config_file_may_come_first_among_the_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: ewc\ntrain: {epochs: 2}\n")
    (run,), _, _ = _plan([str(path), "train.batch_size=16"])
    assert run.config["method"]["name"] == "ewc" and run.config["train"]["batch_size"] == 16


def test_stray_arguments_are_still_rejected(capsys):
    with pytest.raises(SystemExit):
        parse_args(build_parser(), ["run", "--bogus"])
    with pytest.raises(SystemExit):
        parse_args(build_parser(), ["list", "a=1"])  # list takes no overrides
    assert "unrecognized arguments" in capsys.readouterr().err


def test_every_subcommand_has_examples_and_each_parses():
    parser = build_parser()
    paths = [path for path, _ in subparsers_of(parser)]
    assert set(paths) <= set(EXAMPLES), f"no examples for {set(paths) - set(EXAMPLES)}"
    for path, sub in subparsers_of(parser):
        assert "examples:" in sub.format_help(), path
    for lines in EXAMPLES.values():
        for line in lines:
            argv = line.split("#")[0].split()[1:]
            if not argv or {"...", "FILE.yaml", "COMMAND", "my.yaml"} & set(argv):
                continue
            args = parse_args(build_parser(), argv)  # parses, or the test fails with usage
            assert isinstance(args, argparse.Namespace)


def test_run_table_shows_the_optimizer_and_what_differs():
    def rec(method, opt, **opt_settings):
        return {
            "config": {"method": {"name": method}, "optimizer": {"name": opt, **opt_settings},
                       "scenario": "class", "train": {"epochs": 1}},
            "seed": 0,
            "metrics": {"average_accuracy": 0.5, "forgetting": 0.1, "bwt": -0.1,
                        "train_seconds": 1.0, "state_bytes": 1000},
        }

    text = format_table([rec("finetune", "classp", threshold=0.5),
                         rec("finetune", "classp", threshold=0.0), rec("finetune", "adam")])
    lines = text.splitlines()
    assert "optimizer" in lines[0] and "differing settings" in lines[0]
    assert "classp" in lines[2] and "optimizer.threshold=0.5" in lines[2]
    assert "optimizer.threshold=0.0" in lines[3] and "adam" in lines[4]
    # methods' own hyper-parameters are not "differences" between different methods
    text = format_table([rec("finetune", "adam"), rec("ewc", "adam")])
    assert "differing settings" not in text


def test_show_lists_text_table_columns_with_defaults(capsys):
    assert main(["show", "benchmark", "text-table"]) == 0
    out = capsys.readouterr().out
    for key in ("text_column = 'text'", "label_column = 'label'", "domain_column = None"):
        assert key in out
    assert "a column named ``domain``" in " ".join(out.split())


def test_list_never_cuts_a_summary(capsys):
    assert main(["list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    from neuroplastic.registry import BENCHMARKS, METHODS

    for entry in [*METHODS.entries(), *BENCHMARKS.entries()]:
        assert entry.summary in out  # whole, though wrapped
    assert BENCHMARKS.get("mnist-permuted-pair").summary.endswith("stand-in).")


def test_text_table_picks_up_a_domain_column(tmp_path):
    from neuroplastic.experiment import build_stream

    path = tmp_path / "t.csv"
    rows = ["text,label,domain"]
    for d in ("books", "films"):
        for i in range(20):
            rows += [f"good {d} {i},pos,{d}", f"bad {d} {i},neg,{d}"]
    path.write_text("\n".join(rows) + "\n")
    auto = resolve(config_mod.load(None, [f"benchmark={path}", "scenario=domain"]))
    assert auto.config["benchmark"]["domain_column"] is None  # resolved config as before
    assert [t.name for t in build_stream(auto).tasks] == ["books", "films"]
    off = resolve(config_mod.load(None, [f"benchmark={path}", "benchmark.domain_column=''",
                                         "benchmark.classes_per_task=2"]))
    assert len(build_stream(off).tasks) == 1
