"""Dynamic Generative Memory: annealed masks, frozen reserved weights, growth, lasting memory."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from sklearn.datasets import load_digits

from core_fixtures import one_thread  # noqa: F401  (autouse)
from neuroplastic.engine import TrainSettings, run_stream
from neuroplastic.errors import ConfigError
from neuroplastic.methods.dgm import DGM, DGMParams
from neuroplastic.models.gan import (
    ACDiscriminator,
    DiscriminatorParams,
    MaskedGenerator,
    build_discriminator,
)
from neuroplastic.plasticity import OptimizerFactory
from neuroplastic.plasticity.standard import AdamParams
from neuroplastic.registry import METHODS
from neuroplastic.scenarios.task import Stream, Task


def digits_stream(classes_per_task: int, n_tasks: int) -> Stream:
    """Real 8x8 digits (scikit-learn), 75/25 split, classes 0.. in order."""
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    cut = int(0.75 * len(y))
    tasks = []
    for t in range(n_tasks):
        classes = list(range(t * classes_per_task, (t + 1) * classes_per_task))
        tr = torch.isin(y[:cut], torch.tensor(classes))
        te = torch.isin(y[cut:], torch.tensor(classes))
        tasks.append(
            Task(t, x[:cut][tr], y[:cut][tr], x[cut:][te], y[cut:][te], classes,
                 {c: c for c in classes})
        )  # fmt: skip
    return Stream(tasks, "class", "growing", 10, (1, 8, 8), "digits")


def make(stream: Stream, ndf: int = 8, **kw) -> DGM:
    torch.manual_seed(0)
    model = build_discriminator(DiscriminatorParams(ndf=ndf), stream.info)
    params = DGMParams(**kw)
    params.validate()
    return DGM(model, stream.info, params, OptimizerFactory("adam", AdamParams()))


def test_registered_names_and_defaults():
    for name in ("dgm", "dgmw", "dgma", "dgr"):
        assert name in METHODS
    assert METHODS.get("dgma").obj.Params().variant == "dgma"
    dgr = METHODS.get("dgr").obj.Params()
    assert not dgr.masks and not dgr.growth
    with pytest.raises(ConfigError):
        DGMParams(masks=False, growth=True).validate()
    # the AC loss on G is on by default only when tasks hold several classes
    assert not make(digits_stream(1, 1)).aux_G
    assert make(digits_stream(2, 1)).aux_G


def test_slope_schedule_follows_the_code():
    stream = digits_stream(1, 2)
    m = make(stream, niter=4, smax=100.0)
    m.begin_task(stream.tasks[0])
    n = stream.tasks[0].num_train
    smax = 100.0
    for e in range(4):
        s_e = (smax - 1 / smax) * e / 4 + 1 / smax
        for i in (0, n // 2):
            got_se, got_s = m.slopes(e * n + i)
            assert got_se == pytest.approx(s_e)
            assert got_s == pytest.approx((s_e - 1 / s_e) * i / n + 1 / s_e)
    dgma = make(stream, variant="dgma", niter=4, smax=100.0)
    dgma.begin_task(stream.tasks[0])
    assert dgma.slopes(2 * n + 5) == (pytest.approx(50.005), pytest.approx(50.005))


def test_masks_move_toward_binary_as_the_slope_anneals():
    stream = digits_stream(1, 1)
    m = make(stream, niter=3)  # s_max 1e4, the official DGMw value
    m.begin_task(stream.tasks[0])
    x, y = stream.tasks[0].x_train[:32], stream.tasks[0].y_train[:32]
    for _ in range(10):  # a few real steps, so the embeddings move away from 0
        m.observe(x, y, 0)
    n = stream.tasks[0].num_train
    # at the start of the schedule (s ~ 1/s_max) every mask sits near 0.5
    assert m.mask_binariness(0, 1 / m.smax) == 0.0
    slopes = [1.0] + [m.slopes(e * n + n - 1)[1] for e in range(1, 3)] + [m.smax]
    values = [m.mask_binariness(0, s) for s in slopes]
    assert values == sorted(values)
    assert values[0] < 0.1 and values[-1] > 0.9, values


def _snapshot(method: DGM):
    return [c.weight.detach().clone() for c in method.generator.convs]


def test_reserved_weights_do_not_change_on_later_tasks():
    stream = digits_stream(1, 3)
    m = make(stream, niter=1, smax=400.0, replay_per_class=32, lamb_G=0.5)
    snaps = {}

    def on_end(t, state):
        snaps[t] = (_snapshot(m), [mp.clone() for mp in m.mask_pre])

    run_stream(m, stream, TrainSettings(epochs=1, batch_size=32), on_task_end=on_end)
    for t in (0, 1):
        weights, reserved = snaps[t]
        later = snaps[t + 1][0]
        changed_free = 0
        for w_then, w_now, r in zip(weights, later, reserved, strict=True):
            block = w_now[tuple(slice(0, k) for k in w_then.shape)]
            keep = r.bool()
            assert keep.any()
            # every reserved weight, one by one, is bit-identical after the later task
            assert torch.equal(block[keep], w_then[keep])
            changed_free += int((block[~keep] != w_then[~keep]).sum())
        assert changed_free > 100  # free weights did learn: the check is not vacuous


def test_dgma_freezes_weights_between_reserved_channels():
    stream = digits_stream(1, 2)
    m = make(stream, variant="dgma", niter=2, smax=400.0, replay_per_class=32)
    snaps = {}
    run_stream(m, stream, TrainSettings(epochs=2, batch_size=32),
               on_task_end=lambda t, s: snaps.setdefault(t, (_snapshot(m), m.mask_back)))
    frozen = 0
    (weights0, back0), (weights1, _) = snaps[0], snaps[1]
    for layer, (then, now) in enumerate(zip(weights0, weights1, strict=True)):
        back = back0[layer][tuple(slice(0, k) for k in then.shape)]
        block = now[tuple(slice(0, k) for k in then.shape)]
        keep = back == 0  # weights between reserved input and output channels
        frozen += int(keep.sum())
        assert torch.equal(block[keep], then[keep])
    assert frozen > 0


def test_dgmw_expansion_adds_the_reserved_count():
    g = MaskedGenerator(nz=16, ngf=4, nc=1, num_labels=10, variant="dgmw")
    g.add_task([0])
    k = 16
    reserved = [700, 300, 50]
    before = [c.weight.numel() for c in g.convs]
    widths = [(c.c_in, c.c_out) for c in g.convs]
    added = g.grow(reserved)
    assert added[0] == math.ceil(700 / (16 * k))
    new_sizes = [c.weight.numel() for c in g.convs]
    for layer in range(3):
        grown = new_sizes[layer] - before[layer]
        assert grown >= reserved[layer]  # at least the reserved count is added back
        # and less than one more output channel's worth: the count is rounded up to channels
        one_channel = g.convs[layer].c_in * k
        assert grown - reserved[layer] < one_channel or added[layer] == 0
    assert g.convs[1].c_in == widths[1][0] + added[0]
    assert g.convs[2].c_in == widths[2][0] + added[1]
    # the old tasks' embeddings cover the new weights with -90 (mask 0 for old tasks)
    old = g.past_emb[0][0]
    assert old.shape == g.convs[0].weight.shape
    assert (old[:, widths[0][1]:] == -90).all()


def test_dgma_expansion_adds_exactly_the_reserved_channels():
    stream = digits_stream(1, 2)
    m = make(stream, variant="dgma", niter=2, smax=400.0, replay_per_class=32)
    run_stream(m, stream, TrainSettings(epochs=2, batch_size=64))
    assert sum(sum(rec["reserved"]) for rec in m.growth) > 0
    channels = [80, 40, 20]  # ngf 20: 4 ngf, 2 ngf, ngf at the start
    total_reserved = [0, 0, 0]
    for rec in m.growth:
        assert rec["channels_added"] == rec["reserved"]
        total_reserved = [a + b for a, b in zip(total_reserved, rec["reserved"], strict=True)]
        # free capacity is constant: free channels after growth = the initial width
        free = [c - r for c, r in zip(rec["channels"], total_reserved, strict=True)]
        assert free == channels
    assert m.generator.channels() == [c + r for c, r in zip(channels, total_reserved, strict=True)]


def test_generator_keeps_past_classes_recognisable():
    """After later tasks, G conditioned on task 0's classes still produces images the classifier
    frozen at the end of task 0 recognises above chance (0.5); reserved weights make the old
    classes' samples (for fixed noise) nearly identical to those generated back then."""
    stream = digits_stream(2, 3)
    m = make(stream, ndf=16, niter=14, smax=400.0, replay_per_class=64)
    frozen: dict[str, object] = {}
    z = torch.Generator().manual_seed(1)
    labels = torch.tensor([0, 1]).repeat_interleave(100)

    def on_end(t, state):
        if t == 0:
            frozen["D"] = copy.deepcopy(m.model).eval()
            frozen["x"] = m.generator.generate(labels, m.smax, z.manual_seed(1))

    settings = TrainSettings(batch_size=32, task_epochs=[14, 1, 1])
    _, state = run_stream(m, stream, settings, on_task_end=on_end)
    assert state.accuracy_matrix[0][0] > 0.9  # the classifier of task 0 itself works
    later = m.generator.generate(labels, m.smax, z.manual_seed(1))
    with torch.no_grad():
        pred = frozen["D"](later).argmax(1)
    accuracy = float((pred == labels).float().mean())
    drift = float((later - frozen["x"]).abs().mean())
    # chance is 0.5; 0.6 is 2.8 binomial standard deviations above it with 200 samples
    assert accuracy > 0.6, (accuracy, drift)
    assert drift < 0.05, (accuracy, drift)


def test_dgr_option_runs_without_masks_or_growth():
    stream = digits_stream(2, 2)
    m = make(stream, masks=False, growth=False, niter=1, replay_per_class=16)
    assert m.replay_G
    before = m.generator.num_weights()
    _, state = run_stream(m, stream, TrainSettings(epochs=1, batch_size=64))
    assert m.generator.num_weights() == before and m.mask_pre is None
    assert len(state.accuracy_matrix) == 2


def test_official_selection_is_measured_by_its_evaluator():
    stream = digits_stream(2, 2)
    m = make(stream, niter=2, official_selection=True, replay_per_class=16)
    _, state = run_stream(m, stream, TrainSettings(epochs=2, batch_size=64))
    per_task = state.evaluations["best-validation"]  # added for official_selection
    assert len(per_task) == 2 and len(per_task[1]["test_accuracy_per_task"]) == 2
    # every evaluation is kept (after epoch 1 and after the last), and the selected one is the
    # first with the best validation accuracy
    for entry in per_task:
        evaluations = entry["evaluations"]
        assert [e["epochs"] for e in evaluations] == [1, 2]
        best = max(evaluations, key=lambda e: e["valid"])
        assert entry["best_valid_accuracy"] == best["valid"]
        assert entry["average"] == pytest.approx(best["test"])
    # the held-out 15% never reached training (2 epochs of the other 85% did)
    for t, task in enumerate(stream.tasks):
        expected = 2 * (task.num_train - int(0.15 * task.num_train))
        assert m.trained_samples[t] == pytest.approx(expected, rel=0.02)
    # the method keeps no held-out or test images, only fingerprints of the held-out ones
    assert not any(isinstance(v, torch.Tensor) and v.shape[1:] == stream.tasks[0].x_test.shape[1:]
                   for v in vars(m.held).values())


def test_selection_leaves_training_alone(monkeypatch):
    """The evaluator only measures: a run without official selection's evaluator (the same
    held-out images never trained on) ends with the same weights and accuracy matrix."""
    from neuroplastic.evaluators import best_validation

    stream = digits_stream(2, 2)
    torch.manual_seed(0)
    m = make(stream, niter=1, official_selection=True, replay_per_class=16)
    _, state = run_stream(m, stream, TrainSettings(epochs=1, batch_size=64))
    assert len(state.evaluations["best-validation"]) == 2
    assert "average" in state.evaluations["best-validation"][1]["bn_recalibrated"]
    torch.manual_seed(0)
    bare = make(stream, niter=1, official_selection=True, replay_per_class=16)
    monkeypatch.setattr(best_validation.BestValidation, "applies_to", lambda self, method: False)
    _, again = run_stream(bare, stream, TrainSettings(epochs=1, batch_size=64))
    assert "best-validation" not in again.evaluations
    assert again.accuracy_matrix == state.accuracy_matrix
    assert all(torch.equal(a, b) for a, b in zip(m.model.state_dict().values(),
                                                   bare.model.state_dict().values(), strict=True))


def test_wrong_model_is_rejected():
    stream = digits_stream(1, 1)
    from neuroplastic.models.mlp import MLPParams, build_mlp

    with pytest.raises(ConfigError, match="dgm-disc"):
        DGM(build_mlp(MLPParams(), stream.info), stream.info, DGMParams(),
            OptimizerFactory("adam", AdamParams()))  # fmt: skip
    assert isinstance(build_discriminator(DiscriminatorParams(), stream.info), ACDiscriminator)
