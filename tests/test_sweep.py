"""Sweeps on the local process pool: expansion, validation before running, skip/resume, failures.

The Ray backend is tested in test_sweep_ray.py (one Ray instance for that module)."""

from __future__ import annotations

import json

import pytest

from neuroplastic.cli.sweep import parse_only
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.experiments.sweep import expand, plan, restrict, run_sweep, spec_from_dict
from neuroplastic.registry import METHODS

TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 3},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64},
    "threads": 1,
}


@pytest.fixture(scope="module", autouse=True)
def _test_method():
    """The failing test method is registered here (and in the workers through ``imports``) and
    removed afterwards, so that no other test module sees it."""
    import sweep_helpers  # noqa: F401  (registers sweep-test-explode)

    yield
    METHODS._entries.pop("sweep-test-explode", None)


def _spec(**changes):
    data = {"name": "t", "base": TINY, "grid": {"method": ["finetune"]}, "seeds": [0]}
    data.update(changes)
    return spec_from_dict(data)


def test_grid_seeds_and_overrides_expand_as_specified():
    spec = _spec(
        grid={"scenario": ["task", "class"], "method": ["finetune", {"name": "joint"}],
              "train.batch_size": [32]},
        seeds=[0, 1],
        overrides=[
            {"when": {"scenario": "class", "method": "joint"}, "set": {"train.epochs": 2}},
            {"when": {"method": ["finetune"]}, "set": {"model.hidden": [8]}},
        ],
    )
    runs = expand(spec)
    assert len(runs) == 2 * 2 * 2
    for _, _, cfg in runs:
        assert cfg["train"]["batch_size"] == 32
        joint_class = cfg["scenario"] == "class" and cfg["method"]["name"] == "joint"
        assert cfg["train"].get("epochs", 1) == (2 if joint_class else 1)
        assert cfg["model"]["hidden"] == ([8] if cfg["method"]["name"] == "finetune" else [16])
    planned = plan(spec)
    assert len({r.name for r in planned}) == 8  # every run has its own config hash
    assert sorted({r.config["seed"] for r in planned}) == [0, 1]


def test_only_keeps_a_subset_of_the_grid_under_the_same_names():
    spec = _spec(grid={"scenario": ["task", "class"], "method": ["finetune", {"name": "joint"}]},
                 seeds=[0, 1])
    whole = {r.name: r.label for r in plan(spec)}
    part = plan(restrict(spec, {"method": ["joint"], "scenario": ["class"]}))
    assert len(part) == 2 and all(whole[r.name] == r.label for r in part)
    assert {r.config["method"]["name"] for r in part} == {"joint"}
    with pytest.raises(UnknownNameError, match="method, scenario"):
        restrict(spec, {"methd": ["joint"]})
    with pytest.raises(UnknownNameError, match="finetune, joint"):
        restrict(spec, {"method": ["jiont"]})
    # the command-line form
    assert parse_only(["method=ewc,si", "scenario=domain", "method=lwf"]) == {
        "method": ["ewc", "si", "lwf"], "scenario": ["domain"]}
    with pytest.raises(ConfigError, match="AXIS=VALUE"):
        parse_only(["method"])


def test_only_selects_rows_whose_labels_hold_commas():
    spec = _spec(grid={}, rows={"probe, fine-tune": {"method": "finetune"},
                                "probe, joint": {"method": "joint"}, "plain": {}})
    only = parse_only(["row=probe, fine-tune,plain"])  # as the command line splits it
    assert list(restrict(spec, only).rows) == ["probe, fine-tune", "plain"]
    with pytest.raises(UnknownNameError, match="probe, joint"):
        restrict(spec, parse_only(["row=probe, tuned"]))


def test_typo_fails_before_any_run(tmp_path):
    spec = _spec(grid={"method": ["finetune", "finetnue"]})
    with pytest.raises(UnknownNameError) as err:
        run_sweep(spec, out=tmp_path, workers=1)
    assert "finetune" in str(err.value) and "joint" in str(err.value)  # lists the choices
    spec = _spec(grid={"train.batch_size": [0]})
    with pytest.raises(ConfigError, match="batch_size"):
        run_sweep(spec, out=tmp_path, workers=1)
    assert list(tmp_path.iterdir()) == []  # nothing ran
    with pytest.raises(UnknownNameError, match="grid"):
        spec_from_dict({"name": "x", "gird": {}})


def test_resume_runs_only_missing_and_failures_are_recorded(tmp_path, monkeypatch, capsys):
    soft = {"name": "sweep-test-explode", "fail_at_task": 0}
    hard = {"name": "sweep-test-explode", "fail_at_task": 0, "hard": True}
    # one worker: the runs go in grid order, so the killed worker (last) breaks the pool after
    # the others finished
    first = run_sweep(
        _spec(grid={"method": ["finetune", soft, hard]}, imports=["sweep_helpers"]),
        out=tmp_path, workers=1,
    )
    assert len(first.done) == 1 and len(first.failed) == 2
    errors = sorted(first.failed.values())
    assert "test explosion in task 0" in errors[0] and "worker process died" in errors[1]
    for bad in first.failed:
        assert (tmp_path / f"{bad}.failed.json").exists()
        assert not (tmp_path / f"{bad}.json").exists()  # a failure never counts as done
        assert bad in first.summary()
    soft_name = next(n for n, e in first.failed.items() if "explosion" in e)
    failure = json.loads((tmp_path / f"{soft_name}.failed.json").read_text())
    assert "Traceback" in failure["traceback"] and failure["config"]["method"]["fail_at_task"] == 0
    (good,) = first.done
    stamp = (tmp_path / f"{good}.json").stat().st_mtime_ns

    # a second seed: the finished run is reused, the new one runs, the failure is retried
    second = run_sweep(
        _spec(grid={"method": ["finetune", soft]}, seeds=[0, 1], imports=["sweep_helpers"]),
        out=tmp_path, workers=2,
    )
    assert second.skipped == [good]
    assert len(second.done) == 1 and len(second.failed) == 2 and soft_name in second.failed
    # the two seeds fail alike: the summary names both runs and prints the error once
    summary = second.summary()
    assert all(name in summary for name in second.failed)
    assert summary.count("test explosion in task 0") == 1
    assert (tmp_path / f"{good}.json").stat().st_mtime_ns == stamp
    records = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")
               if not p.name.endswith(".failed.json")]
    assert sorted(r["seed"] for r in records) == [0, 1]
    assert all(r["config"]["method"]["name"] == "finetune" for r in records)

    _reproduce_compares_with_targets(tmp_path, records, monkeypatch, capsys)


def _reproduce_compares_with_targets(out, records, monkeypatch, capsys):
    """`reproduce` finds a protocol by name, reuses the finished records, and prints pass /
    FAIL / missing per targets row with the source."""
    from neuroplastic.cli import main
    from neuroplastic.experiments import reproduce

    configs = out / "configs"
    (configs / "area").mkdir(parents=True)
    protocol = {"name": "tiny-protocol", "targets": "targets.csv", "base": TINY,
                "grid": {"method": ["finetune"]}, "seeds": [0, 1]}
    (configs / "area" / "tiny.yaml").write_text(json.dumps(protocol))
    mean = sum(r["metrics"]["average_accuracy"] for r in records) / len(records)
    (configs / "area" / "targets.csv").write_text(
        "benchmark,scenario,method,metric,target,tolerance,source\n"
        f"split-digits,class,finetune,average_accuracy,{mean + 0.001},0.01,close source\n"
        f"split-digits,class,finetune,average_accuracy,{mean + 0.5},0.01,far source\n"
        "split-digits,class,joint,average_accuracy,0.9,0.1,nobody ran it\n"
    )
    monkeypatch.setattr(reproduce, "PROTOCOLS", configs)
    assert main(["reproduce", "nonexistent"]) == 2
    assert "tiny-protocol" in capsys.readouterr().err  # the valid names are listed
    assert main(["reproduce", "tiny-protocol", "--out", str(out), "-q", "--strict"]) == 1
    text = capsys.readouterr().out
    lines = [line for line in text.splitlines() if line.startswith("split-digits")]
    assert len(lines) == 2  # the joint row is a cell this protocol does not plan: left out
    assert "pass" in lines[0] and "close source" in lines[0] and f"{100 * mean:.2f}" in lines[0]
    assert "FAIL" in lines[1] and "far source" in lines[1]
    assert "nobody ran it" not in text
    assert "1 pass, 1 fail, 0 missing" in text


def test_sweep_tensorboard_logs_step_losses_and_task_accuracies(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = tmp_path / "tb"
    run_sweep(_spec(), out=tmp_path / "runs", workers=1, tensorboard=str(tb), progress=False)
    events = list(tb.rglob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "loss/all" in tags and "accuracy/task_0" in tags
    assert len(acc.Scalars("loss/all")) > 3  # one point per training step


def test_a_run_without_threads_gets_the_pool_share_of_the_cores(tmp_path):
    """workers x threads = cores: execute() sets the share it is given, unless the config
    names its own thread count (which then wins, and is part of the run's identity)."""
    import torch

    from neuroplastic import config as config_mod
    from neuroplastic.experiment import resolve
    from neuroplastic.experiments.sweep import execute

    before = torch.get_num_threads()
    try:
        base = {k: v for k, v in TINY.items() if k != "threads"}
        for threads_in_config, share, expected in ((None, 2, 2), (1, 2, 1)):
            cfg = resolve(config_mod.load(None, [], base={**base, "threads": threads_in_config}))
            outcome = execute(cfg.config, str(tmp_path), threads=share)
            assert outcome["status"] == "done"
            # the run trained with `expected` threads (the record's device says how many); the
            # config's own count applies to the run only (run_resolved restores the share)
            rec = json.loads((tmp_path / f"{cfg.name}.json").read_text())
            assert rec["device"].endswith(f"{expected} threads)"), rec["device"]
            assert torch.get_num_threads() == share
    finally:
        torch.set_num_threads(before)
