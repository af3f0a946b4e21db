"""`neuroplastic tune` (Ray Tune on one local Ray instance for this module) and the
`validation` transform it trains on."""

from __future__ import annotations

import pytest
import torch
import yaml

from neuroplastic import experiment
from neuroplastic.errors import ConfigError, NeuroplasticError, UnknownNameError
from neuroplastic.experiments.sweep import load_sweep, plan
from neuroplastic.experiments.tune import load_tune, partial_metrics, run_tune
from neuroplastic.scenarios.transforms import apply_transform

TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 2},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64},
    "threads": 1,
}


def _stream():
    resolved = experiment.resolve(experiment.config_mod.load(None, None, base=TINY))
    return experiment.build_stream(resolved)


def test_validation_replaces_test_data_by_held_out_training_data():
    stream = _stream()
    val = apply_transform(stream, "validation", {"fraction": 0.2}, seed=3)
    for old, new in zip(stream.tasks, val.tasks, strict=True):
        n = old.num_train
        assert new.num_train + len(new.y_test) == n  # nothing lost, nothing added
        for c in old.classes:  # stratified: ~20 % of every class is held out
            held, total = int((new.y_test == c).sum()), int((old.y_train == c).sum())
            assert abs(held - 0.2 * total) <= 1
        # every held-out sample is a training sample, and none of them is still trained on
        flat_train = old.x_train.flatten(1)
        for row in new.x_test.flatten(1)[:10]:
            assert (flat_train == row).all(1).any()
            assert not (new.x_train.flatten(1) == row).all(1).any()
        # the benchmark's test data is gone from the stream
        assert not any((new.x_test.flatten(1) == r).all(1).any() for r in old.x_test.flatten(1))
    again = apply_transform(stream, "validation", {"fraction": 0.2}, seed=3)
    assert torch.equal(again.tasks[0].y_test, val.tasks[0].y_test)  # seeded
    with pytest.raises(ConfigError, match="fraction"):
        apply_transform(stream, "validation", {"fraction": 1.5})


def test_partial_metrics_use_the_tasks_seen_so_far():
    m = partial_metrics([[0.9, 0.1, 0.0], [0.5, 0.8, 0.0]], [0.1, 0.1, 0.1])
    assert m["average_accuracy"] == pytest.approx(0.65)  # (0.5 + 0.8) / 2, task 3 not counted
    assert m["forgetting"] == pytest.approx(0.4)
    assert partial_metrics([[0.9, 0.2]], [0.1, 0.1])["forgetting"] == 0.0


def _write(tmp_path, **changes):
    data = {"name": "t", "base": TINY, "num_samples": 3, "seed": 1,
            "search": {"optimizer.lr": {"loguniform": ["1e-3", 0.1]},
                       "model.hidden": {"choice": [[8], [32]]}}}
    data.update(changes)
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_bad_tune_files_fail_before_ray_starts(tmp_path):
    with pytest.raises(UnknownNameError, match="loguniform"):
        load_tune(_write(tmp_path, search={"optimizer.lr": {"logunifrom": [1, 2]}}))
    with pytest.raises(UnknownNameError, match="average_accuracy"):
        load_tune(_write(tmp_path, metric="acc"))
    with pytest.raises(ConfigError, match="low < high"):
        load_tune(_write(tmp_path, search={"optimizer.lr": {"uniform": [1, 0]}}))
    spec = load_tune(_write(tmp_path, search={"method.lamda": {"choice": [1, 2]}}))
    with pytest.raises(NeuroplasticError, match="lamda"):
        run_tune(spec, out=tmp_path / "best.yaml")  # resolved before Ray is touched


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the ray extra (neuroplastic[ray]) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_tune_writes_a_best_config_that_run_and_sweep_accept(local_ray, tmp_path):
    best_path = tmp_path / "best.yaml"
    outcome = run_tune(load_tune(_write(tmp_path)), out=best_path)
    assert len(outcome.trials) == 3
    assert max(t["tasks_trained"] for t in outcome.trials) == 2  # one report per task
    finished = [t for t in outcome.trials if t["tasks_trained"] == 2]
    assert outcome.best_value == max(t["value"] for t in finished)
    lr = outcome.best_sample["optimizer.lr"]
    assert 1e-3 <= lr <= 0.1 and outcome.best_sample["model.hidden"] in ([8], [32])

    best = yaml.safe_load(best_path.read_text())
    assert best["optimizer"]["lr"] == pytest.approx(lr)
    assert best["model"]["hidden"] == outcome.best_sample["model.hidden"]
    assert best["transforms"] == []  # the validation split is for tuning only
    rec = experiment.run(str(best_path), out=tmp_path / "runs", progress=False)
    assert rec["config"]["optimizer"]["lr"] == pytest.approx(lr)
    assert rec["stream"]["tasks"][0]["num_test"] == len(_stream().tasks[0].y_test)  # real test
    (planned,) = plan(load_sweep(best_path))
    assert planned.name == rec["name"]  # the sweep would reuse that very record
