"""Tensor versions of the transforms his MNIST pipeline uses (on uint8 28x28 images)."""

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
    """uint8 HxW -> float 1xHxW in [0, 1], as torchvision's ToTensor on a greyscale image."""

    def __call__(self, x):
        return x.to(torch.float32).div(255).unsqueeze(0)


class Lambda:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)
