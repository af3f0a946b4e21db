"""Continual-learning metrics as pure functions of the accuracy matrix.

``R[i][j]`` is the accuracy (a fraction in [0, 1]) on the test set of task ``j`` after training
task ``i``, for every ``j`` including tasks not yet trained, so forward transfer is available.
``T`` is the number of tasks. Metrics that need two or more tasks return ``None`` for ``T = 1``.
References: Lopez-Paz & Ranzato 2017 (GEM: ACC, BWT, FWT), Chaudhry et al. 2018 (RWalk:
forgetting), Rebuffi et al. 2017 (iCaRL: average incremental accuracy), Riemer et al. 2019
(learning accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Matrix = Sequence[Sequence[float]]


def _as_array(R: Matrix) -> np.ndarray:
    a = np.asarray(R, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"the accuracy matrix must be square (T x T), got shape {a.shape}")
    return a


def average_accuracy(R: Matrix) -> float:
    """ACC = (1/T) * sum_j R[T-1, j]: mean accuracy over all tasks after the last one."""
    a = _as_array(R)
    return float(a[-1].mean())


def average_incremental_accuracy(R: Matrix) -> float:
    """AIA = (1/T) * sum_i (1/(i+1)) * sum_{j<=i} R[i, j]: mean over time of the accuracy on the
    tasks seen so far (iCaRL's "average incremental accuracy")."""
    a = _as_array(R)
    return float(np.mean([a[i, : i + 1].mean() for i in range(len(a))]))


def backward_transfer(R: Matrix) -> float | None:
    """BWT = (1/(T-1)) * sum_{j<T-1} (R[T-1, j] - R[j, j]); negative means forgetting."""
    a = _as_array(R)
    T = len(a)
    if T < 2:
        return None
    return float(np.mean([a[-1, j] - a[j, j] for j in range(T - 1)]))


def forgetting(R: Matrix) -> float | None:
    """F = (1/(T-1)) * sum_{j<T-1} (max_{j<=i<T-1} R[i, j] - R[T-1, j]): the drop from the best
    accuracy ever reached on task j (max-so-far, not first) to the final one (Chaudhry 2018)."""
    a = _as_array(R)
    T = len(a)
    if T < 2:
        return None
    return float(np.mean([a[j : T - 1, j].max() - a[-1, j] for j in range(T - 1)]))


def forward_transfer(R: Matrix, initial: Sequence[float]) -> float | None:
    """FWT = (1/(T-1)) * sum_{j>=1} (R[j-1, j] - b[j]), with ``b[j]`` the accuracy on task j of
    the model at initialisation (before any training); positive means earlier tasks helped."""
    a = _as_array(R)
    b = np.asarray(initial, dtype=float)
    T = len(a)
    if T < 2:
        return None
    if b.shape != (T,):
        raise ValueError(f"initial accuracies must have length {T}, got {b.shape}")
    return float(np.mean([a[j - 1, j] - b[j] for j in range(1, T)]))


def learning_accuracy(R: Matrix) -> float:
    """LA = (1/T) * sum_j R[j, j]: accuracy on each task right after learning it."""
    a = _as_array(R)
    return float(np.mean(np.diag(a)))


def summary(R: Matrix, initial: Sequence[float] | None = None) -> dict[str, float | None]:
    """Every accuracy-matrix metric at once (FWT only when the initial accuracies are given)."""
    return {
        "average_accuracy": average_accuracy(R),
        "average_incremental_accuracy": average_incremental_accuracy(R),
        "bwt": backward_transfer(R),
        "forgetting": forgetting(R),
        "fwt": forward_transfer(R, initial) if initial is not None else None,
        "learning_accuracy": learning_accuracy(R),
    }


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports kilobytes, macOS bytes)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _proc_status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # "VmHWM:   1608 kB"
    raise OSError(f"/proc/self/status has no {field}")


def restart_peak_rss() -> int | None:
    """Start a new resident-memory peak and return the resident memory now, or None where the
    platform cannot. A run's whole-process peak is set by loading its data (the same for every
    model), so the training's own peak needs a fresh start: Linux resets the peak (VmHWM) when
    5 is written to /proc/self/clear_refs (proc(5), since Linux 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _proc_status_bytes("VmRSS")
    except OSError:
        return None


def peak_rss_since_restart() -> int:
    """The resident-memory peak since ``restart_peak_rss`` (VmHWM)."""
    return _proc_status_bytes("VmHWM")
