"""The PyTorch MNIST example CNN, the network of CLASSP's vision experiment.

Ludwig (2024), official ``experiment_CV.py``, which uses the network of the PyTorch examples
repository (``mnist/main.py``): Conv(1->32, 3x3) - ReLU - Conv(32->64, 3x3) - ReLU -
MaxPool(2) - Dropout2d(0.25) - FC(9216->128) - ReLU - Dropout(0.5) - FC(128->10) - log_softmax.

Differences, all deliberate:

* the last FC layer is the library's head (``Classifier.head``) and outputs logits: the official
  code applies ``CrossEntropyLoss`` to ``log_softmax`` outputs, and since log_softmax is
  idempotent under another log_softmax this is the same loss as cross-entropy on the logits;
* the second dropout acts element-wise (``nn.Dropout``): ``Dropout2d`` on a (N, 128) tensor is
  not a channel dropout, and recent PyTorch versions warn about it;
* the example's input normalisation (mean 0.1307, std 0.3081, ``transforms.Normalize``) is done
  inside the model (``normalize: true``), because the library's benchmarks deliver [0, 1] pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import MODELS
from ..scenarios.task import StreamInfo
from .classifier import Classifier


@dataclass
class MnistCNNParams:
    """Settings of the PyTorch MNIST example CNN (defaults: the example's values)."""

    channels1: int = 32  # first 3x3 convolution (PyTorch example)
    channels2: int = 64  # second 3x3 convolution (PyTorch example)
    hidden: int = 128  # fully connected layer (PyTorch example)
    dropout1: float = 0.25  # Dropout2d after the pooling (PyTorch example)
    dropout2: float = 0.5  # dropout after the hidden layer (PyTorch example)
    normalize: bool = True  # (x - 0.1307) / 0.3081, the example's MNIST normalisation
    mean: float = 0.1307  # MNIST training-pixel mean (PyTorch example)
    std: float = 0.3081  # MNIST training-pixel std (PyTorch example)

    def validate(self) -> None:
        if min(self.channels1, self.channels2, self.hidden) < 1:
            raise ConfigError("model mnist-cnn: channels1, channels2 and hidden must be >= 1")
        if not (0 <= self.dropout1 < 1 and 0 <= self.dropout2 < 1):
            raise ConfigError("model mnist-cnn: dropout rates must be in [0, 1)")
        if self.std <= 0:
            raise ConfigError("model mnist-cnn: std must be positive")


class _Normalize(nn.Module):
    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


@MODELS.register("mnist-cnn", params=MnistCNNParams)
def build_mnist_cnn(p: MnistCNNParams, info: StreamInfo) -> Classifier:
    """The PyTorch MNIST example CNN (2 conv, max-pool, FC 128), CLASSP's vision network."""
    if len(info.input_shape) != 3:
        raise ConfigError(
            f"model mnist-cnn needs image inputs (C, H, W), got shape {info.input_shape}"
        )
    c, h, w = info.input_shape
    if h < 6 or w < 6:
        raise ConfigError(f"model mnist-cnn needs images of at least 6x6, got {h}x{w}")
    flat = p.channels2 * ((h - 4) // 2) * ((w - 4) // 2)  # two valid 3x3 convs, one 2x2 pool
    layers: list[nn.Module] = [_Normalize(p.mean, p.std)] if p.normalize else []
    layers += [
        nn.Conv2d(c, p.channels1, 3),
        nn.ReLU(),
        nn.Conv2d(p.channels1, p.channels2, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout2d(p.dropout1),
        nn.Flatten(),
        nn.Linear(flat, p.hidden),
        nn.ReLU(),
        nn.Dropout(p.dropout2),
    ]
    return Classifier(nn.Sequential(*layers), p.hidden, info)
