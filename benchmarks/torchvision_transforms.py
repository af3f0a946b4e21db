"""Plain-torch versions of the torchvision transforms the official codes run here use
(van de Ven 2019: Compose, Pad, ToTensor, Lambda; Laborieux 2021 and Ludwig 2024: Compose,
ToTensor, Lambda, Normalize), computed as torchvision computes them. torchvision itself does not
import beside the pinned torch; each runner's ``shim/torchvision/transforms.py`` loads this file."""

import numpy as np
import torch
import torch.nn.functional as F


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class Pad:
    """Zero padding on every side (torchvision's default fill), before ToTensor."""

    def __init__(self, padding: int):
        self.padding = padding

    def __call__(self, x):
        return F.pad(x, (self.padding,) * 4)


class ToTensor:
    """As torchvision's ToTensor: uint8 HxW (the shim's MNIST) -> float 1xHxW in [0, 1]; a numpy
    HxWxC array -> CxHxW, divided by 255 only when it is uint8."""

    def __call__(self, x):
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x))
            x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1).contiguous()
        elif x.ndim == 2:
            x = x.unsqueeze(0)
        if x.dtype == torch.uint8:
            return x.to(torch.float32).div(255)
        return x.to(torch.float32)


class Normalize:
    """(x - mean) / std per channel, in the order and dtype torchvision computes it."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std = mean, std

    def __call__(self, x):
        mean = torch.as_tensor(self.mean, dtype=x.dtype).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=x.dtype).view(-1, 1, 1)
        return x.sub(mean).div(std)


class Lambda:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)
