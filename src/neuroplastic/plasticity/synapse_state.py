"""The one vocabulary of the synapse atlas: a method's (or an update rule's) plasticity state.

A :class:`SynapseState` is one named quantity a method keeps about its synapses (EWC's Fisher,
CLASSP's accumulator, Adam_meta's ``f_meta``, a DGM mask, ...), as tensors keyed by the name of
the parameter they describe (``body.layers.0.weight``) and shaped like it, with a one-line
meaning, the direction in which a synapse counts as *consolidated* (protected from change) and,
where the method has one, the threshold past which it does. Quantities that are not per synapse
(free capacity per layer, an engram overlap matrix, a replay buffer's composition per class) use
the same form with ``per_synapse=False``: the atlas stores small ones whole instead of as
histograms.

Every tensor handed out is the method's own (or computed with the same operations as the update
rule applies it): the atlas reads, never recomputes with other formulas. Methods report their
states through ``Method.synapse_state()`` (``methods/base.py``), update rules with per-weight
state through a ``synapse_state(names)`` method of the optimizer (``names``: ``id(parameter)``
-> parameter name; parameters without a name are not reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

#: fixed histogram edges of quantities in [0, 1] (masks, f_meta, flexibility, fractions)
UNIT_EDGES: tuple[float, ...] = tuple(i / 20 for i in range(21))
#: fixed histogram edges of non-negative quantities spanning decades (importances,
#: accumulators, step multipliers): 10^-12 .. 10^6, one bin per decade; values <= 0 and below
#: the first edge are counted as ``below``, values past the last as ``above``
LOG_EDGES: tuple[float, ...] = tuple(10.0**k for k in range(-12, 7))


@dataclass
class SynapseState:
    """One plasticity quantity of a method, per parameter tensor."""

    #: parameter name -> tensor shaped like that parameter (``per_synapse``), else any small
    #: tensor (per class, per task, per layer)
    tensors: dict[str, Tensor]
    #: what the numbers are, in one line
    meaning: str
    #: which values mean "consolidated" (protected): high, low, or none (not a protection)
    consolidated: Literal["high", "low", "none"] = "high"
    #: the method's own consolidation threshold on this quantity, where it has one
    threshold: float | None = None
    #: histogram edges (fixed, recorded with every summary)
    edges: tuple[float, ...] = field(default=LOG_EDGES)
    #: False: not one value per synapse (stored whole when small, never histogrammed)
    per_synapse: bool = True
    #: True: the atlas also reports the fraction of synapses whose value grew during the task
    #: (CLASSP's accumulator grows exactly where its threshold let an update through)
    report_growth: bool = False


def named_views(names: list[str], parts: list[Tensor], min_dim: int = 2) -> dict[str, Tensor]:
    """``{name: part}`` for the parts of at least ``min_dim`` dimensions (weights, not biases
    or BatchNorm vectors: the atlas's synapses)."""
    return {n: t for n, t in zip(names, parts, strict=True) if t.dim() >= min_dim}
