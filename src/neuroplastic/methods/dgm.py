"""Dynamic Generative Memory (DGMw / DGMa) and deep generative replay with the same GAN.

Ostapenko et al., "Learning to Remember: A Synaptic Plasticity Driven Framework for Continual
Learning", CVPR 2019 (arXiv 1904.03137). The rules follow the official code
(SAP-archive/machine-learning-dgm, ``approaches/DGMw.py`` and ``DGMa.py``); see
``docs/dgm.md`` and the project's research notes, section 3.

Per task t:

* ``begin_task``: the discriminator D (its auxiliary head is the classifier) is re-initialised
  (``reinit_D`` of the MNIST/SVHN configs) and its class head grown to the classes seen; the
  generator G opens task t (zero mask embeddings, a BatchNorm per task, one output layer per new
  class); fresh Adam optimizers; G (eval, ``s = s_max``) generates the replay memory, for every
  past class as many samples as the current task's training set (``replay_per_class`` to cap).
* ``observe`` (one minibatch, as the code's inner loop): (a) classification steps of D on the
  real batch mixed with the same positions of every past task's replay memory, shuffled and cut
  into batch-sized chunks, one Adam step per chunk; (b) a WGAN-GP critic step on the real batch
  against G's samples of the same labels; (c) a generator step ``-mean D_s(G(z)) + lambda_G,eff
  reg`` with the gradient of weights reserved by earlier tasks zeroed, HAT's embedding-gradient
  compensation and gradient-norm clipping.
* ``end_task``: binarise task t's mask at 0.5 (``s = s_max``), take the union with the earlier
  ones, grow G by the newly reserved capacity, and freeze the reserved weights from now on.

The annealed slope ``s`` (DGMw): per epoch ``s_e = (s_max - 1/s_max) e / niter + 1/s_max``, per
batch ``s = (s_e - 1/s_e) i / |D_t| + 1/s_e``; DGMa uses ``s = s_e``. ``niter`` must equal the
number of epochs the engine runs per task (``train.epochs``).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..models.gan import ACDiscriminator, MaskedGenerator, pad_to
from ..plasticity.synapse_state import UNIT_EDGES, SynapseState
from ..registry import METHODS
from ..scenarios.task import Task
from .base import Method, optimizer_state_bytes

IMAGE_SIZE = 32  # the code's imageSize for MNIST/SVHN; the networks assume 32x32

#: per-variant defaults of the official MNIST configs (cfg_mnist_dgmw.yml / cfg_mnist_dgma.yml)
VARIANT_DEFAULTS = {
    "dgmw": {"ngf": 6, "smax": 1e4, "lamb_G": 0.08},
    "dgma": {"ngf": 20, "smax": 1e5, "lamb_G": 0.01},
}


@dataclass
class DGMParams:
    """Hyper-parameters of DGM; defaults are the official MNIST configs unless stated."""

    variant: Literal["dgmw", "dgma"] = "dgmw"  # masks on weights (DGMw) or activations (DGMa)
    masks: bool = True  # HAT-style masks in G (False + growth False: deep generative replay)
    growth: bool = True  # dynamic expansion by the reserved capacity (needs masks)
    #: train G also on replayed samples of past classes (Shin et al. 2017's DGR); None: only
    #: when masks are off. DGM's code trains G on the current task's data only.
    generator_replay: bool | None = None
    nz: int = 128  # cfg: nz 128 (the first num_outputs entries carry the one-hot class)
    ngf: int | None = None  # None: 6 (DGMw) / 20 (DGMa), cfg_mnist_*.yml
    smax: float | None = None  # s_max; None: 1e4 (DGMw) / 1e5 (DGMa), cfg smax_g
    lamb_G: float | None = None  # sparsity weight; None: 0.08 (DGMw) / 0.01 (DGMa), cfg lamb_G
    lr_D: float = 0.002  # cfg lr_D (Adam)
    lr_G: float = 0.002  # cfg lr_G (Adam)
    beta1: float = 0.5  # cfg beta1; beta2 = 0.999 (code)
    lambda_gp: float = 1.0  # cfg lambda_wasserstein (WGAN-GP penalty weight)
    lambda_adv: float = 1.0  # cfg lambda_adv (weight of the critic term in G's loss)
    #: AC cross-entropy on G's samples (cfg aux_G). None: True when a task holds more than one
    #: class, as the code's ImageNet config (10 classes per task, aux_G True); False for one
    #: class per task, as its MNIST/SVHN configs. Without it the class-agnostic critic gives G
    #: no reason to respect the label inside a multi-class task.
    aux_G: bool | None = None
    niter: int = 5  # epochs per task for the annealing of s; official 101. Set = train.epochs
    thres_cosh: float = 50.0  # clamp of s*e inside cosh (train(thres_cosh=50))
    clipgrad: float = 10000.0  # G gradient-norm clip (train(clipgrad=10000))
    reinit_classifier: bool = True  # re-initialise D every task (cfg reinit_D: True, MNIST/SVHN)
    #: reset D's critic and class heads at every task t > 0; the code does so even without
    #: reinit_D (aux_linear.reset_parameters()), which discards the old class rows
    reset_heads: bool = True
    #: replay samples generated per past class; None: the current task's training-set size
    #: (the code's default). A smaller number caps memory and time.
    replay_per_class: int | None = None
    resize: Literal["bilinear", "pad"] = "bilinear"  # 28->32: the code's transforms.Resize(32)
    #: the code's reported number: test accuracy at the epoch of best validation accuracy
    #: (15% of each task's training data held out and never trained on, evaluated every
    #: ``eval_every`` epochs by the best-validation evaluator, evaluators/best_validation.py)
    official_selection: bool = False
    valid_fraction: float = 0.15  # pc_valid of dataloaders/split_MNIST.py
    eval_every: int = 2  # the code validates when epoch % 2 == 0 and after the last epoch
    sample_dir: str | None = None  # write a PNG grid of generated samples per class per task
    samples_per_class: int = 8  # columns of that grid

    def validate(self) -> None:
        if self.growth and not self.masks:
            raise ConfigError("dgm: growth needs masks (the growth is the capacity masks reserve)")
        for key in ("nz", "niter", "eval_every", "samples_per_class"):
            if getattr(self, key) < 1:
                raise ConfigError(f"dgm: {key} must be at least 1, got {getattr(self, key)}")
        if self.ngf is not None and self.ngf < 1:
            raise ConfigError(f"dgm: ngf must be at least 1, got {self.ngf}")
        if self.smax is not None and self.smax <= 1:
            raise ConfigError(f"dgm: smax must be above 1, got {self.smax}")
        if self.replay_per_class is not None and self.replay_per_class < 1:
            raise ConfigError(
                f"dgm: replay_per_class must be at least 1, got {self.replay_per_class}"
            )
        if not 0 < self.valid_fraction < 1:
            raise ConfigError(f"dgm: valid_fraction must be in (0, 1), got {self.valid_fraction}")
        for key in ("lr_D", "lr_G", "lambda_gp"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"dgm: {key} must be positive")

    def resolved(self, key: str) -> Any:
        value = getattr(self, key)
        return VARIANT_DEFAULTS[self.variant][key] if value is None else value


class _Held:
    """Fingerprints of the training images held out for the official selection, so that they
    are never trained on (the images themselves stay in the stream). A plain object so
    ``state_bytes`` does not count it."""

    def __init__(self) -> None:
        self.valid_keys: set[int] = set()
        self.key_weights: Tensor | None = None


def _binariness(masks: list[Tensor]) -> float:
    """Fraction of mask entries within 0.01 of 0 or 1."""
    flat = torch.cat([m.flatten() for m in masks])
    return float(((flat < 0.01) | (flat > 0.99)).float().mean())


@METHODS.register("dgm")
class DGM(Method):
    """Dynamic Generative Memory: masked, growing conditional WGAN-GP replay (DGMw / DGMa)."""

    Params = DGMParams
    default_model = {"name": "dgm-disc"}
    #: the fingerprints of the held-out images (drawn again by resume()); the optimizers,
    #: created afresh at every task's start (begin_task)
    transient = ("held", "optimizer", "opt_G")
    #: the official selection is measured by this evaluator (evaluators/best_validation.py)
    required_evaluators = ("best-validation",)

    def __init__(self, model, info, params: DGMParams, optimizer, device="cpu"):
        if not isinstance(model, ACDiscriminator):
            raise ConfigError(
                "dgm needs the AC-GAN discriminator as its model (model: dgm-disc), got "
                f"{type(model).__name__}"
            )
        if len(info.input_shape) != 3:
            raise ConfigError(f"dgm needs image inputs (C,H,W), got shape {info.input_shape}")
        super().__init__(model, info, params, optimizer, device)
        p = params
        self.ngf = int(p.resolved("ngf"))
        self.smax = float(p.resolved("smax"))
        self.lamb_G = float(p.resolved("lamb_G"))
        self.replay_G = (not p.masks) if p.generator_replay is None else p.generator_replay
        multi = any(len(c) > 1 for c in info.task_classes)
        self.aux_G = multi if p.aux_G is None else p.aux_G
        self.generator = MaskedGenerator(
            p.nz, self.ngf, info.input_shape[0], info.num_outputs, p.variant, p.masks
        ).to(self.device)
        self.free_size = sum(self.generator.channels())  # the code's free_size (channels)
        self.mask_pre: list[Tensor] | None = None  # binary union of earlier tasks' masks
        self.mask_back: list[Tensor] | None = None  # 1 where a weight may still learn
        self.reserved_prev = [0, 0, 0]  # n_reserver_prev
        self.memory: list[tuple[Tensor, Tensor]] = []  # replay per past task (x in [-1,1], y)
        self.opt_G = torch.optim.Adam(self.generator.parameters(), lr=p.lr_G)
        self.growth: list[dict[str, Any]] = []
        self.held = _Held()
        self.task_seconds: list[float] = []
        self.trained_samples: list[int] = []  # real samples trained on per task
        self._pos = 0
        self._n = 1
        self._task = 0
        self._lamb_eff = self.lamb_G
        self._epochs_seen = 0
        self._start = 0.0

    # --- data ----------------------------------------------------------------------------
    def to_gan(self, x: Tensor) -> Tensor:
        """Images in [0, 1] -> 32x32 in [-1, 1] (the code's Resize(32) + Normalize(0.5, 0.5))."""
        h, w = x.shape[-2:]
        if (h, w) != (IMAGE_SIZE, IMAGE_SIZE):
            if self.params.resize == "bilinear":
                x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                                  align_corners=False)  # fmt: skip
            else:
                if h > IMAGE_SIZE or w > IMAGE_SIZE:
                    raise ConfigError(f"dgm resize: pad cannot shrink {h}x{w} images to 32x32")
                top, left = (IMAGE_SIZE - h) // 2, (IMAGE_SIZE - w) // 2
                x = F.pad(x, (left, IMAGE_SIZE - w - left, top, IMAGE_SIZE - h - top))
        return x * 2 - 1

    def _keys(self, x: Tensor) -> list[int]:
        """Exact integer fingerprints of images (8-bit pixel values) to find held-out ones."""
        if self.held.key_weights is None:
            g = torch.Generator().manual_seed(12345)
            n = math.prod(x.shape[1:])
            self.held.key_weights = torch.randint(1, 2**31 - 1, (n,), generator=g)
        q = torch.round(x.detach().cpu().flatten(1) * 255).long()
        return (q * self.held.key_weights).sum(1).tolist()

    def _trainable(self, x: Tensor) -> Tensor:
        """Boolean mask of the images in ``x`` not held out for validation."""
        return torch.tensor(
            [k not in self.held.valid_keys for k in self._keys(x)], device=x.device
        )

    def validation_split(self, task: Task) -> tuple[Tensor, Tensor]:
        """The task's held-out training images and labels for the official selection:
        ``valid_fraction`` of them (the code's ``pc_valid``), a fixed draw per task."""
        g = torch.Generator().manual_seed(1000 + task.index)
        perm = torch.randperm(task.num_train, generator=g)
        keep = perm[: int(self.params.valid_fraction * task.num_train)]
        return task.x_train[keep], task.y_train[keep]

    def _hold_out(self, task: Task) -> int:
        """Never train on the task's validation split; returns the number of its images."""
        xv, _ = self.validation_split(task)
        self.held.valid_keys.update(self._keys(xv))
        return len(xv)

    def load_state_dict(self, state: dict[str, Any], tasks: list[Task]) -> None:
        """The generator grows with every task: rebuild its per-task containers from the
        checkpoint's bookkeeping (capacities, output layer widths), then load the weights."""
        from .state import unpack

        generator = state.get("attributes", {}).get("generator", {})
        saved = generator.get("extra", {}).get("", {})
        caps = unpack(saved.get("caps", []), None, "generator.caps", tasks, {})
        last_in = unpack(saved.get("last_in", {"__dict__": []}), None, "generator.last_in",
                         tasks, {})
        embeddings = any(k.startswith("emb.") for k in generator.get("__module__", {}))
        self.generator.restore_structure(caps, last_in, embeddings)
        super().load_state_dict(state, tasks)

    def resume(self, tasks: list[Task]) -> None:
        """The held-out images are the stream's, never checkpointed: draw their fingerprints
        again (the same fixed draw per task) for the tasks begun so far."""
        self.held = _Held()
        if self.params.official_selection:
            for task in tasks[: self.seen_tasks]:
                self._hold_out(task)

    # --- schedule ------------------------------------------------------------------------
    def slopes(self, pos: int) -> tuple[float, float]:
        """(s_e, s) at training position ``pos`` (samples since the task began)."""
        e, i = divmod(pos, self._n)
        smax, niter = self.smax, self.params.niter
        s_e = (smax - 1 / smax) * e / niter + 1 / smax
        if self.params.variant == "dgma":
            return s_e, s_e
        return s_e, (s_e - 1 / s_e) * i / self._n + 1 / s_e

    # --- the contract --------------------------------------------------------------------
    def begin_task(self, task: Task) -> None:
        super().begin_task(task)
        p, t, D, G = self.params, task.index, self.model, self.generator
        self._start = time.perf_counter()
        self._task = t
        if t > 0:
            if p.reinit_classifier:
                D.reinitialise()
            elif p.reset_heads:
                D.disc_linear.reset_parameters()
                D.aux_linear.reset_parameters()
        n_seen = len({c for cs in self.info.task_classes[: t + 1] for c in cs})
        D.grow_classes(max(n_seen, max(task.classes) + 1), keep_rows=not p.reset_heads)
        D.to(self.device)
        G.add_task(list(task.classes))
        self.optimizer = torch.optim.Adam(D.parameters(), lr=p.lr_D, betas=(p.beta1, 0.999))
        self.opt_G = torch.optim.Adam(G.parameters(), lr=p.lr_G, betas=(p.beta1, 0.999))
        # lambda_G scaled by the growth of the network (lamb_G * total_size / free_size)
        self._lamb_eff = self.lamb_G * sum(G.channels()) / self.free_size

        n_train = task.num_train
        if p.official_selection:
            n_train -= self._hold_out(task)
        # replay memory: G of the previous tasks, eval mode, s = s_max (the code's
        # "Generating datasets"); per past class as many samples as this task trains on
        self.memory = []
        per_class = p.replay_per_class or n_train
        for past in range(t):
            classes = self.info.task_classes[past]
            labels = torch.tensor(classes, device=self.device).repeat_interleave(per_class)
            x = torch.cat([G.generate(chunk, self.smax) for chunk in labels.split(256)])
            perm = torch.randperm(len(labels), device=self.device)
            self.memory.append((x[perm], labels[perm]))
        self._pos, self._n = 0, task.num_train
        self.trained_samples.append(0)

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        p = self.params
        s_e, s = self.slopes(self._pos)
        epoch = self._pos // self._n
        start = self._pos - epoch * self._n
        self._pos += len(y)
        if p.official_selection:
            keep = self._trainable(x)
            x, y = x[keep], y[keep]
        loss = float("nan")
        self.trained_samples[-1] += len(y)
        if len(y) > 0:
            xg = self.to_gan(x)
            replay = self._replay_batch(start, len(y))
            loss = self._classifier_steps(xg, y, replay)
            xr, yr = (xg, y)
            if self.replay_G and replay is not None:
                xr, yr = torch.cat([xg, replay[0]]), torch.cat([y, replay[1]])
            self._critic_step(xr, yr, s)
            self._generator_step(yr, s_e, s)
        finished = self._pos // self._n
        if finished > epoch:
            self._epochs_seen = finished
        return loss

    def end_task(self, task: Task) -> None:
        p, G, t = self.params, self.generator, task.index
        record: dict[str, Any] = {"task": t, "lambda_G_eff": self._lamb_eff}
        if p.niter != self._epochs_seen:
            record["warning"] = (
                f"niter={p.niter} but the engine ran {self._epochs_seen} epochs: the slope "
                "annealing did not follow the code's schedule"
            )
        if p.masks:
            current = [(m >= 0.5).float() for m in G.masks(t, self.smax)]
            before = self.mask_pre or [torch.zeros_like(m) for m in current]
            record["mask_binariness_smax"] = _binariness(G.masks(t, self.smax))
            record["mask_used_fraction"] = [float(m.mean()) for m in current]
            record["reused_fraction"] = [
                float((m * b).sum() / m.sum().clamp(min=1))
                for m, b in zip(current, before, strict=True)
            ]
            self.mask_pre = [torch.maximum(b, m) for b, m in zip(before, current, strict=True)]
            counts = [int(m.sum()) for m in self.mask_pre]
            reserved = [c - r for c, r in zip(counts, self.reserved_prev, strict=True)]
            self.reserved_prev = counts
            record["reserved"] = reserved
            record["reserved_unit"] = "weights" if p.variant == "dgmw" else "channels"
            if p.growth:
                record["channels_added"] = G.grow(reserved)
                self.mask_pre = [
                    pad_to(m, G.emb_shape(i)) for i, m in enumerate(self.mask_pre)
                ]
            self.mask_back = self._weight_masks()
            record["free_fraction"] = float(
                1 - sum(m.sum() for m in self.mask_pre) / sum(m.numel() for m in self.mask_pre)
            )
        record["channels"] = G.channels()
        record["generator_weights"] = G.num_weights()
        self.growth.append(record)
        if p.sample_dir:
            self.save_samples(Path(p.sample_dir) / f"samples_task{t:02d}.png", t)
        self.task_seconds.append(time.perf_counter() - self._start)

    def predict(self, x: Tensor, task_id: int | None) -> Tensor:
        self.model.eval()
        return self.mask_logits(self.model(self.to_gan(x)), task_id)

    # --- the three steps -----------------------------------------------------------------
    def _replay_batch(self, start: int, size: int) -> tuple[Tensor, Tensor] | None:
        """The replay samples at positions start..start+size of every past task's memory
        (the code indexes them with the current batch's indices ``b``), cycling when smaller."""
        if not self.memory:
            return None
        xs, ys = [], []
        for mx, my in self.memory:
            idx = (torch.arange(start, start + size, device=my.device)) % len(my)
            xs.append(mx[idx])
            ys.append(my[idx])
        return torch.cat(xs), torch.cat(ys)

    def _classifier_steps(self, xg: Tensor, y: Tensor, replay) -> float:
        """(a): cross-entropy steps of D's class head on the real batch mixed with replay,
        shuffled and cut into chunks of the batch size, one step per chunk."""
        D = self.model
        D.train()
        ax, ay = xg, y
        if replay is not None:
            ax, ay = torch.cat([xg, replay[0]]), torch.cat([y, replay[1]])
        perm = torch.randperm(len(ay), device=ay.device)
        ax, ay = ax[perm], ay[perm]
        losses = []
        for cx, cy in zip(ax.split(len(y)), ay.split(len(y)), strict=True):
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(D.aux_linear(D.features(cx)), cy)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        return sum(losses) / len(losses)

    def _critic_step(self, xr: Tensor, yr: Tensor, s: float) -> None:
        """(b): WGAN-GP: D_s(fake) - D_s(real) + lambda_GP (||grad D(x_hat)|| - 1)^2."""
        D = self.model
        self.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = self._fake(yr, s)[0]
        loss = -D.critic(xr).mean() + D.critic(fake).mean()
        alpha = torch.rand(len(xr), 1, 1, 1, device=xr.device)
        mix = (alpha * xr + (1 - alpha) * fake).requires_grad_(True)
        grad = torch.autograd.grad(D.critic(mix).sum(), mix, create_graph=True)[0]
        penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean() * self.params.lambda_gp
        (loss + penalty).backward()
        self.optimizer.step()

    def _fake(self, labels: Tensor, s: float) -> tuple[Tensor, list[Tensor]]:
        """G's samples for ``labels`` with the current task's masks and slope. Without masks
        every task shares one network, so replayed labels (DGR) go through the same path."""
        G = self.generator
        return G(G.noise(labels), labels, self._task, s)

    def _generator_step(self, labels: Tensor, s_e: float, s: float) -> None:
        """(c): ``-lambda_adv mean D_s(G(z)) + lambda_G,eff reg`` (+ AC loss if aux_G); reserved
        weights' gradients zeroed, embedding gradients compensated, norm clipped."""
        p, D, G = self.params, self.model, self.generator
        self.opt_G.zero_grad(set_to_none=True)
        for q in D.parameters():
            q.requires_grad_(False)
        fake, masks = self._fake(labels, s)
        score, logits = D.both(fake)
        loss = -p.lambda_adv * score.mean()
        if p.masks:
            loss = loss + self._lamb_eff * self.sparsity(masks)
        if self.aux_G:
            loss = loss + F.cross_entropy(logits, labels)
        loss.backward()
        for q in D.parameters():
            q.requires_grad_(True)
        if self.mask_back is not None:  # grad W <- grad W * (1 - m_pre)
            for conv, back in zip(G.convs, self.mask_back, strict=True):
                if conv.weight.grad is not None:
                    conv.weight.grad.mul_(back)
        if p.masks:  # HAT compensation: (s_e / s) (cosh(clamp(s e)) + 1) / (cosh(e) + 1)
            for e in G.emb:
                if e.grad is not None:
                    num = torch.cosh(torch.clamp(s * e.data, -p.thres_cosh, p.thres_cosh)) + 1
                    den = torch.cosh(e.data) + 1
                    e.grad.mul_(s_e / s * num / den)
        nn.utils.clip_grad_norm_(G.parameters(), p.clipgrad)
        self.opt_G.step()

    def sparsity(self, masks: list[Tensor]) -> Tensor:
        """reg = sum m (1 - m_pre) / sum (1 - m_pre); on the first task sum m / #m."""
        if self.mask_pre is None:
            return sum(m.sum() for m in masks) / sum(m.numel() for m in masks)
        free = [1 - mp for mp in self.mask_pre]
        return sum((m * f).sum() for m, f in zip(masks, free, strict=True)) / sum(
            f.sum() for f in free
        )

    def _weight_masks(self) -> list[Tensor]:
        """1 where a weight may still change: DGMw ``1 - m_pre``; DGMa ``1 - min(pre, post)``
        of the input- and output-channel masks (conv1: its output channels)."""
        G = self.generator
        if self.params.variant == "dgmw":
            return [(1 - m).clone() for m in self.mask_pre]
        out = []
        for layer, conv in enumerate(G.convs):
            post = self.mask_pre[layer].view(1, -1, 1, 1).expand_as(conv.weight)
            if layer == 0:
                used = post
            else:
                pre = self.mask_pre[layer - 1].view(-1, 1, 1, 1).expand_as(conv.weight)
                used = torch.minimum(pre, post)
            out.append((1 - used).clone())
        return out

    # --- official selection (measured by evaluators/best_validation.py) --------------------
    def bn_recalibrated_model(self, task: Task) -> nn.Module:
        """A diagnostic, not a protocol: a copy of D with the weights it ends the task with,
        but BatchNorm statistics re-estimated on what the classifier trains on (the task's
        real training images and the replay memory).

        The running statistics that ``eval()`` uses are also updated by every critic and
        generator pass of D in train mode (the code does the same), so at the end of a task
        they are mostly those of G's samples and of the gradient-penalty interpolates. This
        measures how much of the gap between the plain final accuracy and the selected one
        comes from that: on MNIST, the failures at the first task only (docs/dgm.md). It works
        on a copy and draws no random numbers, so training is the same with or without it."""
        D = copy.deepcopy(self.model)
        norms = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the batches below
        x = task.x_train[self._trainable(task.x_train)]
        mixed = torch.cat([self.to_gan(x.to(self.device))] + [mx for mx, _ in self.memory])
        # shuffled, as the classifier's batches mix real and replayed images: batches of one
        # kind would leave the variance between the two out of the estimate. A private
        # generator keeps the global random stream untouched.
        order = torch.randperm(len(mixed), generator=torch.Generator().manual_seed(0))
        D.train()
        with torch.no_grad():
            for idx in order.split(256):
                if len(idx) > 1:
                    D.features(mixed[idx.to(mixed.device)])
        return D

    # --- reporting -----------------------------------------------------------------------
    def mask_binariness(self, t: int, s: float) -> float:
        return _binariness(self.generator.masks(t, s))

    def save_samples(self, path: Path, t: int) -> None:
        """A grid of generated samples: one row per class seen so far, each from its own
        task's masks at s = s_max."""
        from matplotlib.figure import Figure  # no pyplot: the process's backend is left alone

        classes = sorted({c for cs in self.info.task_classes[: t + 1] for c in cs})
        k = self.params.samples_per_class
        labels = torch.tensor(classes, device=self.device).repeat_interleave(k)
        g = torch.Generator(device=self.device).manual_seed(0)
        imgs = ((self.generator.generate(labels, self.smax, g) + 1) / 2).clamp(0, 1).cpu()
        fig = Figure(figsize=(k * 0.8, len(classes) * 0.8))
        axes = fig.subplots(len(classes), k, squeeze=False)
        for r, c in enumerate(classes):
            for j in range(k):
                img = imgs[r * k + j]
                ax = axes[r][j]
                if img.shape[0] == 1:
                    ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1)
                else:
                    ax.imshow(img.permute(1, 2, 0).numpy())
                ax.set_xticks([])
                ax.set_yticks([])
            axes[r][0].set_ylabel(str(c), rotation=0, labelpad=10)
        fig.suptitle(f"after task {t + 1}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80)

    # --- the synapse atlas ------------------------------------------------------------------
    def synapse_weights(self) -> dict[str, Tensor]:
        """The generator's convolution weights: DGM's plastic, masked and growing synapses (the
        classifier D is re-initialised every task)."""
        return {f"generator.convs.{i}.weight": conv.weight
                for i, conv in enumerate(self.generator.convs)}

    def synapse_state(self) -> dict[str, SynapseState]:
        """Adds, once a task has reserved weights, the reserved (frozen) weights of the
        generator, ``1 - mask_back`` (the mask its gradient is multiplied by), and the free
        capacity of each layer (fraction of its weights still free to learn)."""
        states = super().synapse_state()
        if self.mask_back is None:
            return states
        names = list(self.synapse_weights())
        states["reserved"] = SynapseState(
            {n: 1 - m for n, m in zip(names, self.mask_back, strict=True)},
            "DGM: weights reserved by past tasks' binarised masks (1 = frozen, 0 = free)",
            "high", threshold=0.5, edges=UNIT_EDGES)
        states["free_capacity"] = SynapseState(
            {n: m.mean() for n, m in zip(names, self.mask_back, strict=True)},
            "DGM: fraction of the layer's weights still free to learn", "none",
            per_synapse=False)
        return states

    def state_bytes(self) -> int:
        return super().state_bytes() + optimizer_state_bytes(self.opt_G)

    def record_extra(self) -> dict[str, Any]:
        p = self.params
        extra: dict[str, Any] = {
            "variant": p.variant if p.masks else "dgr",
            "masks": p.masks,
            "growth_enabled": p.growth,
            "generator_replay": self.replay_G,
            "aux_G": getattr(self, "aux_G", bool(p.aux_G)),  # checkpoints of older versions
            "ngf": self.ngf,
            "smax": self.smax,
            "lamb_G": self.lamb_G,
            "growth": self.growth,
            "method_task_seconds": self.task_seconds,
            "trained_samples": self.trained_samples,
        }
        return extra


@dataclass
class DGMwParams(DGMParams):
    """DGM with masks on weights (the code's DGMw)."""

    variant: Literal["dgmw", "dgma"] = "dgmw"


@dataclass
class DGMaParams(DGMParams):
    """DGM with masks on activations (the code's DGMa)."""

    variant: Literal["dgmw", "dgma"] = "dgma"


@dataclass
class DGRParams(DGMParams):
    """Deep generative replay (Shin et al. 2017) with DGM's GAN: no masks, no growth, the
    generator trained on the current task plus its own replay of past classes."""

    masks: bool = False
    growth: bool = False


@METHODS.register("dgmw")
class DGMw(DGM):
    """DGM with masks on the generator's weights (DGMw, official MNIST config defaults)."""

    Params = DGMwParams


@METHODS.register("dgma")
class DGMa(DGM):
    """DGM with masks on the generator's activations (DGMa, official MNIST config defaults)."""

    Params = DGMaParams


@METHODS.register("dgr")
class DGR(DGM):
    """Deep generative replay with DGM's conditional WGAN-GP (no masks, no growth)."""

    Params = DGRParams
