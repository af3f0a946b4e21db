"""The ``synapse-atlas`` evaluator: what a method does to its synapses, task by task.

Before each task it copies the synapses the method names (``Method.synapse_weights``: the
model's weight tensors; DGM's generator) and marks, per state that says which direction means
consolidated, the ``top_fraction`` most consolidated synapses of each layer. After the task it
reads the method's own plasticity state (``Method.synapse_state``, see
``plasticity/synapse_state.py``) and stores, per layer:

* ``weights``: the mean absolute weight change during the task, and for binarized layers the
  fraction of binary weights (``sign(W_h)``, sign(0) = +1) that flipped;
* ``states``: a histogram of every per-synapse state tensor over fixed, recorded bin edges (with
  the counts below the first and above the last edge), its mean, minimum and maximum, the
  fraction past the method's consolidation threshold where it has one (above it for states
  where high means consolidated, below it otherwise), and, for states that grow only where the
  rule acts (CLASSP's accumulator), the fraction that grew during the task; small states that
  are not per synapse (free capacity, engram overlaps, a buffer's classes, Artsy's synapse
  decisions, which the evaluator computes with the method's own gates on the stream's test sets
  because the method keeps no test data) are stored whole;
* ``overlap``: for every consolidation state that existed before the task, the fraction of the
  ``top_fraction`` most changed weights of the layer (by ``|W_after - W_before|``) that were
  among its ``top_fraction`` most consolidated synapses before the task (after task k-1): where
  task k was written against what protected task k-1. Chance is ``top_fraction``. Beside it,
  ``protected_change_ratio``: the mean ``|W_after - W_before|`` of those most consolidated
  synapses over that of the whole layer (1: no protection, 0: untouched), and for binarized
  layers ``protected_flip_fraction``: the fraction of them whose binary weight flipped. A state
  that is constant over a layer before the task (``f_meta`` at m = 0) ranks nothing: no entry.

With ``full_tensors: true`` every state tensor, weight and weight change is also written in
full, one compressed ``atlas_task_NN.npz`` per task in the run's evaluation folder beside its
record (``<out>/evaluations/<run name>/``).

It only reads: no gradients (``torch.no_grad``), no random numbers, no change to the method;
the state it keeps between ``begin_task`` and ``after_task`` is rebuilt by ``begin_task``, which
the engine also calls for the first task after a resume, so resumed runs record the same.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError
from ..plasticity.synapse_state import SynapseState
from ..registry import EVALUATORS
from . import Evaluator

log = logging.getLogger(__name__)

#: non-per-synapse states with at most this many entries are stored whole in the record
SMALL_STATE = 256


@dataclass
class SynapseAtlasSettings:
    #: also write every state tensor, weight and weight change in full: one compressed
    #: ``atlas_task_NN.npz`` per task beside the record (``<out>/evaluations/<run name>/``)
    full_tensors: bool = False
    #: fraction of each layer's synapses counted as "most changed" and "most consolidated" in
    #: the overlap measure (0.1: the top decile; the overlap expected by chance equals it)
    top_fraction: float = 0.1

    def validate(self) -> None:
        if not 0 < self.top_fraction <= 1:
            raise ConfigError(
                f"evaluator synapse-atlas: top_fraction must be in (0, 1], got {self.top_fraction}")


def _num(x: float) -> float | None:
    """A JSON-safe number (None for NaN and infinities)."""
    x = float(x)
    return x if math.isfinite(x) else None


def histogram(values: Tensor, edges: tuple[float, ...]) -> dict[str, Any]:
    """Counts of ``values`` in the bins ``[e_i, e_i+1)`` of the fixed ``edges`` (the last bin
    closed), with the counts below the first edge, above the last, and NaN (one pass of
    ``bucketize``: index 0 is below, the last index at or above the last edge, NaN included)."""
    x = values.detach().reshape(-1)
    e = torch.tensor(edges, dtype=x.dtype if x.is_floating_point() else torch.float32,
                     device=x.device)
    x = x.to(e.dtype)
    counts = torch.bincount(torch.bucketize(x, e, right=True), minlength=len(edges) + 1)
    nan = int(torch.isnan(x).sum())
    at_last = int((x == e[-1]).sum())
    inner = counts[1:-1].tolist()
    inner[-1] += at_last  # the last bin is closed
    return {"below": int(counts[0]), "counts": inner,
            "above": int(counts[-1]) - at_last - nan, "nan": nan}


def top_mask(values: Tensor, fraction: float, direction: str) -> Tensor:
    """Boolean mask of the ``fraction`` largest (``high``) or smallest (``low``) entries."""
    flat = values.detach().reshape(-1).float()
    k = max(1, round(fraction * flat.numel()))
    chosen = torch.topk(flat if direction == "high" else -flat, k).indices
    mask = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    mask[chosen] = True
    return mask.view(values.shape)


def _leading_block(now: Tensor, before: Tensor) -> Tensor | None:
    """``now`` cut to ``before``'s shape when it grew from it by appending (DGM's growth keeps
    the old block first); None when the shapes are unrelated."""
    if now.dim() != before.dim():
        return None
    if any(b > n for b, n in zip(before.shape, now.shape, strict=True)):
        return None
    return now[tuple(slice(0, n) for n in before.shape)]


def _binary_weight_names(method) -> set[str]:
    from ..models.binary import binary_layers

    layers = {id(getattr(m, "weight", None)) for m in binary_layers(method.model)}
    return {n for n, p in method.model.named_parameters() if id(p) in layers}


@EVALUATORS.register("synapse-atlas", SynapseAtlasSettings)
class SynapseAtlas(Evaluator):
    """Per-task, per-layer summaries of every method's synapse state and weight change (see the
    module docstring); ``full_tensors: true`` also writes the tensors in full."""

    name = "synapse-atlas"
    Params = SynapseAtlasSettings

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._start: dict[str, Tensor] = {}
        self._top_before: dict[str, dict[str, Tensor]] = {}
        self._growth_before: dict[str, dict[str, tuple[Tensor, Tensor]]] = {}
        self._warned = False
        #: Artsy's pre-trained features of each task's test set (frozen backbone: once per task)
        self._features: dict[int, Tensor] = {}

    @torch.no_grad()
    def begin_task(self, method, task) -> None:
        self._start = {n: w.detach().clone() for n, w in method.synapse_weights().items()}
        self._top_before, self._growth_before = {}, {}
        for name, state in method.synapse_state().items():
            if not state.per_synapse:
                continue
            if state.consolidated != "none":
                # a constant state (f_meta at m = 0, an empty accumulator) ranks nothing: None
                self._top_before[name] = {
                    layer: (top_mask(t, self.params.top_fraction, state.consolidated)
                            if t.numel() and bool(t.max() > t.min()) else None)
                    for layer, t in state.tensors.items()}
            if state.report_growth:
                self._growth_before[name] = {
                    layer: (t, t.detach().clone()) for layer, t in state.tensors.items()}

    @torch.no_grad()
    def after_task(self, method, stream, task_index: int) -> dict[str, Any]:
        fraction = self.params.top_fraction
        entry: dict[str, Any] = {"task": task_index, "top_fraction": fraction,
                                 "weights": {}, "states": {}, "overlap": {}}
        arrays: dict[str, Tensor] = {}
        binary = _binary_weight_names(method)
        changes: dict[str, Tensor] = {}
        nows: dict[str, Tensor] = {}
        for name, weight in method.synapse_weights().items():
            before = self._start.get(name)
            now = None if before is None else _leading_block(weight.detach(), before)
            if now is None:
                continue
            change = now - before
            changes[name] = change
            nows[name] = now
            info: dict[str, Any] = {"numel": change.numel(),
                                    "mean_abs_change": _num(change.abs().mean())}
            if now.shape != weight.shape:
                info["grown_to"] = list(weight.shape)
            if name in binary:
                flips = (now >= 0) != (before >= 0)
                info["sign_flip_fraction"] = _num(flips.float().mean())
            entry["weights"][name] = info
            arrays[f"weight/{name}"] = weight.detach()
            arrays[f"weight_change/{name}"] = change

        states = {**method.synapse_state(), **self._decisions(method, stream, task_index)}
        for sname, state in states.items():
            block: dict[str, Any] = {
                "meaning": state.meaning, "consolidated": state.consolidated,
                "threshold": state.threshold, "per_synapse": state.per_synapse}
            if state.per_synapse:
                block["edges"] = list(state.edges)
            grown = self._growth_before.get(sname, {})
            layers = {}
            for layer, tensor in state.tensors.items():
                arrays[f"{sname}/{layer}"] = tensor.detach()
                layers[layer] = (self._summary(tensor, state, grown.get(layer))
                                 if state.per_synapse else self._small(tensor.detach()))
            block["layers"] = layers
            entry["states"][sname] = block

        most_changed: dict[str, Tensor] = {}
        for sname, masks in self._top_before.items():
            overlaps, ratios, flips = {}, {}, {}
            for layer, protected in masks.items():
                change = changes.get(layer)
                if change is None or protected is None or change.shape != protected.shape:
                    continue
                size = change.abs()
                if layer not in most_changed:  # one ranking per layer, shared by the states
                    most_changed[layer] = top_mask(size, fraction, "high")
                changed = most_changed[layer]
                overlaps[layer] = _num((changed & protected).sum() / changed.sum())
                mean = size.mean()
                ratios[layer] = _num(size[protected].mean() / mean) if mean > 0 else None
                if layer in binary:
                    flipped = (nows[layer] >= 0) != (self._start[layer] >= 0)
                    flips[layer] = _num(flipped[protected].float().mean())
            if overlaps:
                entry["overlap"][sname] = overlaps
                entry.setdefault("protected_change_ratio", {})[sname] = ratios
            if flips:
                entry.setdefault("protected_flip_fraction", {})[sname] = flips

        if self.params.full_tensors:
            entry["file"] = self._write(arrays, task_index)
        return entry

    def _decisions(self, method, stream, task_index: int) -> dict[str, SynapseState]:
        """States that need the stream's test data, which methods do not keep: Artsy's synapse
        decisions, the fraction of each seen task's test samples (rows) for which each synapse
        (columns) is functional, from the method's own effective gates (``Artsy.gates``)."""
        if not (hasattr(method, "gates") and hasattr(method, "pretrained_features")):
            return {}
        rows = []
        for task in stream.tasks[: task_index + 1]:
            if task.index not in self._features:
                self._features[task.index] = method.pretrained_features(
                    task.x_test.to(method.device))
            rows.append(method.gates(self._features[task.index])[2].float().mean(0))
        if not rows or rows[0].numel() == 0:
            return {}
        return {"synapse_functional": SynapseState(
            {"synapses": torch.stack(rows)}, "Artsy: fraction of task k's test samples (row) for "
            "which synapse t (column) is functional rather than silent", "none",
            per_synapse=False)}

    def _summary(self, tensor: Tensor, state, grown: tuple[Tensor, Tensor] | None
                 ) -> dict[str, Any]:  # fmt: skip
        t = tensor.detach()
        x = t.float()
        out: dict[str, Any] = {
            "numel": x.numel(), "mean": _num(x.mean()), "min": _num(x.min()),
            "max": _num(x.max()), "hist": histogram(x, state.edges)}
        if state.threshold is not None:
            past = x < state.threshold if state.consolidated == "low" else x > state.threshold
            out["past_threshold"] = _num(past.float().mean())
        if grown is not None:
            reference, before = grown
            # the same tensor as before the task: compare; a new one (an optimizer built
            # afresh at the task's start) started from zero
            base = before if reference is tensor else torch.zeros_like(before)
            if base.shape == t.shape:
                out["grew_fraction"] = _num((t > base).float().mean())
        return out

    @staticmethod
    def _small(t: Tensor) -> dict[str, Any]:
        x = t.float()
        out: dict[str, Any] = {"shape": list(x.shape),
                               "mean": _num(x.mean()) if x.numel() else None}
        if x.numel() <= SMALL_STATE:
            out["values"] = [_num(v) for v in x.reshape(-1).tolist()]
        return out

    def _write(self, arrays: dict[str, Tensor], task_index: int) -> str | None:
        if self.files is None:
            if not self._warned:
                log.warning("synapse-atlas: full_tensors needs a run that writes a record "
                            "(neuroplastic run / experiment.run_resolved); no .npz written")
                self._warned = True
            return None
        import numpy as np

        self.files.mkdir(parents=True, exist_ok=True)
        path = self.files / f"atlas_task_{task_index:02d}.npz"
        np.savez_compressed(path, **{k: v.cpu().numpy() for k, v in arrays.items()})
        return path.name
