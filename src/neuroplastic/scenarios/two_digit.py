"""Two-digit MNIST and the item-by-item protocol of the metaplasticity paper.

Source: Cho, Lee, Baek & Paik, "Neuromimetic metaplasticity for adaptive continual learning"
(arXiv 2407.07133), official MATLAB code ``vsnnlab/Metaplasticity`` (``create_twoDigitMNIST.m``,
``serial_position_effect.m``), summarised in the project notes (papers.md section 2).

* **Images.** Two real MNIST digits side by side on a black 56x56 canvas, rows 15-42 (1-based)
  as in ``create_twoDigitMNIST.m``: digit ``i`` on the left, ``j`` on the right, each drawn at
  random (with replacement, MATLAB ``randi``) from MNIST's images of that digit; training images
  from MNIST's training split, test images from its test split. ``canvas: 28x56`` keeps only the
  28 rows that hold digits (the other rows are always zero), half the input of a pixel MLP.
* **Categories.** The 45 pairs ``"ij"`` with ``i < j`` (the scripts' ``total_category``).
  A category's images depend only on ``data_seed`` and the category, like the code's data set
  written once to disk, so every trial that draws a category sees the same images.
* **Items.** ``n_items`` categories drawn at random per trial (seed) are learnt one at a time
  with one shared ``n_items``-way head (class-incremental, one class per task, every output unit
  active from the start: the code's ``numCategories``-way softmax).
* **Mixing.** The training set of item ``t`` holds all its own images labelled ``t`` plus
  ``round(n_t / (n_items - 1))`` images of every *other* item of the sequence (past and future),
  each given a *wrong* label: per other item ``o`` the labels of the remaining items (neither
  ``t`` nor ``o``) are repeated ``floor(m / (n_items - 2))`` times each and the ``m mod
  (n_items - 2)`` remaining labels are drawn at random. See :func:`mixed_labels` for the code's
  remainder quirk (option ``remainder_labels``) and which images are taken (``nontarget_images``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ..registry import BENCHMARKS
from .task import Stream, Task

#: the 45 two-digit categories (i, j), i < j, in the scripts' order ("01", "02", ..., "89")
CATEGORIES: list[tuple[int, int]] = [(i, j) for i in range(9) for j in range(i + 1, 10)]
CATEGORY_NAMES: list[str] = [f"{i}{j}" for i, j in CATEGORIES]
ROWS = (14, 42)  # 0-based slice of the rows 15-42 (1-based) that hold the digits


@dataclass
class TwoDigitParams:
    """Two-digit MNIST items (Cho et al. 2024; vsnnlab/Metaplasticity).

    Paper sizes: 5,000 training images generated per category and subsampled to 2,000
    (``splitEachLabel(..., 0.4)``), 1,000 test images per category; 10 or 30 items.
    """

    n_items: int = 10  # numCategories: 10 (Figs 2, 4, 5) or 30 (Fig 3)
    train_per_item: int = 2000  # 5,000 generated, splitEachLabel 0.4 -> 2,000 per category
    test_per_item: int = 1000  # create_twoDigitMNIST.m: 1,000 test images per category
    #: pixels: the image itself (for an MLP); effnet: frozen pretrained EfficientNet-Lite0
    #: features (the stand-in for the paper's frozen ImageNet AlexNet convolutions)
    features: Literal["pixels", "effnet"] = "pixels"
    canvas: Literal["56x56", "28x56"] = "56x56"  # 56x56 as in the code; 28x56 the digit rows
    #: EfficientNet input size in pixels (the code resizes to AlexNet's 227; 64 px is the
    #: project's CPU setting for the frozen EfficientNet-Lite0, see scenarios/features.py)
    input_size: int = 64
    data_seed: int = 0  # the generated images (fixed, like the code's data set on disk)
    #: exclusive: wrong labels never name the image's own item (the protocol's intent);
    #: code: the remainder labels are drawn from all non-target items, the image's own included
    #: (``noncurrClsIdx(addIdx)`` in the scripts), so a few can be correct
    remainder_labels: Literal["exclusive", "code"] = "exclusive"
    #: first: the non-target images of item o are always its first m images, in a new random
    #: order at each presentation (the code's ``tempIdx(randperm(noncurrClsNum))``);
    #: random: m images drawn afresh from all of o's images at each presentation
    nontarget_images: Literal["first", "random"] = "first"
    #: explicit category indices (0..44, see CATEGORIES) instead of a random draw per seed
    items: list[int] | None = None

    def validate(self) -> None:
        if not 2 <= self.n_items <= len(CATEGORIES):
            raise ConfigError(f"n_items must be between 2 and 45, got {self.n_items}")
        if self.train_per_item < 1 or self.test_per_item < 1:
            raise ConfigError("train_per_item and test_per_item must be at least 1")
        if self.items is not None:
            if len(self.items) != self.n_items or len(set(self.items)) != len(self.items):
                raise ConfigError(f"items must list {self.n_items} distinct category indices")
            if any(not 0 <= c < len(CATEGORIES) for c in self.items):
                raise ConfigError("items are category indices between 0 and 44")


def draw_items(n_items: int, seed: int) -> list[int]:
    """``n_items`` distinct categories drawn at random (``randperm(45, numCategories)``)."""
    return [int(c) for c in np.random.default_rng(seed).permutation(len(CATEGORIES))[:n_items]]


def compose(left: np.ndarray, right: np.ndarray, canvas: str = "56x56") -> np.ndarray:
    """Two (N, 28, 28) digit arrays side by side on a black canvas: (N, 1, H, 56)."""
    n = len(left)
    pair = np.concatenate([left, right], axis=2)  # (N, 28, 56)
    if canvas == "28x56":
        return pair[:, None].astype(np.float32)
    out = np.zeros((n, 1, 56, 56), dtype=np.float32)
    out[:, 0, ROWS[0] : ROWS[1]] = pair
    return out


def category_images(
    digits_x: np.ndarray, digits_y: np.ndarray, category: int, n: int, seed: int, canvas: str
) -> np.ndarray:
    """``n`` images of one category from one MNIST split, reproducible per (seed, category)."""
    i, j = CATEGORIES[category]
    rng = np.random.default_rng([seed, category])
    left = rng.choice(np.flatnonzero(digits_y == i), n, replace=True)
    right = rng.choice(np.flatnonzero(digits_y == j), n, replace=True)
    x = digits_x.reshape(len(digits_x), 28, 28)
    return compose(x[left], x[right], canvas)


@dataclass
class ItemData:
    """Per-item inputs of one trial: ``train[k]`` and ``test[k]`` are item k's images/features."""

    categories: list[int]
    train: list[Tensor]
    test: list[Tensor]
    input_shape: tuple[int, ...]

    @property
    def names(self) -> list[str]:
        return [CATEGORY_NAMES[c] for c in self.categories]

    def test_set(self) -> tuple[Tensor, Tensor]:
        """Every item's test inputs and their item labels 0..n_items-1 (the code's test set)."""
        x = torch.cat(self.test)
        y = torch.cat([torch.full((len(t),), k, dtype=torch.long) for k, t in enumerate(self.test)])
        return x, y


def load_items(categories: list[int], p: TwoDigitParams) -> ItemData:
    """Generate the chosen categories' images (or their frozen features)."""
    from ..datasets.mnist import load_mnist

    mnist = load_mnist()
    train, test = [], []
    for c in categories:
        train.append(
            category_images(mnist.x_train, mnist.y_train, c, p.train_per_item, 2 * p.data_seed,
                            p.canvas)
        )
        test.append(
            category_images(mnist.x_test, mnist.y_test, c, p.test_per_item, 2 * p.data_seed + 1,
                            p.canvas)
        )
    train_t = [torch.from_numpy(x) for x in train]
    test_t = [torch.from_numpy(x) for x in test]
    if p.features == "effnet":
        train_t, test_t = _effnet_features(train_t, test_t, p)
    return ItemData(list(categories), train_t, test_t, tuple(train_t[0].shape[1:]))


def _effnet_features(train, test, p: TwoDigitParams):
    """Frozen EfficientNet-Lite0 pooled features (1280-d) from the project's disk cache.

    Each category's image array is cached on its own (the cache key fingerprints the array), so
    a category drawn again in a later trial costs nothing.
    """
    from ..models.efficientnet import EfficientNetLite0Backbone
    from .features import cached_features

    backbone = EfficientNetLite0Backbone(p.input_size)

    def encode(x: Tensor) -> Tensor:
        return torch.from_numpy(np.array(cached_features(backbone, x, "pooled")))

    return [encode(x) for x in train], [encode(x) for x in test]


def mixed_labels(
    counts: list[int],
    target: int,
    rng: np.random.Generator,
    remainder_labels: str = "exclusive",
    nontarget_images: str = "first",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which images item ``target``'s training set holds, and their labels.

    Returns ``(item, index, label)`` arrays: image ``index`` of item ``item`` with training
    label ``label``. Item ``target`` contributes all ``counts[target]`` images with its own
    label; every other item ``o`` contributes ``m = round(counts[target] / (n - 1))`` images
    whose labels are the items other than ``target`` and ``o``, each ``floor(m / (n - 2))``
    times, plus ``m mod (n - 2)`` drawn at random (serial_position_effect.m). The code draws
    those remainder labels from all non-target items, ``o`` included (``remainder_labels:
    code``); ``exclusive`` draws them from the wrong labels only.
    """
    n = len(counts)
    if n < 3:
        raise ConfigError("the mixed protocol needs at least 3 items (2 wrong labels to share)")
    m = int(np.floor(counts[target] / (n - 1) + 0.5))  # MATLAB round: half away from zero
    items = [np.full(counts[target], target)]
    index = [np.arange(counts[target])]
    labels = [np.full(counts[target], target)]
    others = [o for o in range(n) if o != target]
    for o in others:
        if m > counts[o]:
            raise ConfigError(
                f"item {o} has {counts[o]} training images, fewer than the {m} the mixing needs"
            )
        wrong = [k for k in others if k != o]
        lab = np.repeat(np.asarray(wrong)[None], m // len(wrong), axis=0).reshape(-1)
        pool = others if remainder_labels == "code" else wrong
        extra = rng.integers(0, len(pool), m % len(wrong))
        lab = np.concatenate([lab, np.asarray(pool)[extra]]) if len(extra) else lab
        if nontarget_images == "first":
            idx = rng.permutation(m)
        else:
            idx = rng.choice(counts[o], m, replace=False)
        items.append(np.full(m, o))
        index.append(idx)
        labels.append(lab)
    return np.concatenate(items), np.concatenate(index), np.concatenate(labels).astype(np.int64)


def mixed_training_set(
    data: ItemData,
    target: int,
    rng: np.random.Generator,
    p: TwoDigitParams,
    poison_label: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Item ``target``'s training inputs and labels (the target's images relabelled
    ``poison_label`` in the poisoning pass, Hebb_repetition_effect.m)."""
    counts = [len(x) for x in data.train]
    item, index, label = mixed_labels(counts, target, rng, p.remainder_labels, p.nontarget_images)
    if poison_label is not None:
        label = label.copy()
        label[item == target] = poison_label
    x = torch.cat([data.train[o][torch.from_numpy(index[item == o])] for o in range(len(counts))
                   if (item == o).any()])
    # keep labels in the same order as the concatenation above (grouped by item)
    order = np.concatenate([np.flatnonzero(item == o) for o in range(len(counts))])
    return x, torch.from_numpy(label[order])


def item_stream(
    data: ItemData,
    order: list[int],
    rng: np.random.Generator,
    p: TwoDigitParams,
    name: str = "two-digit-mnist",
) -> Stream:
    """A class-incremental stream with one task per presentation of an item, shared head.

    Task k's test set is the test images of item ``order[k]``, so the engine's per-task accuracy
    is that item's accuracy (the code's per-class accuracy, ``testModel.m``).
    """
    tasks = []
    for k, item in enumerate(order):
        x, y = mixed_training_set(data, item, rng, p)
        tasks.append(
            Task(
                index=k,
                x_train=x,
                y_train=y,
                x_test=data.test[item],
                y_test=torch.full((len(data.test[item]),), item, dtype=torch.long),
                classes=[item],
                label_map={data.categories[item]: item},
                name=data.names[item],
            )
        )
    return Stream(tasks, "class", "shared", len(data.train), data.input_shape, name,
                  data.names)


def _check_head(scenario: str, head: str | None) -> None:
    if scenario != "class" or head not in (None, "shared"):
        raise ConfigError(
            "two-digit-mnist trains wrongly labelled images of every item from the first item "
            "on, so all output units must be live: use scenario: class with head: shared "
            f"(got scenario {scenario!r}, head {head!r})"
        )


@BENCHMARKS.register(
    "two-digit-mnist",
    params=TwoDigitParams,
    summary="two MNIST digits side by side, 45 'ij' items learnt one at a time (Cho et al.)",
)
def two_digit_mnist(p: TwoDigitParams, scenario: str, head: str | None, seed: int) -> Stream:
    """Two-digit MNIST items, one per task, mixed with wrongly labelled other items."""
    _check_head(scenario, head)
    categories = list(p.items) if p.items is not None else draw_items(p.n_items, seed)
    data = load_items(categories, p)
    return item_stream(data, list(range(p.n_items)), np.random.default_rng([seed, 1]), p)


two_digit_mnist.default_model = {"name": "mlp", "hidden": [1024, 1024]}  # type: ignore[attr-defined]
two_digit_mnist.default_scenario = "class"  # type: ignore[attr-defined]
