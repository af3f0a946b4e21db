"""Fully connected and small convolutional networks with sensible defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import nn

from ..registry import MODELS
from ..scenarios.task import StreamInfo
from .classifier import Classifier


@dataclass
class MLPParams:
    """Multi-layer perceptron on flattened inputs.

    Default 2x400 ReLU: van de Ven & Tolias, "Three scenarios for continual learning" (2019),
    split-MNIST network; use ``hidden: [1000, 1000]`` for their permuted-MNIST protocol.
    """

    hidden: list[int] = field(default_factory=lambda: [400, 400])
    dropout: float = 0.0

    def validate(self) -> None:
        if any(h <= 0 for h in self.hidden):
            from ..errors import ConfigError

            raise ConfigError(f"model.hidden must be positive sizes, got {self.hidden}")


def mlp_body(in_features: int, hidden: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers)


@MODELS.register("mlp", params=MLPParams)
def build_mlp(p: MLPParams, info: StreamInfo) -> Classifier:
    """MLP on flattened inputs (default 2x400 ReLU, van de Ven & Tolias 2019)."""
    in_features = math.prod(info.input_shape)
    width = p.hidden[-1] if p.hidden else in_features
    return Classifier(mlp_body(in_features, p.hidden, p.dropout), width, info)


@dataclass
class CNNParams:
    """Two 3x3 conv + 2x2 max-pool blocks then a fully connected layer.

    Defaults (32, 64 channels; 256 hidden) are the small CNN timed in the project's data notes
    (about 20 s per CIFAR-10 epoch on two CPU cores).
    """

    channels: list[int] = field(default_factory=lambda: [32, 64])
    hidden: int = 256
    dropout: float = 0.0


@MODELS.register("cnn", params=CNNParams)
def build_cnn(p: CNNParams, info: StreamInfo) -> Classifier:
    """Small CNN: [conv3x3-ReLU-maxpool] x len(channels), then FC hidden (images only)."""
    if len(info.input_shape) != 3:
        from ..errors import ConfigError

        raise ConfigError(f"model cnn needs image inputs (C,H,W), got shape {info.input_shape}")
    c, h, w = info.input_shape
    layers: list[nn.Module] = []
    for out in p.channels:
        layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = out, h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c * h * w, p.hidden), nn.ReLU()]
    if p.dropout > 0:
        layers.append(nn.Dropout(p.dropout))
    return Classifier(nn.Sequential(*layers), p.hidden, info)


@dataclass
class BagOfWordsParams:
    """Mean of learned word embeddings (padding id 0 ignored), then an MLP.

    A fast text baseline; the CLASSP experiments add a Transformer encoder.
    """

    embedding_dim: int = 64
    hidden: list[int] = field(default_factory=lambda: [64])
    vocab_size: int | None = None  # default: the stream's vocabulary size


class _BagOfWords(nn.Module):
    def __init__(self, vocab: int, dim: int, hidden: list[int]):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab, dim, mode="mean", padding_idx=0)
        self.mlp = mlp_body(dim, hidden)

    def forward(self, tokens):
        return self.mlp(self.embedding(tokens))


@MODELS.register("bow", params=BagOfWordsParams)
def build_bow(p: BagOfWordsParams, info: StreamInfo) -> Classifier:
    """Bag of word embeddings + MLP over token-id inputs (text benchmarks)."""
    vocab = p.vocab_size or getattr(info, "vocab_size", None)
    if not vocab:
        from ..errors import ConfigError

        raise ConfigError(
            "model bow needs token inputs: set model.vocab_size or use a text benchmark"
        )
    width = p.hidden[-1] if p.hidden else p.embedding_dim
    return Classifier(_BagOfWords(vocab, p.embedding_dim, p.hidden), width, info)


@MODELS.register("mlp-glorot", params=MLPParams)
def build_mlp_glorot(p: MLPParams, info: StreamInfo) -> Classifier:
    """The MLP with the metaplasticity code's initialisation: Glorot-normal weights
    ``randn * sqrt(2 / (fan_in + fan_out))`` and zero biases on every linear layer
    (vsnnlab/Metaplasticity ``initializeWeight.m``, ver 1), drawn from torch's global generator
    (seeded with the run's seed, so runs that differ only in the update rule start alike)."""
    import torch

    model = build_mlp(p, info)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                fan_out, fan_in = m.weight.shape
                m.weight.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)))
                if m.bias is not None:
                    m.bias.zero_()
    return model
