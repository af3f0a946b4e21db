"""`neuroplastic reproduce` over every area: the listing, unknown names, the committed targets,
and the dispatch of seed-paper protocols through their own runners on tiny runs."""

from __future__ import annotations

import json

import pytest
import torch

from neuroplastic.cli import main
from neuroplastic.cli.reproduce import cmd_reproduce
from neuroplastic.errors import UnknownNameError
from neuroplastic.experiments import reproduce

TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 2},
    "scenario": "class",
    "model": {"name": "mlp", "hidden": [16]},
    "optimizer": {"name": "adam", "lr": 0.01},
    "train": {"epochs": 1, "batch_size": 64},
    "threads": 1,
}


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_list_names_protocols_of_every_area(capsys):
    assert main(["reproduce", "--list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    names = {r[0]: r for r in rows}
    expected = {"vandeven-split-mnist": "vandeven", "classp-vision": "classp",
                "bnn-pmnist": "bnn", "bnn-split-mnist-class": "bnn",
                "metaplasticity-serial-position": "metaplasticity",
                "metaplasticity-poisoning": "metaplasticity", "artsy-gating-mnist": "artsy",
                "artsy-baselines-cifar10": "artsy"}
    for name, area in expected.items():
        row = names[name]
        assert area in row and len(row) > 4  # name, area, targets, a description
    assert names["bnn-split-mnist-class"][2] == "yes"  # its targets file is found
    # plain run configs and the comparison file itself are not protocols
    assert not any(n.startswith(("metaplasticity-split", "classp-comparison")) for n in names)


def test_unknown_name_lists_the_protocols_of_every_area(capsys):
    assert main(["reproduce", "no-such-protocol"]) == 2
    err = capsys.readouterr().err
    for name in ("vandeven-split-mnist", "classp-vision", "bnn-pmnist",
                 "metaplasticity-serial-position", "artsy-gating-mnist"):
        assert name in err
    with pytest.raises(UnknownNameError) as info:
        reproduce.find_protocol("no-such-protocol")
    assert "bnn-pmnist" in info.value.choices


def test_every_committed_targets_file_parses():
    files = sorted(reproduce.PROTOCOLS.glob("*/*targets.csv"))
    assert {"bnn", "vandeven"} <= {f.parent.name for f in files}
    for path in files:
        targets = reproduce.read_targets(path)
        assert targets and all(t.source and t.tolerance >= 0 for t in targets)


def test_target_checks_and_row_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "benchmark,scenario,method,metric,target,tolerance,source,row,check\n"
        "b,class,m,average_accuracy,0.2,0,s,first,at-least\n"
        "b,class,m,average_accuracy,0.2,0,s,second,at-most\n"
        "b,class,m,average_accuracy,0.5,0.01,s,,\n"
    )
    targets = reproduce.read_targets(path)
    assert [t.check for t in targets] == ["at-least", "at-most", "within"]
    records = [
        {"config": {"benchmark": {"name": "b"}, "scenario": "class",
                    "method": {"name": "m", "k": k}, "seed": 0},
         "seed": 0, "row": row, "metrics": {"average_accuracy": acc}}
        for k, row, acc in ((1, "first", 0.3), (2, "second", 0.3))
    ]
    rows = reproduce.compare(targets, records)
    assert [r["status"] for r in rows] == ["pass", "FAIL", "FAIL", "FAIL"]
    assert [r["label"] for r in rows[:2]] == ["first", "second"]
    text = reproduce.format_rows(rows)
    assert "≥ 20.00" in text and "≤ 20.00" in text and "m (first)" in text
    path.write_text("benchmark,scenario,method,metric,target,tolerance,source,check\n"
                    "b,class,m,average_accuracy,0.2,0,s,above\n")
    with pytest.raises(reproduce.ConfigError):
        reproduce.read_targets(path)


def test_welch_p_value_against_the_papers_seeds(tmp_path):
    """``target_sem`` / ``target_n`` are the paper's spread, not config filters: a group of
    seeds far from the target, measured with a small spread, gets a small p; one whose mean
    equals the target gets p = 1; a single seed gets none."""
    path = tmp_path / "t.csv"
    path.write_text(
        "benchmark,scenario,method,metric,target,tolerance,source,target_sem,target_n\n"
        "b,class,m,average_accuracy,0.2264,0.02,s,0.0023,5\n"
        "b,task,m,average_accuracy,0.5,0.02,s,,\n"
    )
    with_spread, without = reproduce.read_targets(path)
    assert (with_spread.sem, with_spread.n, with_spread.where) == (0.0023, 5, {})
    assert (without.sem, without.n) == (None, None)

    def rec(scenario, seed, acc):
        return {"config": {"benchmark": {"name": "b"}, "scenario": scenario,
                           "method": {"name": "m"}, "seed": seed},
                "seed": seed, "metrics": {"average_accuracy": acc}}

    records = [rec("class", s, a) for s, a in enumerate((0.2040, 0.2055, 0.2094))]
    records += [rec("task", s, a) for s, a in enumerate((0.49, 0.51))]
    by_scenario = {r["target"].scenario: r for r in reproduce.compare([with_spread, without],
                                                                      records)}
    # the class-IL LwF seeds of permuted MNIST against the preprint's 22.64 ± 0.23 (n = 5):
    # t = -7.2 with ~6 degrees of freedom (Welch-Satterthwaite), far past noise
    p = by_scenario["class"]["p"]
    assert p is not None and p < 0.001
    assert by_scenario["task"]["p"] is None  # no spread given
    assert with_spread.welch_p(0.2264, 0.01, 3) == pytest.approx(1.0)
    assert with_spread.welch_p(0.20, 0.0, 1) is None
    assert "<0.001" in reproduce.format_rows(list(by_scenario.values()))
    path.write_text("benchmark,scenario,method,metric,target,tolerance,source,target_sem\n"
                    "b,class,m,average_accuracy,0.2,0.02,s,wide\n")
    with pytest.raises(reproduce.ConfigError, match="target_sem"):
        reproduce.read_targets(path)


def _rows_protocol(tmp_path, monkeypatch):
    protocols = tmp_path / "protocols"
    (protocols / "bnn").mkdir(parents=True)
    protocol = {"name": "bnn-tiny", "description": "tiny suite", "targets": "tiny.targets.csv",
                "base": TINY, "seeds": [0],
                "rows": {"finetune": {"method": "finetune"}, "joint": {"method": "joint"}}}
    (protocols / "bnn" / "tiny.yaml").write_text(json.dumps(protocol))
    monkeypatch.setattr(reproduce, "PROTOCOLS", protocols)
    return protocols / "bnn"


def test_row_protocol_compares_its_rows_with_targets_and_reuses(tmp_path, monkeypatch, capsys):
    folder = _rows_protocol(tmp_path, monkeypatch)
    (folder / "tiny.targets.csv").write_text(
        "benchmark,scenario,method,metric,target,tolerance,source,row,check\n"
        "split-digits,class,finetune,average_accuracy,0.0,0,low bound,finetune,at-least\n"
        "split-digits,class,joint,average_accuracy,2.0,0.01,impossible,joint,\n"
        "split-digits,class,ewc,average_accuracy,0.5,0.1,never run,,\n"
    )
    out = tmp_path / "runs"
    assert main(["reproduce", "bnn-tiny", "--out", str(out), "-q", "--strict",
                 "--workers", "1"]) == 1
    text = capsys.readouterr().out
    assert "bnn-tiny: tiny suite" in text
    lines = [line for line in text.splitlines() if line.startswith("split-digits")]
    assert len(lines) == 2  # the ewc target is not planned by this protocol
    assert "pass" in lines[0] and "low bound" in lines[0] and "≥ 0.00" in lines[0]
    assert "FAIL" in lines[1] and "impossible" in lines[1]
    assert "1 pass, 1 fail, 0 missing" in text
    records = sorted(out.glob("*.json"))
    assert len(records) == 2
    stamps = [p.stat().st_mtime_ns for p in records]

    assert main(["reproduce", "bnn-tiny", "--out", str(out), "-q"]) == 0  # not strict
    assert "1 pass, 1 fail, 0 missing" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in records] == stamps  # reused, not run again


def test_sweep_protocol_still_reuses_its_records(tmp_path, monkeypatch, capsys):
    from neuroplastic.experiment import run

    configs = tmp_path / "configs"
    (configs / "area").mkdir(parents=True)
    protocol = {"name": "tiny-sweep", "description": "one run", "targets": "targets.csv",
                "base": TINY, "grid": {"method": ["finetune"]}, "seeds": [0]}
    (configs / "area" / "tiny.yaml").write_text(json.dumps(protocol))
    out = tmp_path / "runs"
    rec = run({**TINY, "method": {"name": "finetune"}, "seed": 0}, out=out, progress=False)
    (configs / "area" / "targets.csv").write_text(
        "benchmark,scenario,method,metric,target,tolerance,source\n"
        f"split-digits,class,finetune,average_accuracy,{rec['metrics']['average_accuracy']},"
        "0.001,here\n")
    monkeypatch.setattr(reproduce, "PROTOCOLS", configs)
    assert main(["reproduce", "--list"]) == 0
    listed = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["tiny-sweep", "|", "tiny", "area", "yes", "one", "run"] in listed
    assert main(["reproduce", "tiny-sweep", "--out", str(out), "-q", "--strict"]) == 0
    captured = capsys.readouterr()
    assert "tiny-sweep: one run" in captured.out and "1 pass, 0 fail, 0 missing" in captured.out


def test_classp_quick_preset_claims_from_rows():
    from neuroplastic.papers.classp import beats_optimizers_quick_preset

    def rec(acc, forgetting, state):
        return {"metrics": {"average_accuracy": acc, "forgetting": forgetting,
                            "state_bytes": state}}

    rows = {"classp-paper": [rec(0.8, 0.05, 10)], "sgd": [rec(0.7, 0.1, 0)],
            "adam": [rec(0.75, 0.02, 20)], "ewc": [rec(0.6, 0.2, 30)]}
    found = {c.text: c.holds for c in beats_optimizers_quick_preset(rows)}
    assert found == {
        "classp-paper: higher average accuracy than sgd/adam/ewc (means)": True,
        "classp-paper: less forgetting than sgd/adam/ewc (means)": False,
        "classp-paper: smaller memory footprint than EWC (method state bytes)": True,
    }



def test_dgm_claims_compare_with_dgr_at_each_epochs_budget_separately():
    from neuroplastic.papers.dgm import masks_beat_generative_replay

    def rec(epochs, acc):
        return {"config": {"train": {"epochs": epochs}}, "metrics": {"average_accuracy": acc}}

    rows = {"dgmw": [rec(2, 0.85), rec(2, 0.86), rec(5, 0.92)],
            "dgma": [rec(2, 0.12), rec(2, 0.14), rec(5, 0.5), rec(5, 0.6)],
            "dgr": [rec(2, 0.15), rec(2, 0.16)]}
    claims = masks_beat_generative_replay(rows)
    # DGR ran at 2 epochs only: no claim at 5, where there is nothing to compare with
    assert [(c.text.split(":")[0], c.holds) for c in claims] == [
        ("2 epochs per task (official", True), ("2 epochs per task (official", False)]
    assert "dgmw 85.50 (n=2) vs dgr 15.50 (n=2)" in claims[0].measured
    rows["dgr"].append(rec(5, 0.2))  # one DGR seed at 5: a direction, no verdict
    at_five = [c for c in masks_beat_generative_replay(rows) if c.text.startswith("5 epochs")]
    assert [c.holds for c in at_five] == [None, None]
    assert "too few seeds" in at_five[1].measured


def test_artsy_claims_need_two_seeds_a_row():
    from neuroplastic.papers.artsy import beats_ease_and_simplecil

    def rec(acc):
        return {"metrics": {"average_accuracy": acc}}

    rows = {"artsy (synapse gating)": [rec(0.79), rec(0.80)],
            "EASE-style (always connected)": [rec(0.72), rec(0.73)],
            "SimpleCIL": [rec(0.71)]}
    ease, simplecil = beats_ease_and_simplecil(rows)
    assert ease.holds is True and "EASE-style" in ease.text
    assert simplecil.holds is None and "too few seeds" in simplecil.measured
    del rows["SimpleCIL"]
    assert beats_ease_and_simplecil(rows)[1].measured == "not run yet: SimpleCIL"

def test_baselines_markdown_keeps_configs_that_differ_beyond_the_seed_apart(tmp_path):
    """Records made before and after a setting was added (28x28 vs padded permuted MNIST) are
    not averaged into one row."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).parents[1] / "benchmarks" / "baselines_table.py"
    spec = importlib.util.spec_from_file_location("baselines_table", script)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    path = tmp_path / "t.csv"
    path.write_text("benchmark,scenario,method,metric,target,tolerance,source\n"
                    "b,domain,m,average_accuracy,0.78,0.02,s\n")

    def rec(pad, seed, acc):
        bench = {"name": "b"} if pad is None else {"name": "b", "pad": pad}
        return {"config": {"benchmark": bench, "scenario": "domain", "method": {"name": "m"},
                           "seed": seed},
                "seed": seed, "metrics": {"average_accuracy": acc, "train_seconds": 10.0}}

    records = [rec(None, 0, 0.75), rec(None, 1, 0.76), rec(2, 0, 0.78)]
    text = table.markdown_table(records, reproduce.read_targets(path))
    rows = [line for line in text.splitlines() if line.startswith("| domain")]
    assert len(rows) == 2
    assert any("75.50 ± 0.71 (n=2)" in r and "| no |" in r for r in rows)
    assert any("78.00 ± 0.00 (n=1)" in r and "| yes |" in r and "pad=2" in r for r in rows)
    path.write_text("benchmark,scenario,method,metric,target,tolerance,source\n"
                    "b,domain,m,average_accuracy,0.78,0.02,s\n"
                    "other,domain,m,average_accuracy,0.10,0.02,s\n"
                    "b,class,n,average_accuracy,0.20,0.02,s\n")
    grid = table.grid_table(records[:2], reproduce.read_targets(path)).splitlines()
    assert grid[0] == "| scenario | m | n |"
    assert grid[3] == "| domain-IL | 75.5 (78.0) | - |"  # not the other benchmark's target
    assert grid[4] == "| class-IL | - | - (20.0) |"


def test_every_committed_sweep_protocol_plans_every_run():
    """Each committed protocol file resolves all its runs (names, settings, overrides) before any
    training: a misspelt option in a protocol fails here rather than hours into a sweep."""
    from neuroplastic.experiments.sweep import load_sweep, plan

    paths = sorted(set(reproduce.protocols().values()))
    assert any(p.stem == "permuted-mnist-2022hp" for p in paths)
    for path in paths:
        runs = plan(load_sweep(path), seeds=[0])
        assert runs, path
        assert len({r.name for r in runs}) == len(runs)


def test_targets_with_a_config_column_go_only_to_the_protocol_whose_runs_match():
    """targets.csv keeps offline and online EWC apart by its ``method.mode`` column: each van de
    Ven EWC protocol is compared with its own row, never with the other's."""
    from neuroplastic.experiments.sweep import load_sweep, plan

    def ewc_targets(name):
        spec = load_sweep(reproduce.find_protocol(name))
        runs = plan(spec, [0])
        wanted = reproduce.planned_targets(reproduce.read_targets(spec.targets), runs)
        return {(t.scenario, t.where.get("method.mode"), t.target) for t in wanted
                if t.method == "ewc"}

    offline = ewc_targets("vandeven-split-mnist")
    online = ewc_targets("vandeven-split-mnist-online-ewc")
    assert {m for _, m, _ in offline} == {"offline"} and len(offline) == 3
    assert {m for _, m, _ in online} == {"online"} and len(online) == 3
    assert ("class", "online", 0.1996) in online and ("task", "offline", 0.9864) in offline


def test_protocol_rows_report_columns_claims_and_no_run(tmp_path, monkeypatch, capsys):
    """A protocol with rows runs each row x seed once, tabulates the report columns per row
    (mean ± sd over seeds), checks its claims from the records, and --no-run only tabulates."""
    protocols = tmp_path / "protocols"
    (protocols / "area").mkdir(parents=True)
    protocol = {
        "name": "tiny-rows", "description": "two rows", "base": {**TINY, "method": "finetune"},
        "rows": {"m=1.35": {"optimizer": {"lr": 0.05}}, "m=0 (BNN)": {}},
        "seeds": [0, 1],
        "claims": ["bnn.metaplasticity_reduces_forgetting"],
        "report": {"columns": ["average_accuracy", "final_accuracy_task1", "state_bytes"]},
    }
    (protocols / "area" / "tiny-rows.yaml").write_text(json.dumps(protocol))
    monkeypatch.setattr(reproduce, "PROTOCOLS", protocols)
    out = tmp_path / "runs"
    assert main(["reproduce", "tiny-rows", "--out", str(out), "-q", "--no-run"]) == 0
    assert "0 of 4 runs have records" in capsys.readouterr().out
    assert main(["reproduce", "tiny-rows", "--out", str(out), "-q", "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "4 of 4 runs have records" in text
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    assert "m=1.35" in lines and "m=0 (BNN)" in lines and "task 1 final %" in text
    assert "0,1" in lines["m=1.35"]  # both seeds in the row
    # the claim compares the rows by name; the third part needs m=0.5/1.0 only for order
    assert "m = 1.35 ends with a higher mean accuracy" in text
    records = sorted(out.glob("*.json"))
    assert len(records) == 4
    # one record schema: every record the protocol runner wrote is a complete run record
    from neuroplastic import record as record_mod

    assert all(record_mod.problem(json.loads(r.read_text())) is None for r in records)
    # --markdown gives a Markdown table of the same rows
    assert main(["reproduce", "tiny-rows", "--out", str(out), "--no-run", "--markdown"]) == 0
    md = capsys.readouterr().out
    assert "| row | seeds | average accuracy % | task 1 final % | state MiB |" in md
    with pytest.raises(UnknownNameError, match="m=1.35"):  # the valid rows are listed
        cmd_reproduce(_reproduce_args("tiny-rows", out, only=["row=nope"]))


def _reproduce_args(name, out, **kw):
    import argparse

    values = dict(name=name, list=False, seeds=None, out=str(out), backend="local", workers=1,
                  address=None, only=None, no_run=True, markdown=False, strict=False,
                  quiet=True)
    return argparse.Namespace(**{**values, **kw})


def test_unknown_claim_lists_the_paper_functions():
    from neuroplastic.errors import ConfigError
    from neuroplastic.papers import claim_function

    with pytest.raises(ConfigError, match="metaplasticity_reduces_forgetting"):
        claim_function("bnn.nope")
    with pytest.raises(ConfigError, match="no paper module"):
        claim_function("nope.nope")


def test_bnn_and_classp_claims_from_records():
    from neuroplastic.papers import bnn, classp

    def rec(acc, forgetting, first, state=0):
        return {"metrics": {"average_accuracy": acc, "forgetting": forgetting,
                            "state_bytes": state},
                "accuracy_matrix": [[first, 0.1], [first, 0.9]]}

    rows = {"m=0 (BNN)": [rec(0.5, 0.4, 0.3), rec(0.52, 0.41, 0.31)],
            "m=1.35": [rec(0.8, 0.1, 0.7), rec(0.82, 0.12, 0.72)]}
    held = [c.holds for c in bnn.metaplasticity_reduces_forgetting(rows)]
    assert held == [True, True, True]
    rows["m=1.35"] = [rec(0.5, 0.4, 0.3), rec(0.52, 0.41, 0.31)]  # no difference: fails
    assert [c.holds for c in bnn.metaplasticity_reduces_forgetting(rows)][:2] == [False, False]
    found = classp.beats_ewc_and_optimizers(
        {"classp-official": [rec(0.7, 0.1, 0.5, 10), rec(0.71, 0.1, 0.5, 10)],
         "ewc-official": [rec(0.6, 0.2, 0.5, 30), rec(0.61, 0.2, 0.5, 30)],
         "sgd": [rec(0.8, 0.1, 0.5), rec(0.81, 0.1, 0.5)]})
    assert [c.holds for c in found] == [True, False, True]  # beats EWC, loses to SGD, memory


def test_engram_claims_keep_their_scenario():
    from neuroplastic.papers import engram

    def rec(scenario, acc, rise=None):
        metrics = {"average_accuracy": acc, **({"train_rss_rise_bytes": rise} if rise else {})}
        return {"config": {"scenario": scenario}, "metrics": metrics}

    rows = {"engram-bnn": [rec("class", 0.35), rec("class", 0.31), rec("domain", 0.77),
                           rec("domain", 0.75)],
            "bnn (m=0)": [rec("class", 0.199), rec("class", 0.198), rec("domain", 0.63),
                          rec("domain", 0.64)],
            engram.FULL_PRECISION: [rec("class", 0.199), rec("class", 0.199),
                                    rec("domain", 0.55), rec("domain", 0.54)]}
    assert engram.only_engram_above_20_class_il(rows)[0].holds is True
    rows["bnn (m=0)"][0] = rec("class", 0.25)  # another row above 20 % in class-IL: fails
    assert engram.only_engram_above_20_class_il(rows)[0].holds is False
    shown = engram.domain_il_against_full_precision(rows)[0]
    assert shown.holds is None and "76.00" in shown.measured  # the domain records only
    no_metric = engram.memory_below_full_precision(rows)
    assert [c.holds for c in no_metric] == [None, None]  # both scenarios, nothing measured
    rows = {"engram-bnn": [rec("domain", 0.7, 100e6), rec("domain", 0.7, 102e6)],
            engram.FULL_PRECISION: [rec("domain", 0.5, 150e6), rec("domain", 0.5, 149e6)]}
    (memory,) = engram.memory_below_full_precision(rows)
    assert memory.holds is True and "x0.68" in memory.measured
    rows["engram-bnn"] = [rec("domain", 0.7, 160e6), rec("domain", 0.7, 161e6)]
    assert engram.memory_below_full_precision(rows)[0].holds is False


def test_committed_protocol_records_are_complete_records_of_their_protocol():
    """One record schema: every committed record of an official-scale protocol is a complete run
    record, and its name is one the protocol plans (a record of another config, or written by
    a second runner with its own schema, fails here)."""
    from pathlib import Path

    from neuroplastic import record as record_mod
    from neuroplastic.experiments.sweep import load_sweep, plan

    root = Path(__file__).resolve().parents[1] / "docs" / "protocol-records"
    folders = [f for f in sorted(root.iterdir()) if f.is_dir()]
    assert folders
    for folder in folders:
        names = {run.name for run in plan(load_sweep(reproduce.find_protocol(folder.name)))}
        for path in sorted(folder.glob("*.json")):
            assert record_mod.problem(json.loads(path.read_text())) is None, path
            assert path.stem in names, path
