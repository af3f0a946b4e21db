"""`neuroplastic report`: tables and plots from records written here; never averaging records
of different configs or library versions."""

from __future__ import annotations

import json

import pytest

from neuroplastic import experiment
from neuroplastic.cli import main
from neuroplastic.errors import ConfigError

TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 3},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64},
    "threads": 1,
}


@pytest.fixture(scope="module")
def records_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    for method in ("finetune", "joint"):
        for seed in (0, 1):
            experiment.run({**TINY, "method": method, "seed": seed}, out=out, progress=False)
    return out


def _rows(text: str, method: str) -> list[str]:
    """Rows of the results table (the settings table above it names the groups too)."""
    results = text.split("Results:")[-1]
    return [line for line in results.splitlines() if line.startswith(f"| {method}")]


def test_report_renders_tables_and_inline_plots(records_dir, tmp_path, capsys):
    prefix = tmp_path / "rep"
    assert main(["report", str(records_dir), "--out", str(prefix)]) == 0
    md = (tmp_path / "rep.md").read_text()
    page = (tmp_path / "rep.html").read_text()
    assert "## split-digits, class-incremental" in md
    recs = [json.loads(p.read_text()) for p in records_dir.glob("*.json")]
    for method in ("finetune", "joint"):
        (row,) = _rows(md, method)
        accs = [r["metrics"]["average_accuracy"] for r in recs
                if r["config"]["method"]["name"] == method]
        mean = 100 * sum(accs) / len(accs)
        assert "| 0,1 |" in row and f"{mean:.2f} ±" in row  # the mean over the two seeds
        assert f"<td>{method}</td>" in page
    assert page.count("data:image/png;base64,") == 3  # matrices, curves, memory; inlined
    assert (tmp_path / "rep_files" / "split-digits-class-matrices.png").stat().st_size > 1000


def test_other_versions_and_configs_are_never_averaged(records_dir, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in records_dir.glob("*finetune*.json"):
        (folder / path.name).write_text(path.read_text())
        rec = json.loads(path.read_text())
        if rec["seed"] == 0:
            rec["versions"]["neuroplastic"] = "0.0.1-old"
            rec["metrics"]["average_accuracy"] = 0.987654  # would move the mean if averaged
            (folder / "old.json").write_text(json.dumps(rec))
            rec = json.loads(path.read_text())
            rec["config"]["optimizer"]["lr"] = 0.5
            (folder / "other-lr.json").write_text(json.dumps(rec))
    md, _ = (tmp_path / "m.md", tmp_path / "m.html")
    assert main(["report", str(folder), "--out", str(tmp_path / "m")]) == 0
    rows = _rows(md.read_text(), "finetune")
    assert len(rows) == 3  # the two seeds of the current version, the old version, the lr
    assert sum("| 0,1 |" in r for r in rows) == 1
    assert any("0.0.1-old" in r and "98.77" in r for r in rows)
    assert any("optimizer.lr=0.5" in r for r in rows)
    assert not any("98.77 ±" in r for r in rows)


def test_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no run records"):
        from neuroplastic.experiments.report import write_report

        write_report(tmp_path)


def test_tensorboard_logger_writes_losses_accuracies_and_the_matrix(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from neuroplastic.engine import run_stream
    from neuroplastic.tb_logger import TensorBoardLogger

    resolved = experiment.resolve(experiment.config_mod.load(None, None, base=TINY))
    stream = experiment.build_stream(resolved)
    method = experiment.build_method(resolved, stream)
    logger = TensorBoardLogger(tmp_path, "run-a")
    _, state = run_stream(method, stream, resolved.train, on_step=logger.on_step,
                          on_task_end=logger.on_task_end)
    logger.close()
    events = EventAccumulator(str(tmp_path / "run-a"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    steps = sum(-(-t.num_train // 64) for t in stream.tasks)
    assert len(events.Scalars("loss/all")) == steps == logger.step
    final = events.Scalars("accuracy/task_0")
    assert [e.step for e in final] == [1, 2, 3]
    assert final[-1].value == pytest.approx(state.accuracy_matrix[-1][0])
    assert "accuracy_matrix" in tags["images"] and len(events.Images("accuracy_matrix")) == 3
