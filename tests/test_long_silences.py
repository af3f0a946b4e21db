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
