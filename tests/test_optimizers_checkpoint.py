"""Every registered update rule survives a checkpoint: its torch state (``state_dict``) and its
own public attributes are stored as plain data (``methods/state.py``) and loaded into a freshly
built optimizer over a freshly built model, which then takes the same step."""

import io

import pytest
import torch

from neuroplastic.methods.state import pack, unpack
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.registry import OPTIMIZERS


def _build(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_optimizer_state_round_trips_with_all_its_attributes(name):
    model = _build(0)
    opt = optimizer_factory({"name": name}).build(list(model.parameters()))
    if hasattr(opt, "begin_task"):
        opt.begin_task(0)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(8, 6)).pow(2).mean().backward()
        opt.step()
    buf = io.BytesIO()
    torch.save(pack({"model": model, "opt": opt}, "test"), buf)
    buf.seek(0)
    data = torch.load(buf, weights_only=True)  # plain data: nothing is unpickled
    fresh_model = _build(1)
    fresh_opt = optimizer_factory({"name": name}).build(list(fresh_model.parameters()))
    loaded = unpack(data, {"model": fresh_model, "opt": fresh_opt}, "test", [], {})
    public = {k for k in vars(opt) if not k.startswith("_")}
    assert public <= set(vars(loaded["opt"]))
    for key in public - {"defaults", "state", "param_groups"}:
        assert repr(getattr(opt, key)) == repr(getattr(loaded["opt"], key)), key
    # one more identical step on both gives identical weights
    x = torch.randn(8, 6)
    for m, o in ((model, opt), (loaded["model"], loaded["opt"])):
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), loaded["model"].parameters(), strict=True):
        assert torch.equal(a, b)
