"""Checkpoints are plain data loaded into a freshly built method (issue 20): every registered
method resumes to the same accuracy matrix as an uninterrupted run; nothing is unpickled, a
pickled payload is refused, a damaged or foreign checkpoint is named with the fix, and no
stream data is stored."""

from __future__ import annotations

import pickle

import pytest
import torch

from core_fixtures import digits_stream, one_thread  # noqa: F401  (autouse)
from neuroplastic import params as params_mod
from neuroplastic.engine import TrainSettings, load_checkpoint, run_stream
from neuroplastic.errors import CheckpointError
from neuroplastic.models import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.registry import METHODS

SETTINGS = TrainSettings(epochs=1, batch_size=64)



def _dgm_stream():
    from test_dgm import digits_stream as dgm_digits

    return dgm_digits(1, 3)


def _build(name: str, seed: int):
    """(method, stream, settings) of a tiny run of method ``name``."""
    cls = METHODS.get(name).obj
    settings = SETTINGS
    if name in ("artsy", "simplecil"):
        from neuroplastic.models.efficientnet import EfficientNetParams, build_efficientnet
        from test_artsy import SIZE, _prefix_stream

        stream = _prefix_stream(n_tasks=3, per_class=8)
        torch.manual_seed(seed)
        model = build_efficientnet(
            EfficientNetParams(input_size=SIZE, split_block=12, input="prefix"), stream.info)
        values = {"epochs": 1, "synapse_epochs": 1} if name == "artsy" else {}
        opt = cls.default_optimizer or {"name": "sgd", "lr": 0.01}
    elif name in ("dgm", "dgmw", "dgma", "dgr"):
        from neuroplastic.models.gan import DiscriminatorParams, build_discriminator

        stream = _dgm_stream()
        torch.manual_seed(seed)
        model = build_discriminator(DiscriminatorParams(ndf=8), stream.info)
        # dgmw with the official selection: its evaluator's results must survive resume too
        values = {"replay_per_class": 16, "official_selection": name == "dgmw"}
        opt = {"name": "adam", "lr": 0.002, "betas": [0.5, 0.999]}
        settings = TrainSettings(epochs=2, batch_size=64)
    elif name in ("mbnn", "engram-bnn"):
        stream = digits_stream("class", n_tasks=3)
        torch.manual_seed(seed)
        model = build_model({"name": "bnn", "hidden": [32, 32]}, stream.info)
        values = {"per_task_bn": True} if name == "mbnn" else {}
        opt = {"name": "adam-meta", "lr": 0.005, "meta": 1.35, "reset": "per_task"}
    else:
        stream = digits_stream("class", n_tasks=3)
        torch.manual_seed(seed)
        model = build_model({"name": "mlp", "hidden": [32]}, stream.info)
        values = {}
        opt = {"name": "adam", "lr": 0.003}
    params = params_mod.build(cls.Params, _known(cls.Params, values), name)
    return cls(model, stream.info, params, optimizer_factory(opt)), stream, settings


def _known(params_cls, values):
    import dataclasses

    names = {f.name for f in dataclasses.fields(params_cls)} if dataclasses.is_dataclass(
        params_cls) else set()
    return {k: v for k, v in values.items() if k in names}


class _Stop(Exception):
    pass


def _stop_after_first(index, state):
    if index == 0:
        raise _Stop


@pytest.mark.parametrize("name", sorted(METHODS.names()))
def test_every_method_resumes_to_the_uninterrupted_accuracy_matrix(tmp_path, name):
    method, stream, settings = _build(name, seed=3)
    _, full = run_stream(method, stream, settings, seed=3, progress=False)
    ckpt = tmp_path / "ckpt.pt"
    method, stream, settings = _build(name, seed=3)
    with pytest.raises(_Stop):
        run_stream(method, stream, settings, seed=3, checkpoint=ckpt,
                   on_task_end=_stop_after_first, progress=False)
    # the resumed run builds its method afresh (here with other initial weights) and loads
    # the checkpoint into it
    method, stream, settings = _build(name, seed=99)
    _, resumed = run_stream(method, stream, settings, seed=3, checkpoint=ckpt, resume=True,
                            progress=False)
    assert resumed.accuracy_matrix == full.accuracy_matrix
    assert resumed.evaluations == full.evaluations  # e.g. DGM's selection, Artsy's probe
    # plain data only, and no stream data: the checkpoint loads with weights_only=True and is
    # smaller than the training data of one task
    torch.load(ckpt, weights_only=True)


def test_checkpoint_holds_no_task_data(tmp_path):
    """Joint training keeps every task it has seen; its checkpoint stores their indices, so it
    is no larger than fine-tuning's (same model and optimizer), whatever the data's size."""
    sizes = {}
    for name in ("finetune", "joint"):
        method, stream, settings = _build(name, seed=0)
        ckpt = tmp_path / f"{name}.pt"
        with pytest.raises(_Stop):
            run_stream(method, stream, settings, checkpoint=ckpt,
                       on_task_end=_stop_after_first, progress=False)
        sizes[name] = ckpt.stat().st_size
    task_bytes = stream.tasks[0].x_train.numel() * stream.tasks[0].x_train.element_size()
    assert sizes["joint"] - sizes["finetune"] < min(4_000, task_bytes / 10)


def _interrupted(tmp_path, name="finetune"):
    method, stream, settings = _build(name, seed=0)
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(_Stop):
        run_stream(method, stream, settings, checkpoint=ckpt, on_task_end=_stop_after_first,
                   progress=False)
    return ckpt


def test_a_pickled_payload_is_refused_not_run(tmp_path):
    ckpt = tmp_path / "evil.pt"

    class Payload:
        def __reduce__(self):  # would run os.system on an unpickling load
            import os

            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"format": "neuroplastic-checkpoint/2", "method": Payload()}, ckpt)
    method, stream, _ = _build("finetune", seed=0)
    with pytest.raises(CheckpointError, match=str(ckpt)):
        load_checkpoint(ckpt, method, torch.Generator(), stream.tasks)
    assert not (tmp_path / "pwned").exists()


def test_a_truncated_checkpoint_is_named_with_the_fix(tmp_path):
    ckpt = _interrupted(tmp_path)
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    method, stream, _ = _build("finetune", seed=0)
    with pytest.raises(CheckpointError, match="without --resume") as err:
        load_checkpoint(ckpt, method, torch.Generator(), stream.tasks)
    assert str(ckpt) in str(err.value)


def test_a_checkpoint_of_another_or_renamed_method_class_is_refused(tmp_path):
    ckpt = _interrupted(tmp_path, "finetune")
    method, stream, _ = _build("joint", seed=0)
    with pytest.raises(CheckpointError, match="FineTune"):
        load_checkpoint(ckpt, method, torch.Generator(), stream.tasks)
    # an old pickled checkpoint (format 1) is named as such
    old = tmp_path / "old.pt"
    torch.save({"method": {"a": 1}, "state": {}, "rng": {}}, old)
    with pytest.raises(CheckpointError, match="older neuroplastic"):
        load_checkpoint(old, method, torch.Generator(), stream.tasks)
    assert pickle  # the module is imported for the payload class above


def test_save_model_keeps_the_trained_weights_as_a_state_dict(tmp_path):
    from neuroplastic.cli import main

    out = tmp_path / "runs"
    assert main(["run", "--method", "finetune", "--benchmark", "split-digits", "--epochs", "1",
                 "--out", str(out), "--save-model", "-q", "model.hidden=[8]"]) == 0
    (record,) = out.glob("*.json")
    import json

    rec = json.loads(record.read_text())
    weights = torch.load(out / rec["model_file"], weights_only=True)
    assert any(k.endswith("weight") for k in weights)
    assert not list((out / "checkpoints").glob("*.pt"))  # the checkpoint itself is gone


def test_resume_from_a_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, capsys):
    """--resume never starts afresh silently: it stops naming the file and the fix; a run
    without --resume (the explicit choice) starts over."""
    from neuroplastic.cli import main

    out = tmp_path / "runs"
    args = ["run", "--method", "finetune", "--benchmark", "split-digits", "--epochs", "1",
            "--out", str(out), "-q", "model.hidden=[8]"]
    (out / "checkpoints").mkdir(parents=True)
    from neuroplastic import config as config_mod
    from neuroplastic.experiment import checkpoint_path, resolve

    resolved = resolve(config_mod.load(None, ["model.hidden=[8]", "train.epochs=1"],
                                       base={"method": {"name": "finetune"},
                                             "benchmark": {"name": "split-digits"}}))
    ckpt = checkpoint_path(out, resolved)
    ckpt.write_bytes(b"PK\x03\x04 truncated")
    assert main([*args, "--resume"]) != 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(ckpt) in lines[0] and "without --resume" in lines[0]
    assert "Traceback" not in err
    assert ckpt.read_bytes() == b"PK\x03\x04 truncated"  # left as it was
    assert main(args) == 0  # without --resume: started afresh, as asked
