"""Issue 23: a user waiting on the library is told what it is doing (resume, discarded
checkpoints, reruns), and config-only checks happen before any run of a sweep starts."""

from __future__ import annotations

import logging

import pytest

from neuroplastic import config as config_mod
from neuroplastic import experiment
from neuroplastic.errors import ConfigError

TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 2},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64},
    "threads": 1,
}


def _interrupted(out):
    def stop(task_index, state):
        if task_index == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        experiment.run(TINY, out=out, progress=False, on_task_end=stop)
    (checkpoint,) = (out / "checkpoints").glob("*.pt")
    return checkpoint


def test_resume_says_where_it_continues(tmp_path, caplog):
    _interrupted(tmp_path)
    with caplog.at_level(logging.INFO, logger="neuroplastic"):
        experiment.run(TINY, out=tmp_path, progress=False, resume=True)
    assert "resuming from" in caplog.text
    assert "task 1 done, continuing with task 2 of 2" in caplog.text


def test_a_plain_rerun_says_it_discards_the_checkpoint_and_replaces_the_record(tmp_path, caplog):
    _interrupted(tmp_path)
    with caplog.at_level(logging.INFO, logger="neuroplastic"):
        experiment.run(TINY, out=tmp_path, progress=False)
    assert "unfinished run" in caplog.text and "--resume" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroplastic"):
        experiment.run(TINY, out=tmp_path, progress=False)
    assert "training again and replacing it" in caplog.text


def test_head_and_scenario_are_checked_by_resolve():
    with pytest.raises(ConfigError, match="needs the task id"):
        experiment.resolve(config_mod.load(None, ["scenario=class", "head=multi"]))


def test_first_cifar_decode_says_so_and_the_cached_one_is_quiet(tmp_path, caplog, monkeypatch):
    import pickle

    import numpy as np

    from neuroplastic.datasets.cifar import TRAIN_BATCHES, load_cifar10

    monkeypatch.delenv("NEUROPLASTIC_OFFLINE", raising=False)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [*TRAIN_BATCHES, "test_batch"]:
        batch = {b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8),
                 b"labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    with caplog.at_level(logging.INFO, logger="neuroplastic"):
        first = load_cifar10(tmp_path)
    assert "decoding CIFAR-10" in caplog.text and "decoded CIFAR-10 in" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroplastic"):
        second = load_cifar10(tmp_path)
    assert "decoding" not in caplog.text  # read from the cache: nothing to wait for
    assert np.array_equal(first.x_train, second.x_train)
