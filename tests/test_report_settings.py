"""Reports that say what ran (issue 23): settings tables, marked rows, one-task streams,
relative paths and a tidy CSV."""

from __future__ import annotations

import csv

import pytest

from neuroplastic import experiment
from neuroplastic.experiments.report import write_report

TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 2},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64},
    "threads": 1,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    for method, epochs in (("finetune", 1), ("joint", 1), ("ewc", 2)):
        for seed in (0, 1):
            cfg = {**TINY, "method": method, "seed": seed, "train": {"epochs": epochs,
                                                                     "batch_size": 64}}
            experiment.run(cfg, out=out, progress=False)
    one = {**TINY, "benchmark": {"name": "split-digits", "n_tasks": 1, "classes_per_task": 10}}
    experiment.run({**one, "method": "finetune"}, out=out / "one", progress=False)
    return out


def test_settings_table_and_marked_rows(folder, tmp_path):
    md, page = write_report(folder, tmp_path / "rep")
    text = md.read_text()
    assert "| group | epochs | batch | model | hidden | optimizer | lr |" in text
    # EWC at 2 epochs beside two methods at 1: its row says so, the others stay plain names
    assert "| ewc (train.epochs=2) | 0,1 |" in text
    assert "| finetune | 0,1 |" in text and "| joint | 0,1 |" in text
    assert "<h3>Settings</h3>" in page.read_text()


def test_one_task_stream_gets_no_heat_map_or_curve(folder, tmp_path):
    md, _ = write_report(folder / "one", tmp_path / "one")
    text = md.read_text()
    assert "One task" in text and "matrices.png" not in text and "curves.png" not in text


def test_headings_use_relative_paths(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder.parent)
    md, _ = write_report(folder, tmp_path / "rel")
    assert f"from `{folder.name}`" in md.read_text()
    assert str(folder.parent) not in md.read_text()


def test_tidy_csv_one_row_per_run_and_metric(folder, tmp_path):
    write_report(folder, tmp_path / "rep")
    path = tmp_path / "rep.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    runs = {r["run"] for r in rows}
    assert len(runs) == 7  # 3 methods x 2 seeds + the one-task run
    per_run = {run: [r["metric"] for r in rows if r["run"] == run] for run in runs}
    assert all(len(m) == len(set(m)) for m in per_run.values())  # one row per run and metric
    assert {"train.epochs", "model.hidden", "optimizer.lr", "metric", "value"} <= set(rows[0])
    ewc = [r for r in rows if r["method"] == "ewc" and r["metric"] == "average_accuracy"]
    assert {r["train.epochs"] for r in ewc} == {"2"} and ewc[0]["group"].startswith("ewc (")
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(path)
    assert frame["value"].dtype.kind == "f" and len(frame) == len(rows)
