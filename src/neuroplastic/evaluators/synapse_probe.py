"""The ``synapse-probe`` evaluator: how well Artsy's synapses pick the right sub-network.

After every task it computes the gates of the synapses trained so far (``Artsy.gates``) on the
test sets of the tasks seen and records, per synapse k, recall = P(fired | sample of task k) and
precision = P(sample of task k | fired), for the raw thresholded gates and the effective gates
(after the none-fire / several-fire fallbacks), the mean number of synapses fired per sample,
the thresholds and, with the method's ``record_fired``, the per-sample bitmask of the fired
effective gates. The paper reports none of these (papers.md section 1); they are ours, to tell
whether the synapses select the sub-network of a sample's task. Added to every Artsy run; it
only evaluates (no random numbers, no change to the method).
"""

from __future__ import annotations

from typing import Any

import torch

from ..registry import EVALUATORS
from . import Evaluator, NoSettings


@EVALUATORS.register("synapse-probe", NoSettings)
class SynapseProbe(Evaluator):
    """Synapse precision and recall of Artsy on the test sets of the tasks seen (per task)."""

    name = "synapse-probe"

    def __init__(self, params: Any = None):
        super().__init__(params)
        #: pre-trained features E_0 of each task's test set: the backbone is frozen, so they
        #: are computed once per task
        self.features: dict[int, torch.Tensor] = {}

    def applies_to(self, method) -> bool:
        return hasattr(method, "gates") and hasattr(method, "pretrained_features")

    @torch.no_grad()
    def after_task(self, method, stream, task_index: int) -> dict[str, Any]:
        raws, effs = [], []
        for task in stream.tasks[: task_index + 1]:
            if task.index not in self.features:
                self.features[task.index] = method.pretrained_features(
                    task.x_test.to(method.device))
            _, raw, effective = method.gates(self.features[task.index])
            raws.append(raw)
            effs.append(effective)
        entry: dict[str, Any] = {"after_task": task_index}
        for name, gates in (("raw", raws), ("effective", effs)):
            precision, recall = [], []
            for k in range(task_index + 1):
                fired_all = sum(int(g[:, k].sum()) for g in gates)
                fired_own = int(gates[k][:, k].sum())
                recall.append(fired_own / max(1, len(gates[k])))
                precision.append(fired_own / fired_all if fired_all else float("nan"))
            entry[f"precision_{name}"] = precision
            entry[f"recall_{name}"] = recall
            entry[f"mean_fired_{name}"] = float(torch.cat(gates).float().sum(1).mean())
        entry["thresholds"] = [float(s.threshold) for s in method.synapses[: task_index + 1]]
        if method.p.record_fired:
            entry["fired_bitmask_per_task"] = {
                str(k): (e.long().cpu() * 2 ** torch.arange(e.shape[1])).sum(1).tolist()
                for k, e in enumerate(effs)
            }
        return entry
