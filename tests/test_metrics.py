import math

import pytest

from neuroplastic import metrics

# R[i][j]: accuracy on task j after training task i (hand-made, 3 tasks)
R = [
    [0.9, 0.1, 0.2],
    [0.6, 0.8, 0.3],
    [0.5, 0.7, 0.95],
]
INITIAL = [0.1, 0.2, 0.1]


def test_average_accuracy_is_last_row_mean():
    assert metrics.average_accuracy(R) == pytest.approx((0.5 + 0.7 + 0.95) / 3)


def test_average_incremental_accuracy():
    expected = (0.9 + (0.6 + 0.8) / 2 + (0.5 + 0.7 + 0.95) / 3) / 3
    assert metrics.average_incremental_accuracy(R) == pytest.approx(expected)


def test_backward_transfer():
    assert metrics.backward_transfer(R) == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)


def test_forgetting_uses_max_so_far_not_first():
    R2 = [[0.5, 0.0], [0.9, 0.8]]  # accuracy on task 0 rose after task 1: negative forgetting
    assert metrics.forgetting(R2) == pytest.approx(-0.4)
    R3 = [[0.5, 0.1, 0.0], [0.9, 0.8, 0.0], [0.4, 0.8, 0.9]]
    # task 0: best before the end 0.9, final 0.4 -> 0.5; task 1: best 0.8, final 0.8 -> 0
    assert metrics.forgetting(R3) == pytest.approx(0.25)
    assert metrics.forgetting(R) == pytest.approx(((0.9 - 0.5) + (0.8 - 0.7)) / 2)


def test_forward_transfer_against_initial_accuracy():
    assert metrics.forward_transfer(R, INITIAL) == pytest.approx(((0.1 - 0.2) + (0.3 - 0.1)) / 2)
    with pytest.raises(ValueError):
        metrics.forward_transfer(R, [0.1])


def test_learning_accuracy_is_diagonal_mean():
    assert metrics.learning_accuracy(R) == pytest.approx((0.9 + 0.8 + 0.95) / 3)


def test_single_task_metrics_are_undefined_not_zero():
    one = [[0.7]]
    assert metrics.backward_transfer(one) is None
    assert metrics.forgetting(one) is None
    assert metrics.forward_transfer(one, [0.1]) is None
    assert metrics.average_accuracy(one) == pytest.approx(0.7)


def test_non_square_matrix_rejected():
    with pytest.raises(ValueError):
        metrics.average_accuracy([[0.1, 0.2]])


def test_summary_has_every_metric():
    s = metrics.summary(R, INITIAL)
    assert set(s) == {
        "average_accuracy",
        "average_incremental_accuracy",
        "bwt",
        "forgetting",
        "fwt",
        "learning_accuracy",
    }
    assert all(isinstance(v, float) and not math.isnan(v) for v in s.values())


def test_peak_rss_is_positive():
    assert metrics.peak_rss_bytes() > 10_000_000


@pytest.mark.skipif(metrics.restart_peak_rss() is None, reason="needs /proc/self/clear_refs")
def test_training_memory_rise_tells_a_large_model_from_a_small_one(tmp_path):
    # the whole-process peak is set by loading the data; the rise above the stream's start is
    # the model's own cost: Adam on a 1500x1500 hidden layer holds ~36 MB more than on 16 units
    from neuroplastic.experiment import run

    def rise(hidden):
        cfg = {"benchmark": {"name": "split-digits"}, "scenario": "domain",
               "model": {"name": "mlp", "hidden": hidden}, "method": "finetune",
               "optimizer": {"name": "adam"}, "train": {"epochs": 1, "batch_size": 64},
               "threads": 1}
        m = run(cfg, out=tmp_path / str(hidden[0]))["metrics"]
        assert m["train_peak_rss_bytes"] <= m["peak_rss_bytes"]
        return m["train_rss_rise_bytes"]

    small, large = rise([16]), rise([1500, 1500])
    assert large > small + 20_000_000
