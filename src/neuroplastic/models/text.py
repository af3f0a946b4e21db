"""Text models of the CLASSP sentiment experiments.

``transformer``: a one-layer Transformer encoder over token ids, trained from scratch, after the
model of the official ``experiment_SA.py`` (Ludwig 2024): embedding (padding id 0) - dropout -
LayerNorm - one ``TransformerEncoderLayer`` - the *same* LayerNorm again - a read-out - linear
head. The official model has no positional encoding and no padding mask and reads the last
sequence position, which for a padded sentence is a padding token; here the default is a proper
key-padding mask and a masked mean over the real tokens, and ``pool: last`` with
``padding_mask: false`` mirrors the official read-out. Sizes default to CPU scale (the paper
uses d_model 600, 30 heads).

``sentence-head``: a small MLP over frozen sentence embeddings (e.g. the ``sentiment-minilm``
benchmark's 384-d all-MiniLM-L6-v2 vectors): the encoder is frozen, so continual learning
happens in this head alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import MODELS
from ..scenarios.task import StreamInfo
from .classifier import Classifier
from .mlp import mlp_body

PAD = 0  # the token id of padding (datasets.text.PAD)


@dataclass
class TransformerParams:
    """One-layer Transformer encoder over token ids (official experiment_SA.py layout)."""

    d_model: int = 64  # paper: 600 (experiment_SA.py); CPU-sized default
    heads: int = 4  # paper: 30 (experiment_SA.py); must divide d_model
    feedforward: int = 128  # PyTorch's default 2048 in experiment_SA.py; CPU-sized default
    layers: int = 1  # experiment_SA.py: 1 ("the complexity of this task requires only one")
    dropout: float = 0.1  # experiment_SA.py
    #: none: like experiment_SA.py (attention sees a bag of tokens); learned: a position table
    positional: Literal["none", "learned"] = "none"
    #: mean: masked mean over real tokens; last: the last position (experiment_SA.py)
    pool: Literal["mean", "last"] = "mean"
    #: True: padded keys are masked out of attention; False: experiment_SA.py (no mask)
    padding_mask: bool = True
    vocab_size: int | None = None  # default: the stream's vocabulary size
    max_len: int = 512  # longest sequence the learned position table covers

    def validate(self) -> None:
        if self.d_model < 1 or self.heads < 1 or self.d_model % self.heads:
            raise ConfigError(
                f"model transformer: heads ({self.heads}) must divide d_model ({self.d_model})"
            )
        if self.feedforward < 1 or self.layers < 1:
            raise ConfigError("model transformer: feedforward and layers must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError("model transformer: dropout must be in [0, 1)")


class TokenTransformer(nn.Module):
    """Token ids (N, L), 0 = padding -> a d_model feature per sequence."""

    def __init__(self, vocab: int, p: TransformerParams):
        super().__init__()
        self.p = p
        self.embedding = nn.Embedding(vocab, p.d_model, padding_idx=PAD)
        self.position = nn.Embedding(p.max_len, p.d_model) if p.positional == "learned" else None
        self.dropout = nn.Dropout(p.dropout)
        self.norm = nn.LayerNorm(p.d_model)  # used before and after the encoder, as official
        layer = nn.TransformerEncoderLayer(
            p.d_model, p.heads, p.feedforward, p.dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, p.layers, enable_nested_tensor=False)

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.shape[1] > self.p.max_len and self.position is not None:
            raise ConfigError(f"sequence of {tokens.shape[1]} tokens > max_len {self.p.max_len}")
        real = tokens != PAD  # (N, L)
        h = self.embedding(tokens)
        if self.position is not None:
            h = h + self.position(torch.arange(tokens.shape[1], device=tokens.device))
        h = self.norm(self.dropout(h))
        mask = ~real if self.p.padding_mask else None
        h = self.norm(self.encoder(h, src_key_padding_mask=mask))
        if self.p.pool == "last":
            return h[:, -1]  # experiment_SA.py: attention_output[-1] (a PAD when padded)
        weights = real.unsqueeze(-1).to(h.dtype)
        return (h * weights).sum(1) / weights.sum(1).clamp_min(1.0)


@MODELS.register("transformer", params=TransformerParams)
def build_transformer(p: TransformerParams, info: StreamInfo) -> Classifier:
    """One-layer Transformer encoder over token ids, padding-masked mean pooling (CLASSP SA)."""
    vocab = p.vocab_size or info.vocab_size
    if not vocab:
        raise ConfigError(
            "model transformer needs token inputs: set model.vocab_size or use a text benchmark"
        )
    return Classifier(TokenTransformer(vocab, p), p.d_model, info)


@dataclass
class SentenceHeadParams:
    """A small MLP over fixed feature vectors (frozen sentence embeddings)."""

    hidden: list[int] = field(default_factory=lambda: [128])  # [] = a linear probe
    dropout: float = 0.0

    def validate(self) -> None:
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"model sentence-head: hidden sizes must be >= 1, got {self.hidden}")


@MODELS.register("sentence-head", params=SentenceHeadParams)
def build_sentence_head(p: SentenceHeadParams, info: StreamInfo) -> Classifier:
    """Small MLP head over frozen sentence embeddings (e.g. sentiment-minilm)."""
    width = p.hidden[-1] if p.hidden else math.prod(info.input_shape)
    return Classifier(mlp_body(math.prod(info.input_shape), p.hidden, p.dropout), width, info)
