"""Update rules whose defaults would not train refuse to start and name the setting to change
(issue 23); a setting the user gave is respected, with a warning."""

from __future__ import annotations

import logging

import pytest
import torch

from neuroplastic import config as config_mod
from neuroplastic import experiment, preflight
from neuroplastic.errors import ConfigError

TINY = ["benchmark.n_tasks=2", "model.hidden=[32]", "threads=1"]


def _check(*overrides):
    resolved = experiment.resolve(config_mod.load(None, [*TINY, *overrides]))
    stream = experiment.build_stream(resolved)
    method = experiment.build_method(resolved, stream)
    preflight.check(resolved, stream, method, resolved.explicit_optimizer)


def test_classp_paper_threshold_by_default_refuses_and_names_the_setting():
    with pytest.raises(ConfigError, match=r"optimizer\.threshold.*optimizer\.rule=official"):
        _check("optimizer=classp")


def test_classp_threshold_set_by_the_user_runs_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="neuroplastic.preflight"):
        _check("optimizer=classp", "optimizer.threshold=0.5")
    assert "running anyway" in caplog.text


@pytest.mark.parametrize("extra", [["optimizer.rule=official"], ["optimizer.threshold=0"]])
def test_classp_settings_that_train_pass(extra):
    _check("optimizer=classp", *extra)


def test_metaplastic_sgd_default_lr_refuses_and_suggests_one():
    with pytest.raises(ConfigError, match=r"optimizer\.lr=0\.\d"):
        _check("optimizer=metaplastic-sgd")
    _check("optimizer=metaplastic-sgd", "optimizer.lr=0.05", "train.epochs=5")


def test_the_probe_leaves_random_states_alone():
    resolved = experiment.resolve(
        config_mod.load(None, [*TINY, "optimizer=classp", "optimizer.threshold=0"])
    )
    stream = experiment.build_stream(resolved)
    method = experiment.build_method(resolved, stream)
    before = [p.detach().clone() for p in method.model.parameters()]
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    preflight.check(resolved, stream, method, resolved.explicit_optimizer)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(a, b) for a, b in zip(before, method.model.parameters(), strict=True))
    assert not method.optimizer.state  # the real optimizer never stepped


def test_the_cli_refuses_before_training(tmp_path, capsys):
    from neuroplastic.cli import main

    code = main(["run", "--method", "finetune", "--optimizer", "classp", "-q", "-o",
                 str(tmp_path), *TINY])
    assert code == 2
    assert "optimizer.threshold" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.json"))


def test_a_command_of_several_runs_refuses_before_the_first_trains(tmp_path, capsys):
    from neuroplastic.cli import main

    code = main(["run", "--method", "finetune,replay", "--optimizer", "classp", "-q", "-o",
                 str(tmp_path), *TINY])
    assert code == 2 and "optimizer.threshold" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))  # not even the first run's record


_BENCHMARKS = {
    "split-digits": ["benchmark=split-digits", "benchmark.n_tasks=2"],
    "split-mnist": ["benchmark=split-mnist", "benchmark.train_per_class=60",
                    "benchmark.test_per_class=30", "benchmark.n_tasks=2"],
}


@pytest.mark.parametrize("benchmark", sorted(_BENCHMARKS))
@pytest.mark.parametrize("optimizer", ["adagrad", "adam", "adam-meta", "classp",
                                       "metaplastic-sgd", "sgd"])
def test_every_update_rule_with_its_defaults_trains_or_refuses(tmp_path, optimizer, benchmark):
    """Every registered update rule, defaults only, on a bundled benchmark (10 epochs of a small
    subset, the library's other defaults): the run learns its first task (above chance) or
    refuses before training, naming a setting to change."""
    import os

    from neuroplastic.registry import OPTIMIZERS

    assert optimizer in OPTIMIZERS.names()  # a rule removed or renamed fails here
    if benchmark == "split-mnist" and not os.environ.get("NEUROPLASTIC_DATA"):
        pytest.skip("MNIST is not in NEUROPLASTIC_DATA")
    overrides = [*_BENCHMARKS[benchmark], f"optimizer={optimizer}", "model.hidden=[32]",
                 "threads=1", "train.epochs=10"]
    try:
        rec = experiment.run(None, overrides, out=tmp_path, progress=False)
    except ConfigError as exc:
        assert "optimizer." in str(exc)  # the refusal names the setting to change
        return
    assert not rec["warnings"], rec["warnings"]
    assert rec["accuracy_matrix"][0][0] > 0.6  # two classes: chance is 0.5


def test_the_list_of_update_rules_above_is_every_registered_one():
    from neuroplastic.registry import OPTIMIZERS

    assert OPTIMIZERS.names() == ["adagrad", "adam", "adam-meta", "classp", "metaplastic-sgd",
                                  "sgd"]
