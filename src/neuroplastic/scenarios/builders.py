"""Builders: turn loaded data sets (``ArrayDataset``) into a ``Stream`` of tasks.

Every builder takes the scenario (``task``, ``domain``, ``class``) and a head policy (None means
``DEFAULT_HEAD[scenario]``) and follows the label conventions of :mod:`.task`: in task- and
class-incremental streams the targets are global output units, in domain-incremental streams
they are the within-task labels shared by all tasks. Inputs become float32 tensors (integer
inputs, such as token ids, become int64); targets are int64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..datasets.base import ArrayDataset
from ..errors import ConfigError, UnknownNameError
from .checks import check_arrays
from .task import DEFAULT_HEAD, SCENARIOS, Stream, Task


def resolve_head(scenario: str, head: str | None) -> str:
    if scenario not in SCENARIOS:
        raise UnknownNameError("scenario", scenario, list(SCENARIOS))
    return DEFAULT_HEAD[scenario] if head is None else head


def as_inputs(x: np.ndarray | Tensor) -> Tensor:
    """float32 tensor for real-valued inputs, int64 for integer codes (token ids)."""
    t = torch.as_tensor(x)
    if t.dtype.is_floating_point:
        return t.to(torch.float32)
    return t.to(torch.int64)


def as_targets(y: np.ndarray | Tensor) -> Tensor:
    return torch.as_tensor(y).to(torch.int64)


def subsample_per_class(x, y, n: int, seed: int):
    """At most ``n`` samples of every class, drawn at random (seeded), in their original order.

    Works on numpy arrays and tensors alike and returns the same kind.
    """
    if n < 1:
        raise ConfigError(f"samples per class must be at least 1, got {n}")
    labels = y.cpu().numpy() if isinstance(y, Tensor) else np.asarray(y)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(idx if len(idx) <= n else rng.choice(idx, n, replace=False))
    order = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
    if isinstance(x, Tensor):
        index = torch.as_tensor(order, device=x.device)
        return x[index], y[index.to(y.device)]
    return x[order], y[order]


def _check(data: ArrayDataset, name: str | None) -> None:
    """The data set as a whole (both splits, widths, test-only classes), before the split."""
    label = name or data.name or "the data"
    check_arrays(label, data.x_train, data.y_train, data.x_test, data.y_test)


def _num_classes(data: ArrayDataset) -> int:
    top = int(max(data.y_train.max(initial=-1), data.y_test.max(initial=-1))) + 1
    return max(len(data.class_names), top)


def _class_name(data: ArrayDataset, c: int) -> str:
    return data.class_names[c] if c < len(data.class_names) else str(c)


def class_split(
    data: ArrayDataset,
    classes_per_task: int = 2,
    n_tasks: int | None = None,
    class_order: Sequence[int] | None = None,
    shuffle_classes: bool = False,
    seed: int = 0,
    scenario: str = "class",
    head: str | None = None,
    name: str | None = None,
    vocab_size: int | None = None,
) -> Stream:
    """Split the classes of a data set into tasks of ``classes_per_task`` classes each.

    The class order is ``class_order`` (original labels) if given, else the label order,
    shuffled with ``seed`` when ``shuffle_classes``. Targets: the position of the class in that
    order (task t holds ``k*t .. k*t+k-1``) for task- and class-incremental streams, the
    position inside the task (``0..k-1``) for domain-incremental ones. ``n_tasks`` defaults to
    all the classes; it must be given to use fewer classes than the order holds when they do not
    divide evenly.
    """
    head = resolve_head(scenario, head)
    k = classes_per_task
    if k < 1:
        raise ConfigError(f"classes_per_task must be at least 1, got {k}")
    _check(data, name)
    present = set(np.unique(data.y_train).tolist())
    if class_order is not None:
        if shuffle_classes:
            raise ConfigError("give either class_order or shuffle_classes, not both")
        order = [int(c) for c in class_order]
        unknown = [c for c in order if c not in present]
        if unknown:
            raise ConfigError(
                f"class_order names classes {unknown} that have no training samples in "
                f"{data.name or 'the data'} (its classes: {sorted(present)})"
            )
        duplicates = sorted({c for c in order if order.count(c) > 1})
        if duplicates:
            raise ConfigError(f"class_order repeats the classes {duplicates}")
    else:
        order = sorted(present)
        if shuffle_classes:
            order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    if k > len(order):
        raise ConfigError(
            f"classes_per_task={k} but {data.name or 'the data'} has only {len(order)} classes"
        )
    if n_tasks is None:
        if len(order) % k:
            raise ConfigError(
                f"{len(order)} classes do not split into tasks of {k}; set n_tasks (at most "
                f"{len(order) // k}) to use the first {len(order) // k * k}, or change "
                "classes_per_task"
            )
        n_tasks = len(order) // k
    if not 1 <= n_tasks * k <= len(order):
        raise ConfigError(
            f"n_tasks={n_tasks} x classes_per_task={k} needs {n_tasks * k} classes, but "
            f"{len(order)} are available"
        )
    order = order[: n_tasks * k]

    x_train, y_train = as_inputs(data.x_train), np.asarray(data.y_train)
    x_test, y_test = as_inputs(data.x_test), np.asarray(data.y_test)
    tasks = []
    for t in range(n_tasks):
        classes = order[t * k : (t + 1) * k]
        if scenario == "domain":
            label_map = {c: j for j, c in enumerate(classes)}
        else:
            label_map = {c: t * k + j for j, c in enumerate(classes)}
        lut = np.full(_num_classes(data), -1, dtype=np.int64)
        lut[list(label_map)] = list(label_map.values())
        tr = np.flatnonzero(np.isin(y_train, classes))
        te = np.flatnonzero(np.isin(y_test, classes))
        tasks.append(
            Task(
                index=t,
                x_train=x_train[torch.as_tensor(tr)],
                y_train=as_targets(lut[y_train[tr]]),
                x_test=x_test[torch.as_tensor(te)],
                y_test=as_targets(lut[y_test[te]]),
                classes=sorted(label_map.values()),
                label_map=label_map,
                name="/".join(_class_name(data, c) for c in classes),
            )
        )
    if scenario == "domain":
        # Unit j answers "the j-th class of the task", e.g. "0/2/4/6/8" for even digits.
        names = [
            "/".join(_class_name(data, order[t * k + j]) for t in range(n_tasks)) for j in range(k)
        ]
        num_outputs = k
    else:
        names = [_class_name(data, c) for c in order]
        num_outputs = n_tasks * k
    return Stream(
        tasks=tasks,
        scenario=scenario,
        head=head,
        num_outputs=num_outputs,
        input_shape=tuple(data.x_train.shape[1:]),
        name=name or f"split-{data.name}",
        class_names=names,
        vocab_size=vocab_size,
    )


def _same_labels_per_task(
    data: ArrayDataset,
    inputs: list[tuple[Tensor, Tensor, str]],
    scenario: str,
    head: str,
    name: str,
) -> Stream:
    """Tasks that all hold the data set's K classes (input transformed per task).

    Domain-incremental: targets 0..K-1 in every task (one shared head). Task- and
    class-incremental: task t owns the units ``K*t .. K*t+K-1``, so each task is a new set of
    classes (multi-head for task-IL; growing or shared single head for class-IL).
    """
    K = _num_classes(data)
    y_train, y_test = as_targets(data.y_train), as_targets(data.y_test)
    tasks = []
    for t, (x_train, x_test, task_name) in enumerate(inputs):
        offset = 0 if scenario == "domain" else K * t
        tasks.append(
            Task(
                index=t,
                x_train=x_train,
                y_train=y_train + offset,
                x_test=x_test,
                y_test=y_test + offset,
                classes=list(range(offset, offset + K)),
                label_map={c: offset + c for c in range(K)},
                name=task_name,
            )
        )
    names = [_class_name(data, c) for c in range(K)]
    if scenario != "domain":
        names = [f"{task_name}:{n}" for _, _, task_name in inputs for n in names]
    return Stream(
        tasks=tasks,
        scenario=scenario,
        head=head,
        num_outputs=K if scenario == "domain" else K * len(inputs),
        input_shape=tuple(data.x_train.shape[1:]),
        name=name,
        class_names=names,
    )


def permutations(n_features: int, n_tasks: int, seed: int, first_unpermuted: bool) -> list[Tensor]:
    """The fixed pixel permutation of each task (identity first when ``first_unpermuted``)."""
    rng = np.random.default_rng(seed)
    perms = []
    for t in range(n_tasks):
        if t == 0 and first_unpermuted:
            perms.append(torch.arange(n_features))
        else:
            perms.append(torch.as_tensor(rng.permutation(n_features)))
    return perms


def permuted(
    data: ArrayDataset,
    n_tasks: int = 10,
    seed: int = 0,
    first_unpermuted: bool = True,
    scenario: str = "domain",
    head: str | None = None,
    name: str | None = None,
) -> Stream:
    """Permuted tasks (Goodfellow et al. 2013; Kirkpatrick et al. 2017): task t applies a fixed
    random permutation (seeded) to the pixels of every image, train and test alike."""
    head = resolve_head(scenario, head)
    if n_tasks < 1:
        raise ConfigError(f"n_tasks must be at least 1, got {n_tasks}")
    _check(data, name)
    x_train, x_test = as_inputs(data.x_train), as_inputs(data.x_test)
    shape = x_train.shape[1:]
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    inputs = []
    for t, perm in enumerate(permutations(flat_train.shape[1], n_tasks, seed, first_unpermuted)):
        inputs.append(
            (
                flat_train[:, perm].reshape(-1, *shape),
                flat_test[:, perm].reshape(-1, *shape),
                f"permutation {t}",
            )
        )
    return _same_labels_per_task(data, inputs, scenario, head, name or f"permuted-{data.name}")


def rotate(x: Tensor, angle: float, batch: int = 8192) -> Tensor:
    """Rotate (N, C, H, W) images counter-clockwise by ``angle`` degrees about their centre.

    Bilinear sampling, zeros outside the image. ``affine_grid`` maps each output pixel to the
    input point it samples, in coordinates whose y axis points down; that inverse map of a
    counter-clockwise turn by a is [[cos a, -sin a], [sin a, cos a]] in those coordinates.
    """
    if x.ndim != 4:
        raise ConfigError(f"rotation needs images shaped (N, C, H, W), got {tuple(x.shape)}")
    if angle % 360 == 0:
        return x.clone()
    a = math.radians(angle)
    h, w = x.shape[-2:]
    # Normalised coordinates stretch non-square images; rescale so the turn is rigid in pixels.
    theta = torch.tensor(
        [[math.cos(a), -math.sin(a) * h / w, 0.0], [math.sin(a) * w / h, math.cos(a), 0.0]],
        dtype=x.dtype,
    )
    out = torch.empty_like(x)
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        grid = F.affine_grid(theta.expand(len(chunk), 2, 3), list(chunk.shape), align_corners=False)
        out[start : start + batch] = F.grid_sample(chunk, grid, align_corners=False)
    return out


def rotated(
    data: ArrayDataset,
    angles: Sequence[float] = (0.0, 45.0, 90.0, 135.0, 180.0),
    scenario: str = "domain",
    head: str | None = None,
    name: str | None = None,
) -> Stream:
    """Rotated tasks: task t shows every image turned by ``angles[t]`` degrees (same label
    semantics as :func:`permuted`)."""
    head = resolve_head(scenario, head)
    if not angles:
        raise ConfigError("rotated needs at least one angle")
    _check(data, name)
    x_train, x_test = as_inputs(data.x_train), as_inputs(data.x_test)
    if x_train.ndim != 4:
        raise ConfigError(
            f"rotated needs images shaped (N, C, H, W); {data.name or 'the data'} has inputs "
            f"{tuple(x_train.shape[1:])}"
        )
    inputs = [
        (rotate(x_train, float(a)), rotate(x_test, float(a)), f"rotation {float(a):g}")
        for a in angles
    ]
    return _same_labels_per_task(data, inputs, scenario, head, name or f"rotated-{data.name}")


def domains(
    datasets: dict[str, ArrayDataset],
    scenario: str = "domain",
    head: str | None = None,
    name: str = "domains",
    vocab_size: int | None = None,
) -> Stream:
    """One task per named data set (a domain), in the order of the mapping.

    Domain-incremental: every domain must have the same classes; targets are the shared labels.
    Task- and class-incremental: task t's labels are offset by the classes of earlier domains.
    """
    head = resolve_head(scenario, head)
    if not datasets:
        raise ConfigError("domains needs at least one named data set")
    for domain, data in datasets.items():
        _check(data, f"{name}, domain {domain!r}")
    shapes = {n: tuple(d.x_train.shape[1:]) for n, d in datasets.items()}
    if len(set(shapes.values())) > 1:
        raise ConfigError(f"domains must share one input shape, got {shapes}")
    counts = {n: _num_classes(d) for n, d in datasets.items()}
    if scenario == "domain" and len(set(counts.values())) > 1:
        raise ConfigError(
            f"a domain-incremental stream needs the same classes in every domain, got {counts}"
        )
    tasks, names, offset = [], [], 0
    for t, (domain, data) in enumerate(datasets.items()):
        K = counts[domain]
        shift = 0 if scenario == "domain" else offset
        tasks.append(
            Task(
                index=t,
                x_train=as_inputs(data.x_train),
                y_train=as_targets(data.y_train) + shift,
                x_test=as_inputs(data.x_test),
                y_test=as_targets(data.y_test) + shift,
                classes=list(range(shift, shift + K)),
                label_map={c: shift + c for c in range(K)},
                name=domain,
            )
        )
        if scenario != "domain":
            names += [f"{domain}:{_class_name(data, c)}" for c in range(K)]
        offset += K
    first = next(iter(datasets.values()))
    if scenario == "domain":
        names = [_class_name(first, c) for c in range(counts[next(iter(datasets))])]
    return Stream(
        tasks=tasks,
        scenario=scenario,
        head=head,
        num_outputs=len(names),
        input_shape=shapes[next(iter(datasets))],
        name=name,
        class_names=names,
        vocab_size=vocab_size,
    )
