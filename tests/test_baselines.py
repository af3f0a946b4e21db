"""Baselines: each mechanism does something, and does the right thing (issue 3).

Small real streams (scikit-learn digits, 8x8) keep the whole file within a few seconds.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F

from core_fixtures import digits_stream, one_thread  # noqa: F401  (autouse)
from neuroplastic import params as params_mod
from neuroplastic.engine import TrainSettings, run_stream
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.methods import agem as agem_mod
from neuroplastic.methods import ewc as ewc_mod
from neuroplastic.methods.buffer import ReplayBuffer
from neuroplastic.methods.ewc import estimate_fisher, flat_params
from neuroplastic.models.classifier import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.registry import METHODS

SMALL = {"name": "mlp", "hidden": [32, 32]}



def make(name, stream, seed=0, optimizer=None, **hp):
    entry = METHODS.get(name)
    p = params_mod.build(entry.obj.Params, hp, name)
    torch.manual_seed(seed)
    model = build_model(SMALL, stream.info)
    opt = optimizer_factory(optimizer or {"name": "adam", "lr": 0.01})
    return entry.obj(model, stream.info, p, opt, "cpu")


def train(name, stream, seed=0, epochs=1, optimizer=None, **hp):
    method = make(name, stream, seed, optimizer, **hp)
    torch.manual_seed(seed)
    method, state = run_stream(method, stream, TrainSettings(epochs=epochs, batch_size=32), seed)
    return method, state.accuracy_matrix


def vector(method):
    return flat_params(method.trainable_parameters()).detach()


# --- the "silently does nothing" test (Avalanche 0.6.0's SI equalled fine-tuning) ------------
STRONG = {
    "ewc": {"lambda_": 1e4},
    "si": {"c": 100.0},
    "mas": {"lambda_": 10.0},
    "lwf": {},
    "replay": {"memory": 20},
    "agem": {"memory": 20},
    "der": {"memory": 100},
    "derpp": {"memory": 100},
}


@pytest.mark.parametrize("name", sorted(STRONG))
def test_method_differs_from_finetune(name):
    stream = digits_stream("class", n_tasks=2)
    base, base_acc = train("finetune", stream)
    method, acc = train(name, stream, **STRONG[name])
    assert not torch.equal(vector(base), vector(method)), f"{name} trained like fine-tuning"
    assert acc != base_acc, f"{name} has fine-tuning's accuracy matrix"


# --- EWC -----------------------------------------------------------------------------------
def test_ewc_penalty_zero_before_first_task_ends_then_positive():
    stream = digits_stream("task", n_tasks=2)
    m = make("ewc", stream, lambda_=100.0)
    t0, t1 = stream.tasks
    m.begin_task(t0)
    for s in range(0, 64, 32):
        m.observe(t0.x_train[s : s + 32], t0.y_train[s : s + 32], 0)
    assert float(m.penalty().detach()) == 0.0
    m.end_task(t0)
    assert float(m.penalty().detach()) == pytest.approx(0.0, abs=1e-12)  # at the anchor
    m.begin_task(t1)
    m.observe(t1.x_train[:32], t1.y_train[:32], 1)
    assert float(m.penalty().detach()) > 0.0
    assert m.fishers.shape[0] == 1 and bool((m.fishers >= 0).all())


def test_offline_ewc_penalty_as_one_completed_square_equals_the_sum_over_tasks():
    """The penalty is computed as ``W (theta - c)^2 + r``: its value and gradient must be those
    of the per-task sum ``sum_k F_k (theta - theta*_k)^2``."""
    stream = digits_stream("class", n_tasks=3)
    m = make("ewc", stream, lambda_=7.0)
    for t in stream.tasks:
        m.begin_task(t)
        m.observe(t.x_train[:64], t.y_train[:64], t.index)
        m.end_task(t)
    assert m.fishers.shape[0] == 3
    params = m.trainable_parameters()
    with torch.no_grad():
        for p in params:
            p.add_(0.05 * torch.randn_like(p))
    fast = m.penalty()
    (g_fast,) = torch.autograd.grad(fast, [params[0]])
    theta = flat_params(params)
    direct = 0.5 * 7.0 * (m.fishers * (theta - m.anchors) ** 2).sum()
    (g_direct,) = torch.autograd.grad(direct, [params[0]])
    assert float(direct.detach()) > 0
    torch.testing.assert_close(fast, direct, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(g_fast, g_direct, rtol=1e-4, atol=1e-7)


def test_online_ewc_fisher_decays_and_offline_keeps_one_term_per_task():
    stream = digits_stream("class", n_tasks=2)
    m = make("ewc", stream, mode="online", gamma=0.5)
    t0, t1 = stream.tasks
    m.begin_task(t0)
    m.observe(t0.x_train[:64], t0.y_train[:64], 0)
    m.end_task(t0)
    f0 = m.fishers[0].clone()
    m.begin_task(t1)
    m.observe(t1.x_train[:64], t1.y_train[:64], 1)
    f1 = estimate_fisher(m, t1, "exact", None, 128)
    m.end_task(t1)
    assert m.fishers.shape[0] == 1
    torch.testing.assert_close(m.fishers[0], 0.5 * f0 + f1, rtol=1e-4, atol=1e-9)
    off = make("ewc", stream, mode="offline")
    for t in stream.tasks:
        off.begin_task(t)
        off.end_task(t)
    assert off.fishers.shape[0] == 2


def test_exact_fisher_one_forward_path_equals_the_per_class_passes():
    """The batched-backward exact Fisher (one forward for all classes, classes in chunks) is the
    per-class sum it replaces; it must run on an MLP rather than fall back."""
    stream = digits_stream("class", n_tasks=3)
    m = make("ewc", stream)
    model, params = m.model.eval(), m.trainable_parameters()
    x = stream.tasks[0].x_train[:40]
    with torch.no_grad():
        prob = F.softmax(model(x), 1)
    per_class = sum(
        ewc_mod.per_sample_grad_power_sum(
            model, params, x, None, None, ewc_mod._nll, torch.full((40,), c), prob[:, c]
        )
        for c in range(prob.shape[1])
    )
    batched = ewc_mod._linear_expected_fisher(model, params, x, None, None, class_chunk=4)
    assert per_class.abs().max() > 0
    torch.testing.assert_close(batched, per_class, rtol=1e-4, atol=1e-9)


def test_exact_fisher_of_a_cnn_takes_the_per_class_path_and_matches_autograd():
    """A convolutional model cannot use the one-forward closed form: the exact Fisher falls back
    to per-class vmap gradients, and must still equal plain one-sample backward passes."""
    stream = digits_stream("class", n_tasks=2)
    entry = METHODS.get("ewc")
    torch.manual_seed(0)
    model = build_model({"name": "cnn"}, stream.info)
    m = entry.obj(model, stream.info, params_mod.build(entry.obj.Params, {}, "ewc"),
                  optimizer_factory({"name": "adam", "lr": 0.01}), "cpu")
    task = stream.tasks[0]
    m.begin_task(task)
    sub = task.with_data(x_train=task.x_train[:6], y_train=task.y_train[:6])
    fast = estimate_fisher(m, sub, "exact", None, 128)
    model.eval()
    params = m.trainable_parameters()
    active = torch.tensor([0, 1])
    slow = torch.zeros_like(fast)
    for j in range(6):
        out = model(sub.x_train[j : j + 1])[:, active]
        p = F.softmax(out, 1)[0].detach()
        for c in range(2):
            g = torch.autograd.grad(F.cross_entropy(out, torch.tensor([c])), params,
                                    retain_graph=True)
            slow += p[c] * torch.cat([x.reshape(-1) for x in g]) ** 2
    assert slow.abs().max() > 0
    torch.testing.assert_close(fast, slow / 6, rtol=1e-4, atol=1e-8)


def test_per_sample_sums_of_a_mixed_model_take_linear_layers_in_closed_form(monkeypatch):
    """A CNN's nn.Linear parameters go through the closed form and only the convolutions through
    torch.func; the result is the all-torch.func sum (squares for the Fisher, |g| for MAS)."""
    stream = digits_stream("class", n_tasks=2)
    torch.manual_seed(0)
    model = build_model({"name": "cnn"}, stream.info).eval()
    params = list(model.parameters())
    linear = {id(t) for m in model.modules() if isinstance(m, torch.nn.Linear)
              for t in (m.weight, m.bias)}
    assert 0 < sum(id(p) in linear for p in params) < len(params)  # really mixed
    seen = []
    closed_form = ewc_mod._linear_path
    monkeypatch.setattr(ewc_mod, "_linear_path",
                        lambda model, ps, *a: seen.append(len(ps)) or closed_form(model, ps, *a))
    x, y = stream.tasks[0].x_train[:10], stream.tasks[0].y_train[:10]
    weights = torch.rand(10)
    for power in (2.0, 1.0):
        fast = ewc_mod.per_sample_grad_power_sum(model, params, x, None, None, ewc_mod._nll, y,
                                                 weights, power)
        slow = ewc_mod.per_sample_grad_power_sum(model, params, x, None, None, ewc_mod._nll, y,
                                                 weights, power, fast=False)
        assert slow.abs().max() > 0
        torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-8)
    assert sum(n == sum(id(p) in linear for p in params) for n in seen) == 2


@pytest.mark.parametrize("kind", ["exact", "sampled", "predicted", "empirical"])
def test_fisher_matches_a_per_sample_autograd_loop(kind):
    """The closed-form per-sample gradients equal plain one-sample backward passes."""
    stream = digits_stream("class", n_tasks=2)
    m = make("ewc", stream)
    m.begin_task(stream.tasks[0])
    m.begin_task(stream.tasks[1])  # two tasks active: 4 classes
    task = stream.tasks[1]
    sub = task.with_data(x_train=task.x_train[:12], y_train=task.y_train[:12])
    torch.manual_seed(5)
    fast = estimate_fisher(m, sub, kind, None, 128)
    torch.manual_seed(5)
    order = torch.randperm(12)
    model, active = m.model.eval(), torch.tensor([0, 1, 2, 3])
    params = m.trainable_parameters()
    slow = torch.zeros_like(fast)
    with torch.no_grad():
        probs = F.softmax(model(sub.x_train[order])[:, active], 1)
    draws = torch.multinomial(probs, 1).squeeze(1) if kind == "sampled" else None
    for i, j in enumerate(order.tolist()):
        out = model(sub.x_train[j : j + 1])[:, active]
        p = probs[i]
        if kind == "exact":
            labels, weights = range(4), p.tolist()
        else:
            label = {"predicted": int(p.argmax()), "empirical": int(sub.y_train[j]),
                     "sampled": int(draws[i]) if draws is not None else 0}[kind]
            labels, weights = [label], [1.0]
        for c, w in zip(labels, weights, strict=True):
            loss = F.cross_entropy(out, torch.tensor([c]))
            g = torch.autograd.grad(loss, params, retain_graph=True)
            slow += w * torch.cat([x.reshape(-1) for x in g]) ** 2
    torch.testing.assert_close(fast, slow / 12, rtol=1e-4, atol=1e-8)


def test_lambda_is_validated():
    with pytest.raises(ConfigError):
        params_mod.build(METHODS.get("ewc").obj.Params, {"lambda_": -1}, "ewc")
    with pytest.raises(UnknownNameError):
        params_mod.build(METHODS.get("ewc").obj.Params, {"fisher": "diag"}, "ewc")


# --- SI ------------------------------------------------------------------------------------
def test_si_importance_nonnegative_and_grows_with_the_path():
    """With plain SGD and the gradient that takes the step, every path increment
    -g * (-lr g) = lr g^2 is >= 0, so w and omega are non-negative and w only grows."""
    stream = digits_stream("task", n_tasks=2)
    m = make("si", stream, optimizer={"name": "sgd", "lr": 0.05})
    t0 = stream.tasks[0]
    m.begin_task(t0)
    for s in range(0, 96, 32):
        m.observe(t0.x_train[s : s + 32], t0.y_train[s : s + 32], 0)
    w_short = m.w.clone()
    for s in range(96, 192, 32):
        m.observe(t0.x_train[s : s + 32], t0.y_train[s : s + 32], 0)
    assert bool((w_short >= 0).all()) and bool((m.w >= w_short).all())
    assert float(m.w.sum()) > float(w_short.sum()) > 0
    m.end_task(t0)
    assert bool((m.omega >= 0).all()) and float(m.omega.sum()) > 0


def test_si_snapshots_are_clones_not_views():
    stream = digits_stream("task", n_tasks=2)
    m = make("si", stream)
    live = {p.untyped_storage().data_ptr() for p in m.trainable_parameters()}
    for snap in (m.theta_task_start, m.theta_prev_step, m.omega, m.w):
        assert snap.untyped_storage().data_ptr() not in live
    t0, t1 = stream.tasks
    m.begin_task(t0)
    m.observe(t0.x_train[:32], t0.y_train[:32], 0)
    m.end_task(t0)
    anchor = m.theta_task_start.clone()
    m.begin_task(t1)
    m.observe(t1.x_train[:32], t1.y_train[:32], 1)
    assert torch.equal(m.theta_task_start, anchor)  # the anchor did not follow the weights
    assert not torch.equal(vector(m), anchor)
    assert float(m.penalty().detach()) > 0


@pytest.mark.parametrize("gradient", ["total", "unregularized"])
def test_si_path_step_is_minus_gradient_times_the_step_taken(gradient):
    """One step's increment of the path integral is ``-g * (theta_after - theta_before)`` for
    every parameter tensor (written on views of the flat state), with ``g`` the gradient the
    option names: of the loss with the surrogate (total) or without it (unregularized)."""
    stream = digits_stream("task", n_tasks=2)
    m = make("si", stream, gradient=gradient)
    t0, t1 = stream.tasks
    m.begin_task(t0)
    m.observe(t0.x_train[:32], t0.y_train[:32], 0)
    m.end_task(t0)
    m.begin_task(t1)
    m.observe(t1.x_train[:32], t1.y_train[:32], 1)  # a step with a non-zero surrogate
    before, w_before = vector(m).clone(), m.w.clone()
    params = m.trainable_parameters()
    m.model.zero_grad(set_to_none=True)
    F.cross_entropy(m.logits(t1.x_train[32:64], 1), t1.y_train[32:64]).backward()
    task_grad = ewc_mod.flat_grads(params)
    m.model.zero_grad(set_to_none=True)
    m.penalty().backward()
    penalty_grad = ewc_mod.flat_grads(params)
    assert float(penalty_grad.abs().sum()) > 0
    g = task_grad + penalty_grad if gradient == "total" else task_grad
    m.observe(t1.x_train[32:64], t1.y_train[32:64], 1)
    expected = w_before - g * (vector(m) - before)
    torch.testing.assert_close(m.w, expected, rtol=1e-5, atol=1e-9)
    assert torch.equal(m.theta_prev_step, vector(m))


def test_weighted_squared_distance_value_and_gradient_of_every_parameter():
    """The shared quadratic penalty (EWC, SI, MAS), written per parameter tensor, against the
    same expression on the concatenated parameters, in double precision."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    model = model.double()
    params = list(model.parameters())
    size = sum(p.numel() for p in params)
    weight, center = torch.rand(size, dtype=torch.double), torch.randn(size, dtype=torch.double)
    value = ewc_mod.weighted_squared_distance(params, weight, center)
    grads = torch.autograd.grad(value, params)
    reference = (weight * (flat_params(params) - center) ** 2).sum()
    ref_grads = torch.autograd.grad(reference, params)
    torch.testing.assert_close(value, reference)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r)
    assert torch.autograd.gradcheck(
        lambda *ps: ewc_mod.weighted_squared_distance(list(ps), weight, center),
        tuple(p.detach().requires_grad_() for p in params),
    )


# --- buffer ----------------------------------------------------------------------------------
def test_reservoir_never_exceeds_budget_and_samples_uniformly():
    torch.manual_seed(0)
    buf = ReplayBuffer(50, (3,))
    for step in range(200):  # 200 batches of 10: stream positions 0..1999
        x = torch.full((10, 3), float(step))
        buf.add_reservoir(x, torch.arange(10) % 2, step // 100)
        assert len(buf) <= 50 and buf.x.shape[0] == 50
    assert len(buf) == 50 and buf.seen == 2000
    # every stream position is kept with probability 50/2000: both halves about equally
    first_half = (buf.x[:, 0] < 100).float().mean()
    assert 0.25 < float(first_half) < 0.75
    assert set(buf.task.tolist()) == {0, 1}


def test_reservoir_keeps_the_last_of_several_samples_drawing_one_slot():
    torch.manual_seed(0)
    buf = ReplayBuffer(1, (1,))
    buf.add_reservoir(torch.arange(64.0)[:, None], torch.zeros(64, dtype=torch.long), 0)
    assert len(buf) == 1 and buf.seen == 64


def test_class_balanced_per_class_and_total_budgets():
    x = torch.randn(300, 4)
    y = torch.arange(300) % 3
    per_class = ReplayBuffer(30, (4,), per_group=5)
    per_class.add_class_balanced(x, y, 0)
    per_class.add_class_balanced(x, y + 3, 1)
    assert set(per_class.group_counts().values()) == {5} and len(per_class) == 30
    total = ReplayBuffer(30, (4,))
    total.add_class_balanced(x, y, 0)
    assert set(total.group_counts().values()) == {10}
    total.add_class_balanced(x, y + 3, 1)  # six groups now share 30 slots: 5 each
    counts = total.group_counts()
    assert set(counts.values()) == {5} and len(counts) == 6 and len(total) <= 30
    with pytest.raises(ValueError):
        per_class.add_class_balanced(x, y + 6, 2)  # would exceed the budget


def test_replay_buffer_is_counted_in_state_bytes():
    stream = digits_stream("class", n_tasks=2)
    m = make("replay", stream, memory=10)
    assert m.state_bytes() >= m.buffer.x.numel() * 4


# --- A-GEM -----------------------------------------------------------------------------------
def test_agem_projection_has_nonnegative_dot_with_reference():
    torch.manual_seed(0)
    for _ in range(100):
        g, ref = torch.randn(50), torch.randn(50)
        out, projected = agem_mod.project(g, ref)
        assert float(out @ ref) >= -1e-4 * float(ref.norm() * g.norm())
        assert projected == bool(g @ ref < 0)
        if not projected:
            assert torch.equal(out, g)


def test_agem_projection_survives_a_reference_gradient_that_underflows():
    """A memory fitted perfectly gives a g_ref whose squares underflow to 0 in float32 while
    g . g_ref is still a tiny negative number (seen at step 489 of split-MNIST task-IL, seed 0):
    the projection must leave g alone instead of dividing by zero."""
    g = torch.full((50,), 0.01)
    ref = torch.full((50,), -1e-24)
    assert float(ref @ ref) == 0.0 and float(g @ ref) < 0
    out, projected = agem_mod.project(g, ref)
    assert not projected and torch.equal(out, g)


def test_agem_applies_the_projection_in_training(monkeypatch):
    seen = []
    original = agem_mod.project

    def spy(g, ref, eps=0.0):
        out, projected = original(g, ref, eps)
        seen.append((float(out @ ref), projected))
        return out, projected

    monkeypatch.setattr(agem_mod, "project", spy)
    stream = digits_stream("class", n_tasks=2)
    method, _ = train("agem", stream, memory=20)
    assert seen and any(p for _, p in seen)
    assert all(d >= -1e-3 for d, _ in seen)
    assert method.record_extra()["projected_fraction"] > 0


# --- DER -------------------------------------------------------------------------------------
def test_der_stores_logits_of_the_time_of_storage():
    stream = digits_stream("class", n_tasks=2)
    m = make("der", stream, memory=64)
    t0, t1 = stream.tasks
    m.begin_task(t0)
    x, y = t0.x_train[:32], t0.y_train[:32]
    with torch.no_grad():
        before = m.mask_logits(m.model(x, 0), 0)
    m.observe(x, y, 0)
    torch.testing.assert_close(m.buffer.logits[:32], before)  # pre-update outputs
    for s in range(32, 64, 32):
        m.observe(t0.x_train[s : s + 32], t0.y_train[s : s + 32], 0)
    m.end_task(t0)
    stored_x, stored = m.buffer.x.clone(), m.buffer.logits.clone()
    m.begin_task(t1)
    for s in range(0, 96, 32):
        m.observe(t1.x_train[s : s + 32], t1.y_train[s : s + 32], 1)
    kept = (m.buffer.x == stored_x).flatten(1).all(1)
    assert kept.any()
    assert torch.equal(m.buffer.logits[kept], stored[kept])  # untouched by later training
    with torch.no_grad():
        now = m.model(m.buffer.x[kept], None)[:, :2]
    assert not torch.allclose(now, stored[kept][:, :2])  # the model did move


def test_der_warns_about_a_growing_head_in_class_il():
    with pytest.warns(UserWarning, match="head: shared"):
        make("der", digits_stream("class", head="growing", n_tasks=2), memory=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make("der", digits_stream("class", head="shared", n_tasks=2), memory=8)
        make("derpp", digits_stream("class", head="growing", n_tasks=2), memory=8)


def test_derpp_has_its_own_defaults():
    der, derpp = METHODS.get("der").obj.Params(), METHODS.get("derpp").obj.Params()
    assert der.beta == 0 and derpp.beta > 0


# --- short real runs: each beats fine-tuning where it should --------------------------------
def _final(acc):
    return sum(acc[-1]) / len(acc[-1])


def test_replay_beats_finetune_in_class_incremental():
    stream = digits_stream("class", n_tasks=5)
    _, ft = train("finetune", stream, epochs=2)
    _, rp = train("replay", stream, epochs=2, memory=10)
    assert _final(rp) > _final(ft) + 0.2


@pytest.mark.parametrize("name,hp", [("ewc", {"lambda_": 1e4}), ("si", {"c": 100.0})])
def test_regularisers_beat_finetune_in_task_incremental(name, hp):
    stream = digits_stream("task", n_tasks=5)
    _, ft = train("finetune", stream, epochs=2, optimizer={"name": "adam", "lr": 0.03})
    _, reg = train(name, stream, epochs=2, optimizer={"name": "adam", "lr": 0.03}, **hp)
    assert _final(reg) > _final(ft) + 0.02


def test_lwf_teacher_is_a_frozen_copy():
    stream = digits_stream("class", n_tasks=2)
    m, _ = train("lwf", stream)
    assert m.teacher is not None and m.teacher is not m.model
    assert not any(p.requires_grad for p in m.teacher.parameters())
    ptrs = {p.data_ptr() for p in m.model.parameters()}
    assert not any(p.data_ptr() in ptrs for p in m.teacher.parameters())
    assert copy.deepcopy(m.teacher) is not None


@pytest.mark.parametrize(
    "scenario,head", [("task", "multi"), ("task", "masked"), ("class", None), ("domain", None)]
)
def test_lwf_one_pass_distillation_equals_one_pass_per_previous_task(scenario, head):
    """The student and the teacher each run once per step (every head's units), which must give
    the value and gradient of the definition: per previous task, its own head's outputs; in
    class-IL and domain-IL, the teacher's old units against the student's current ones."""
    stream = digits_stream(scenario, head=head, n_tasks=3)
    m = make("lwf", stream, temperature=2.0)
    for t in stream.tasks[:2]:
        m.begin_task(t)
        for s in range(0, 96, 32):
            m.observe(t.x_train[s : s + 32], t.y_train[s : s + 32], t.index)
        m.end_task(t)
    t2 = stream.tasks[2]
    m.begin_task(t2)
    x = t2.x_train[:32]
    params = m.trainable_parameters()
    fast = m.distill(x, 2)
    g_fast = torch.autograd.grad(fast, params, allow_unused=True)
    T = 2.0
    if m.info.head in ("multi", "masked"):
        terms = []
        for k in range(2):
            units = m._units(k, m.seen_tasks)
            with torch.no_grad():
                target = F.softmax(m.teacher(x, k)[:, units] / T, dim=1)
            log_p = F.log_softmax(m.model(x, k)[:, units] / T, dim=1)
            terms.append(-(target * log_p).sum(1).mean())
        reference = torch.stack(terms).mean()
    else:
        new_units, old_units = m._units(2, m.seen_tasks), m._units(2, m.seen_tasks - 1)
        with torch.no_grad():
            old = F.softmax(m.teacher(x, 2)[:, old_units] / T, dim=1)
        log_p = F.log_softmax(m.model(x, 2)[:, new_units] / T, dim=1)
        reference = -(old * log_p[:, : len(old_units)]).sum(1).mean()
    g_ref = torch.autograd.grad(reference, params, allow_unused=True)
    assert float(reference) > 0
    torch.testing.assert_close(fast, reference)
    for a, b in zip(g_fast, g_ref, strict=True):
        if a is None or b is None:
            assert a is None and b is None or not (a if a is not None else b).any()
        else:
            torch.testing.assert_close(a, b)
    # and the task loss from that one pass is the task loss of ``model(x, task_id)``
    y = t2.y_train[:32]
    shared = F.cross_entropy(m.mask_logits(m.model(x, None), 2), y)
    torch.testing.assert_close(shared, m.loss(x, y, 2))
