"""Named benchmarks build streams of the right shape; data paths resolve to generic entries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from neuroplastic.errors import ConfigError, DataNotFoundError, UnknownNameError
from neuroplastic.registry import BENCHMARKS
from neuroplastic.scenarios.benchmarks import build_benchmark, resolve_benchmark

REAL_DATA = os.environ.get("NEUROPLASTIC_DATA")


def test_registered_with_defaults():
    for name in [
        "split-digits",
        "split-mnist",
        "permuted-mnist",
        "rotated-mnist",
        "split-cifar10",
        "sentiment-domains",
        "npz",
        "image-folder",
        "text-table",
    ]:
        entry = BENCHMARKS.get(name)
        assert entry.params is not None and entry.summary
        assert entry.obj.default_model["name"] in ("mlp", "cnn", "bow")
        assert entry.obj.default_scenario in ("task", "domain", "class")
    assert BENCHMARKS.get("split-cifar10").obj.default_model == {"name": "cnn"}
    assert BENCHMARKS.get("sentiment-domains").obj.default_model == {"name": "bow"}


@pytest.mark.parametrize("scenario", ["class", "task", "domain"])
def test_split_digits(scenario):
    stream = build_benchmark("split-digits", {}, scenario, None, seed=0)
    assert len(stream) == 5 and stream.input_shape == (1, 8, 8)
    assert stream.num_outputs == (2 if scenario == "domain" else 10)
    assert sum(t.num_train for t in stream.tasks) == 1258
    assert stream.tasks[4].classes == ([0, 1] if scenario == "domain" else [8, 9])


def test_split_mnist_subset_options():
    stream = build_benchmark(
        "split-mnist", {"source": "subset", "train_per_class": 50, "test_per_class": 20}
    )
    assert stream.scenario == "class" and len(stream) == 5
    assert stream.tasks[0].num_train == 100 and len(stream.tasks[0].y_test) == 40
    assert stream.tasks[0].x_train.shape[1:] == (1, 28, 28)
    assert 0 <= stream.tasks[0].x_train.min() and stream.tasks[0].x_train.max() <= 1
    shuffled = build_benchmark("split-mnist", {"source": "subset", "shuffle_classes": True}, seed=3)
    assert [list(t.label_map) for t in shuffled.tasks] != [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    ordered = build_benchmark("split-mnist", {"source": "subset", "class_order": [9, 8, 7, 6]})
    assert len(ordered) == 2 and ordered.tasks[0].label_map == {9: 0, 8: 1}
    with pytest.raises(UnknownNameError, match="source"):
        build_benchmark("split-mnist", {"source": "tiny"})
    with pytest.raises(ConfigError, match="train_per_class"):
        build_benchmark("split-mnist", {"source": "subset", "train_per_class": 0})


def test_permuted_and_rotated_mnist_small():
    values = {"source": "subset", "train_per_class": 5, "test_per_class": 3, "n_tasks": 3}
    stream = build_benchmark("permuted-mnist", values, None, None, seed=0)
    assert stream.scenario == "domain" and len(stream) == 3 and stream.num_outputs == 10
    assert [t.num_train for t in stream.tasks] == [50] * 3
    assert not torch.equal(stream.tasks[1].x_train, stream.tasks[2].x_train)
    # van de Ven's 32x32: the same images with a zero border, permuted over 1,024 positions
    padded = build_benchmark("permuted-mnist", {**values, "pad": 2}, None, None, seed=0)
    assert padded.tasks[0].x_train.shape[1:] == (1, 32, 32)
    assert torch.equal(padded.tasks[0].x_train[:, :, 2:30, 2:30], stream.tasks[0].x_train)
    assert padded.tasks[0].x_train[:, :, :2].abs().sum() == 0
    assert sorted(padded.tasks[1].x_train.flatten(1)[0].tolist()) == sorted(
        padded.tasks[0].x_train.flatten(1)[0].tolist())  # a permutation of the padded image
    with pytest.raises(ConfigError, match="pad"):
        build_benchmark("permuted-mnist", {**values, "pad": -1})
    values = {"source": "subset", "train_per_class": 5, "angles": [0, 90]}
    rotated = build_benchmark("rotated-mnist", values, "task", None, seed=0)
    assert len(rotated) == 2 and rotated.num_outputs == 20 and rotated.head == "multi"


def test_missing_full_mnist_names_files(tmp_path, monkeypatch):
    from neuroplastic.datasets import root

    monkeypatch.setenv("NEUROPLASTIC_DATA", str(tmp_path))
    monkeypatch.setattr(root, "USER_CACHE", tmp_path / "usercache")
    monkeypatch.setenv("NEUROPLASTIC_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="train-images-idx3-ubyte.gz"):
        build_benchmark("split-mnist", {"source": "full"})


def test_paths_as_benchmark_names(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(tmp_path / "root"))
    rng = np.random.default_rng(0)
    npz = tmp_path / "four.npz"
    np.savez(
        npz,
        x_train=rng.random((40, 3)),
        y_train=np.arange(40) % 4,
        x_test=rng.random((8, 3)),
        y_test=np.arange(8) % 4,
    )
    entry, path = resolve_benchmark(str(npz))
    assert entry.name == "npz" and path == str(npz)
    stream = build_benchmark(str(npz), {"classes_per_task": 2}, "task")
    assert len(stream) == 2 and stream.input_shape == (3,) and stream.head == "multi"

    for split, n in (("train", 4), ("test", 2)):
        for cls in ("a", "b", "c", "d"):
            folder = tmp_path / "imgs" / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("L", (5, 5), i * 20).save(folder / f"{i}.png")
    images = build_benchmark(str(tmp_path / "imgs"), {"classes_per_task": 2})
    assert len(images) == 2 and images.input_shape == (1, 5, 5)
    assert BENCHMARKS.get("image-folder").obj.default_model == {"name": "cnn"}

    table = tmp_path / "reviews.csv"
    lines = ["text,label,site"] + [
        f"{'good great' if i % 2 else 'bad awful'} item {i},{i % 2},{'ab'[i // 10]}"
        for i in range(20)
    ]
    table.write_text("\n".join(lines) + "\n")
    by_domain = build_benchmark(str(table), {"domain_column": "site", "max_len": 6})
    assert [t.name for t in by_domain.tasks] == ["a", "b"] and by_domain.scenario == "domain"
    assert by_domain.input_shape == (6,) and by_domain.tasks[0].x_train.dtype == torch.int64
    assert by_domain.vocab_size == by_domain.info.vocab_size and by_domain.vocab_size > 2
    assert [t.num_train for t in by_domain.tasks] == [8, 8]

    with pytest.raises(UnknownNameError, match="split-mnist"):
        resolve_benchmark("split-mnsit")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        resolve_benchmark(str(tmp_path / "absent.npz"))
    with pytest.raises(ConfigError, match="needs path"):
        build_benchmark("npz", {})


def test_sentiment_domains():
    if REAL_DATA is None or not (Path(REAL_DATA) / "sentiment/vader").is_dir():
        pytest.skip("the VADER files are not in NEUROPLASTIC_DATA")
    stream = build_benchmark("sentiment-domains", {}, None, None, seed=0)
    assert [t.name for t in stream.tasks] == ["tweets", "movies", "amazon", "nyt"]
    assert stream.scenario == "domain" and stream.num_outputs == 2
    assert stream.input_shape == (40,) and stream.vocab_size <= 20000
    tweets = stream.tasks[0]
    assert tweets.num_train + len(tweets.y_test) == 2345 + 1087
    assert abs(len(tweets.y_test) - 0.2 * 3432) <= 2
    assert tweets.x_train.dtype == torch.int64 and int(tweets.x_train.max()) < stream.vocab_size
    assert (tweets.x_train[:, 0] != 0).all()  # no empty rows
    small = build_benchmark("sentiment-domains", {"vocab_size": 500, "train_per_class": 30})
    assert small.vocab_size == 500 and [t.num_train for t in small.tasks] == [60] * 4
    task_il = build_benchmark("sentiment-domains", {}, "task")
    assert task_il.num_outputs == 8 and task_il.tasks[3].classes == [6, 7]


def test_split_cifar10_small():
    if REAL_DATA is None or not (Path(REAL_DATA) / "cifar10").is_dir():
        pytest.skip("CIFAR-10 is not in NEUROPLASTIC_DATA")
    stream = build_benchmark("split-cifar10", {"train_per_class": 20, "test_per_class": 10})
    assert len(stream) == 5 and stream.input_shape == (3, 32, 32)
    assert stream.tasks[0].num_train == 40 and stream.tasks[0].name == "airplane/automobile"
