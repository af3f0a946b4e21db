"""The shim that runs van de Ven's own 2019 code here (benchmarks/vandeven2019) feeds it the same
inputs as our permuted-MNIST benchmark: his code's numbers are then a check of ours."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from neuroplastic.scenarios.benchmarks import build_benchmark

SHIM = Path(__file__).parents[1] / "benchmarks" / "vandeven2019" / "shim"
REAL_DATA = os.environ.get("NEUROPLASTIC_DATA")


def _shim():
    sys.path.insert(0, str(SHIM))
    try:
        from torchvision import datasets, transforms
    finally:
        sys.path.remove(str(SHIM))
        for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
            del sys.modules[name]  # keep the stand-in out of every other test
    return datasets, transforms


def test_transforms_pad_scale_and_permute_like_torchvision():
    _, transforms = _shim()
    image = torch.arange(4, dtype=torch.uint8).reshape(2, 2) * 85  # 0, 85, 170, 255
    flip = torch.arange(36).flip(0)
    out = transforms.Compose([
        transforms.Pad(2), transforms.ToTensor(),
        transforms.Lambda(lambda x: x.view(1, -1)[:, flip].view(1, 6, 6)),
    ])(image)
    assert out.shape == (1, 6, 6) and out.dtype == torch.float32
    padded = out.view(-1).flip(0).view(6, 6)  # undo the permutation
    assert padded[2:4, 2:4].flatten().tolist() == pytest.approx([0.0, 85 / 255, 170 / 255, 1.0])
    assert padded.sum() == pytest.approx((85 + 170 + 255) / 255)  # the border is zeros


@pytest.mark.skipif(not REAL_DATA or not (Path(REAL_DATA) / "mnist").is_dir(),
                    reason="needs MNIST under NEUROPLASTIC_DATA")
def test_shim_images_equal_our_padded_permuted_mnist_task_one():
    datasets, transforms = _shim()
    theirs = datasets.MNIST("unused", train=False,
                            transform=transforms.Compose([transforms.Pad(2),
                                                          transforms.ToTensor()]))
    ours = build_benchmark("permuted-mnist", {"n_tasks": 2, "pad": 2, "first_unpermuted": True},
                           "domain", None, seed=0).tasks[0]
    assert len(theirs) == len(ours.y_test) == 10_000
    for i in (0, 1, 4_321, 9_999):
        x, y = theirs[i]
        assert y == int(ours.y_test[i])
        assert torch.equal(x.view(-1), ours.x_test[i].view(-1))
        assert torch.equal(theirs[i][0], x)  # the cached copy is the same image
