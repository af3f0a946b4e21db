"""Evaluators in the engine: configured by name, run after every task, kept in checkpoints and
records, never changing training."""

from dataclasses import dataclass

import pytest
import torch

from core_fixtures import digits_stream
from neuroplastic import config as config_mod
from neuroplastic import experiment
from neuroplastic.engine import TrainSettings, run_stream
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.evaluators import Evaluator
from neuroplastic.models import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.record import config_hash
from neuroplastic.registry import EVALUATORS, METHODS


@dataclass
class NormSettings:
    #: which parameter tensor to measure (index in model.parameters())
    tensor: int = 0


class WeightNorm(Evaluator):
    """Test evaluator: the norm of one weight tensor after each task, and the norm it started
    the task from (seen in begin_task)."""

    name = "test-weight-norm"
    Params = NormSettings

    def begin_task(self, method, task):
        self.start = list(method.model.parameters())[self.params.tensor].norm().item()

    def after_task(self, method, stream, task_index):
        end = list(method.model.parameters())[self.params.tensor].norm().item()
        return {"task": task_index, "start": self.start, "end": end}


@pytest.fixture
def weight_norm_registered():
    EVALUATORS.register("test-weight-norm", NormSettings)(WeightNorm)
    yield
    EVALUATORS._entries.pop("test-weight-norm")


def make(seed=0):
    stream = digits_stream("class", n_tasks=3)
    torch.manual_seed(seed)
    model = build_model({"name": "mlp", "hidden": [32]}, stream.info)
    method = METHODS.get("finetune").obj(model, stream.info, None,
                                         optimizer_factory({"name": "sgd", "lr": 0.05}))
    return method, stream


SETTINGS = TrainSettings(epochs=1, batch_size=64)


def test_evaluator_runs_around_every_task_without_changing_training():
    method, stream = make()
    _, plain = run_stream(method, stream, SETTINGS, seed=3, progress=False)
    method, stream = make()
    _, measured = run_stream(method, stream, SETTINGS, seed=3, progress=False,
                             evaluators=[WeightNorm()])
    entries = measured.evaluations["test-weight-norm"]
    assert [e["task"] for e in entries] == [0, 1, 2]
    # each task starts from the weights the previous one ended with, and training moved them
    assert entries[1]["start"] == pytest.approx(entries[0]["end"])
    assert all(e["start"] != e["end"] for e in entries)
    assert measured.accuracy_matrix == plain.accuracy_matrix


def test_evaluations_survive_checkpoint_and_resume(tmp_path):
    checkpoint = tmp_path / "run.pt"
    method, stream = make()
    _, whole = run_stream(method, stream, SETTINGS, seed=1, progress=False,
                          evaluators=[WeightNorm()])

    class Stop(Exception):
        pass

    def stop_after_first(task_index, state):
        if task_index == 0:
            raise Stop

    method, stream = make()
    with pytest.raises(Stop):
        run_stream(method, stream, SETTINGS, seed=1, progress=False, checkpoint=checkpoint,
                   evaluators=[WeightNorm()], on_task_end=stop_after_first)
    method, stream = make()
    _, resumed = run_stream(method, stream, SETTINGS, seed=1, progress=False,
                            checkpoint=checkpoint, resume=True, evaluators=[WeightNorm()])
    assert resumed.evaluations == whole.evaluations
    assert resumed.accuracy_matrix == whole.accuracy_matrix


def test_configured_evaluator_lands_in_the_record(tmp_path, weight_norm_registered):
    cfg = {"benchmark": "split-digits", "method": "finetune", "train": {"epochs": 1},
           "evaluators": [{"name": "test-weight-norm", "tensor": 1}]}
    rec = experiment.run(cfg, out=tmp_path, progress=False)
    assert rec["config"]["evaluators"] == [{"name": "test-weight-norm", "tensor": 1}]
    entries = rec["evaluations"]["test-weight-norm"]
    assert len(entries) == rec["stream"]["num_tasks"]


def test_empty_evaluator_list_keeps_the_config_hash_and_a_used_one_changes_it():
    plain = experiment.resolve(config_mod.load(None, ["method=finetune"])).config
    assert plain["evaluators"] == []
    without_key = {k: v for k, v in plain.items() if k != "evaluators"}
    assert config_hash(plain) == config_hash(without_key)  # records written before evaluators
    used = experiment.resolve(config_mod.load(None, ["evaluators=[task-identity]"])).config
    assert config_hash(used) != config_hash(plain)


def test_unknown_evaluator_and_setting_are_rejected_before_training():
    with pytest.raises(UnknownNameError, match="task-identity"):
        experiment.resolve(config_mod.load(None, ["evaluators=[no-such-evaluator]"]))
    with pytest.raises(UnknownNameError, match="batch_size"):
        experiment.resolve(config_mod.load(
            None, ["evaluators=[{name: task-identity, batchsize: 5}]"]))
    with pytest.raises(ConfigError, match="evaluators must be a list"):
        experiment.resolve(config_mod.load(None, ["evaluators=task-identity"]))


def test_adam_meta_fused_off_keeps_the_config_hash_of_earlier_records():
    """Settings added later (record.LATER_SETTINGS) leave recorded names alone while off."""
    base = ["model=bnn", "method=mbnn", "optimizer=adam-meta"]
    eager = experiment.resolve(config_mod.load(None, base)).config
    assert eager["optimizer"]["fused"] is False
    before = {**eager, "optimizer": {k: v for k, v in eager["optimizer"].items() if k != "fused"}}
    assert config_hash(eager) == config_hash(before)
    fused = experiment.resolve(config_mod.load(None, [*base, "optimizer.fused=true"])).config
    assert config_hash(fused) != config_hash(eager)
