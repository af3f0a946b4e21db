"""Scenario builders and stream transforms: counts, label maps, leakage, determinism."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from neuroplastic import params as params_module
from neuroplastic.datasets import ArrayDataset
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.scenarios import transforms as T
from neuroplastic.scenarios.builders import (
    class_split,
    domains,
    permuted,
    rotate,
    rotated,
    subsample_per_class,
)


def toy(n_classes=6, per_class=10, test_per_class=4, shape=(1, 4, 4), seed=0) -> ArrayDataset:
    """Random images (every row unique) with balanced labels."""
    rng = np.random.default_rng(seed)
    y_train = np.repeat(np.arange(n_classes), per_class)
    y_test = np.repeat(np.arange(n_classes), test_per_class)
    x_train = rng.random((len(y_train), *shape), dtype=np.float32)
    x_test = rng.random((len(y_test), *shape), dtype=np.float32)
    names = [f"c{i}" for i in range(n_classes)]
    return ArrayDataset(x_train, y_train, x_test, y_test, names, "toy")


def row_hashes(x: torch.Tensor) -> set[str]:
    return {hashlib.sha1(r.numpy().tobytes()).hexdigest() for r in x.reshape(len(x), -1)}


@pytest.mark.parametrize("scenario", ["class", "task", "domain"])
def test_class_split_labels(scenario):
    data = toy()
    stream = class_split(data, classes_per_task=2, scenario=scenario)
    assert len(stream) == 3 and stream.input_shape == (1, 4, 4)
    assert stream.head == {"class": "growing", "task": "multi", "domain": "shared"}[scenario]
    for t, task in enumerate(stream.tasks):
        assert task.index == t and task.num_train == 20 and len(task.y_test) == 8
        assert task.x_train.dtype == torch.float32 and task.y_train.dtype == torch.int64
        if scenario == "domain":
            assert task.classes == [0, 1] and task.label_map == {2 * t: 0, 2 * t + 1: 1}
        else:
            assert task.classes == [2 * t, 2 * t + 1]
            assert task.label_map == {2 * t: 2 * t, 2 * t + 1: 2 * t + 1}
        assert set(task.y_train.tolist()) == set(task.classes) == set(task.y_test.tolist())
        # Inputs are the data set's own rows for the classes of the task.
        originals = data.x_train[np.isin(data.y_train, list(task.label_map))]
        assert row_hashes(task.x_train) == row_hashes(torch.from_numpy(originals))
        assert not row_hashes(task.x_train) & row_hashes(task.x_test)
    assert stream.num_outputs == (2 if scenario == "domain" else 6)
    if scenario == "domain":
        assert stream.class_names == ["c0/c2/c4", "c1/c3/c5"]
    info = stream.info
    assert info.task_classes[1] == tuple(stream.tasks[1].classes)
    assert info.task_id_at_test == (scenario == "task")


def test_class_split_order_and_shuffle():
    data = toy()
    stream = class_split(data, classes_per_task=3, class_order=[5, 0, 3, 1, 2, 4])
    first = stream.tasks[0]
    assert first.label_map == {5: 0, 0: 1, 3: 2} and first.classes == [0, 1, 2]
    x5 = torch.from_numpy(data.x_train[data.y_train == 5])
    assert row_hashes(first.x_train[first.y_train == 0]) == row_hashes(x5)
    assert stream.class_names[:3] == ["c5", "c0", "c3"]

    orders = [
        [tuple(t.label_map) for t in class_split(data, shuffle_classes=True, seed=s).tasks]
        for s in (0, 0, 1)
    ]
    assert orders[0] == orders[1] and orders[0] != orders[2]
    subset = class_split(data, classes_per_task=2, class_order=[4, 1])
    assert len(subset) == 1 and subset.num_outputs == 2


def test_class_split_rejections():
    data = toy()
    with pytest.raises(ConfigError, match="only 6 classes"):
        class_split(data, classes_per_task=7)
    with pytest.raises(ConfigError, match="do not split into tasks of 4"):
        class_split(data, classes_per_task=4)
    assert len(class_split(data, classes_per_task=4, n_tasks=1)) == 1
    with pytest.raises(ConfigError, match=r"classes \[8\]"):
        class_split(data, class_order=[0, 8])
    with pytest.raises(ConfigError, match="repeats"):
        class_split(data, class_order=[0, 0])
    with pytest.raises(ConfigError, match="needs 8 classes"):
        class_split(data, n_tasks=4)
    with pytest.raises(ConfigError, match="not both"):
        class_split(data, class_order=[0, 1], shuffle_classes=True)
    with pytest.raises(UnknownNameError, match="scenario"):
        class_split(data, scenario="online")
    with pytest.raises(ConfigError, match="task id"):
        class_split(data, scenario="class", head="multi")


@pytest.mark.parametrize("scenario", ["domain", "task", "class"])
def test_permuted(scenario):
    data = toy(n_classes=10, per_class=3, test_per_class=2)
    stream = permuted(data, n_tasks=3, seed=0, scenario=scenario)
    assert len(stream) == 3 and stream.input_shape == (1, 4, 4)
    first, second = stream.tasks[0], stream.tasks[1]
    torch.testing.assert_close(first.x_train, torch.from_numpy(data.x_train))  # unpermuted
    # A permutation moves pixels around: same multiset of values per row, different order.
    flat0, flat1 = first.x_train.reshape(30, -1), second.x_train.reshape(30, -1)
    torch.testing.assert_close(flat0.sort(1).values, flat1.sort(1).values)
    assert not torch.equal(flat0, flat1)
    for t, task in enumerate(stream.tasks):
        assert not row_hashes(task.x_train) & row_hashes(task.x_test)
        offset = 0 if scenario == "domain" else 10 * t
        assert task.classes == list(range(offset, offset + 10))
        torch.testing.assert_close(task.y_train, torch.from_numpy(data.y_train) + offset)
    assert stream.num_outputs == (10 if scenario == "domain" else 30)
    assert stream.head == {"domain": "shared", "task": "multi", "class": "growing"}[scenario]
    # Same seed, same permutations; another seed, others.
    again = permuted(data, n_tasks=3, seed=0, scenario=scenario)
    other = permuted(data, n_tasks=3, seed=1, scenario=scenario)
    assert torch.equal(again.tasks[2].x_test, stream.tasks[2].x_test)
    assert not torch.equal(other.tasks[2].x_test, stream.tasks[2].x_test)
    every = permuted(data, n_tasks=2, seed=0, first_unpermuted=False)
    assert not torch.equal(every.tasks[0].x_train, first.x_train)


def test_rotate_matches_rot90():
    x = torch.rand(3, 2, 6, 6)
    torch.testing.assert_close(rotate(x, 90), torch.rot90(x, 1, dims=(2, 3)), atol=1e-5, rtol=0)
    torch.testing.assert_close(rotate(x, 180), torch.flip(x, dims=(2, 3)), atol=1e-5, rtol=0)
    torch.testing.assert_close(rotate(x, -90), torch.rot90(x, -1, dims=(2, 3)), atol=1e-5, rtol=0)
    # Counter-clockwise: a pixel at the top right moves to the top left.
    img = torch.zeros(1, 1, 5, 5)
    img[0, 0, 0, 4] = 1
    assert rotate(img, 90)[0, 0, 0, 0] == 1
    wide = torch.rand(1, 1, 4, 6)
    assert rotate(wide, 30).shape == wide.shape


def test_rotated_stream():
    data = toy(n_classes=10, per_class=2, test_per_class=1, shape=(1, 6, 6))
    stream = rotated(data, angles=[0, 90], scenario="task")
    assert len(stream) == 2 and stream.num_outputs == 20 and stream.head == "multi"
    torch.testing.assert_close(stream.tasks[0].x_train, torch.from_numpy(data.x_train))
    expected = torch.rot90(torch.from_numpy(data.x_train), 1, dims=(2, 3))
    torch.testing.assert_close(stream.tasks[1].x_train, expected, atol=1e-5, rtol=0)
    assert stream.tasks[1].classes == list(range(10, 20))
    flat = ArrayDataset(np.zeros((2, 5), np.float32), np.array([0, 1]), np.zeros((1, 5)), [0])
    with pytest.raises(ConfigError, match=r"\(N, C, H, W\)"):
        rotated(flat)


def test_domains_builder():
    a, b = toy(n_classes=2, seed=1), toy(n_classes=2, seed=2)
    shared = domains({"a": a, "b": b}, scenario="domain")
    assert [t.name for t in shared.tasks] == ["a", "b"] and shared.num_outputs == 2
    assert shared.tasks[1].classes == [0, 1] and shared.class_names == ["c0", "c1"]
    multi = domains({"a": a, "b": b}, scenario="task")
    assert multi.num_outputs == 4 and multi.tasks[1].classes == [2, 3]
    assert multi.tasks[1].label_map == {0: 2, 1: 3}
    assert multi.class_names == ["a:c0", "a:c1", "b:c0", "b:c1"]
    assert domains({"a": a, "b": b}, scenario="class").head == "growing"
    with pytest.raises(ConfigError, match="same classes"):
        domains({"a": a, "c": toy(n_classes=3)}, scenario="domain")
    tokens = ArrayDataset(
        np.ones((4, 7), np.int64),
        np.array([0, 1, 0, 1]),
        np.ones((2, 7), np.int64),
        np.array([0, 1]),
        ["n", "p"],
    )
    text = domains({"x": tokens}, vocab_size=50)
    assert text.tasks[0].x_train.dtype == torch.int64 and text.info.vocab_size == 50


def test_subsample_per_class():
    x = np.arange(30)
    y = np.repeat([0, 1, 2], [5, 15, 10])
    xs, ys = subsample_per_class(x, y, 6, seed=0)
    assert np.bincount(ys).tolist() == [5, 6, 6] and np.all(np.diff(xs) > 0)
    xt, yt = subsample_per_class(torch.from_numpy(x), torch.from_numpy(y), 6, seed=0)
    assert xt.tolist() == xs.tolist()
    assert subsample_per_class(x, y, 6, seed=1)[0].tolist() != xs.tolist()


def base_stream(scenario="class"):
    return class_split(toy(n_classes=6, per_class=20), classes_per_task=3, scenario=scenario)


def test_poison_exact_fraction_in_chosen_tasks():
    stream = base_stream()
    before = [t.y_train.clone() for t in stream.tasks]
    out = T.poison(stream, T.PoisonParams(tasks=[1], fraction=0.5), seed=3)
    for t, (task, old) in enumerate(zip(out.tasks, before, strict=True)):
        changed = (task.y_train != old).sum().item()
        assert changed == (30 if t == 1 else 0)
        assert set(task.y_train.tolist()) <= set(task.classes)
        torch.testing.assert_close(stream.tasks[t].y_train, old)  # input stream untouched
    full = T.poison(stream, T.PoisonParams(tasks=[0], fraction=1.0), seed=0)
    assert (full.tasks[0].y_train != before[0]).all()  # a derangement: every label is wrong
    assert torch.equal(full.tasks[1].y_train, before[1])
    assert torch.equal(
        T.poison(stream, T.PoisonParams([1], 0.5), 3).tasks[1].y_train, out.tasks[1].y_train
    )
    with pytest.raises(ConfigError, match="do not exist"):
        T.poison(stream, T.PoisonParams(tasks=[5]), seed=0)
    with pytest.raises(ConfigError, match="fraction"):
        params_module.build(T.PoisonParams, {"tasks": [0], "fraction": 1.5}, "poison")


def test_repeat():
    stream = base_stream(scenario="task")
    twice = T.repeat(stream, T.RepeatParams(times=2), seed=0)
    assert len(twice) == 4 and [t.index for t in twice.tasks] == [0, 1, 2, 3]
    assert twice.tasks[2].classes == stream.tasks[0].classes
    assert twice.tasks[2].x_train is stream.tasks[0].x_train  # shared, not copied
    assert twice.info.task_classes[2] == twice.info.task_classes[0]
    hebb = T.repeat(stream, T.RepeatParams(times=3, tasks=[1]), seed=0)
    assert len(hebb) == 4 and [t.classes for t in hebb.tasks][2:] == [stream.tasks[1].classes] * 2
    assert "repeat 3" in hebb.tasks[3].name
    assert len(stream) == 2 and stream.tasks[1].index == 1
    with pytest.raises(ConfigError, match="times"):
        params_module.build(T.RepeatParams, {"times": 0}, "repeat")


def test_mislabeled_adds_other_tasks_samples():
    stream = base_stream()
    out = T.mislabeled(stream, T.MislabeledParams(fraction=0.1), seed=0)
    own = [row_hashes(t.x_train) for t in stream.tasks]
    for t, task in enumerate(out.tasks):
        assert task.num_train == 66
        assert torch.equal(task.x_train[:60], stream.tasks[t].x_train)
        added = row_hashes(task.x_train[60:])
        assert len(added) == 6 and not added & own[t]
        assert added <= set().union(*(own[o] for o in range(len(stream)) if o != t))
        assert set(task.y_train[60:].tolist()) <= set(task.classes)
        assert torch.equal(task.x_test, stream.tasks[t].x_test)
    assert stream.tasks[0].num_train == 60
    only = T.mislabeled(stream, T.MislabeledParams(fraction=0.5, tasks=[1]), seed=0)
    assert [t.num_train for t in only.tasks] == [60, 90]
    with pytest.raises(ConfigError, match="two tasks"):
        T.mislabeled(class_split(toy(), classes_per_task=6), T.MislabeledParams(), seed=0)


def test_subsample_transform_and_registry():
    stream = base_stream()
    out = T.apply_transform(stream, "subsample", {"per_class": 7, "test_per_class": 2}, seed=0)
    for task in out.tasks:
        assert task.num_train == 21 and len(task.y_test) == 6
    assert stream.tasks[0].num_train == 60
    again = T.apply_transform(stream, "subsample", {"per_class": 7}, seed=0)
    assert torch.equal(again.tasks[1].x_train, out.tasks[1].x_train)
    with pytest.raises(UnknownNameError, match="per_class"):
        T.apply_transform(stream, "subsample", {"per_klass": 7}, seed=0)
