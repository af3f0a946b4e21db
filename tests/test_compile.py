"""train.compile: the model called through torch.compile gives the eager model's loss and
gradients to float rounding, keeps its state dict and checkpoints, and trains a run."""

import copy

import pytest
import torch

from core_fixtures import digits_stream
from neuroplastic import config as config_mod
from neuroplastic import experiment
from neuroplastic.models import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.record import config_hash
from neuroplastic.registry import METHODS


def _pair(method_name: str, model_cfg: dict, opt_cfg: dict):
    stream = digits_stream("domain", n_tasks=2)
    torch.manual_seed(0)
    model = build_model(model_cfg, stream.info)
    cls = METHODS.get(method_name).obj
    eager = cls(model, stream.info, cls.Params(), optimizer_factory(opt_cfg))
    compiled = cls(copy.deepcopy(model), stream.info, cls.Params(), optimizer_factory(opt_cfg))
    compiled.compile_model()
    return stream, eager, compiled


@pytest.mark.parametrize("method_name, model_cfg, opt_cfg", [
    ("mbnn", {"name": "bnn", "hidden": [32, 32]}, {"name": "adam-meta", "meta": 1.35}),
    ("finetune", {"name": "mlp", "hidden": [32]}, {"name": "sgd", "lr": 0.1}),
])
def test_compiled_steps_match_the_eager_model(method_name, model_cfg, opt_cfg):
    stream, eager, compiled = _pair(method_name, model_cfg, opt_cfg)
    task = stream.tasks[0]
    for method in (eager, compiled):
        method.begin_task(task)
    x, y = task.x_train[:64], task.y_train[:64]
    for _ in range(3):  # three steps: forward, backward and the update agree at each
        losses = [m.observe(x, y, 0) for m in (eager, compiled)]
        assert losses[1] == pytest.approx(losses[0], rel=1e-5, abs=1e-6)
        for a, b in zip(eager.model.parameters(), compiled.model.parameters(), strict=True):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert compiled._compiled_model is not None  # compiled, no fallback to the eager model
    # the module and its state dict are the plain model's (checkpoints, copies unaffected)
    assert list(compiled.model.state_dict()) == list(eager.model.state_dict())


def test_a_compiled_run_trains_resumes_and_is_its_own_run(tmp_path):
    base = {"benchmark": {"name": "split-digits", "n_tasks": 2}, "method": "finetune",
            "model": {"name": "mlp", "hidden": [32]}, "train": {"epochs": 2}, "threads": 1}
    plain = experiment.resolve(config_mod.load(None, [], base=base))
    fast = experiment.resolve(config_mod.load(None, ["train.compile=true"], base=base))
    assert config_hash(plain.config) != config_hash(fast.config)
    without = {**plain.config, "train": {k: v for k, v in plain.config["train"].items()
                                         if k != "compile"}}
    assert config_hash(plain.config) == config_hash(without)  # earlier records keep names
    rec = experiment.run_resolved(fast, out=tmp_path, progress=False)
    eager = experiment.run_resolved(plain, out=tmp_path / "eager", progress=False)
    # float rounding apart, the same run: the same accuracies to within one test image
    for row, eager_row in zip(rec["accuracy_matrix"], eager["accuracy_matrix"], strict=True):
        assert row == pytest.approx(eager_row, abs=0.02)

    class Stop(Exception):
        pass

    def stop_after_first(task_index, state):
        if task_index == 0:
            raise Stop

    with pytest.raises(Stop):  # interrupted after task 1, then resumed from its checkpoint
        experiment.run_resolved(fast, out=tmp_path / "resumed", progress=False,
                                on_task_end=stop_after_first)
    again = experiment.run_resolved(fast, out=tmp_path / "resumed", progress=False, resume=True)
    assert again["accuracy_matrix"] == rec["accuracy_matrix"]  # same seed, same kernels
