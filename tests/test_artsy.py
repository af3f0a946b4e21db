"""Artsy, its frozen EfficientNet-Lite0 backbone, the feature cache and SimpleCIL."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core_fixtures import one_thread  # noqa: F401  (autouse)
from neuroplastic.engine import TrainSettings, run_stream
from neuroplastic.errors import ConfigError
from neuroplastic.methods.artsy import Artsy, ArtsyParams, Synapse, complete_prototypes
from neuroplastic.methods.simplecil import SimpleCIL
from neuroplastic.models.adapters import BottleneckAdapter
from neuroplastic.models.efficientnet import (
    EfficientNetLite0,
    EfficientNetLite0Backbone,
    EfficientNetParams,
    build_efficientnet,
    weights_path,
)
from neuroplastic.params import build
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.scenarios.features import cached_features, extract, fingerprint
from neuroplastic.scenarios.task import Stream, Task

SIZE = 32  # input size of the fast tests: the prefix before block 12 is then 192 x 1 x 1


@pytest.fixture(scope="module")
def backbone():
    return EfficientNetLite0Backbone(input_size=SIZE, split_block=12)


def test_every_shipped_key_loads_strictly():
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net = EfficientNetLite0()
    result = net.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert len(state) == 296 and set(net.state_dict()) == set(state)


def _photo(name: str) -> torch.Tensor:
    from sklearn.datasets import load_sample_image

    img = torch.tensor(load_sample_image(name)).permute(2, 0, 1)[None].float() / 255
    h, w = img.shape[-2:]
    s = min(h, w)  # centre crop to a square, then the backbone resizes (antialiased) to 224
    return img[..., (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]


def test_backbone_labels_known_photos():
    net = EfficientNetLite0Backbone(input_size=224)
    with torch.no_grad():
        china = net.classify_imagenet(_photo("china.jpg")).topk(5).indices[0].tolist()
        flower = net.classify_imagenet(_photo("flower.jpg")).argmax(1).item()
    # 698 palace, 663 monastery, 442 bell cote (project data notes, section 4)
    assert {698, 663} & set(china), china
    assert flower == 985  # daisy


def test_random_weights_do_not_label_the_photo():
    torch.manual_seed(0)
    net = EfficientNetLite0Backbone.__new__(EfficientNetLite0Backbone)
    torch.nn.Module.__init__(net)
    net.input_size, net.split_block = 224, 12
    net.net = EfficientNetLite0().eval()
    with torch.no_grad():
        assert net.classify_imagenet(_photo("flower.jpg")).argmax(1).item() != 985


def test_backbone_is_frozen_and_prefix_suffix_compose(backbone):
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.training and not backbone.net._blocks[0]._bn1.training
    x = torch.rand(4, 1, 28, 28)  # grayscale: replicated to three channels
    h = backbone.prefix(x)
    assert tuple(h.shape[1:]) == backbone.prefix_shape() == (192, 1, 1)
    with torch.no_grad():
        assert torch.equal(backbone.suffix(h), backbone.features(x))
    assert backbone.features(x).shape == (4, 1280)


def test_cache_returns_the_fresh_pass(backbone, tmp_path):
    x = np.random.default_rng(0).random((6, 3, 32, 32), dtype=np.float32)
    prefix, pooled = extract(backbone, x, batch_size=6)
    part = cached_features(backbone, x, "pooled", rows=np.array([4, 1]), folder=tmp_path)
    assert np.array_equal(part, pooled[[4, 1]])
    done = np.load(next(tmp_path.glob("*-done-*.npy")))
    assert done.tolist() == [False, True, False, False, True, False]  # only what was asked
    first = cached_features(backbone, x, "pooled", batch_size=4, folder=tmp_path)
    assert all(fingerprint(x) in p.name and backbone.key in p.name for p in tmp_path.iterdir())
    again = cached_features(backbone, x, "pooled", folder=tmp_path)  # read from disk
    assert np.array_equal(first, pooled) and np.array_equal(again, pooled)
    assert np.array_equal(cached_features(backbone, x, "prefix", folder=tmp_path), prefix)
    y = x.copy()
    y[-1] += 0.5  # other data, other fingerprint, other file
    assert fingerprint(y) != fingerprint(x)


def test_adapter_starts_as_identity():
    ad = BottleneckAdapter(8, 8, bottleneck=4)
    assert torch.count_nonzero(ad(torch.randn(2, 8, 3, 3))) == 0


@functools.lru_cache(maxsize=2)
def _prefix_stream(n_tasks=3, per_class=24, seed=0) -> Stream:
    """A fast hand-made stream: prefix activations (192 x 1 x 1) of real backbone passes over
    images whose class sets a smooth random colour pattern (plus pixel noise)."""
    g = torch.Generator().manual_seed(seed)
    patterns = F.interpolate(torch.rand(2 * n_tasks, 3, 4, 4, generator=g), size=(SIZE, SIZE))
    net = EfficientNetLite0Backbone(input_size=SIZE, split_block=12)
    tasks = []
    for t in range(n_tasks):
        classes = [2 * t, 2 * t + 1]
        xs, ys = [], []
        for c in classes:
            noise = 0.15 * torch.randn(2 * per_class, 3, SIZE, SIZE, generator=g)
            xs.append((patterns[c] + noise).clamp(0, 1))
            ys.append(torch.full((2 * per_class,), c))
        with torch.no_grad():
            x = net.prefix(torch.cat(xs))
        y = torch.cat(ys)
        train = torch.arange(len(y)) % 2 == 0
        tasks.append(
            Task(t, x[train], y[train], x[~train], y[~train], classes, {c: c for c in classes})
        )
    return Stream(tasks, "class", "growing", 2 * n_tasks, (192, 1, 1))


def _artsy(stream, **params) -> Artsy:
    model = build_efficientnet(
        EfficientNetParams(input_size=SIZE, split_block=12, input="prefix"), stream.info
    )
    opt = optimizer_factory(dict(Artsy.default_optimizer))
    return Artsy(model, stream.info, build(ArtsyParams, params, "artsy"), opt)


def test_backbone_and_old_subnetworks_unchanged_by_later_tasks():
    torch.manual_seed(0)
    stream = _prefix_stream()
    method = _artsy(stream)
    backbone_before = copy.deepcopy(method.backbone.state_dict())
    snapshots = {}

    def snap(t, state):
        snapshots[t] = copy.deepcopy(method.adapters[t].state_dict())

    run_stream(method, stream, TrainSettings(epochs=1, batch_size=16), on_task_end=snap)
    after = method.backbone.state_dict()
    assert all(torch.equal(backbone_before[k], after[k]) for k in after)
    for t in range(len(stream)):
        now = method.adapters[t].state_dict()
        assert all(torch.equal(snapshots[t][k], now[k]) for k in now)
        # the sub-network did learn: its zero-initialised up-projection moved
        assert torch.count_nonzero(now["0.up.weight"]) > 0
    assert not any(p.requires_grad for p in method.adapters.parameters())


def test_synapse_gate_follows_threshold():
    torch.manual_seed(0)
    syn = Synapse(16, [8])
    f = torch.randn(50, 16)
    scores = syn(f)
    for thr in (scores.min().item(), scores.median().item(), scores.max().item() + 1e-3):
        syn.threshold.fill_(thr)
        assert torch.equal(syn.gate(f), scores >= thr)
    syn.threshold.fill_(scores.median().item())
    assert 0 < syn.gate(f).sum() < len(f)


def test_method_gates_and_fallbacks():
    torch.manual_seed(0)
    stream = _prefix_stream()
    method = _artsy(stream, none_fire="pretrained")
    run_stream(method, stream, TrainSettings(epochs=1, batch_size=16))
    f0 = method.pretrained_features(stream.tasks[0].x_test)
    for s in method.synapses:
        s.threshold.fill_(2.0)  # above any sigmoid output: every synapse silent
    _, raw, eff = method.gates(f0)
    assert not raw.any() and not eff.any()
    method.p.none_fire = "argmax"
    scores, _, eff = method.gates(f0)
    assert torch.equal(eff.sum(1), torch.ones(len(f0), dtype=torch.long))
    assert torch.equal(eff.float().argmax(1), scores.argmax(1))
    for s in method.synapses:
        s.threshold.fill_(0.0)  # every synapse functional
    _, raw, eff = method.gates(f0)
    assert raw.all() and eff.all()
    method.p.several_fire = "argmax"
    _, _, eff = method.gates(f0)
    assert torch.equal(eff.sum(1), torch.ones(len(f0), dtype=torch.long))


def test_prototype_completion_shapes_and_rule():
    torch.manual_seed(0)
    stream = _prefix_stream()
    method = _artsy(stream)
    run_stream(method, stream, TrainSettings(epochs=1, batch_size=16))
    # every class has a prototype in every space: pre-trained + one per sub-network
    assert method.protos.shape == (4, 6, 1280)
    assert bool((method.protos.norm(dim=2) > 0).all())
    assert method.proto_real[0].all() and not method.proto_real[3, :4].any()
    # the rule on a small example: old task 0 in space 2 = softmax(cos(A_hat, A)) @ B
    protos = torch.randn(3, 4, 5)
    real = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    out = complete_prototypes(protos, real, [[0, 1], [2, 3]], [1, 2])
    sim = F.softmax(F.normalize(protos[1, :2], dim=1) @ F.normalize(protos[1, 2:], dim=1).T, 1)
    assert torch.allclose(out[2, :2], sim @ protos[2, 2:])
    assert torch.equal(out[real], protos[real])


def test_artsy_learns_and_gates_select_the_task():
    torch.manual_seed(0)
    stream = _prefix_stream()
    method = _artsy(stream)
    _, state = run_stream(method, stream, TrainSettings(epochs=2, batch_size=8))
    assert np.mean(state.accuracy_matrix[-1]) > 0.6  # chance is 1/6
    # the synapse probe (added to every Artsy run): precision/recall per synapse, per task
    probe = state.evaluations["synapse-probe"]
    assert [len(e["recall_effective"]) for e in probe] == [1, 2, 3]
    assert min(probe[-1]["recall_effective"]) > 0.5
    assert len(probe[-1]["fired_bitmask_per_task"]["2"]) == len(stream.tasks[2].y_test)
    assert not hasattr(method, "probe")  # the method keeps no test data


def test_simplecil_prototypes_on_pooled_features():
    stream = _prefix_stream()
    flat = Stream(
        [t.with_data(x_train=t.x_train.flatten(1), x_test=t.x_test.flatten(1)) for t in stream],
        "class", "growing", 6, (192,),
    )
    from neuroplastic.models.classifier import build_model

    model = build_model({"name": "mlp", "hidden": []}, flat.info)
    method = SimpleCIL(model, flat.info, None, optimizer_factory({"name": "sgd"}))
    _, state = run_stream(method, flat, TrainSettings(epochs=1, batch_size=16))
    assert np.mean(state.accuracy_matrix[-1]) > 0.9
    assert torch.allclose(method.prototypes[0], flat.tasks[0].x_train[:24].mean(0))


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigError):
        build(ArtsyParams, {"threshold_value": 1.5}, "artsy")
    stream = _prefix_stream()
    from neuroplastic.models.classifier import build_model

    mlp = build_model({"name": "mlp"}, stream.info)
    with pytest.raises(ConfigError):
        Artsy(mlp, stream.info, ArtsyParams(), optimizer_factory({"name": "sgd"}))


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_learning_rate_follows_ease_cosine_per_epoch(schedule):
    """EASE's CosineAnnealingLR(T_max = epochs, eta_min 0), stepped after each epoch: with 3
    epochs, every step of epoch e trains at lr (1 + cos(pi e / 3)) / 2; constant keeps lr."""
    torch.manual_seed(0)
    stream = _prefix_stream()
    one_task = Stream(stream.tasks[:1], "class", "growing", 6, (192, 1, 1))
    extra = {"lr_epochs": 3} if schedule == "cosine" else {}
    method = _artsy(one_task, lr_schedule=schedule, **extra)
    seen = []
    run_stream(method, one_task, TrainSettings(epochs=3, batch_size=10),
               on_step=lambda task, loss: seen.append(method.optimizer.param_groups[0]["lr"]))
    base = method.base_lrs[0]
    per_epoch = -(-one_task.tasks[0].num_train // 10)
    factors = [1.0, 0.75, 0.25] if schedule == "cosine" else [1.0, 1.0, 1.0]
    assert seen == pytest.approx([base * f for f in factors for _ in range(per_epoch)])


def test_cosine_schedule_must_match_the_epochs_before_training():
    from neuroplastic.config import load
    from neuroplastic.experiment import resolve

    config = {"benchmark": {"name": "split-digits"}, "scenario": "class",
              "model": {"name": "efficientnet-lite0", "input": "prefix"},
              "method": {"name": "artsy", "lr_schedule": "cosine"}, "train": {"epochs": 2}}
    with pytest.raises(ConfigError, match="needs lr_epochs"):
        resolve(load(None, [], base=copy.deepcopy(config)))
    config["method"]["lr_epochs"] = 3
    with pytest.raises(ConfigError, match="set method.lr_epochs=2"):
        resolve(load(None, [], base=copy.deepcopy(config)))
    config["method"]["lr_epochs"] = 2
    assert resolve(load(None, [], base=config)).config["method"]["lr_schedule"] == "cosine"
