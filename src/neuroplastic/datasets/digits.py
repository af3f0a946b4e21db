"""scikit-learn's digits (UCI optdigits test set): 1,797 8x8 grey images, bundled offline."""

from __future__ import annotations

import numpy as np

from .base import ArrayDataset, stratified_split

SPLIT_SEED = 0  # fixed: every run and every method sees the same test set


def load_digits(test_fraction: float = 0.3) -> ArrayDataset:
    """Digits as (N, 1, 8, 8) float32 in [0, 1] (pixel counts 0..16 divided by 16).

    Split 70/30, stratified by class, with a fixed seed.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]
    y = bunch.target.astype(np.int64)
    train, test = stratified_split(y, test_fraction, SPLIT_SEED)
    return ArrayDataset(
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        class_names=[str(i) for i in range(10)],
        name="digits",
    )
