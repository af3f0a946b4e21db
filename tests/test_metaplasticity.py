"""Neuromimetic metaplasticity: the scale, the optimizer, the memorized test, two-digit data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core_fixtures import fake_two_digit_items
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.evaluators.item_memory import per_item_accuracy, permutation_pvalues
from neuroplastic.plasticity import OptimizerFactory, optimizer_factory
from neuroplastic.plasticity.metaplastic import (
    MetaplasticSGD,
    MetaplasticSGDParams,
    draw_flexibility,
    metaplastic_scale,
)
from neuroplastic.scenarios import two_digit as td


def memorized(pvalues: np.ndarray, p_value: float = 0.05) -> np.ndarray:
    return pvalues < p_value


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


# --- the experiments as protocols through the engine ----------------------------------------

PROTOCOLS = sorted((Path(__file__).parents[1] / "src" / "neuroplastic" / "protocols"
                    / "metaplasticity").glob("*.yaml"))


def test_every_committed_protocol_plans_and_names_its_claims():
    from neuroplastic.experiments.sweep import load_sweep, plan
    from neuroplastic.papers import claim_function

    names = {p.stem for p in PROTOCOLS}
    for experiment in ("serial-position", "capacity", "repetition", "poisoning", "frequency"):
        assert {f"metaplasticity-{experiment}", f"metaplasticity-{experiment}-effnet"} <= names
    assert "metaplasticity-width" in names
    for path in PROTOCOLS:
        spec = load_sweep(path)
        runs = plan(spec, spec.seeds[:1])
        assert {r.config["evaluators"][0]["name"] for r in runs} == {"item-memory"}
        assert {r.config["optimizer"]["flexibility"] for r in runs} == set(spec.rows)
        for claim in spec.claims:
            claim_function(claim)


def test_repeat_shuffle_gives_item_k_k_presentations_and_poison_permutes_own_labels():
    from neuroplastic.scenarios.task import Stream, Task
    from neuroplastic.scenarios.transforms import apply_transform

    def task(k):  # item k's own images (label k) plus one image of another item, wrongly labelled
        y = torch.tensor([k, k, k, (k + 2) % 4])
        return Task(k, torch.zeros(4, 2), y, torch.zeros(2, 2), torch.full((2,), k), [k], {})

    stream = Stream([task(k) for k in range(4)], "class", "shared", 4, (2,), "items", None)
    freq = apply_transform(stream, "repeat", {"times": 2, "shuffle": True,
                                              "tasks": [1, 2, 2, 3, 3, 3]}, seed=0)
    order = [t.classes[0] for t in freq.tasks]
    assert np.bincount(order).tolist() == [1, 2, 3, 4] and order != sorted(order)
    assert [t.index for t in freq.tasks] == list(range(10))
    for labels in ("permutation", "derangement"):
        poisoned = apply_transform(stream, "poison", {"tasks": [0, 1, 2, 3], "labels": labels},
                                   seed=3)
        fake = [int(t.y_train[0]) for t in poisoned.tasks]
        assert sorted(fake) == [0, 1, 2, 3]  # one permutation of the items
        for k, t in enumerate(poisoned.tasks):
            assert (t.y_train[:3] == fake[k]).all()  # all own images relabelled alike
            assert t.y_train[3] == stream.tasks[k].y_train[3]  # mixed images keep theirs
        if labels == "derangement":
            assert all(f != k for k, f in enumerate(fake))


def _tiny_protocol(tmp_path, rows, transforms=None):
    """A 4-item serial-position protocol on well-separated Gaussian items (fake loader)."""
    import yaml

    base = {
        "benchmark": {"name": "two-digit-mnist", "n_items": 4, "train_per_item": 40,
                      "test_per_item": 20, "items": [0, 1, 2, 3]},
        "scenario": "class", "head": "shared",
        "model": {"name": "mlp-glorot", "hidden": [32]}, "method": {"name": "finetune"},
        "optimizer": {"name": "metaplastic-sgd", "lr": 0.1, "s": 3000.0, "seed": None},
        "train": {"epochs": 10, "batch_size": 16},
        "transforms": transforms or [],
        "evaluators": [{"name": "item-memory", "shuffles": 50}], "threads": 1,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny", "base": base, "seeds": [0],
        "rows": {r: {"optimizer": {"flexibility": r}} for r in rows},
        "claims": ["metaplasticity.serial_position"],
        "report": {"columns": ["evaluations.item-memory.-1.memorized"]}}))
    return path


def _run_rows(path, out):
    """Each planned run in this process (the fake loader does not reach a pool's workers),
    then the records by row as ``reproduce`` hands them to the claims."""
    from neuroplastic.experiments.sweep import execute, load_sweep, plan, records_of

    spec = load_sweep(path)
    runs = plan(spec)
    for r in runs:
        assert execute(r.config, str(out))["status"] == "done"
    rows = {label: [] for label in spec.rows}
    for rec in records_of(runs, out):
        rows[rec["row"]].append(rec)
    return rows


def test_serial_position_through_the_engine_primacy_recency_and_shared_start(
        tmp_path, monkeypatch):
    """Through the engine and the item-memory evaluator: conventional learns the last item and
    forgets the first, stable keeps the first and cannot learn later ones; runs of one seed
    start from the same weights (Glorot from the seed) and see the same data."""
    from neuroplastic.papers import metaplasticity as paper

    fake_two_digit_items(monkeypatch)
    rows = _run_rows(_tiny_protocol(tmp_path, ["conventional", "stable"]), tmp_path / "runs")
    conv, stab = rows["conventional"][0], rows["stable"][0]
    assert conv["initial_accuracy"] == stab["initial_accuracy"]  # same initial weights
    ce, se = paper.entries(conv), paper.entries(stab)
    assert len(ce) == 4 and ce[-1]["trained"] == [0, 1, 2, 3]
    assert ce[-1]["accuracy"][3] > 0.9 and ce[-1]["accuracy"][0] < 0.5  # recency, forgetting
    assert se[0]["accuracy"][0] > 0.9 and se[-1]["accuracy"][0] > ce[-1]["accuracy"][0] + 0.3
    assert se[-1]["accuracy"][3] < ce[-1]["accuracy"][3]
    # the engine's accuracy matrix and the evaluator agree on each item's accuracy
    assert conv["accuracy_matrix"][-1] == pytest.approx(ce[-1]["accuracy"])
    held = {c.text.split(":")[0]: c.holds for c in paper.serial_position(rows)}
    assert held["conventional"] is True and held["stable"] is not None


def test_item_memory_evaluator_only_measures(tmp_path, monkeypatch):
    """The same run with and without the evaluator trains identically."""
    from neuroplastic.experiment import run

    fake_two_digit_items(monkeypatch)
    cfg = {"benchmark": {"name": "two-digit-mnist", "n_items": 4, "train_per_item": 40,
                         "test_per_item": 20, "items": [0, 1, 2, 3]},
           "scenario": "class", "head": "shared", "model": {"name": "mlp-glorot", "hidden": [16]},
           "optimizer": {"name": "metaplastic-sgd", "lr": 0.1, "s": 300.0, "seed": None},
           "train": {"epochs": 2, "batch_size": 16}, "threads": 1}
    plain = run(cfg, out=tmp_path / "a", progress=False)
    fake_two_digit_items(monkeypatch)  # the same fake data again (its generator restarts)
    measured = run({**cfg, "evaluators": ["item-memory"]}, out=tmp_path / "b", progress=False)
    assert plain["accuracy_matrix"] == measured["accuracy_matrix"]
    assert len(measured["evaluations"]["item-memory"]) == 4


def test_repetition_and_poisoning_pass_through_the_engine(tmp_path, monkeypatch):
    """Two clean passes then a poisoned one: the claims find the clean pass and the poisoned
    one from the record's stream, and the poisoned pass costs the conventional network its
    items."""
    from neuroplastic.papers import metaplasticity as paper

    fake_two_digit_items(monkeypatch)
    transforms = [{"name": "repeat", "times": 3},
                  {"name": "poison", "labels": "derangement", "tasks": [8, 9, 10, 11]}]
    rows = _run_rows(_tiny_protocol(tmp_path, ["conventional", "hybrid"], transforms),
                     tmp_path / "runs")
    rec = rows["conventional"][0]
    assert paper.clean_count(rec) == 8 and len(paper.entries(rec)) == 12
    clean, poisoned = paper.entries(rec)[7], paper.entries(rec)[-1]
    assert clean["accuracy"][3] > 0.9 and poisoned["accuracy"][3] < 0.1  # relabelled away
    before, after = paper.n_memorized(rows["conventional"]), poisoned["memorized"]
    claims = paper.poisoning(rows)
    assert [c.text.split(":")[0] for c in claims] == ["hybrid", "conventional"]
    assert claims[1].holds is (after <= 0.5 * before)
    assert paper.repetition(rows)[0].holds is not None
    assert paper.memory(rec) == {"N memorized": clean["memorized"],
                                 "after poisoning": poisoned["memorized"],
                                 "item 1 %": 100 * clean["accuracy"][0],
                                 "item 4 %": 100 * clean["accuracy"][3]}


def test_claims_without_records_are_not_checkable():
    from neuroplastic.papers import metaplasticity as paper

    rows = {"conventional": [], "hybrid": []}
    for fn in (paper.serial_position, paper.capacity, paper.repetition, paper.poisoning,
               paper.frequency):
        assert all(c.holds is None for c in fn(rows))


def test_engine_measures_a_repeated_tasks_test_set_once():
    """Without the task id, the tasks a ``repeat`` shows again share their test tensors: the
    engine predicts each test set once and gives every repetition its accuracy."""
    from types import SimpleNamespace

    from neuroplastic.engine import evaluate
    from neuroplastic.evaluators import accuracy
    from neuroplastic.scenarios.task import Stream, Task
    from neuroplastic.scenarios.transforms import apply_transform

    g = torch.Generator().manual_seed(0)
    tasks = [Task(k, torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                  torch.randn(7, 3, generator=g), torch.randint(0, 3, (7,), generator=g), [k], {})
             for k in range(3)]
    stream = apply_transform(Stream(tasks, "class", "shared", 3, (3,), "s", None), "repeat",
                             {"times": 3})
    net = nn.Linear(3, 3)
    calls = []

    def predict(x, task_id):
        calls.append(len(x))
        return net(x)

    method = SimpleNamespace(model=net, predict=predict)
    measured = evaluate(method, stream, batch_size=100)
    assert len(calls) == 3 and len(measured) == 9
    assert measured == accuracy(lambda x, task: net(x), stream.tasks, 100)
