"""Dynamic Generative Memory networks: a masked, growing conditional generator and the
AC-WGAN-GP discriminator whose auxiliary head is the classifier.

Ostapenko et al., "Learning to Remember: A Synaptic Plasticity Driven Framework for Continual
Learning", CVPR 2019 (arXiv 1904.03137); the mechanism follows the official code
(SAP-archive/machine-learning-dgm, ``networks/net_DGMw.py`` and ``net_DGMa.py``), rewritten here.

Generator (32x32 images): ConvT(nz -> 4 ngf, k4 s1) -> BN -> ReLU -> ConvT(4 ngf -> 2 ngf, k4 s2 p1)
-> BN -> ReLU -> ConvT(2 ngf -> ngf, k4 s2 p1) -> BN -> ReLU -> per-class ConvT(ngf -> nc, k4 s2 p1)
-> tanh. The class condition is written into the first ``num_labels`` entries of z (one-hot).

* DGMw: every plastic layer has, per task, a real-valued embedding of the weight tensor's shape;
  the task's mask is ``sigmoid(s * e)`` and the layer computes with ``W * mask``.
* DGMa: per task, one embedding entry per output channel; the mask multiplies the activations.
* Task ``t`` uses only the first ``caps[t][l]`` channels of each layer (its size when it was
  trained), one BatchNorm per task sized to that, and the output layer of each of its classes.
* ``grow`` adds the capacity the finished task reserved (the code's ``extand``), so the free
  capacity stays constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import MODELS
from ..scenarios.task import StreamInfo

#: kernel, stride, padding of the three plastic layers (net_DGMw.netG)
LAYER_GEOMETRY = ((4, 1, 0), (4, 2, 1), (4, 2, 1))
#: embedding value the code writes for old tasks on newly added weights (mask ~ 0)
OLD_TASK_NEW_WEIGHT_EMBEDDING = -90.0


def _xavier_relu(w: Tensor) -> None:
    """``weights_init_g`` of the official code: Xavier-uniform with the ReLU gain."""
    nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain("relu"))


def _normal_002(w: Tensor) -> None:
    """``weights_init`` of the official code (DCGAN): conv weights ~ N(0, 0.02)."""
    nn.init.normal_(w, 0.0, 0.02)


class PlasticConvT(nn.Module):
    """A transposed convolution whose weight can grow in input and output channels and whose
    first ``d_in`` x ``d_out`` block is used (optionally times a weight mask)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.weight = nn.Parameter(torch.empty(c_in, c_out, kernel, kernel))

    @property
    def c_in(self) -> int:
        return self.weight.shape[0]

    @property
    def c_out(self) -> int:
        return self.weight.shape[1]

    def forward(self, x: Tensor, d_in: int, d_out: int, mask: Tensor | None = None) -> Tensor:
        w = self.weight[:d_in, :d_out]
        if mask is not None:
            w = w * mask[:d_in, :d_out]
        return F.conv_transpose2d(x, w, None, self.stride, self.padding)

    def expand(self, add_in: int, add_out: int, init) -> None:
        """Grow by ``add_in`` input and ``add_out`` output channels; the new weights are drawn
        with ``init`` and the old block is kept exactly (the code's ``expand``)."""
        old = self.weight.data
        new = torch.empty(
            old.shape[0] + add_in, old.shape[1] + add_out, self.kernel, self.kernel,
            device=old.device, dtype=old.dtype,
        )  # fmt: skip
        init(new)
        new[: old.shape[0], : old.shape[1]] = old
        self.weight = nn.Parameter(new)


class MaskedGenerator(nn.Module):
    """The DGM generator: per-task masks (on weights or on channels), per-task BatchNorm,
    per-class output layers, and growth. ``masks=False`` gives the same network without masks
    and with one shared BatchNorm (the deep-generative-replay baseline)."""

    def __init__(
        self,
        nz: int,
        ngf: int,
        nc: int,
        num_labels: int,
        variant: str = "dgmw",
        masks: bool = True,
    ):
        super().__init__()
        if variant not in ("dgmw", "dgma"):
            raise ConfigError(f"generator variant must be dgmw or dgma, got {variant!r}")
        if num_labels > nz:
            raise ConfigError(f"nz ({nz}) must hold the one-hot of {num_labels} labels")
        self.nz, self.nc, self.num_labels = nz, nc, num_labels
        self.variant, self.use_masks = variant, masks
        widths = [nz, 4 * ngf, 2 * ngf, ngf]
        self.convs = nn.ModuleList(
            PlasticConvT(widths[i], widths[i + 1], *LAYER_GEOMETRY[i]) for i in range(3)
        )
        # initial weights as in the code: DGMw applies weights_init_g (Xavier), DGMa weights_init
        for conv in self.convs:
            (_xavier_relu if variant == "dgmw" else _normal_002)(conv.weight.data)
        self.caps: list[list[int]] = []  # caps[t][l]: channels of layer l task t uses
        self.bns = nn.ModuleList()  # bns[t]: the three BatchNorms of task t
        self.last = nn.ModuleDict()  # per-class output layer, keyed by str(class)
        self.last_in: dict[int, int] = {}  # input channels of each class's output layer
        self.class_task: dict[int, int] = {}  # the task a class was learnt in
        # per-task mask embeddings; the current task's are trainable, older ones are frozen
        self.emb = nn.ParameterList()
        self.past_emb: list[list[Tensor]] = []

    # --- tasks ---------------------------------------------------------------------------
    @property
    def num_tasks(self) -> int:
        return len(self.caps)

    def emb_shape(self, layer: int) -> tuple[int, ...]:
        conv = self.convs[layer]
        return tuple(conv.weight.shape) if self.variant == "dgmw" else (conv.c_out,)

    def add_task(self, classes: list[int]) -> int:
        """Open a new task with the layers' current sizes: new BatchNorms, zero embeddings
        (``ec.weight.fill_(0)``), one output layer per new class. Returns the task index."""
        t = self.num_tasks
        if self.use_masks or t == 0:
            caps = [conv.c_out for conv in self.convs]
            self.caps.append(caps)
            bns = nn.ModuleList(nn.BatchNorm2d(c) for c in caps)
            if t == 0:  # the first BatchNorms get weights_init: gamma ~ N(1, 0.02)
                for bn in bns:
                    nn.init.normal_(bn.weight, 1.0, 0.02)
            self.bns.append(bns.to(self.convs[0].weight.device))
        else:  # no masks (DGR): one shared network, every task uses task 0's slot
            self.caps.append(list(self.caps[0]))
        if self.use_masks:
            if len(self.emb):
                self.past_emb.append([e.detach().clone() for e in self.emb])
            device = self.convs[0].weight.device
            self.emb = nn.ParameterList(
                nn.Parameter(torch.zeros(self.emb_shape(i), device=device)) for i in range(3)
            )
        for c in classes:
            if str(c) in self.last:
                continue
            # official: Plastic_ConvTranspose2d(cap_conv3[t], nc, 4, 2, 1), PyTorch default init
            layer = nn.ConvTranspose2d(self.caps[t][2], self.nc, 4, 2, 1, bias=False)
            self.last[str(c)] = layer.to(self.convs[0].weight.device)
            self.last_in[c] = self.caps[t][2]
            self.class_task[c] = t
        return t

    def restore_structure(
        self, caps: list[list[int]], last_in: dict[int, int], embeddings: bool
    ) -> None:
        """Rebuild the containers a generator grows while it learns ``len(caps)`` tasks (per-task
        BatchNorms, one output layer per class, the current embeddings), empty, so that a
        checkpoint's weights can be loaded into them; growing layers are resized by the
        loader itself (``methods/state.py``)."""
        device = self.convs[0].weight.device
        tasks_with_bn = len(caps) if self.use_masks else min(1, len(caps))
        self.bns = nn.ModuleList(
            nn.ModuleList(nn.BatchNorm2d(c) for c in caps[t]) for t in range(tasks_with_bn)
        ).to(device)
        self.last = nn.ModuleDict(
            {str(c): nn.ConvTranspose2d(n_in, self.nc, 4, 2, 1, bias=False)
             for c, n_in in last_in.items()}
        ).to(device)
        if self.use_masks and embeddings:  # between tasks the current embeddings are moved
            self.emb = nn.ParameterList(
                nn.Parameter(torch.zeros(self.emb_shape(i), device=device)) for i in range(3)
            )

    def embeddings(self, t: int) -> list[Tensor]:
        return self.past_emb[t] if t < len(self.past_emb) else list(self.emb)

    def masks(self, t: int, s: float) -> list[Tensor]:
        """``sigmoid(s * e_l[t])`` for the three layers (``netG.mask``)."""
        return [torch.sigmoid(s * e) for e in self.embeddings(t)]

    # --- forward -------------------------------------------------------------------------
    def noise(self, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, 1) with its first ``num_labels`` entries replaced by the one-hot label
        (``generate_noise``)."""
        z = torch.randn(len(labels), self.nz, generator=generator, device=labels.device)
        z[:, : self.num_labels] = F.one_hot(labels, self.num_labels).to(z.dtype)
        return z

    def forward(self, z: Tensor, labels: Tensor, t: int, s: float) -> tuple[Tensor, list[Tensor]]:
        caps = self.caps[t]
        masks = self.masks(t, s) if self.use_masks else [None, None, None]
        bns = self.bns[t] if self.use_masks else self.bns[0]
        x = z.view(len(z), self.nz, 1, 1)
        d_in = self.nz
        for layer, conv in enumerate(self.convs):
            d_out = caps[layer]
            if self.variant == "dgmw":
                x = conv(x, d_in, d_out, masks[layer])
            else:
                x = conv(x, d_in, d_out)
                if masks[layer] is not None:  # DGMa: channel gates on the activations
                    x = x * masks[layer][:d_out].view(1, -1, 1, 1)
            x = F.relu(bns[layer](x))
            d_in = d_out
        out: Tensor | None = None
        for c in labels.unique().tolist():
            sel = labels == c
            y = self.last[str(c)](x[sel][:, : self.last_in[c]])
            if out is None:
                out = y.new_empty((len(z), *y.shape[1:]))
            out[sel] = y
        return torch.tanh(out), [m for m in masks if m is not None]

    @torch.no_grad()
    def generate(
        self, labels: Tensor, s: float, generator: torch.Generator | None = None
    ) -> Tensor:
        """Samples of the given classes, each with its own task's masks (eval mode, ``s``)."""
        was_training = self.training
        self.eval()
        out = None
        for c in labels.unique().tolist():
            sel = labels == c
            lab = labels[sel]
            y, _ = self(self.noise(lab, generator), lab, self.class_task[c], s)
            if out is None:
                out = y.new_empty((len(labels), *y.shape[1:]))
            out[sel] = y
        self.train(was_training)
        return out

    # --- growth --------------------------------------------------------------------------
    def channels(self) -> list[int]:
        return [conv.c_out for conv in self.convs]

    def num_weights(self) -> int:
        return sum(conv.weight.numel() for conv in self.convs)

    def grow(self, reserved: list[int]) -> list[int]:
        """Add the capacity the last task reserved to every layer; returns output channels
        added per layer.

        DGMw (``netG.extand``): ``reserved`` counts weights. conv1 gets
        ``ceil(n0 / (nz k k))`` output channels; conv2 gets those as input channels (which adds
        ``added_in * out * k k`` weights) plus ``max(ceil((n1 - that) / (in k k)), 0)`` output
        channels, where ``in`` is conv1's new width; conv3 likewise. New weights ~ N(0, 0.02).
        DGMa: ``reserved`` counts channels; layer l gets that many output channels and the next
        layer the matching input channels; new weights Xavier (the code's ``extand``).
        """
        c1, c2, c3 = self.convs
        if self.variant == "dgma":
            add = [int(r) for r in reserved]
            ins = [0, add[0], add[1]]
            for conv, a_in, a_out in zip(self.convs, ins, add, strict=True):
                conv.expand(a_in, a_out, _xavier_relu)
        else:
            k = c1.kernel * c1.kernel
            add1 = math.ceil(reserved[0] / (self.nz * k))
            c1.expand(0, add1, _normal_002)
            from_inputs2 = add1 * c2.c_out * k
            add2 = max(math.ceil((reserved[1] - from_inputs2) / (c1.c_out * k)), 0)
            c2.expand(add1, add2, _normal_002)
            from_inputs3 = add2 * c3.c_out * k
            add3 = max(math.ceil((reserved[2] - from_inputs3) / (c2.c_out * k)), 0)
            c3.expand(add2, add3, _normal_002)
            add = [add1, add2, add3]
        # old tasks' embeddings on the new weights: -90, i.e. masked out (expand_embeddings)
        current = [list(self.emb)] if len(self.emb) else []
        for t, embs in enumerate(self.past_emb + current):
            grown = []
            for layer, e in enumerate(embs):
                new = torch.full(self.emb_shape(layer), OLD_TASK_NEW_WEIGHT_EMBEDDING,
                                 device=e.device)  # fmt: skip
                new[tuple(slice(0, n) for n in e.shape)] = e.detach()
                grown.append(new)
            if t < len(self.past_emb):
                self.past_emb[t] = grown
            else:
                self.past_emb.append(grown)
                self.emb = nn.ParameterList()
        return add


def pad_to(mask: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Zero-pad a (binary) mask to a grown layer's shape (``F.pad`` in the code)."""
    out = mask.new_zeros(shape)
    out[tuple(slice(0, n) for n in mask.shape)] = mask
    return out


@dataclass
class DiscriminatorParams:
    """AC-WGAN-GP discriminator of DGM's MNIST/SVHN configs (``net_DGMw.netD``)."""

    ndf: int = 32  # cfg_mnist_dgmw.yml / cfg_svhn_dgmw.yml: ndf 32

    def validate(self) -> None:
        if self.ndf < 1:
            raise ConfigError(f"model.ndf must be at least 1, got {self.ndf}")


class ACDiscriminator(nn.Module):
    """Conv(nc->ndf, k5 s2 p2) -> LReLU -> Conv(ndf->2ndf) -> BN -> LReLU -> Conv(2ndf->4ndf)
    -> BN -> LReLU on 32x32 images in [-1, 1]; a critic head (WGAN score) and an auxiliary
    class head that grows by one output per class (``aux_linear``).

    ``forward`` returns class logits over the stream's outputs (unseen classes ``-inf``); the
    DGM method feeds it images already mapped to 32x32 in [-1, 1].
    """

    def __init__(self, nc: int, ndf: int, num_outputs: int):
        super().__init__()
        self.nc, self.ndf, self.num_outputs = nc, ndf, num_outputs
        self.conv1 = nn.Conv2d(nc, ndf, 5, 2, 2, bias=False)
        self.conv2 = nn.Conv2d(ndf, 2 * ndf, 5, 2, 2, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * ndf)
        self.conv3 = nn.Conv2d(2 * ndf, 4 * ndf, 5, 2, 2, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * ndf)
        self.feature_dim = 4 * ndf * 4 * 4
        self.disc_linear = nn.Linear(self.feature_dim, 1)
        # every output at first, so other methods can use it as a plain classifier; DGM resizes
        # it to the classes seen at every task (``grow_classes``)
        self.aux_linear = nn.Linear(self.feature_dim, num_outputs)
        self.reinitialise()

    def reinitialise(self) -> None:
        """``netD.apply(weights_init)``: conv ~ N(0, 0.02), BN gamma ~ N(1, 0.02), beta 0;
        linear heads keep PyTorch's default initialisation (``reset_parameters``)."""
        for conv in (self.conv1, self.conv2, self.conv3):
            _normal_002(conv.weight.data)
        for bn in (self.bn2, self.bn3):
            bn.reset_running_stats()
            nn.init.normal_(bn.weight, 1.0, 0.02)
            nn.init.zeros_(bn.bias)
        self.disc_linear.reset_parameters()
        self.aux_linear.reset_parameters()

    @property
    def num_classes(self) -> int:
        return self.aux_linear.out_features

    def grow_classes(self, n: int, keep_rows: bool) -> None:
        """Give the auxiliary head ``n`` outputs; ``keep_rows`` copies the old rows."""
        old = self.aux_linear
        new = nn.Linear(self.feature_dim, n).to(old.weight.device)
        if keep_rows:
            k = min(n, old.out_features)
            with torch.no_grad():
                new.weight[:k] = old.weight[:k]
                new.bias[:k] = old.bias[:k]
        self.aux_linear = new

    def features(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.bn2(self.conv2(x)), 0.2)
        x = F.leaky_relu(self.bn3(self.conv3(x)), 0.2)
        return x.flatten(1)

    def both(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(critic score per sample, class logits over the classes seen)."""
        h = self.features(x)
        return self.disc_linear(h).view(-1), self.aux_linear(h)

    def critic(self, x: Tensor) -> Tensor:
        return self.disc_linear(self.features(x)).view(-1)

    def forward(self, x: Tensor, task_id: int | None = None) -> Tensor:
        logits = self.aux_linear(self.features(x))
        if logits.shape[1] >= self.num_outputs:
            return logits[:, : self.num_outputs]
        pad = logits.new_full((len(x), self.num_outputs - logits.shape[1]), float("-inf"))
        return torch.cat([logits, pad], 1)


@MODELS.register("dgm-disc", params=DiscriminatorParams)
def build_discriminator(p: DiscriminatorParams, info: StreamInfo) -> ACDiscriminator:
    """AC-WGAN-GP discriminator/classifier of DGM (32x32 images in [-1, 1], growing aux head)."""
    if len(info.input_shape) != 3:
        raise ConfigError(f"model dgm-disc needs image inputs (C,H,W), got {info.input_shape}")
    return ACDiscriminator(info.input_shape[0], p.ndf, info.num_outputs)
