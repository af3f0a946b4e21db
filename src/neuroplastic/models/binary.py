"""Binarized neural networks (Laborieux et al. 2021) with real one-bit storage.

A binary layer keeps *hidden* real-valued weights ``W_h`` (the trainable parameter) and uses
``sign(W_h)`` in the forward pass. The official code (``Laborieux-Axel/SynapticMetaplasticityBNN``,
``models_utils.py``: ``BinarizeLinear``) copies ``sign(weight.org)`` into ``weight.data`` before
the forward pass and the gradient computed for the binary weight back onto ``weight.org`` before
the step; the straight-through form ``W_h + (sign(W_h) - W_h).detach()`` used here computes the
same forward value and gives the hidden weight exactly that gradient.

Network (official ``BNN`` class): for every layer ``fc -> BatchNorm1d -> SignActivation``, the
last layer without the sign; no biases; BatchNorm with ``affine=True`` and
``track_running_stats=False`` (the 2023 fix for GitHub issue #3), so BatchNorm always normalises
with the statistics of the batch it sees, in training and at test. The first layer's input (the
pixels) is not binarized; later layers receive the ±1 outputs of the sign activation.

``sign(0)`` is taken as +1 (``torch.sign`` gives 0) so that every weight and activation is
exactly one of two values and fits in one bit; a hidden weight or a BatchNorm output equal to
exactly 0.0 has probability zero in practice.

One-bit storage: :meth:`BinaryClassifier.pack` returns a copy whose binary layers hold only the
sign bits (``uint8``, 8 weights a byte) and unpack them per layer on the fly in the forward pass,
giving bit-identical logits; :func:`save_packed` / :func:`load_packed` write and read such a model.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import MODELS
from ..scenarios.task import StreamInfo
from .classifier import Classifier, MultiHead

PACKED_FORMAT = "neuroplastic-packed-bnn/1"
_BIT_WEIGHTS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)
_SHIFTS = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0], dtype=torch.uint8)
#: floats of a packed layer's weights unpacked at once in its forward pass (4 MiB)
UNPACK_FLOATS = 1 << 20


# --- sign functions ------------------------------------------------------------------------
def binarize(x: Tensor) -> Tensor:
    """±1 with sign(0) = +1 (so that every value fits in one bit). The two values are 0-dim
    tensors broadcast by ``where``: no full-size tensors of ones are made (issue 24: they were
    half the cost of the sign)."""
    one = x.new_ones(())
    return torch.where(x >= 0, one, -one)


class SignActivation(torch.autograd.Function):
    """sign(x) forward; straight-through gradient ``grad * 1_{|x| <= 1}`` backward (official
    ``SignActivation``: ``grad_i[i.abs() > 1.0] = 0``; Hubara et al. 2016)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return binarize(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def sign_activation(x: Tensor) -> Tensor:
    return SignActivation.apply(x)


class _BinaryWeight(torch.autograd.Function):
    """sign(W_h) forward, the gradient passed to W_h unchanged: the identity straight-through
    estimator as one autograd node. ``w + (sign(w) - w).detach()`` computes the same (exactly,
    for |w| below 2^24) with two more full-size passes and a saved tensor per layer."""

    @staticmethod
    def forward(ctx, w: Tensor) -> Tensor:
        return binarize(w)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad


def binary_weight(w: Tensor) -> Tensor:
    """sign(W_h) in the forward pass; the gradient reaches W_h unchanged (identity STE, as the
    official code's copy of the binary weight's gradient onto ``weight.org``)."""
    return _BinaryWeight.apply(w)


# --- one-bit packing ---------------------------------------------------------------------
def pack_signs(w: Tensor) -> Tensor:
    """The signs of ``w`` (>= 0 -> bit 1) packed 8 per byte, most significant bit first, one
    row per output unit (``w`` viewed as (out, -1), each row padded to whole bytes): the layout
    of ``numpy.packbits(..., axis=1)``."""
    rows = w.detach().reshape(w.shape[0], -1) if w.dim() > 1 else w.detach().reshape(1, -1)
    bits = (rows >= 0).to(torch.uint8)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = torch.cat([bits, bits.new_zeros(bits.shape[0], pad)], 1)
    weights = _BIT_WEIGHTS.to(bits.device)
    return (bits.view(bits.shape[0], -1, 8) * weights).sum(2, dtype=torch.uint8)


def unpack_signs(packed: Tensor, shape: tuple[int, ...], dtype=torch.float32) -> Tensor:
    """±1 tensor of ``shape`` (or of its first ``len(packed)`` rows) from :func:`pack_signs`."""
    rows = packed.shape[0]
    per_row = math.prod(shape[1:]) if len(shape) > 1 else math.prod(shape)
    bits = (packed.unsqueeze(2) >> _SHIFTS.to(packed.device)) & 1
    signs = bits.reshape(rows, -1)[:, :per_row].to(dtype) * 2 - 1
    return signs.view(rows, *shape[1:]) if len(shape) > 1 else signs.view(shape)


class _BinaryMixin:
    """Shared by binary linear and conv layers: hidden weights or, once packed, sign bits."""

    weight: Tensor
    packed: bool = False

    def effective_weight(self) -> Tensor:
        if self.packed:
            return unpack_signs(self.bits, self.weight_shape)
        return binary_weight(self.weight)

    def pack_(self, empty: bool = False) -> None:
        """Replace the hidden weights by their sign bits (in place, irreversible). ``empty``
        only allocates the bits (to be filled by ``load_state_dict``), so a model built on the
        meta device never holds float weights."""
        if self.packed:
            return
        shape = tuple(self.weight.shape)
        if empty:
            bits = torch.zeros(shape[0], -(-math.prod(shape[1:]) // 8), dtype=torch.uint8)
        else:
            bits = pack_signs(self.weight)
        del self.weight  # removes the Parameter
        self.register_buffer("bits", bits)
        self.weight_shape = shape
        self.packed = True

    def packed_nbytes(self) -> int:
        shape = self.weight_shape if self.packed else tuple(self.weight.shape)
        return shape[0] * -(-math.prod(shape[1:]) // 8)

    def row_chunks(self) -> list[tuple[int, int]]:
        """Output-row ranges unpacked one at a time (at most ``UNPACK_FLOATS`` floats each), so
        a packed layer never holds its whole float weight matrix."""
        rows = self.weight_shape[0]
        per_row = max(1, math.prod(self.weight_shape[1:]))
        step = max(1, UNPACK_FLOATS // per_row)
        return [(r, min(rows, r + step)) for r in range(0, rows, step)]


class BinaryLinear(_BinaryMixin, nn.Linear):
    """Linear layer with binary weights sign(W_h), no bias (official ``BinarizeLinear``)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.packed:  # unpack a block of output units at a time
            return torch.cat(
                [F.linear(x, unpack_signs(self.bits[a:b], (b - a, self.weight_shape[1])))
                 for a, b in self.row_chunks()],
                dim=-1,
            )  # fmt: skip
        return F.linear(x, self.effective_weight())


class BinaryConv2d(_BinaryMixin, nn.Conv2d):
    """2-D convolution with binary weights sign(W_h), no bias (official ``BinarizeConv2d``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, **kw: Any):
        super().__init__(in_channels, out_channels, kernel_size, bias=False, **kw)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.effective_weight(), None)


def binary_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, _BinaryMixin)]


# --- the network -------------------------------------------------------------------------
@dataclass
class BNNParams:
    """Binarized MLP (official ``BNN([784] + hidden + [10])``).

    ``hidden`` default 2x1024 is the CPU-sized setting of this project; the paper's permuted-MNIST
    network is 2x4096 (README: ``--hidden-layers 4096 4096``). ``init`` and ``init_width`` are the
    official defaults (``--init uniform --init-width 0.1``: U(-0.05, 0.05)); ``gauss`` draws
    N(0, init_width) (the stream-CIFAR-10 setting uses width 0.007). ``track_running_stats``
    False is the official code since the 2023 fix. ``bn_weight_init: uniform`` reproduces old
    PyTorch's uniform BatchNorm scale init (open PR #4); ``ones`` (default) is what the official
    code gives with current PyTorch.
    """

    hidden: list[int] = field(default_factory=lambda: [1024, 1024])
    init: Literal["uniform", "gauss"] = "uniform"
    init_width: float = 0.1
    track_running_stats: bool = False
    bn_weight_init: Literal["ones", "uniform"] = "ones"

    def validate(self) -> None:
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise ConfigError(f"model.hidden must be one or more positive sizes, got {self.hidden}")
        if self.init_width <= 0:
            raise ConfigError(f"model.init_width must be positive, got {self.init_width}")


def _batchnorm(width: int, p: BNNParams) -> nn.BatchNorm1d:
    bn = nn.BatchNorm1d(width, affine=True, track_running_stats=p.track_running_stats)
    if p.bn_weight_init == "uniform":
        nn.init.uniform_(bn.weight)
    return bn


def _init(layer: nn.Module, p: BNNParams) -> None:
    if p.init == "uniform":
        nn.init.uniform_(layer.weight, -p.init_width / 2, p.init_width / 2)
    else:
        nn.init.normal_(layer.weight, 0.0, p.init_width)


class BinaryMLPBody(nn.Module):
    """``[fc -> BN -> sign]`` per hidden layer; returns the ±1 features of the last one.

    ``gates`` (one optional 0/1 tensor per hidden layer, not a parameter) multiplies the sign
    outputs: a unit whose gate is 0 does not fire, and, since its output and the gradient through
    it are 0, neither its incoming nor its outgoing weights learn. The engram method sets it.
    """

    def __init__(self, in_features: int, hidden: list[int], p: BNNParams):
        super().__init__()
        widths = [in_features, *hidden]
        pairs = zip(widths, widths[1:], strict=False)
        self.layers = nn.ModuleList(BinaryLinear(a, b) for a, b in pairs)
        self.norms = nn.ModuleList(_batchnorm(b, p) for b in hidden)
        for layer in self.layers:
            _init(layer, p)
        self.gates: list[Tensor | None] = [None] * len(hidden)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)  # the first layer's input (pixels, features) is not binarized
        for layer, norm, gate in zip(self.layers, self.norms, self.gates, strict=True):
            x = sign_activation(norm(layer(x)))
            if gate is not None:
                x = x * gate
        return x


class BinaryHead(nn.Module):
    """The output layer: binary fc -> BatchNorm, no sign (official ``BNN.forward``)."""

    def __init__(self, in_features: int, out_features: int, p: BNNParams):
        super().__init__()
        self.fc = BinaryLinear(in_features, out_features)
        _init(self.fc, p)
        self.bn = _batchnorm(out_features, p)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.fc(x))


class BinaryClassifier(Classifier):
    """A :class:`Classifier` whose body and head are binary; ``packed_bytes`` counts one bit a
    binary weight plus the full-precision BatchNorm parameters."""

    def __init__(self, in_features: int, p: BNNParams, info: StreamInfo):
        body = BinaryMLPBody(in_features, p.hidden, p)
        super().__init__(body, p.hidden[-1], info)
        if isinstance(self.head, MultiHead):  # one binary head per task, same unit bookkeeping
            self.head.heads = nn.ModuleList(
                BinaryHead(p.hidden[-1], len(c), p) for c in info.task_classes
            )
        else:
            self.head = BinaryHead(p.hidden[-1], info.num_outputs, p)
        self.bnn_params = p
        self.info = info

    def batchnorms(self) -> list[nn.BatchNorm1d]:
        return [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def packed_bytes(self) -> int:
        binary = binary_layers(self)
        total = sum(layer.packed_nbytes() for layer in binary)
        skip = {id(layer.weight) for layer in binary if not layer.packed}
        skip |= {id(layer.bits) for layer in binary if layer.packed}
        for t in list(self.parameters()) + list(self.buffers()):
            if id(t) not in skip:
                total += t.numel() * t.element_size()
        return total

    def pack(self) -> BinaryClassifier:
        """A copy holding one bit per binary weight, for inference and checkpoints."""
        packed = copy.deepcopy(self)
        for layer in binary_layers(packed):
            layer.pack_()
        packed.eval()
        return packed

    @property
    def is_packed(self) -> bool:
        return all(layer.packed for layer in binary_layers(self))


@MODELS.register("bnn", params=BNNParams)
def build_bnn(p: BNNParams, info: StreamInfo) -> BinaryClassifier:
    """Binarized MLP, sign weights and activations, BatchNorm, no biases (Laborieux 2021)."""
    return BinaryClassifier(math.prod(info.input_shape), p, info)


# --- packed checkpoints ------------------------------------------------------------------
def save_packed(model: BinaryClassifier, path: str | Path) -> int:
    """Write ``model`` with one bit per binary weight; returns the file size in bytes."""
    packed = model if model.is_packed else model.pack()
    info = asdict(packed.info)
    payload = {
        "format": PACKED_FORMAT,
        "params": asdict(packed.bnn_params),
        "info": info,
        "state": {k: v.detach().cpu() for k, v in packed.state_dict().items()},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path.stat().st_size


def load_packed(path: str | Path) -> BinaryClassifier:
    """Read a :func:`save_packed` file into a packed, ready-to-run model."""
    payload = torch.load(path, weights_only=True, map_location="cpu")
    if payload.get("format") != PACKED_FORMAT:
        raise ConfigError(f"{path} is not a packed BNN checkpoint ({PACKED_FORMAT})")
    info = dict(payload["info"])
    info["task_classes"] = tuple(tuple(c) for c in info["task_classes"])
    info["input_shape"] = tuple(info["input_shape"])
    with torch.device("meta"):  # no float hidden weights are ever allocated
        model = build_bnn(BNNParams(**payload["params"]), StreamInfo(**info))
    for layer in binary_layers(model):
        layer.pack_(empty=True)
    model.load_state_dict(payload["state"], assign=True)
    model.eval()
    return model
