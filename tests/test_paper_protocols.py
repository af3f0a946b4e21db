"""The DGM and Artsy protocols (protocols/dgm, protocols/artsy): what they plan, that a row run
by `neuroplastic reproduce` is the run `neuroplastic run` makes of the same config (same name,
same accuracy matrix), and their paper columns and plots (papers/dgm.py, papers/artsy.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml

from neuroplastic.cli import main
from neuroplastic.experiments import reproduce
from neuroplastic.experiments.report import rows_table
from neuroplastic.experiments.sweep import load_sweep, plan
from neuroplastic.papers import artsy, dgm

DATA = os.environ.get("NEUROPLASTIC_DATA")
needs_mnist = pytest.mark.skipif(not DATA or not (Path(DATA) / "mnist").is_dir(),
                                 reason="MNIST is not in NEUROPLASTIC_DATA")

DGM_METHODS = ["dgmw", "dgma", "dgr", "replay", "finetune", "joint"]
#: two 8x8-digit classes of one task each, 20 training images per class, 1 epoch: seconds
DGM_TINY = ["--set", "benchmark={name: split-digits, classes_per_task: 1, n_tasks: 2, "
            "train_per_class: 20, test_per_class: 10}", "--set", "train.epochs=1"]
#: split MNIST of 2 tasks, 20 training images per class, 32 px: seconds
ARTSY_TINY = ["--set", "benchmark.train_per_class=20", "--set", "benchmark.test_per_class=10",
              "--set", "benchmark.input_size=32", "--set", "model.input_size=32",
              "--set", "benchmark.n_tasks=2", "--set", "train.epochs=1",
              "--set", "train.batch_size=16"]


@pytest.fixture(autouse=True)
def _threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_dgm_protocols_plan_every_method_and_seed():
    for name in ("dgm-mnist10", "dgm-mnist5", "dgm-cifar10"):
        spec = load_sweep(reproduce.find_protocol(name))
        assert list(spec.rows) == DGM_METHODS
        runs = plan(spec)
        assert len(runs) == len(DGM_METHODS) * 3
        gan = [r for r in runs if r.config["method"]["name"] in ("dgmw", "dgma", "dgr")]
        assert all(r.config["method"]["official_selection"] for r in gan)
        assert all(r.config["method"]["niter"] == r.config["train"]["epochs"] for r in gan)
        assert all(r.config["model"]["name"] == "dgm-disc" for r in runs)


def test_artsy_protocols_are_ordinary_rows():
    spec = load_sweep(reproduce.find_protocol("artsy-synapse-options-cifar10"))
    runs = plan(spec)
    assert len(runs) == 6 and {r.config["method"]["name"] for r in runs} == {"artsy"}
    assert {r.config["method"]["threshold"] for r in runs} == {"fixed", "calibrated"}
    for name in ("artsy-gating-mnist", "artsy-gating-cifar10", "artsy-baselines-mnist",
                 "artsy-baselines-cifar10"):
        assert len(plan(load_sweep(reproduce.find_protocol(name)))) >= 9


def _same_as_plain_run(tmp_path, capsys, name: str, row: str, tiny: list[str]) -> dict:
    """Run one row of a protocol through `reproduce`, then its planned config through plain
    `neuroplastic run`: the two records have the same name and accuracy matrix."""
    out = tmp_path / "protocol"
    assert main(["reproduce", name, "--only", f"row={row}", "--seeds", "0", "--out", str(out),
                 "-q", "-j", "1", *tiny]) == 0
    text = capsys.readouterr().out
    (path,) = sorted(out.glob("*.json"))
    record = json.loads(path.read_text())
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(record["config"]))
    plain = tmp_path / "plain"
    assert main(["run", "--config", str(config), "--out", str(plain), "--quiet"]) == 0
    again = json.loads((plain / path.name).read_text())
    assert again["accuracy_matrix"] == record["accuracy_matrix"]
    assert again.get("evaluations") == record.get("evaluations")
    return {"record": record, "text": text, "out": out}


def test_dgm_row_through_reproduce_is_the_plain_run(tmp_path, capsys):
    found = _same_as_plain_run(tmp_path, capsys, "dgm-mnist10", "dgmw", DGM_TINY)
    text = found["text"]
    for column in ("A1 %", "A2 %", "sel. A1 %", "sel. A2 %", "G weights", "G conv1 ch."):
        assert column in text
    assert (found["out"] / "figures" / "growth_plot.png").stat().st_size > 0


@needs_mnist
def test_artsy_row_through_reproduce_is_the_plain_run(tmp_path, capsys):
    found = _same_as_plain_run(tmp_path, capsys, "artsy-gating-mnist", "artsy", ARTSY_TINY)
    assert "synapse precision %" in found["text"] and "synapse recall %" in found["text"]
    probe = found["record"]["evaluations"]["synapse-probe"]
    assert len(probe) == 2 and len(probe[-1]["precision_effective"]) == 2


def _record(seed, matrix, selected=None, growth=None, gate=None, probe=None):
    method = {"name": "artsy" if gate else "dgmw", **({"gate": gate} if gate else {})}
    evaluations = {}
    if selected is not None:
        evaluations["best-validation"] = [{"average": a} for a in selected]
    if probe is not None:
        evaluations["synapse-probe"] = probe
    return {"name": f"r{seed}", "seed": seed, "row": "r", "accuracy_matrix": matrix,
            "config": {"benchmark": {"name": "b"}, "scenario": "class", "method": method,
                       "seed": seed},
            "metrics": {"train_seconds": 10.0 * len(matrix)},
            "method_extra": {"growth": growth} if growth else {},
            "evaluations": evaluations}


def test_dgm_columns_mean_and_sd_over_seeds():
    growth = [{"task": 0, "channels": [4, 2, 1], "generator_weights": 100}]
    records = [_record(0, [[1.0], [0.8, 1.0]], [1.0, 0.9], growth),
               _record(1, [[1.0], [0.6, 1.0]], [1.0, 0.8], growth)]
    header, table = rows_table(["r"], ["dgm.a_t", "dgm.selected_a_t", "dgm.seconds_per_task",
                                       "dgm.generator_size"], records)
    assert header == ["row", "seeds", "A1 %", "A2 %", "sel. A1 %", "sel. A2 %", "s / task",
                      "G weights", "G conv1 ch.", "G conv2 ch.", "G conv3 ch."]
    assert table[0][1:] == ["0,1", "100.0 ± 0.0", "85.0 ± 7.1", "100.0 ± 0.0", "85.0 ± 7.1",
                            "10.0 ± 0.0", "100.0 ± 0.0", "4.0 ± 0.0", "2.0 ± 0.0", "1.0 ± 0.0"]
    assert dgm.selected_a_t(_record(0, [[1.0]])) == {}  # no official selection: no cells


def test_dgm_epochs_sweep_column_and_curve(tmp_path):
    def rec(seed, epochs, final, selected=None):
        r = _record(seed, [[1.0], [final, final]], selected)
        r["config"]["train"] = {"epochs": epochs}
        return r

    assert dgm.selected_final(rec(0, 2, 0.5, [1.0, 0.7])) == {"sel. A_T %": 70.0}
    assert dgm.selected_final(rec(0, 2, 0.5)) == {}
    one_budget = {"dgmw": [rec(0, 2, 0.5), rec(1, 2, 0.7)]}
    assert not dgm.epochs_plot(one_budget, tmp_path / "none.png", "t")  # no curve from 1 point
    assert not (tmp_path / "none.png").exists()
    rows = {"dgmw": [rec(0, 2, 0.5, [1.0, 0.6]), rec(1, 5, 0.8, [1.0, 0.9])],
            "replay": [rec(0, 2, 0.9), rec(0, 5, 0.95)]}
    path = tmp_path / "figures" / "epochs_plot.png"
    assert dgm.epochs_plot(rows, path, "t") and path.stat().st_size > 0
    rows["dgmw"].append(rec(2, 2, 0.6))  # 2 seeds at 2 epochs, 1 at 5: the legend says "2/1"
    assert dgm.epochs_plot(rows, path, "t")


def test_artsy_synapse_columns():
    entry = {"precision_effective": [1.0, float("nan")], "recall_effective": [0.5, 0.7],
             "mean_fired_effective": 1.25}
    assert artsy.synapses(_record(0, [[1.0]], gate="synapse", probe=[entry])) == {
        "synapse precision %": 100.0, "synapse recall %": 60.0, "fired / sample": 1.25}
    assert artsy.synapses(_record(0, [[1.0]], gate="always", probe=[entry])) == {}
    assert artsy.per_synapse(_record(0, [[1.0]], gate="synapse", probe=[entry])) == {
        "P1 %": 100.0, "R1 %": 50.0, "P2 %": None, "R2 %": 70.0}


def test_a_row_run_in_two_scenarios_prints_each_under_its_scenario():
    # a protocol with a scenario grid (engram-split-mnist-official): one row, two streams
    records = [_record(0, [[1.0], [0.8, 1.0]]), _record(0, [[1.0], [0.4, 0.6]])]
    records[1]["config"] = {**records[1]["config"], "scenario": "domain"}
    _, table = rows_table(["r"], ["average_accuracy"], records)
    assert sorted(line[0] for line in table) == ["r scenario=class", "r scenario=domain"]
    _, single = rows_table(["r"], ["average_accuracy"], records[:1])
    assert single[0][0] == "r"  # one stream: the plain row name


def test_grid_values_of_a_row_are_listed_in_plan_order():
    # a grid within a row (metaplasticity-width's head widths): the records' order, whatever
    # the config hashes sort to
    records = []
    for width in (256, 1024, 4096):
        rec = _record(0, [[1.0]])
        rec["config"] = {**rec["config"], "model": {"name": "mlp", "hidden": [width]}}
        records.append(rec)
    for order in (records, records[::-1], [records[1], records[2], records[0]]):
        _, table = rows_table(["r"], ["average_accuracy"], order)
        widths = [int(line[0].split("=")[-1]) for line in table]
        assert widths == [r["config"]["model"]["hidden"][0] for r in order]


def test_a_grid_axis_is_named_even_where_a_row_has_one_value_so_far():
    # dgm-mnist10-epochs part-way: dgmw at 2 and 5 epochs, dgma at 2 only; without the axis in
    # every label "dgma" would read as if it had no epochs setting (or the protocol's whole curve)
    def rec(row, epochs):
        r = _record(0, [[1.0]])
        r["row"] = row
        r["config"] = {**r["config"], "train": {"epochs": epochs}}
        return r

    records = [rec("dgmw", 2), rec("dgmw", 5), rec("dgma", 2)]
    _, table = rows_table(["dgmw", "dgma"], ["average_accuracy"], records, ("train.epochs",))
    assert [line[0] for line in table] == [
        "dgmw train.epochs=2", "dgmw train.epochs=5", "dgma train.epochs=2"]
    _, unnamed = rows_table(["dgmw", "dgma"], ["average_accuracy"], records)
    assert unnamed[2][0] == "dgma"


def test_bnn_meta_plot_draws_from_records_and_declines_without(tmp_path):
    from neuroplastic.papers import bnn

    def rec(m, seed, first):
        return {"seed": seed, "row": f"m={m}", "accuracy_matrix": [[0.9], [first, 0.95]],
                "config": {"optimizer": {"name": "adam-meta", "meta": [m]}},
                "method_extra": {"task_identity": {"accuracy_rows": [[0.9], [first + 0.1,
                                                                               0.95]]}}}

    rows = {"m=0": [rec(0.0, 0, 0.2), rec(0.0, 1, 0.3)], "m=1.35": [rec(1.35, 0, 0.5)]}
    path = tmp_path / "figures" / "meta_plot.png"
    assert bnn.meta_plot(rows, path, "t") and path.stat().st_size > 0
    assert not bnn.meta_plot({"m=0": []}, tmp_path / "none.png", "t")
    assert not (tmp_path / "none.png").exists()


def test_a_flagged_run_is_named_in_the_table_and_listed():
    from neuroplastic.experiments.report import flagged_runs

    records = [_record(0, [[1.0], [0.8, 1.0]]), _record(1, [[0.1], [0.1, 0.6]])]
    records[1]["warnings"] = ["task 1: no trainable weight changed"]
    _, table = rows_table(["r"], ["average_accuracy"], records)
    assert table[0][1] == "0,1 (flagged: 1)"
    assert flagged_runs(records) == ["r, seed 1: task 1: no trainable weight changed"]
    records[1]["warnings"] = ["task 1: nothing moved", "task 2: nan loss", "task 3: nothing moved"]
    assert flagged_runs(records) == ["r, seed 1: tasks 1, 3: nothing moved; task 2: nan loss"]
