"""Neuromimetic metaplasticity: the scale, the optimizer, the memorized test, two-digit data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core_fixtures import fake_two_digit_items
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.metaplasticity_experiments import (
    MetaExperimentParams,
    fake_labels,
    frequency_order,
    load_config,
    memorized,
    per_item_accuracy,
    permutation_pvalues,
)
from neuroplastic.plasticity import OptimizerFactory, optimizer_factory
from neuroplastic.plasticity.metaplastic import (
    MetaplasticSGD,
    MetaplasticSGDParams,
    draw_flexibility,
    metaplastic_scale,
)
from neuroplastic.scenarios import two_digit as td


def _net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def _step(net, opt, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 6, generator=g)
    y = torch.randint(0, 3, (16,), generator=g)
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    opt.step()


# --- the scale ----------------------------------------------------------------------------


def test_scale_is_one_at_f_one_and_at_w_init():
    w0 = torch.randn(50)
    w = w0 + torch.randn(50)
    f = torch.rand(50) * 0.9 + 0.05
    assert torch.allclose(metaplastic_scale(w, w0, torch.ones(50), 4e5), torch.ones(50))
    assert torch.allclose(metaplastic_scale(w0, w0, f, 4e5), torch.ones(50))


def test_scale_symmetric_in_dw_and_matches_formula():
    w0 = torch.zeros(7)
    dw = torch.linspace(-2e-6, 2e-6, 7)  # |s (f-1)/f dw| up to 1.9, unsaturated
    f = torch.full((7,), 0.3)
    up, down = metaplastic_scale(w0 + dw, w0, f, 4e5), metaplastic_scale(w0 - dw, w0, f, 4e5)
    assert torch.allclose(up, down)
    expected = 1 - torch.tanh(4e5 * (0.3 - 1) / 0.3 * dw) ** 2
    assert torch.allclose(up, expected)
    # strictly decreasing in |dw| away from w_init, so moved stable weights slow down
    assert up[0] < up[1] < up[2] < up[3] == 1.0


def test_scale_is_zero_at_f_zero_as_the_code():
    w0 = torch.zeros(3)
    scale = metaplastic_scale(torch.tensor([0.0, 1e-3, -1e-3]), w0, torch.zeros(3), 4e5)
    assert torch.equal(scale, torch.zeros(3))  # -inf coefficient: NaN at dw=0 mapped to 0
    assert not torch.isnan(scale).any()


def test_flexibility_distributions():
    g = torch.Generator().manual_seed(0)
    assert torch.equal(draw_flexibility((4,), "conventional", g), torch.ones(4))
    assert torch.allclose(draw_flexibility((4,), "stable", g, 0.3), torch.full((4,), 0.3))
    h = draw_flexibility((200_000,), "hybrid", g)
    assert 0 <= h.min() and h.max() < 1 and abs(h.mean().item() - 0.5) < 0.01
    inc = draw_flexibility((200_000,), "increasing", g, a=0.5)
    dec = draw_flexibility((200_000,), "decreasing", g, a=0.5)
    # CDF (1-a)x^2 + a x with a = 0.5: F(0.5) = 0.375, mean 7/12
    assert abs((inc < 0.5).float().mean().item() - 0.375) < 0.01
    assert abs(inc.mean().item() - 7 / 12) < 0.01 and abs(dec.mean().item() - 5 / 12) < 0.01
    with pytest.raises(UnknownNameError):
        draw_flexibility((2,), "floppy", g)


# --- the optimizer ------------------------------------------------------------------------


def test_update_is_sgd_times_held_scale_and_biases_untouched():
    net = _net()
    p = MetaplasticSGDParams(lr=0.1, s=50.0, flexibility="hybrid", seed=3)
    opt = MetaplasticSGD(net.parameters(), p)
    opt.begin_task(0)
    _step(net, opt)  # moves weights away from w_init
    opt.begin_task(1)  # scale now < 1 for moved weights
    before = [q.detach().clone() for q in net.parameters()]
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    grads = [q.grad.clone() for q in net.parameters()]
    opt.step()
    for q, b, gr in zip(net.parameters(), before, grads, strict=True):
        if q.dim() >= 2:
            scale = opt.state[q]["scale"]
            assert (scale < 1).any()
            assert torch.allclose(q, b - 0.1 * scale * gr, atol=1e-7)
        else:  # biases: plain SGD, no scale, no state
            assert torch.allclose(q, b - 0.1 * gr, atol=1e-7)
            assert "scale" not in opt.state.get(q, {})


def test_scale_held_per_task_and_recomputed_only_at_begin_task():
    net = _net()
    opt = MetaplasticSGD(net.parameters(), MetaplasticSGDParams(lr=0.5, s=100.0,
                                                                flexibility="stable"))
    w = net[0].weight
    opt.begin_task(0)
    first = opt.state[w]["scale"].clone()
    assert torch.equal(first, torch.ones_like(first))  # w == w_init at the first item
    for k in range(3):
        _step(net, opt, seed=k)
    assert not torch.equal(w, opt.state[w]["w_init"])  # the weights did move...
    assert torch.equal(opt.state[w]["scale"], first)  # ...but the scale is held
    opt.begin_task(1)
    held = opt.state[w]["scale"]
    assert (held < 1).any()
    assert torch.allclose(held, metaplastic_scale(w, opt.state[w]["w_init"], torch.full_like(
        w, 0.3), 100.0))


def test_per_step_recompute_changes_scale_within_a_task():
    net = _net()
    opt = MetaplasticSGD(net.parameters(), MetaplasticSGDParams(
        lr=0.5, s=100.0, flexibility="stable", recompute="per_step"))
    w = net[0].weight
    opt.begin_task(0)
    _step(net, opt, 0)
    _step(net, opt, 1)  # recomputed before this step, from the moved weights
    assert (opt.state[w]["scale"] < 1).any()


def test_conventional_is_plain_sgd():
    a, b = _net(), _net()
    opt_a = MetaplasticSGD(a.parameters(), MetaplasticSGDParams(lr=0.2, flexibility="conventional"))
    opt_b = torch.optim.SGD(b.parameters(), lr=0.2)
    for k in range(4):
        if k % 2 == 0:
            opt_a.begin_task(k // 2)
        _step(a, opt_a, k)
        _step(b, opt_b, k)
    for qa, qb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(qa, qb, atol=1e-6)


def test_stable_weights_stop_moving_flexible_ones_keep_moving():
    net = _net()
    p = MetaplasticSGDParams(lr=0.5, s=100, flexibility="hybrid")
    opt = MetaplasticSGD(net.parameters(), p)
    opt.begin_task(0)
    for k in range(5):
        _step(net, opt, k)
    opt.begin_task(1)
    w = net[0].weight
    st = opt.state[w]
    f, scale = st["flexibility"], st["scale"]
    moved = (w - st["w_init"]).abs() > 1e-2
    low, high = moved & (f < 0.2), moved & (f > 0.8)
    assert low.sum() > 0 and high.sum() > 0
    # among moved weights, low flexibility -> (nearly) frozen, high flexibility -> plastic
    assert scale[low].max() < 0.05
    assert scale[high].mean() > 10 * scale[low].mean()


def test_layers_selects_weight_matrices_and_state_bytes_count():
    from neuroplastic.methods.finetune import FineTune
    from neuroplastic.models.mlp import MLPParams, build_mlp
    from neuroplastic.scenarios.task import StreamInfo

    net = _net()
    opt = MetaplasticSGD(net.parameters(), MetaplasticSGDParams(layers=[-1]))
    assert "scale" not in opt.state.get(net[0].weight, {})
    assert "scale" in opt.state[net[2].weight]
    with pytest.raises(ConfigError):
        MetaplasticSGD(net.parameters(), MetaplasticSGDParams(layers=[5]))

    info = StreamInfo("class", "shared", 3, ((0,), (1,), (2,)), (6,), 3, False)
    model = build_mlp(MLPParams(hidden=[8]), info)
    method = FineTune(model, info, None, optimizer_factory({"name": "metaplastic-sgd"}))
    weights = sum(q.numel() * 4 for q in model.parameters() if q.dim() >= 2)
    assert method.state_bytes() >= 3 * weights  # w_init, flexibility, held scale


def test_rebuilt_optimizer_mid_stream_is_rejected():
    net = _net()
    factory = OptimizerFactory("metaplastic-sgd", MetaplasticSGDParams(), reset="per_task")
    opt = factory.build(net.parameters())
    with pytest.raises(ConfigError, match="reset"):
        opt.begin_task(3)


def test_bad_settings_raise():
    with pytest.raises(ConfigError):
        optimizer_factory({"name": "metaplastic-sgd", "stable_f": 0})
    with pytest.raises(UnknownNameError):
        optimizer_factory({"name": "metaplastic-sgd", "flexibility": "wobbly"})


# --- the "memorized" test -----------------------------------------------------------------


def test_null_distribution_detects_a_good_classifier_not_a_random_one():
    rng = np.random.default_rng(0)
    n, per = 10, 100
    y = np.repeat(np.arange(n), per)
    good = np.where(rng.random(len(y)) < 0.4, y, rng.integers(0, n, len(y)))  # 46% accuracy
    p_good = permutation_pvalues(good, y, n, 1000, rng)
    assert memorized(p_good).all()
    counts = []
    for seed in range(5):
        r = np.random.default_rng(100 + seed)
        rand = r.integers(0, n, len(y))
        counts.append(memorized(permutation_pvalues(rand, y, n, 1000, r)).sum())
    assert np.mean(counts) <= 1.5  # about 5% of 10 items by chance
    acc = per_item_accuracy(good, y, n)
    assert acc.min() > 0.3


def test_never_predicted_item_is_not_memorized_under_ge_rule_but_is_under_code_rule():
    n, per = 5, 50
    y = np.repeat(np.arange(n), per)
    pred = np.full(len(y), 4)  # always the last item: recency at its extreme
    p_ge = permutation_pvalues(pred, y, n, 500, np.random.default_rng(0), "ge")
    p_code = permutation_pvalues(pred, y, n, 500, np.random.default_rng(0), "code")
    assert not memorized(p_ge).any()
    assert memorized(p_code)[:4].all()  # the code's strict '>' counts accuracy 0 as memorized


# --- two-digit MNIST ----------------------------------------------------------------------


def test_categories_are_the_45_pairs_i_lt_j():
    assert len(td.CATEGORIES) == 45 == len(set(td.CATEGORY_NAMES))
    assert all(i < j for i, j in td.CATEGORIES)
    assert td.CATEGORY_NAMES[0] == "01" and td.CATEGORY_NAMES[-1] == "89"
    items = td.draw_items(30, seed=4)
    assert len(set(items)) == 30 and all(0 <= c < 45 for c in items)
    assert items == td.draw_items(30, seed=4) and items != td.draw_items(30, seed=5)


def test_images_put_digit_i_left_and_j_right():
    digits = np.zeros((10, 28, 28), dtype=np.float32)
    for d in range(10):
        digits[d] = d / 10 + 0.05  # each "digit" image is a constant grey level
    labels = np.arange(10)
    img = td.category_images(digits, labels, td.CATEGORY_NAMES.index("37"), 4, 0, "56x56")
    assert img.shape == (4, 1, 56, 56)
    assert np.allclose(img[:, 0, 14:42, :28], 0.35) and np.allclose(img[:, 0, 14:42, 28:], 0.75)
    assert img[:, 0, :14].max() == 0 and img[:, 0, 42:].max() == 0
    wide = td.category_images(digits, labels, 0, 2, 0, "28x56")
    assert wide.shape == (2, 1, 28, 56)


@pytest.mark.parametrize("n_items,per_item", [(10, 500), (10, 2000), (30, 2000)])
def test_mixing_counts_and_wrong_labels(n_items, per_item):
    rng = np.random.default_rng(0)
    target = 2
    item, index, label = td.mixed_labels([per_item] * n_items, target, rng)
    m = int(np.floor(per_item / (n_items - 1) + 0.5))
    assert (item == target).sum() == per_item and (label[item == target] == target).all()
    for o in range(n_items):
        if o == target:
            continue
        mine = item == o
        assert mine.sum() == m
        assert len(set(index[mine])) == m and index[mine].max() < m  # the code's first m images
        assert not (label[mine] == o).any()  # never the image's own item
        assert not (label[mine] == target).any()  # never the item being learnt
        counts = np.bincount(label[mine], minlength=n_items)
        wrong = [k for k in range(n_items) if k not in (o, target)]
        assert counts[wrong].min() >= m // len(wrong)  # balanced wrong labels
        assert counts[wrong].max() <= m // len(wrong) + m % len(wrong)


def test_code_remainder_quirk_can_give_the_own_label():
    hits = 0
    for seed in range(20):
        item, _, label = td.mixed_labels([2000] * 10, 0, np.random.default_rng(seed), "code")
        hits += int(((item == label) & (item != 0)).sum())
    assert hits > 0


def test_mixed_training_set_and_poisoning():
    train = [torch.full((20, 1, 2, 2), float(k)) for k in range(4)]
    data = td.ItemData([0, 1, 2, 3], train, [t[:3] for t in train], (1, 2, 2))
    p = td.TwoDigitParams(n_items=4, train_per_item=20, test_per_item=3)
    x, y = td.mixed_training_set(data, 1, np.random.default_rng(0), p)
    own = x[:, 0, 0, 0].long()  # each image's value is its item
    assert len(y) == 20 + 3 * 7
    assert ((own == 1) == (y == 1)).all()  # target images (only) carry the target label
    assert not ((own != 1) & (y == own)).any()
    xp, yp = td.mixed_training_set(data, 1, np.random.default_rng(0), p, poison_label=3)
    assert (yp[xp[:, 0, 0, 0].long() == 1] == 3).all()
    tx, ty = data.test_set()
    assert ty.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3


def test_benchmark_requires_the_shared_head():
    with pytest.raises(ConfigError, match="shared"):
        td.two_digit_mnist(td.TwoDigitParams(), "class", "growing", 0)
    with pytest.raises(ConfigError):
        from neuroplastic import params

        params.build(td.TwoDigitParams, {"n_items": 1}, "benchmark")


# --- experiment plumbing ------------------------------------------------------------------


def test_frequency_order_and_fake_labels():
    order = frequency_order(10, np.random.default_rng(0))
    assert len(order) == 55 and np.bincount(order).tolist() == list(range(1, 11))
    rng = np.random.default_rng(1)
    for _ in range(20):
        assert not (fake_labels(10, rng, True) == np.arange(10)).any()
    assert sorted(fake_labels(10, rng, False)) == list(range(10))


def test_committed_configs_load():
    for name in ("serial-position", "capacity", "repetition", "poisoning", "frequency"):
        p = load_config(name)
        assert isinstance(p, MetaExperimentParams) and p.experiment == name
    with pytest.raises(UnknownNameError):
        load_config("serial-position", overrides=["networks=[wobbly]"])


def test_primacy_and_recency_on_a_tiny_synthetic_sequence(monkeypatch):
    """Stable (f = 0.3, steep s) keeps the first item and cannot learn later ones;
    conventional learns the last item and forgets the first."""
    from neuroplastic import metaplasticity_experiments as me

    fake_two_digit_items(monkeypatch)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: extra threads only spin on a shared CPU
    p = MetaExperimentParams(
        benchmark={"n_items": 4, "train_per_item": 40, "test_per_item": 20, "items": [0, 1, 2, 3]},
        model={"name": "mlp", "hidden": [32]}, networks=["conventional", "stable"],
        optimizer={"lr": 0.1, "s": 3000.0}, epochs=10, batch_size=16, trials=1, shuffles=20)
    try:
        out = me.run_trial(p, 0, log=None)
    finally:
        torch.set_num_threads(threads)
    conv = np.array(out["networks"]["conventional"]["accuracy"])
    stab = np.array(out["networks"]["stable"]["accuracy"])
    assert conv[-1, 3] > 0.9 and conv[-1, 0] < 0.5  # recency, forgetting
    assert stab[1, 0] > 0.9 and stab[-1, 0] > conv[-1, 0] + 0.3  # primacy kept
    assert stab[-1, 3] < conv[-1, 3]


def test_checkpoint_round_trip_keeps_state_tied_to_the_model():
    """A checkpoint is the method's state as plain data, loaded into a freshly built method:
    the optimizer's per-weight state must then belong to the restored model's parameters."""
    import io

    from neuroplastic.methods.finetune import FineTune
    from neuroplastic.models.mlp import MLPParams, build_mlp
    from neuroplastic.scenarios.task import StreamInfo

    info = StreamInfo("class", "shared", 3, ((0,), (1,), (2,)), (6,), 3, False)

    def build():
        return FineTune(build_mlp(MLPParams(hidden=[8]), info), info, None,
                        optimizer_factory({"name": "metaplastic-sgd", "s": 10.0, "lr": 0.5}))

    method = build()
    method.optimizer.begin_task(0)
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    method.observe(x, y, 0)
    buf = io.BytesIO()
    torch.save(method.state_dict(), buf)
    buf.seek(0)
    restored = build()
    restored.load_state_dict(torch.load(buf, weights_only=True), [])
    assert restored.optimizer.tasks_begun == 1  # the rule's own attribute came back too
    opt = restored.optimizer
    weights = [q for q in restored.model.parameters() if q.dim() >= 2]
    assert all(any(q is w for w in weights) for q in opt._metaplastic)
    opt.begin_task(1)
    w = weights[0]
    assert torch.allclose(opt.state[w]["scale"], metaplastic_scale(
        w, opt.state[w]["w_init"], opt.state[w]["flexibility"], 10.0))
    assert (opt.state[w]["scale"] < 1).any()


def test_poisoning_claims_compare_counts_before_and_after():
    from neuroplastic.metaplasticity_experiments import claims

    def summary(hybrid, conventional):
        nets = {name: {"n_memorized_mean": [before], "poisoned_n_memorized": [after]}
                for name, (before, after) in (("hybrid", hybrid), ("conventional", conventional))}
        return {"networks": nets, "n_items": 10, "clean": 0}

    held = claims("poisoning", summary(hybrid=(9.8, 9.9), conventional=(7.3, 0.6)))
    assert [h for _, _, h in held] == [True, True]
    failed = claims("poisoning", summary(hybrid=(10.0, 8.0), conventional=(8.0, 5.0)))
    assert [h for _, _, h in failed] == [False, False]
