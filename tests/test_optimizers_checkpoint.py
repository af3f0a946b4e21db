"""Every registered update rule survives the engine's checkpoint (the method is pickled whole):
torch's Optimizer pickles only defaults, state and param_groups, so a rule that keeps other
attributes must carry them itself."""

import io

import pytest
import torch

from neuroplastic.plasticity import optimizer_factory
from neuroplastic.registry import OPTIMIZERS


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_optimizer_pickles_with_all_its_attributes(name):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    opt = optimizer_factory({"name": name}).build(list(model.parameters()))
    if hasattr(opt, "begin_task"):
        opt.begin_task(0)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(8, 6)).pow(2).mean().backward()
        opt.step()
    buf = io.BytesIO()
    torch.save({"model": model, "opt": opt}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    public = {k for k in vars(opt) if not k.startswith("_")}
    assert public <= set(vars(loaded["opt"]))
    # one more identical step on both gives identical weights
    x = torch.randn(8, 6)
    for m, o in ((model, opt), (loaded["model"], loaded["opt"])):
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), loaded["model"].parameters(), strict=True):
        assert torch.equal(a, b)
