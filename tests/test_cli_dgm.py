"""`neuroplastic dgm`: the committed DGM protocols, run through the sweep machinery."""

from __future__ import annotations

import inspect
import json

import pytest
import torch

from neuroplastic import cli_dgm
from neuroplastic import config as config_mod
from neuroplastic.cli import build_parser, main
from neuroplastic.experiment import resolve, run_resolved

# 2 tasks of one 8x8-digit class, 20 training images per class, 1 epoch: seconds, not hours
TINY = [
    "--set",
    "benchmark={name: split-digits, classes_per_task: 1, n_tasks: 2, train_per_class: 20, "
    "test_per_class: 10}",
    "--set",
    "train.epochs=1",
]


@pytest.fixture(autouse=True)
def _threads():
    # the in-process run below sets its config's `threads: 1`; leave the process as found
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_subcommands_parse():
    args = build_parser().parse_args(
        ["dgm", "run", "mnist5", "--methods", "dgmw,dgr", "--seeds", "0,1", "--workers", "2",
         "--out", "x", "--set", "train.epochs=1", "--set", "method.niter=1", "-q"]
    )  # fmt: skip
    assert args.func is cli_dgm.cmd_run and args.protocol == "mnist5"
    assert cli_dgm._methods(args.methods) == ["dgmw", "dgr"]
    assert cli_dgm._seeds(args.seeds) == [0, 1] and args.workers == 2
    assert args.set == ["train.epochs=1", "method.niter=1"]
    args = build_parser().parse_args(["dgm", "table", "cifar10", "--partial", "--markdown"])
    assert args.func is cli_dgm.cmd_table and args.partial and args.markdown
    assert cli_dgm._seeds(args.seeds) == [0, 1, 2] and cli_dgm._methods(None) == list(
        cli_dgm.METHODS
    )
    args = build_parser().parse_args(["dgm", "figures", "mnist10", "--all"])
    assert args.func is cli_dgm.cmd_figures


def test_unknown_names_list_the_choices(capsys):
    assert main(["dgm", "table", "mnist11"]) == 2
    err = capsys.readouterr().err
    assert "unknown dgm protocol 'mnist11'" in err and "cifar10, mnist10, mnist5" in err
    assert main(["dgm", "run", "mnist10", "--methods", "dgmw,gan"]) == 2
    err = capsys.readouterr().err
    assert "unknown dgm method 'gan'" in err and "dgma, dgmw, dgr, finetune" in err


def test_protocol_runs_are_the_committed_configs():
    """Every planned run has the name `neuroplastic run <config> seed=S method.sample_dir=...`
    gives: the same record serves both commands."""
    for protocol in cli_dgm.PROTOCOLS:
        planned = {r.name for r in cli_dgm.plan_runs(protocol, seeds=[0, 2])}
        assert len(planned) == 2 * len(cli_dgm.METHODS)
        for method in cli_dgm.METHODS:
            for seed in (0, 2):
                extra = [f"seed={seed}"]
                if method in cli_dgm.GAN_METHODS:
                    extra.append(
                        f"method.sample_dir=docs/figures/dgm/samples_{protocol}_{method}_s{seed}"
                    )
                path = cli_dgm.CONFIG_DIR / f"{protocol}_{method}.yaml"
                assert resolve(config_mod.load(path, extra)).name in planned


def test_reproducible_lists_the_three_protocols():
    from neuroplastic.cli_reproduce import Protocol

    found = cli_dgm.reproducible()
    assert set(found) == {"dgm-mnist10", "dgm-mnist5", "dgm-cifar10"}
    for proto in found.values():
        assert isinstance(proto, Protocol) and proto.area == "dgm" and proto.description
        assert list(inspect.signature(proto.run).parameters) == ["out", "seeds", "workers", "quiet"]


def _record(method: str, seed: int, curve: list[list[float]], selection=None, growth=None):
    extra = {}
    if selection is not None:
        extra["official_selection"] = {"per_task": [{"average": a} for a in selection]}
    if growth is not None:
        extra["growth"] = growth
    return {"name": f"{method}-s{seed}", "seed": seed, "accuracy_matrix": curve,
            "metrics": {"train_seconds": 10.0 * len(curve)}, "method_extra": extra}  # fmt: skip


def test_table_rows_mean_and_sd_over_seeds():
    growth = [{"task": 0, "channels": [4, 2, 1], "generator_weights": 100, "free_fraction": 0.5}]
    records = {
        "finetune": [_record("finetune", s, [[1.0], [0.0, 1.0]]) for s in (1, 0)],
        "dgmw": [
            _record("dgmw", 0, [[1.0], [0.8, 1.0]], [1.0, 0.9], growth),
            _record("dgmw", 1, [[1.0], [0.6, 1.0]], [1.0, 0.8], growth),
        ],
        "dgr (partial)": [_record("dgr", 0, [[1.0]], [1.0])],
    }
    head, rows = cli_dgm.table_rows(records)
    assert head == ["method", "seeds", "A1", "A2", "s / task", "G weights", "G channels"]
    by_label = {r[0]: r for r in rows}
    assert list(by_label) == ["dgmw plain", "dgmw sel.", "dgr plain (partial)",
                              "dgr sel. (partial)", "finetune"]  # fmt: skip
    assert by_label["dgmw plain"][1:] == ["0,1", "100.0 ± 0.0", "85.0 ± 7.1", "10", "100",
                                          "4/2/1"]  # fmt: skip
    assert by_label["dgmw sel."][2:4] == ["100.0 ± 0.0", "85.0 ± 7.1"]
    assert by_label["dgr plain (partial)"][2:4] == ["100.0", ""]
    assert by_label["finetune"][1:5] == ["0,1", "100.0 ± 0.0", "50.0 ± 0.0", "10"]
    md = cli_dgm.format_table(head, rows, markdown=True)
    assert md.splitlines()[0].startswith("| method | seeds | A1 | A2 |")


def test_failures_are_listed(tmp_path, capsys):
    (run,) = cli_dgm.plan_runs("mnist5", ["joint"], [0])
    folder = tmp_path / "mnist5"
    folder.mkdir()
    failure = {"name": run.name, "status": "failed", "error": "RuntimeError: boom"}
    run.failed_path(folder).write_text(json.dumps(failure))
    code = main(["dgm", "table", "mnist5", "--methods", "joint", "--seeds", "0",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 1  # no record
    out = capsys.readouterr().out
    assert "no records found" in out and f"{run.name}: RuntimeError: boom" in out


def test_run_writes_records_then_table_and_figures(tmp_path, capsys, monkeypatch):
    out, figures = tmp_path / "runs", tmp_path / "figures"
    where = ["--out", str(out), "--figures", str(figures), "--seeds", "0", *TINY]
    code = main(["dgm", "run", "mnist10", "--methods", "dgmw,dgr", "--workers", "2", "-q",
                 *where])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "2 runs, 2 run now, 0 already done, 0 failed" in captured.err
    for label in ("dgmw plain", "dgmw sel.", "dgr plain", "dgr sel."):
        assert label in captured.out
    names = sorted(p.name for p in (out / "mnist10").glob("*.json"))
    assert len(names) == 2 and names[0].startswith("split-digits-class-dgmw-s0-")
    assert sorted(p.name for p in (figures / "samples_mnist10_dgmw_s0").glob("*.png")) == [
        "samples_task00.png",
        "samples_task01.png",
    ]

    # a second run reuses the records
    assert main(["dgm", "run", "mnist10", "--methods", "dgmw,dgr", "-q", *where]) == 0
    assert "0 run now, 2 already done" in capsys.readouterr().err

    # so does `reproduce`'s entry point (here made to plan these two tiny runs)
    committed = cli_dgm.run_config
    monkeypatch.setattr(cli_dgm, "METHODS", ("dgmw", "dgr"))
    monkeypatch.setattr(cli_dgm, "run_config", lambda p, m, s, f, o: committed(
        p, m, s, figures, [*o, *TINY[1::2]]))  # fmt: skip
    records = cli_dgm.reproducible()["dgm-mnist10"].run(out=out, seeds=[0], workers=1).records
    assert sorted(r["config"]["method"]["name"] for r in records) == ["dgmw", "dgr"]
    captured = capsys.readouterr()
    assert "0 run now, 2 already done" in captured.err and "dgr sel." in captured.out
    monkeypatch.undo()

    # the table finds the runs of these overrides; without them, the committed runs (none yet)
    assert main(["dgm", "table", "mnist10", "--markdown", *where]) == 0
    text = capsys.readouterr().out
    assert "| method | seeds | A1 | A2 | s / task | G weights | G channels |" in text
    assert "| dgmw plain | 0 |" in text and "| dgr sel. | 0 |" in text
    assert main(["dgm", "table", "mnist10", "--out", str(out)]) == 1
    assert "no records found" in capsys.readouterr().out

    # an unfinished run is tabulated from its per-task checkpoint with --partial
    (dgr,) = cli_dgm.plan_runs("mnist10", ["dgr"], [0], figures, TINY[1::2])
    run_resolved(resolve(dgr.config), out=out / "mnist10", keep_checkpoint=True, progress=False)
    (out / "mnist10" / f"{dgr.name}.json").unlink()
    assert main(["dgm", "table", "mnist10", "--partial", *where]) == 0
    text = capsys.readouterr().out
    assert "dgr plain (partial)" in text and "dgmw plain " in text

    assert main(["dgm", "figures", "mnist10", "--partial", *where]) == 0
    listing = capsys.readouterr().out
    assert (figures / "growth_mnist10.png").stat().st_size > 0
    assert "| dgmw plain | 0 |" in (figures / "table_mnist10.md").read_text()
    assert f"{figures / 'samples_mnist10_dgmw_s0'}/ (2 grids" in listing
