"""Stochastic engrams gating a metaplastic BNN: a RECONSTRUCTION of engramBNN.

Aguilar, Herbozo Contreras & Kavehei, "Stochastic Engrams for Efficient Continual Learning with
Binarized Neural Networks" (arXiv 2503.21436) has no public code and only its abstract could be
read: a metaplastic BNN (Laborieux's Adam_meta) gated by "stochastically activated engrams". The
mechanism below is our design from that sentence (project notes, papers.md section 4, marked
[INFERRED]); every choice is a named option:

* **Engrams.** Task ``t`` gets, for every hidden layer ``l``, a fixed random mask
  ``E[t, l] ~ Bernoulli(p)`` over that layer's units, drawn from a generator seeded with
  ``(engram_seed, t, l)`` only, so the same seed and task always give the same engram.
* **Gating.** While task ``t`` trains, hidden units outside ``E[t]`` are silenced after their
  sign activation: they do not fire, and neither their incoming nor their outgoing weights get a
  gradient, so each task writes mainly into its own sub-network; where engrams overlap,
  Adam_meta's consolidation protects what earlier tasks wrote.
* **Output units** (``readout``): ``task_classes`` (default) makes engram ``t`` train and answer
  only on task ``t``'s output units: in training the other logits are masked (they get no
  gradient, so a task never pushes the old classes down), and at test the logits that engram
  ``t`` produces for other tasks' classes (read through weights it never trained) are ignored.
  In a domain-incremental stream every task has the same units, so this changes nothing there.
  ``all`` uses the scenario's head policy in training and at test, like every other method.
* **Engram at test** (``select``), task-free: the default ``max_drive`` runs every seen
  task's engram and keeps, per sample, the one that drives its readout units hardest: the
  largest binary dot product of the output layer *before* its BatchNorm, divided by the number
  of active last-layer units (a recall-strength score). ``max_confidence`` keeps the engram
  whose softmax is most confident and ``min_entropy`` the one with the lowest entropy; with
  BatchNorm on batch statistics (no running statistics, as the official code) every engram's
  output is re-normalised per batch, and on split MNIST these softmax scores pick the wrong
  engram more often than chance (see docs/bnn.md, engram ablation), which is why ``max_drive``
  is the default. ``union`` gates with the union of the seen engrams; ``all`` does not gate at
  test. When the scenario gives the task id (task-incremental), that task's engram is used.
  The accuracy with the true task's engram (an oracle that uses the task id) is recorded
  separately in ``method_extra['task_identity']`` for domain/class streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..models.binary import BinaryHead
from ..plasticity.synapse_state import UNIT_EDGES, SynapseState
from ..registry import METHODS
from .base import Method

SELECTIONS = ("max_confidence", "min_entropy", "max_drive", "union", "all")


@dataclass
class EngramParams:
    """Every field is a design choice of this reconstruction (the paper's values are NOT FOUND).

    ``p``: probability that a hidden unit belongs to a task's engram; the project notes suggest
    0.1-0.3; 0.25 leaves 4 tasks' worth of disjoint capacity on average and an expected overlap
    of p^2 = 6 % of units between two engrams.
    ``engram_seed``: None uses the run's seed (``torch.initial_seed()`` when the method is built).
    ``identity_eval_batch_size``: batch of the recorded task-identity (oracle engram) accuracy;
    1000 as the official pMNIST test batch (BatchNorm uses test-batch statistics).
    """

    p: float = 0.25
    select: Literal["max_drive", "max_confidence", "min_entropy", "union", "all"] = "max_drive"
    readout: Literal["task_classes", "all"] = "task_classes"
    engram_seed: int | None = None
    identity_eval_batch_size: int = 1000

    def validate(self) -> None:
        if not 0 < self.p <= 1:
            raise ConfigError(f"method.p must be in (0, 1], got {self.p}")
        if self.identity_eval_batch_size < 2:
            raise ConfigError("method.identity_eval_batch_size must be at least 2 (BatchNorm)")


def engram_mask(seed: int, task: int, layer: int, width: int, p: float) -> Tensor:
    """Bernoulli(p) 0/1 mask over ``width`` units, a pure function of (seed, task, layer).

    At least one unit is kept (a fully silent layer would carry nothing)."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + task * 1_009 + layer)
    mask = (torch.rand(width, generator=g) < p).float()
    if mask.sum() == 0:
        mask[torch.randint(width, (1,), generator=g)] = 1.0
    return mask


@METHODS.register(
    "engram-bnn", summary="stochastic engrams gating a metaplastic BNN (reconstruction)"
)
class EngramBNN(Method):
    """Per-task Bernoulli engrams over hidden units of a BNN trained with Adam_meta."""

    Params = EngramParams
    default_model = {"name": "bnn"}
    default_optimizer = {"name": "adam-meta", "reset": "per_task"}

    def __init__(self, model, info, params, optimizer, device="cpu"):
        super().__init__(model, info, params, optimizer, device)
        body = self.model.body
        if not hasattr(body, "gates") or not hasattr(body, "layers"):
            raise ConfigError("method engram-bnn needs a gated binary model (model: bnn)")
        self.seed = torch.initial_seed() if params.engram_seed is None else params.engram_seed
        self.widths = [layer.out_features for layer in body.layers]
        self.engrams: list[list[Tensor]] = [
            [
                engram_mask(self.seed, t, layer, width, params.p).to(self.device)
                for layer, width in enumerate(self.widths)
            ]
            for t in range(info.num_tasks)
        ]
        self.readout_masks = []
        for classes in info.task_classes:
            keep = torch.zeros(info.num_outputs, dtype=torch.bool)
            keep[list(classes)] = True
            self.readout_masks.append(keep.to(self.device))
        if not info.task_id_at_test:
            # the engine measures accuracy through each task's own engram as well
            self.task_identity_note = (
                "each task tested through its OWN engram, chosen with the TASK ID (oracle); "
                "the main accuracy matrix is task-free (select option)")

    # --- gating ------------------------------------------------------------------------
    def _gate(self, masks: list[Tensor] | None) -> None:
        self.model.body.gates = list(masks) if masks is not None else [None] * len(self.widths)

    def _forward(self, x: Tensor, task_id: int | None, masks: list[Tensor] | None) -> Tensor:
        return self._outputs(x, task_id, masks)[0]

    def _outputs(
        self, x: Tensor, task_id: int | None, masks: list[Tensor] | None
    ) -> tuple[Tensor, Tensor]:
        """(logits, drive): drive is the output layer's binary dot product before its
        BatchNorm, divided by the number of active last-layer units (the logits when the head
        is not a binary head)."""
        self._gate(masks)
        try:
            features = self.model.features(x)
        finally:
            self._gate(None)
        head = self.model.head
        if isinstance(head, BinaryHead):
            z = head.fc(features)
            logits = head.bn(z)
            active = masks[-1].sum() if masks is not None else features.shape[1]
            drive = z / active
        else:
            logits = drive = self.model.classify(features, task_id)
        return self.mask_logits(logits, task_id), self.mask_logits(drive, task_id)

    def _engram_outputs(
        self, x: Tensor, engram: int, task_id: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """Logits and drive through task ``engram``'s engram, restricted to its own output units
        when ``readout`` is ``task_classes``."""
        logits, drive = self._outputs(x, task_id, self.engrams[engram])
        if self.params.readout == "task_classes":
            off = ~self.readout_masks[engram]
            logits = logits.masked_fill(off, float("-inf"))
            drive = drive.masked_fill(off, float("-inf"))
        return logits, drive

    def _engram_logits(self, x: Tensor, engram: int, task_id: int | None = None) -> Tensor:
        return self._engram_outputs(x, engram, task_id)[0]

    # --- training ----------------------------------------------------------------------
    def loss(self, x: Tensor, y: Tensor, task_id: int) -> Tensor:
        return F.cross_entropy(self._engram_logits(x, task_id, task_id), y)

    # --- prediction --------------------------------------------------------------------
    def predict(self, x: Tensor, task_id: int | None) -> Tensor:
        seen = max(1, self.seen_tasks)
        if task_id is not None:  # task-incremental: the task's own engram
            return self._engram_logits(x, task_id, task_id)
        sel = self.params.select
        if sel == "all":
            return self._forward(x, None, None)
        if sel == "union":
            union = [
                torch.stack([self.engrams[t][layer] for t in range(seen)]).amax(0)
                for layer in range(len(self.widths))
            ]
            return self._forward(x, None, union)
        pairs = [self._engram_outputs(x, t) for t in range(seen)]
        outs = torch.stack([p[0] for p in pairs])  # (engrams, batch, outputs)
        probs = outs.softmax(-1)  # masked units have probability 0
        if sel == "max_confidence":
            score = probs.amax(-1)
        elif sel == "min_entropy":  # the most certain engram has the highest negative entropy
            score = -torch.special.entr(probs).sum(-1)
        else:  # max_drive: the engram whose output layer is driven hardest before BatchNorm
            score = torch.stack([p[1] for p in pairs]).amax(-1)
        best = score.argmax(0)  # per sample
        return outs[best, torch.arange(outs.shape[1], device=outs.device)]

    def predict_with_task_identity(self, x: Tensor, task_id: int) -> Tensor:
        """Logits through task ``task_id``'s own engram (the oracle choice)."""
        return self._engram_logits(x, task_id)

    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds the engrams: per hidden layer, the unit masks of the tasks begun so far and their
        pairwise overlaps (Jaccard: shared units / units of either), and per weight matrix the
        synapses the last task's engram lets train (its units' incoming weights from units of
        its engram one layer down, or from every input of the first layer)."""
        states = super().synapse_state()
        seen = max(1, self.seen_tasks)
        units, overlaps = {}, {}
        for layer in range(len(self.widths)):
            masks = torch.stack([self.engrams[t][layer] for t in range(seen)])
            shared = masks @ masks.T
            either = masks.sum(1)[:, None] + masks.sum(1)[None, :] - shared
            units[f"layer{layer}"] = masks
            overlaps[f"layer{layer}"] = shared / either.clamp(min=1)
        names = {id(p): n for n, p in self.model.named_parameters()}
        engram = self.engrams[seen - 1]
        synapses = {}
        for layer, module in enumerate(self.model.body.layers):
            rows = engram[layer]
            cols = engram[layer - 1] if layer > 0 else rows.new_ones(module.in_features)
            weight = module.weight
            if id(weight) in names and weight.shape == (len(rows), len(cols)):
                synapses[names[id(weight)]] = torch.outer(rows, cols)
        states["engram_units"] = SynapseState(
            units, "engram masks over hidden units, one row per task begun (1 = in the engram)",
            "none", per_synapse=False)
        states["engram_overlap"] = SynapseState(
            overlaps, "pairwise engram overlap per hidden layer (Jaccard, tasks x tasks)", "none",
            per_synapse=False)
        states["engram_synapses"] = SynapseState(
            synapses, "weights the last task's engram trains (1) or leaves alone (0)", "none",
            threshold=0.5, edges=UNIT_EDGES)
        return states

    def record_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "engram_seed": self.seed,
            "engram_sizes": [[int(m.sum()) for m in task] for task in self.engrams],
        }
        return extra
