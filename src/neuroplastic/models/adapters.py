"""Bottleneck adapters: the per-task sub-networks of EASE and Artsy.

EASE (Zhou et al., CVPR 2024; code ``sun-hailong/CVPR24-Ease``, ``backbone/vit_ease.py``
``Adapter`` with the settings of ``utils/inc_net.py``) adds to every transformer block, in
parallel with its MLP, ``scale * up(dropout(relu(down(x))))``: ``down`` d -> 64, ``up`` 64 -> d,
``scale`` 0.1, no layer norm, "lora" initialisation (down: Kaiming-uniform with a = sqrt(5),
up and both biases zero), dropout 0.1. The zero up-projection makes a fresh sub-network the
identity, so task t starts from exactly the pre-trained feature.

For the convolutional backbone here, the projections are 1x1 convolutions (a per-pixel linear
map, the analogue of the per-token linear map of a ViT) and the adapter runs in parallel with a
whole inverted-bottleneck block (the MBConv expand/depthwise/project is the analogue of the
transformer MLP). When the block changes channels or stride, ``down`` maps the block's input
channels and ``up`` the block's output channels, and ``down`` takes the block's stride.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn


class BottleneckAdapter(nn.Module):
    """``scale * up(dropout(relu(down(x))))`` on (N, C, H, W) maps; up-projection zero-init."""

    def __init__(
        self,
        cin: int,
        cout: int,
        bottleneck: int = 64,
        stride: int = 1,
        scale: float = 0.1,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.down = nn.Conv2d(cin, bottleneck, 1, stride=stride)
        self.up = nn.Conv2d(bottleneck, cout, 1)
        self.scale = scale
        self.dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))  # EASE "lora" init
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)  # zero up-projection: a new adapter changes nothing
        nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * self.up(self.dropout(self.down(x).relu()))


def adapter_set(
    channels: Sequence[tuple[int, int, int]],
    bottleneck: int = 64,
    scale: float = 0.1,
    dropout: float = 0.1,
) -> nn.ModuleList:
    """One adapter per adapted block, from the backbone's ``adapted_channels``."""
    return nn.ModuleList(
        BottleneckAdapter(cin, cout, bottleneck, stride, scale, dropout)
        for cin, cout, stride in channels
    )
