"""A small real stream built by hand from scikit-learn's digits, for core tests that must not
depend on the benchmark builders."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from neuroplastic.scenarios.task import DEFAULT_HEAD, Stream, Task


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread is faster than two and
    avoids oversubscription; the caller's count comes back after the test. Autouse in every
    test module that imports it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def digits_stream(scenario: str = "class", head: str | None = None, n_tasks: int = 5) -> Stream:
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    n_train = 1300
    tasks = []
    for t in range(n_tasks):
        classes = [2 * t, 2 * t + 1]
        tr = (y[:n_train] == classes[0]) | (y[:n_train] == classes[1])
        te = (y[n_train:] == classes[0]) | (y[n_train:] == classes[1])
        y_tr, y_te = y[:n_train][tr], y[n_train:][te]
        if scenario == "domain":
            y_tr, y_te, targets = y_tr % 2, y_te % 2, [0, 1]
        else:
            targets = classes
        tasks.append(
            Task(t, x[:n_train][tr], y_tr, x[n_train:][te], y_te, targets, {c: c for c in classes})
        )
    outputs = 2 if scenario == "domain" else 2 * n_tasks
    return Stream(tasks, scenario, head or DEFAULT_HEAD[scenario], outputs, (1, 8, 8), "digits")


def fake_two_digit_items(monkeypatch) -> None:
    """Replace two-digit MNIST's item loader with 4 well-separated Gaussian items in 12-d
    (40 training and 20 test points each): the metaplasticity experiments run in seconds."""
    from neuroplastic.scenarios import two_digit as td

    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 12, generator=g) * 2

    def fake_load(categories, p):
        train = [centers[k] + 0.3 * torch.randn(40, 12, generator=g) for k in range(4)]
        test = [centers[k] + 0.3 * torch.randn(20, 12, generator=g) for k in range(4)]
        return td.ItemData(list(categories), train, test, (12,))

    monkeypatch.setattr(td, "load_items", fake_load)
