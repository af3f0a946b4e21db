"""Binarized networks, Adam_meta, one-bit packing, metaplastic BNN and stochastic engrams."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core_fixtures import digits_stream, one_thread  # noqa: F401  (autouse)
from neuroplastic.engine import TrainSettings, evaluate, run_stream
from neuroplastic.errors import ConfigError
from neuroplastic.experiment import run
from neuroplastic.methods.engram import EngramBNN, EngramParams, engram_mask
from neuroplastic.methods.mbnn import MBNNParams, MetaplasticBNN, bn_state
from neuroplastic.models.binary import (
    BinaryConv2d,
    BinaryLinear,
    BNNParams,
    binary_weight,
    build_bnn,
    load_packed,
    pack_signs,
    save_packed,
    sign_activation,
    unpack_signs,
)
from neuroplastic.models.classifier import model_bytes
from neuroplastic.plasticity import OptimizerFactory
from neuroplastic.plasticity.adam_meta import AdamMeta, AdamMetaParams


# --- sign forward and straight-through gradients ------------------------------------------
def test_sign_activation_forward_and_straight_through_gradient():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 1.5], requires_grad=True)
    y = sign_activation(x)
    assert y.tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    upstream = torch.arange(1.0, 8.0)
    y.backward(upstream)
    # grad * 1_{|x| <= 1}: zero outside [-1, 1], passed through unchanged inside
    assert x.grad.tolist() == [0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0]


def test_binary_weight_is_sign_forward_identity_backward():
    w = torch.randn(5, 4, requires_grad=True)
    b = binary_weight(w)
    assert torch.equal(b, torch.where(w >= 0, 1.0, -1.0))
    g = torch.randn(5, 4)
    b.backward(g)
    assert torch.equal(w.grad, g)


def test_binary_linear_and_conv_use_sign_of_hidden_weights():
    torch.manual_seed(0)
    lin = BinaryLinear(6, 3)
    x = torch.randn(4, 6)
    assert torch.allclose(lin(x), x @ torch.sign(lin.weight).T)
    assert lin.bias is None
    conv = BinaryConv2d(2, 3, 3, padding=1)
    xi = torch.randn(2, 2, 5, 5)
    assert torch.allclose(conv(xi), F.conv2d(xi, torch.sign(conv.weight), padding=1))
    # the gradient reaches the hidden weights
    lin(x).sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_bnn_structure_first_input_real_no_bias_bn_without_running_stats():
    info = digits_stream().info
    model = build_bnn(BNNParams(hidden=[32, 16]), info)
    assert all(p.dim() != 1 or "norm" in n or ".bn." in n for n, p in model.named_parameters())
    for bn in model.batchnorms():
        assert bn.affine and not bn.track_running_stats
    # init U(-0.05, 0.05) (official --init-width 0.1)
    w = model.body.layers[0].weight
    assert w.abs().max() <= 0.05 and w.abs().max() > 0.04
    # the first layer sees the real pixels: scaling the input changes the pre-activation
    x = torch.rand(8, 1, 8, 8)
    pre = model.body.layers[0](x.flatten(1))
    assert not torch.allclose(pre, model.body.layers[0](torch.sign(x.flatten(1))))
    features = model.features(x)
    assert set(features.unique().tolist()) <= {-1.0, 1.0}


# --- Adam_meta -------------------------------------------------------------------------
def _two_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.nn.Parameter(torch.randn(6, 5, generator=g) * 0.5)
    b = torch.nn.Parameter(torch.randn(6, generator=g))
    return w, b


def test_adam_meta_with_m0_equals_torch_adam():
    w1, b1 = _two_params()
    w2, b2 = (torch.nn.Parameter(t.detach().clone()) for t in (w1, b1))
    ours = AdamMeta([w1, b1], lr=0.01, meta=0.0)
    ref = torch.optim.Adam([w2, b2], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        gw, gb = torch.randn(6, 5, generator=g), torch.randn(6, generator=g)
        for (w, b) in ((w1, b1), (w2, b2)):
            w.grad, b.grad = gw.clone(), gb.clone()
        ours.step()
        ref.step()
    # equal up to where eps sits relative to the sqrt(1 - b2^k) correction (order eps)
    assert torch.allclose(w1, w2, atol=1e-6) and torch.allclose(b1, b2, atol=1e-6)
    assert not torch.allclose(w1, _two_params()[0])  # and it did move


def test_adam_meta_attenuates_only_updates_toward_zero():
    meta, lr = 1.5, 0.01
    w0 = torch.tensor([[0.8, -0.8, 0.8, -0.8, 0.0]])
    grad = torch.tensor([[1.0, -1.0, -1.0, 1.0, 1.0]])
    # W <- W - step * m: grad > 0 pushes W down, so entries 0 and 1 move toward zero
    moved = {}
    for m in (0.0, meta):
        w = torch.nn.Parameter(w0.clone())
        opt = AdamMeta([w], lr=lr, meta=m)
        w.grad = grad.clone()
        opt.step()
        moved[m] = (w - w0).detach()
    f = 1 - torch.tanh(torch.tensor(meta * 0.8)) ** 2
    ratio = moved[meta] / moved[0.0]
    assert torch.allclose(ratio[0, :2], torch.full((2,), float(f)), atol=1e-5)
    assert torch.allclose(ratio[0, 2:], torch.ones(3))  # away from zero (and W=0): untouched
    assert (moved[0.0][0, :2].sign() == -w0[0, :2].sign()).all()  # those were toward zero
    assert f < 0.5


def test_adam_meta_fused_step_matches_the_eager_step():
    """fused: true (torch.compile) evaluates the same formula in another order: within 1e-6 of
    the eager step at every step (weights, both moments), over steps where the attenuation and
    the bias correction both act, on two shapes and two values of m; a hidden weight that
    sits exactly on a flip (W = 0, sign 0) is never attenuated in either."""
    g = torch.Generator().manual_seed(0)
    shapes = [(48, 20), (10, 48)]
    init = [torch.randn(s, generator=g) * 0.3 for s in shapes]
    init[0][0, :5] = 0.0
    grads = [[torch.randn(s, generator=g) * 0.1 for s in shapes] for _ in range(6)]
    weights = {}
    for fused in (False, True):
        ws = [torch.nn.Parameter(w.clone()) for w in init]
        opt = AdamMeta(ws, lr=0.01, meta=[1.35, 4.0], fused=fused)
        trace = []
        for step_grads in grads:
            for w, grad in zip(ws, step_grads, strict=True):
                w.grad = grad.clone()
            opt.step()
            trace.append([t.detach().clone() for w in ws
                          for t in (w, opt.state[w]["exp_avg"], opt.state[w]["exp_avg_sq"])])
        weights[fused] = trace
    for eager, fused in zip(weights[False], weights[True], strict=True):
        for a, b in zip(eager, fused, strict=True):
            assert torch.allclose(a, b, rtol=0, atol=1e-6)
    assert not torch.equal(weights[False][-1][0], init[0])  # the weights did move
    from neuroplastic.plasticity.adam_meta import fused_status

    assert fused_status() == "compiled"  # the compiled kernel ran, no fallback


def test_adam_meta_leaves_1d_parameters_plain():
    b0 = torch.tensor([0.8, -0.8])
    b = torch.nn.Parameter(b0.clone())
    b.grad = torch.tensor([1.0, -1.0])
    AdamMeta([b], lr=0.01, meta=5.0).step()
    # plain Adam first step: lr * sign(g) (bias-corrected), no attenuation toward zero
    assert torch.allclose(b - b0, torch.tensor([-0.01, 0.01]), atol=1e-6)


def test_adam_meta_per_layer_meta_and_bad_length():
    w1 = torch.nn.Parameter(torch.full((2, 2), 0.5))
    w2 = torch.nn.Parameter(torch.full((2, 2), 0.5))
    opt = AdamMeta([w1, w2], lr=0.01, meta=[0.0, 3.0])
    w1.grad = torch.ones(2, 2)
    w2.grad = torch.ones(2, 2)
    opt.step()
    assert (0.5 - w1).min() > 5 * (0.5 - w2).max()  # layer 2 is consolidated, layer 1 is not
    with pytest.raises(ConfigError):
        AdamMeta([w1, w2], meta=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError):
        from neuroplastic import params

        params.build(AdamMetaParams, {"meta": -1}, "optimizer")


# --- one-bit packing -------------------------------------------------------------------
def test_pack_signs_roundtrip_and_numpy_layout():
    w = torch.randn(7, 13)
    packed = pack_signs(w)
    assert packed.dtype == torch.uint8 and packed.shape == (7, 2)
    assert np.array_equal(packed.numpy(), np.packbits((w >= 0).numpy(), axis=1))
    assert torch.equal(unpack_signs(packed, (7, 13)), torch.where(w >= 0, 1.0, -1.0))
    conv = torch.randn(4, 3, 3, 3)
    signs = torch.where(conv >= 0, 1.0, -1.0)
    assert torch.equal(unpack_signs(pack_signs(conv), (4, 3, 3, 3)), signs)


def test_packed_layer_unpacks_in_row_chunks(monkeypatch):
    import neuroplastic.models.binary as binary

    torch.manual_seed(0)
    lin = BinaryLinear(40, 30)
    x = torch.randn(5, 40)
    ref = lin(x)
    lin.pack_()
    monkeypatch.setattr(binary, "UNPACK_FLOATS", 400)  # 10 rows per chunk
    assert lin.row_chunks() == [(0, 10), (10, 20), (20, 30)]
    assert torch.allclose(lin(x), ref, atol=1e-5)


def _trained_bnn(hidden=(64, 32), scenario="class", steps=30):
    stream = digits_stream(scenario)
    model = build_bnn(BNNParams(hidden=list(hidden)), stream.info)
    opt = AdamMeta(model.parameters(), lr=0.005, meta=1.35)
    task = stream.tasks[0]
    for i in range(steps):
        idx = torch.arange(i * 16, i * 16 + 32) % task.num_train
        opt.zero_grad()
        F.cross_entropy(model(task.x_train[idx]), task.y_train[idx]).backward()
        opt.step()
    return stream, model


def test_packed_model_gives_identical_predictions_and_one_bit_size(tmp_path):
    stream, model = _trained_bnn()
    model.eval()
    packed = model.pack()
    x = torch.cat([t.x_test for t in stream.tasks])
    with torch.no_grad():
        a, b = model(x), packed(x)
    assert torch.equal(a, b)
    assert torch.equal(a.argmax(1), b.argmax(1))
    # no hidden float weights left: only sign bits and the BatchNorm parameters
    n_binary = 64 * 64 + 64 * 32 + 32 * 10
    n_bn = 2 * (64 + 32 + 10)
    assert model_bytes(packed) == model_bytes(model) == 64 * 8 + 32 * 8 + 10 * 4 + 4 * n_bn
    float_bytes = sum(p.numel() * 4 for p in model.parameters())
    assert float_bytes == 4 * (n_binary + n_bn)
    assert not any(p.dim() > 1 for p in packed.parameters())
    size = save_packed(model, tmp_path / "bnn.pt")
    loaded = load_packed(tmp_path / "bnn.pt")
    with torch.no_grad():
        assert torch.equal(loaded(x), a)
    unpacked_file = tmp_path / "float.pt"
    torch.save(model.state_dict(), unpacked_file)
    assert size < unpacked_file.stat().st_size / 4


def test_packed_multihead_model_agrees():
    stream = digits_stream("task")
    model = build_bnn(BNNParams(hidden=[32]), stream.info).eval()
    packed = model.pack()
    x = stream.tasks[2].x_test
    with torch.no_grad():
        assert torch.equal(model(x, 2), packed(x, 2))


# --- metaplastic BNN method ------------------------------------------------------------
def _method(cls, params, scenario="class", meta=1.35, hidden=(64, 64)):
    stream = digits_stream(scenario)
    model = build_bnn(BNNParams(hidden=list(hidden)), stream.info)
    factory = OptimizerFactory("adam-meta", AdamMetaParams(meta=[meta]), "per_task")
    return stream, cls(model, stream.info, params, factory)


def test_mbnn_recreates_adam_meta_per_task():
    stream, method = _method(MetaplasticBNN, MBNNParams())
    first = method.optimizer
    run_stream(method, stream, TrainSettings(epochs=1, batch_size=64), progress=False)
    assert method.optimizer is not first and isinstance(method.optimizer, AdamMeta)
    metas = [s["meta"] for s in method.optimizer.state.values() if "meta" in s]
    assert metas and set(metas) == {1.35}


def test_per_task_bn_saved_and_reloaded_for_its_task():
    stream, method = _method(MetaplasticBNN, MBNNParams(per_task_bn=True), scenario="task")
    assert method.uses_task_identity
    run_stream(method, stream, TrainSettings(epochs=1, batch_size=64), progress=False)
    assert sorted(method.task_bn) == list(range(5))
    current = bn_state(method.model)
    saved0 = method.task_bn[0]
    assert any(not torch.equal(c[0], s[0]) for c, s in zip(current, saved0, strict=False))
    x = stream.tasks[0].x_test
    method.model.eval()
    with torch.no_grad():
        out = method.predict(x, 0)
        # the same as loading task 0's BatchNorm by hand, and the current BN is restored after
        from neuroplastic.methods.mbnn import load_bn_state

        load_bn_state(method.model, saved0)
        by_hand = method.logits(x, 0)
        load_bn_state(method.model, current)
    assert torch.equal(out, by_hand)
    after = bn_state(method.model)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(after, current, strict=True))


def test_per_task_bn_in_domain_scenario_reports_both_accuracies():
    stream, method = _method(MetaplasticBNN, MBNNParams(per_task_bn=True), scenario="domain")
    _, state = run_stream(method, stream, TrainSettings(epochs=2, batch_size=64), progress=False)
    rows = state.evaluations["task-identity"]  # measured by the engine through the method's own BN
    assert [len(r) for r in rows] == [1, 2, 3, 4, 5]
    assert all(0.0 <= a <= 1.0 for r in rows for a in r)
    # the task-free matrix predicted with the current BN: the last task's entries agree
    assert abs(rows[-1][-1] - state.accuracy_matrix[-1][-1]) < 1e-9
    assert method.task_identity_note and "TASK ID" in method.task_identity_note


# --- stochastic engrams -----------------------------------------------------------------
def test_engram_masks_deterministic_per_seed_and_task():
    a = engram_mask(3, 1, 0, 2000, 0.25)
    assert torch.equal(a, engram_mask(3, 1, 0, 2000, 0.25))
    assert not torch.equal(a, engram_mask(3, 2, 0, 2000, 0.25))  # other task
    assert not torch.equal(a, engram_mask(4, 1, 0, 2000, 0.25))  # other seed
    assert not torch.equal(a, engram_mask(3, 1, 1, 2000, 0.25))  # other layer
    assert set(a.unique().tolist()) == {0.0, 1.0}
    assert 0.2 < a.mean().item() < 0.3


def test_engram_method_masks_follow_seed_not_global_rng():
    _, m1 = _method(EngramBNN, EngramParams(engram_seed=7))
    torch.manual_seed(123)
    _, m2 = _method(EngramBNN, EngramParams(engram_seed=7))
    _, m3 = _method(EngramBNN, EngramParams(engram_seed=8))
    pairs = zip(sum(m1.engrams, []), sum(m2.engrams, []), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not torch.equal(m1.engrams[0][0], m3.engrams[0][0])


def test_engram_gates_which_units_fire_and_learn():
    stream, method = _method(EngramBNN, EngramParams(engram_seed=0, p=0.3))
    task = stream.tasks[1]
    method.begin_task(task)
    method.optimizer.zero_grad()
    method.loss(task.x_train[:64], task.y_train[:64], 1).backward()
    mask0, mask1 = method.engrams[1]
    body = method.model.body
    off0 = mask0 == 0
    # units outside the engram: no gradient on their incoming weights, nor on their outgoing ones
    assert body.layers[0].weight.grad[off0].abs().sum() == 0
    assert body.layers[0].weight.grad[~off0].abs().sum() > 0
    assert body.layers[1].weight.grad[:, off0].abs().sum() == 0
    # and they do not fire
    method._gate(method.engrams[1])
    features = method.model.features(task.x_test)
    method._gate(None)
    assert features[:, mask1 == 0].abs().sum() == 0
    # readout task_classes: other tasks' output units get no gradient
    head_grad = method.model.head.fc.weight.grad
    assert head_grad[[0, 1, 4, 5, 6, 7, 8, 9]].abs().sum() == 0
    assert head_grad[[2, 3]].abs().sum() > 0


def test_engram_task_free_selections_run():
    stream, method = _method(EngramBNN, EngramParams(engram_seed=0), hidden=(64,))
    _, state = run_stream(method, stream, TrainSettings(epochs=3, batch_size=64), progress=False)
    rows = state.evaluations["task-identity"]
    assert rows[0][0] > 0.75  # task 0 through its own engram, right after learning it (chance 0.5)
    for select in ("max_drive", "max_confidence", "min_entropy", "union", "all"):
        method.params.select = select
        acc = evaluate(method, stream, 1000)
        assert len(acc) == 5 and all(0 <= a <= 1 for a in acc)


def test_engram_selection_picks_per_sample_engram():
    stream, method = _method(EngramBNN, EngramParams(engram_seed=0), hidden=(48,))
    run_stream(method, stream, TrainSettings(epochs=1, batch_size=64), progress=False)
    method.model.eval()
    x = stream.tasks[3].x_test
    with torch.no_grad():
        out = method.predict(x, None)
        per_engram = [method._engram_outputs(x, t) for t in range(5)]
    drives = torch.stack([d for _, d in per_engram]).amax(-1)
    best = drives.argmax(0)
    expected = torch.stack([per_engram[int(b)][0][i] for i, b in enumerate(best)])
    assert torch.equal(out, expected)


def test_engram_rejects_model_without_gates_and_bad_p():
    stream = digits_stream()
    from neuroplastic.models.mlp import MLPParams, build_mlp

    factory = OptimizerFactory("adam-meta", AdamMetaParams(), "per_task")
    with pytest.raises(ConfigError):
        EngramBNN(build_mlp(MLPParams(), stream.info), stream.info, EngramParams(), factory)
    from neuroplastic import params

    with pytest.raises(ConfigError):
        params.build(EngramParams, {"p": 0.0}, "method")


# --- end to end through the experiment layer ------------------------------------------
def test_experiment_run_reports_packed_model_bytes(tmp_path):
    cfg = {
        "benchmark": {"name": "split-digits"},
        "scenario": "domain",
        "model": {"name": "bnn", "hidden": [64, 64]},
        "method": {"name": "mbnn", "per_task_bn": True},
        "train": {"epochs": 1, "batch_size": 64},
        "threads": 1,
    }
    rec = run(cfg, out=tmp_path)
    assert rec["config"]["optimizer"]["name"] == "adam-meta"
    assert rec["config"]["optimizer"]["reset"] == "per_task"
    assert rec["stream"]["uses_task_identity"] is True
    assert rec["metrics"]["model_bytes"] < 64 * 64 * 4  # far below the float size of one layer
    assert "task_identity" in rec["method_extra"]


def test_mnist_stream_is_disjoint_subsets_with_one_test_set():
    from neuroplastic.scenarios.bnn_stream import MnistStreamParams, mnist_stream

    p = MnistStreamParams(n_subsets=4, source="subset", train_per_class=40, test_per_class=10)
    stream = mnist_stream(p, "domain", None, 0)
    assert len(stream) == 4 and stream.num_outputs == 10
    sizes = [t.num_train for t in stream.tasks]
    assert sum(sizes) == 400 and max(sizes) - min(sizes) <= 1
    flat = torch.cat([t.x_train.flatten(1) for t in stream.tasks])
    assert torch.unique(flat, dim=0).shape[0] == 400  # no image in two subsets
    assert all(torch.equal(t.x_test, stream.tasks[0].x_test) for t in stream.tasks)
    with pytest.raises(ConfigError):
        mnist_stream(p, "class", None, 0)
