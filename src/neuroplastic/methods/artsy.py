"""Artsy: a frozen pre-trained network, per-task sub-networks, silent or functional synapses.

Ran, Yao, Wang, Xu, Liu, "Brain-inspired continual pre-trained learner via silent synaptic
consolidation", arXiv 2410.05899 (no code published; the method is reconstructed from the
abstract and the public ICLR 2025 reviews, see docs/artsy.md), built on EASE (Zhou et al., CVPR
2024, code ``sun-hailong/CVPR24-Ease``) whose exact rules are used wherever Artsy says nothing.

Per task t:

1. **Sub-network** ``E^t``: bottleneck adapters in the last blocks of the frozen backbone
   (:mod:`..models.adapters`, up-projection zero-initialised), trained on task t only with a
   cosine classifier over task t's classes (EASE ``proxy_fc``); backbone and earlier
   sub-networks frozen (``requires_grad`` off, eval mode).
2. **Prototypes**: class means of task t's training data in every feature space (pre-trained
   space 0 and sub-network spaces 1..t); old classes' prototypes in the new spaces are completed
   by EASE's similarity-weighted synthesis (``solve_sim_reset``), recomputed every task.
3. **Artificial synapse** ``c_t``: an MLP on the pre-trained feature ``E_0(x)`` predicting
   "x belongs to task t", trained for ``synapse_epochs`` (paper: 2). Its sigmoid output through
   the threshold ``thr_t`` gives ``m_t``: 1 functional (sub-network connected), 0 silent.

Inference without task id (Eq. 5 as quoted by the reviewers): the feature
``E_0(x) + sum_t m_t E^t(x)`` (``combine: sum``) into a cosine class-mean prototype classifier
whose prototypes are ``P_0[c] + sum_t m_t P_t[c]`` (class means are linear, so this is the class
mean of the gated feature); or EASE's own reweighted per-space cosine classifier over the
connected spaces (``combine: concat``). ``gate: always`` connects every sub-network (EASE).

Synapse precision and recall are measured after every task by the ``synapse-probe`` evaluator
(``evaluators/synapse_probe.py``), which computes the gates on the stream's test sets: the method
keeps no test data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..models.adapters import adapter_set
from ..plasticity.synapse_state import SynapseState
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method


@dataclass
class ArtsyParams:
    """Hyper-parameters of Artsy (sources in the comments; see docs/artsy.md)."""

    #: synapse: connect the sub-networks whose synapses fire (Artsy); always: every sub-network
    #: (EASE, the baseline Artsy modifies)
    gate: Literal["synapse", "always"] = "synapse"
    #: sum: E_0(x) + sum m_t E^t(x) into one cosine prototype classifier (Artsy Eq. 5 as quoted
    #: by reviewer 2); concat: EASE's per-space cosine logits, own space weight 1, others
    #: alpha / (tasks seen - 1) (``forward_reweight``), pre-trained space weight ptm_weight
    combine: Literal["sum", "concat"] = "sum"
    bottleneck: int = 64  # EASE ffn_num
    adapter_scale: float = 0.1  # EASE ffn_adapter_scalar
    adapter_dropout: float = 0.1  # EASE Adapter(dropout=0.1)
    alpha: float = 0.1  # EASE alpha (combine: concat)
    ptm_weight: float = 1.0  # weight of the pre-trained space in concat (EASE beta; Artsy uses E_0)
    #: how a synapse gets negatives: replay_features = stored pre-trained features of past tasks
    #: (budget replay_per_class); one_class = none stored, negatives are the task's own features
    #: with every dimension shuffled independently (the product of its marginals)
    negatives: Literal["replay_features", "one_class"] = "replay_features"
    replay_per_class: int = 20  # stored 1280-d pre-trained features per class (replay_features)
    #: replay_features: retrain every seen synapse at each task end, one task vs the rest
    #: (reviewer 3: the MLPs "need to be trained with old and new data"); false: train only c_t
    retrain_synapses: bool = True
    synapse_hidden: list[int] = field(default_factory=lambda: [128])  # not reported: our choice
    synapse_epochs: int = 2  # Artsy (reviewer 2, Q6): synapses are trained for 2 epochs
    synapse_lr: float = 1e-3  # Adam; not reported
    synapse_batch_size: int = 32  # not reported
    #: fixed: thr_t = threshold_value on the sigmoid; calibrated: per synapse, the threshold that
    #: maximises balanced accuracy on calibration_fraction of its training data held out
    threshold: Literal["fixed", "calibrated"] = "fixed"
    threshold_value: float = 0.5
    calibration_fraction: float = 0.2
    #: when no synapse fires: argmax = connect the synapse with the highest output;
    #: pretrained = use E_0 alone
    none_fire: Literal["argmax", "pretrained"] = "argmax"
    #: when several fire: all = connect all of them (Eq. 5 sums every functional synapse);
    #: argmax = only the one with the highest output
    several_fire: Literal["all", "argmax"] = "all"
    #: the sub-network's learning rate over its epochs: constant (the default, as the committed
    #: records ran) or cosine, EASE's ``scheduler: cosine`` (exps/ease_cifar.json):
    #: CosineAnnealingLR with T_max = the epochs and eta_min = min_lr = 0, stepped after every
    #: epoch, so epoch e trains at lr (1 + cos(pi e / lr_epochs)) / 2
    lr_schedule: Literal["constant", "cosine"] = "constant"
    lr_epochs: int | None = None  # cosine: T_max, which must equal train.epochs (EASE: 20)
    feature_batch_size: int = 500  # batch of the frozen passes for prototypes and gates
    record_fired: bool = True  # store the per-sample fired bitmask of the final evaluation

    def validate(self) -> None:
        if self.bottleneck < 1:
            raise ConfigError("method.bottleneck must be at least 1")
        if self.replay_per_class < 1 and self.negatives == "replay_features":
            raise ConfigError("negatives: replay_features needs replay_per_class >= 1")
        if self.synapse_epochs < 1 or self.synapse_batch_size < 1:
            raise ConfigError("synapse_epochs and synapse_batch_size must be at least 1")
        if not 0.0 < self.threshold_value < 1.0:
            raise ConfigError(f"threshold_value must be in (0, 1), got {self.threshold_value}")
        if not 0.0 < self.calibration_fraction < 1.0:
            raise ConfigError("calibration_fraction must be in (0, 1)")
        if any(h < 1 for h in self.synapse_hidden):
            raise ConfigError("synapse_hidden sizes must be positive")
        if self.lr_schedule == "cosine" and (self.lr_epochs is None or self.lr_epochs < 1):
            raise ConfigError("lr_schedule: cosine needs lr_epochs, EASE's T_max: the epochs per "
                              "task (train.epochs), e.g. method.lr_epochs=20")

    def check_train(self, train) -> None:
        """The cosine runs over the epochs the engine trains each task: EASE's T_max is them."""
        if self.lr_schedule != "cosine":
            return
        if train.iterations is not None or train.task_epochs is not None:
            raise ConfigError("lr_schedule: cosine follows epochs: leave train.iterations and "
                              "train.task_epochs out")
        if self.lr_epochs != train.epochs:
            raise ConfigError(f"method.lr_epochs={self.lr_epochs} but train.epochs="
                              f"{train.epochs}: EASE anneals over exactly the epochs it trains; "
                              f"set method.lr_epochs={train.epochs}")


class CosineHead(nn.Module):
    """EASE's CosineLinear: ``sigma * cos(x, w)``, sigma learnable from 1."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.sigma = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        return self.sigma * F.linear(F.normalize(x, dim=1), F.normalize(self.weight, dim=1))


class Synapse(nn.Module):
    """``c_t``: standardised pre-trained feature -> MLP -> logit of "belongs to task t"."""

    def __init__(self, dim: int, hidden: list[int]):
        super().__init__()
        layers: list[nn.Module] = []
        width = dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("threshold", torch.tensor(0.5))

    def forward(self, f: Tensor) -> Tensor:
        """Sigmoid output in [0, 1]."""
        return torch.sigmoid(self.mlp((f - self.mean) / self.std).squeeze(1))

    def gate(self, f: Tensor) -> Tensor:
        """m_t: True where the synapse is functional (output at or above its threshold)."""
        return self(f) >= self.threshold


def complete_prototypes(
    protos: Tensor, real: Tensor, task_classes: list[list[int]], space_of_task: list[int]
) -> Tensor:
    """EASE ``solve_sim_reset``: synthesize old classes' prototypes in later sub-network spaces.

    ``protos`` (S, C, D) holds class means per space, ``real`` (S, C) marks the measured ones;
    ``space_of_task[i]`` is the index of task i's own sub-network space. For old task i and each
    later task j: with A = prototypes, in space(i), of the classes of tasks j.. (all measured),
    B = the same classes in space(j), and A_hat = task i's classes in space(i), the completed
    prototypes are ``softmax(cos(A_hat, A), dim=1) @ B`` (no temperature, as in EASE).
    Returns a new tensor; measured prototypes are never changed.
    """
    out = protos.clone()
    n = len(space_of_task)
    for i in range(n - 1):
        own = space_of_task[i]
        old = task_classes[i]
        for j in range(i + 1, n):
            later = [c for t in range(j, n) for c in task_classes[t]]
            a = protos[own, later]
            b = protos[space_of_task[j], later]
            a_hat = protos[own, old]
            sim = F.softmax(F.normalize(a_hat, dim=1) @ F.normalize(a, dim=1).T, dim=1)
            synth = sim @ b
            space = space_of_task[j]
            keep = real[space, old]
            out[space, old] = torch.where(keep[:, None], out[space, old], synth)
    return out


@METHODS.register("artsy")
class Artsy(Method):
    """Artsy: frozen backbone, per-task adapters, per-task synapses gating them at inference."""

    Params = ArtsyParams
    default_model = {"name": "efficientnet-lite0", "input": "prefix"}
    #: the optimizer, created afresh at every task's start (begin_task)
    transient = ("optimizer",)
    #: synapse precision and recall (evaluators/synapse_probe.py)
    required_evaluators = ("synapse-probe",)
    # EASE: SGD momentum 0.9, lr 0.025, weight decay 5e-4 (exps/ease_cifar.json)
    default_optimizer = {"name": "sgd", "lr": 0.025, "momentum": 0.9, "weight_decay": 0.0005}

    def __init__(self, model, info, params: ArtsyParams, optimizer, device="cpu"):
        body = getattr(model, "body", None)
        self.backbone = getattr(body, "backbone", None)
        if self.backbone is None or not hasattr(self.backbone, "suffix"):
            raise ConfigError(
                f"method {type(self).__name__.lower()} needs a frozen backbone model "
                "(model: {name: efficientnet-lite0, input: prefix}), not "
                f"{type(body).__name__ if body is not None else type(model).__name__}"
            )
        if info.scenario == "domain":
            raise ConfigError("artsy learns new classes per task: use scenario class or task")
        self.input_kind = body.input  # "prefix": cached activations; "image": raw images
        self.p = params
        self.dim = self.backbone.feature_dim
        self.task_classes = [list(c) for c in info.task_classes]
        self.adapters = nn.ModuleList()  # frozen sub-networks, one per finished task
        self.synapses = nn.ModuleList()
        self.current = self._new_subnetwork(0)
        self.proxy = CosineHead(self.dim, len(self.task_classes[0]))
        # prototypes: space 0 = pre-trained, space t+1 = sub-network of task t
        self.protos = torch.zeros(1, info.num_outputs, self.dim)
        self.proto_real = torch.zeros(1, info.num_outputs, dtype=torch.bool)
        self.replay_f0 = torch.zeros(0, self.dim)
        self.replay_task = torch.zeros(0, dtype=torch.long)
        self.synapse_note: list[str] = []
        super().__init__(model, info, params, optimizer, device)
        self.current.to(self.device)
        self.proxy.to(self.device)

    # --- checkpoints ------------------------------------------------------------------
    def load_state_dict(self, state: dict[str, Any], tasks: list[Task]) -> None:
        """One adapter set and one synapse per finished task: build as many as the checkpoint
        holds (empty here, as in a fresh run), then load everything into them."""
        attributes = state.get("attributes", {})
        for name, make in (("adapters", lambda: self._new_subnetwork(0)),
                           ("synapses", lambda: Synapse(self.dim, self.p.synapse_hidden))):
            saved = attributes.get(name, {}).get("__module__", {})
            count = len({key.split(".", 1)[0] for key in saved})
            container = getattr(self, name)
            while len(container) < count:
                container.append(make().to(self.device))
        super().load_state_dict(state, tasks)

    # --- pieces ------------------------------------------------------------------------
    def _new_subnetwork(self, task_index: int) -> nn.ModuleList:
        del task_index
        return adapter_set(
            self.backbone.adapted_channels, self.p.bottleneck, self.p.adapter_scale,
            self.p.adapter_dropout,
        )

    def trainable_parameters(self) -> list[nn.Parameter]:
        return list(self.current.parameters()) + list(self.proxy.parameters())

    def _prefix(self, x: Tensor) -> Tensor:
        return x if self.input_kind == "prefix" else self.backbone.prefix(x)

    def _batched(self, x: Tensor, fn) -> Tensor:
        bs = self.p.feature_batch_size
        return torch.cat([fn(x[s : s + bs]) for s in range(0, len(x), bs)]) if len(x) else x

    def pretrained_features(self, x: Tensor) -> Tensor:
        """Pre-trained pooled feature E_0(x) (what the synapses read)."""
        return self._batched(x, lambda xb: self.backbone.suffix(self._prefix(xb)))

    def _fk(self, h: Tensor, k: int) -> Tensor:
        """Feature of sub-network k (adapters of task k) from prefix activations."""
        return self.backbone.suffix(h, self.adapters[k])

    # --- training ----------------------------------------------------------------------
    def begin_task(self, task: Task) -> None:
        super().begin_task(task)
        if task.index > 0:
            self.current = self._new_subnetwork(task.index).to(self.device)
            self.proxy = CosineHead(self.dim, len(task.classes)).to(self.device)
        self.optimizer = self.optimizer_factory.build(self.trainable_parameters())
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.samples_seen, self.task_size = 0, max(1, task.num_train)
        self.current.train()
        local = torch.full((self.info.num_outputs,), -1, dtype=torch.long)
        local[task.classes] = torch.arange(len(task.classes))
        self.local = local.to(self.device)  # global class -> index within the task

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        """One step of the current sub-network: cosine head over the task's classes (EASE)."""
        with torch.no_grad():
            h = self._prefix(x)
        logits = self.proxy(self.backbone.suffix(h, self.current))
        loss = F.cross_entropy(logits, self.local[y])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.p.lr_schedule == "cosine":
            # the engine's epochs are whole passes over the task, so the epoch is samples // n
            factor = (1 + math.cos(math.pi * (self.samples_seen // self.task_size)
                                   / self.p.lr_epochs)) / 2
            for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                group["lr"] = base * factor
        self.optimizer.step()
        self.samples_seen += len(y)
        return loss.item()

    @torch.no_grad()
    def end_task(self, task: Task) -> None:
        t = task.index
        self.current.eval()
        self.current.requires_grad_(False)
        self.adapters.append(self.current)
        self.proxy = CosineHead(self.dim, 1)  # the task's training head is not used at test
        self.optimizer = self.optimizer_factory.build(self.proxy.parameters())

        # prototypes of the new classes in every space (pre-trained + sub-networks 0..t)
        self._grow_spaces(t + 2)
        x, y = task.x_train, task.y_train
        h = self._batched(x, self._prefix)
        f0 = self._batched(h, self.backbone.suffix)
        for space in range(t + 2):
            f = f0 if space == 0 else self._batched(h, lambda hb, k=space - 1: self._fk(hb, k))
            for c in task.classes:
                self.protos[space, c] = f[y == c].mean(0).cpu()
                self.proto_real[space, c] = True
        self.protos = complete_prototypes(
            self.protos, self.proto_real, self.task_classes[: t + 1], list(range(1, t + 2))
        )
        if self.p.gate == "synapse":  # EASE (gate: always) has no synapses to train
            self._train_synapses(task, f0.cpu(), y.cpu())

    def _grow_spaces(self, n: int) -> None:
        extra = n - self.protos.shape[0]
        if extra > 0:
            c = self.protos.shape[1]
            self.protos = torch.cat([self.protos, torch.zeros(extra, c, self.dim)])
            self.proto_real = torch.cat([self.proto_real, torch.zeros(extra, c, dtype=torch.bool)])

    # --- synapses ----------------------------------------------------------------------
    def _train_synapses(self, task: Task, f0: Tensor, y: Tensor) -> None:
        t = task.index
        self.synapses.append(Synapse(self.dim, self.p.synapse_hidden))
        if self.p.negatives == "one_class":
            gen = torch.Generator().manual_seed(t)
            neg = torch.stack(
                [f0[torch.randperm(len(f0), generator=gen), d] for d in range(self.dim)], 1
            )
            self._fit_synapse(self.synapses[t], f0, neg, f"task {t}: one-class (shuffled)")
            return
        # store a budget of pre-trained features of this task's classes
        keep = []
        for c in task.classes:
            idx = (y == c).nonzero().squeeze(1)
            keep.append(idx[torch.randperm(len(idx))[: self.p.replay_per_class]])
        keep = torch.cat(keep)
        self.replay_f0 = torch.cat([self.replay_f0, f0[keep]])
        self.replay_task = torch.cat([self.replay_task, torch.full((len(keep),), t)])
        targets = range(t + 1) if self.p.retrain_synapses else [t]
        for k in targets:
            if k == t:
                pos = f0
                neg = self.replay_f0[self.replay_task != t]
            else:
                pos = self.replay_f0[self.replay_task == k]
                others = (self.replay_task != k) & (self.replay_task != t)
                neg = torch.cat([self.replay_f0[others], f0])
            self.synapses[k] = Synapse(self.dim, self.p.synapse_hidden)  # fresh, as in a retrain
            self._fit_synapse(self.synapses[k], pos, neg, f"task {k} after task {t}")

    def _fit_synapse(self, syn: Synapse, pos: Tensor, neg: Tensor, what: str) -> None:
        if len(neg) == 0:
            # nothing to tell apart yet (first task, replay negatives): always functional
            syn.threshold.fill_(0.0)
            self.synapse_note.append(f"{what}: no negatives, always functional")
            return
        x = torch.cat([pos, neg])
        target = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
        held = torch.zeros(len(x), dtype=torch.bool)
        if self.p.threshold == "calibrated":
            for label in (1.0, 0.0):
                idx = (target == label).nonzero().squeeze(1)
                idx = idx[torch.randperm(len(idx))]
                held[idx[: int(round(self.p.calibration_fraction * len(idx)))]] = True
        xt, tt = x[~held], target[~held]
        syn.mean.copy_(xt.mean(0))
        syn.std.copy_(xt.std(0).clamp_min(1e-6))
        # balanced loss: positives and negatives weigh the same in total
        pos_weight = torch.tensor((tt == 0).sum().item() / max(1, (tt == 1).sum().item()))
        opt = torch.optim.Adam(syn.mlp.parameters(), lr=self.p.synapse_lr)
        with torch.enable_grad():
            for _ in range(self.p.synapse_epochs):
                for idx in torch.randperm(len(xt)).split(self.p.synapse_batch_size):
                    logit = syn.mlp((xt[idx] - syn.mean) / syn.std).squeeze(1)
                    loss = F.binary_cross_entropy_with_logits(logit, tt[idx], pos_weight=pos_weight)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
        thr = self.p.threshold_value
        if self.p.threshold == "calibrated" and held.any():
            thr = _balanced_threshold(syn(x[held]), target[held], thr)
        syn.threshold.fill_(thr)

    def gates(self, f0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(scores, raw gates, effective gates) of the synapses seen so far for E_0 features."""
        n_tasks = len(self.adapters)
        if self.p.gate == "always" or n_tasks == 0:
            ones = torch.ones(len(f0), n_tasks, dtype=torch.bool, device=f0.device)
            return ones.float(), ones, ones
        scores = torch.stack([s(f0) for s in self.synapses[:n_tasks]], 1)
        thr = torch.stack([s.threshold for s in self.synapses[:n_tasks]])
        raw = scores >= thr
        m = raw.clone()
        if self.p.several_fire == "argmax":
            best = scores.masked_fill(~raw, -1.0).argmax(1)
            m = F.one_hot(best, n_tasks).bool() & raw
        none = ~raw.any(1)
        if self.p.none_fire == "argmax" and none.any():
            m[none] = F.one_hot(scores[none].argmax(1), n_tasks).bool()
        return scores, raw, m

    # --- inference ---------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: Tensor, task_id: int | None) -> Tensor:
        n_tasks = len(self.adapters)
        if n_tasks == 0:
            return torch.zeros(len(x), self.info.num_outputs, device=x.device)
        h = self._prefix(x)
        f0 = self.backbone.suffix(h)
        _, _, m = self.gates(f0)
        feats = torch.zeros(n_tasks, len(x), self.dim, device=x.device)
        for k in range(n_tasks):
            rows = m[:, k].nonzero().squeeze(1)
            if len(rows):
                feats[k, rows] = self._fk(h[rows], k)
        protos = self.protos.to(x.device)
        if self.p.combine == "sum":
            logits = self._sum_logits(f0, feats, m, protos)
        else:
            logits = self._concat_logits(f0, feats, m, protos)
        return self.mask_logits(logits, task_id)

    def _sum_logits(self, f0: Tensor, feats: Tensor, m: Tensor, protos: Tensor) -> Tensor:
        """cos(E_0 + sum_k m_k E^k, P_0 + sum_k m_k P_k) per class (Artsy Eq. 5)."""
        mf = m.float()
        f = f0 + torch.einsum("nk,knd->nd", mf, feats)
        p = protos[0][None] + torch.einsum("nk,kcd->ncd", mf, protos[1 : 1 + m.shape[1]])
        return torch.einsum("nd,ncd->nc", F.normalize(f, dim=1), F.normalize(p, dim=2))

    def _concat_logits(self, f0: Tensor, feats: Tensor, m: Tensor, protos: Tensor) -> Tensor:
        """EASE ``forward_reweight`` over the connected spaces (+ the pre-trained one)."""
        n_tasks = m.shape[1]
        class_task = torch.full((self.info.num_outputs,), -1, dtype=torch.long, device=f0.device)
        for t, classes in enumerate(self.task_classes):
            class_task[classes] = t
        logits = self.p.ptm_weight * F.normalize(f0, dim=1) @ F.normalize(protos[0], dim=1).T
        for k in range(n_tasks):
            cos = F.normalize(feats[k], dim=1) @ F.normalize(protos[k + 1], dim=1).T
            other = self.p.alpha / max(1, n_tasks - 1)
            weight = torch.where(class_task == k, 1.0, other)
            logits = logits + m[:, k : k + 1].float() * cos * weight[None]
        return logits

    # --- the synapse atlas ------------------------------------------------------------------
    def synapse_weights(self) -> dict[str, Tensor]:
        """None: the backbone is frozen and every task trains a new sub-network, so no weight
        of the network changes during a task; Artsy's plasticity is its synapse decisions."""
        return {}

    @torch.no_grad()
    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds each synapse's threshold. The decisions themselves (functional or silent per
        test sample) need test data, which the method does not keep: the atlas evaluator
        computes them from the stream with ``gates`` (its ``synapse_functional`` state)."""
        states = super().synapse_state()
        n_tasks = len(self.adapters)
        if n_tasks and self.p.gate == "synapse":
            states["synapse_threshold"] = SynapseState(
                {"synapses": torch.stack([s.threshold for s in self.synapses[:n_tasks]])},
                "Artsy: each synapse's threshold on its sigmoid output", "none",
                per_synapse=False)
        return states

    def record_extra(self) -> dict[str, Any]:
        return {
            "gate": self.p.gate,
            "combine": self.p.combine,
            "synapse_notes": self.synapse_note,
            "replay_features": int(len(self.replay_f0)),
            "adapter_parameters": sum(p.numel() for p in self.adapters.parameters()),
            "synapse_parameters": sum(p.numel() for p in self.synapses.parameters()),
        }


def _balanced_threshold(scores: Tensor, target: Tensor, default: float) -> float:
    """The cut on ``scores`` maximising (TPR + TNR) / 2 on held-out data (midpoint of gaps)."""
    pos, neg = scores[target == 1], scores[target == 0]
    if len(pos) == 0 or len(neg) == 0:
        return default
    cands = torch.unique(scores)
    if len(cands) > 1:
        cands = torch.cat([cands[:1], (cands[1:] + cands[:-1]) / 2])
    best, best_thr = -1.0, default
    for c in cands.tolist():
        score = 0.5 * ((pos >= c).float().mean() + (neg < c).float().mean()).item()
        if score > best:
            best, best_thr = score, c
    return float(best_thr)
