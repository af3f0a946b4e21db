"""The Ray backend, for real, on one local Ray instance for this module: the same sweep on
the process pool and on Ray gives the same records."""

from __future__ import annotations

import json

import pytest

from neuroplastic.experiments.sweep import run_sweep, spec_from_dict

ray = pytest.importorskip("ray", reason="the ray extra (neuroplastic[ray]) is not installed")

TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 3},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64},
    "threads": 1,
}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _records(folder):
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_ray_and_process_pool_give_the_same_records(local_ray, tmp_path):
    spec = spec_from_dict({"name": "same", "base": TINY, "grid": {"method": ["finetune", "joint"]},
                           "seeds": [0]})
    on_pool = run_sweep(spec, out=tmp_path / "pool", workers=2)
    on_ray = run_sweep(spec, out=tmp_path / "ray", backend="ray")
    assert len(on_pool.done) == len(on_ray.done) == 2 and not on_ray.failed
    assert on_ray.backend == "ray" and on_ray.workers == 2  # the instance's CPUs
    pool, remote = _records(tmp_path / "pool"), _records(tmp_path / "ray")
    assert sorted(pool) == sorted(remote)  # same names: same resolved configs
    for name, rec in pool.items():
        assert remote[name]["accuracy_matrix"] == rec["accuracy_matrix"]
        assert remote[name]["config_hash"] == rec["config_hash"]
    # rerunning on Ray skips everything: the records the driver wrote count as done
    again = run_sweep(spec, out=tmp_path / "ray", backend="ray")
    assert len(again.skipped) == 2 and not again.done
