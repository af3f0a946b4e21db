"""The shims that run the official code of Laborieux et al. 2021 (benchmarks/laborieux2021) and of
Ludwig 2024 (benchmarks/ludwig2024) here feed it the same inputs as our own protocols: MNIST
pixels from our loader, transforms computed as torchvision computes them, and, for CLASSP, the
very permuted-MNIST second task of our ``mnist-permuted-pair`` benchmark.

None of these tests needs the official checkouts (the runners are exercised on stand-in
scripts); the data-dependent ones skip when ``NEUROPLASTIC_DATA`` is unset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from neuroplastic.scenarios.benchmarks import build_benchmark
from neuroplastic.scenarios.builders import permutations

BENCH = Path(__file__).parents[1] / "benchmarks"
SHIMS = {"laborieux2021": BENCH / "laborieux2021" / "shim",
         "ludwig2024": BENCH / "ludwig2024" / "shim"}
REAL_DATA = os.environ.get("NEUROPLASTIC_DATA")
needs_mnist = pytest.mark.skipif(not REAL_DATA or not (Path(REAL_DATA) / "mnist").is_dir(),
                                 reason="needs MNIST under NEUROPLASTIC_DATA")


def _purge():
    for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
        del sys.modules[name]  # keep the stand-in out of every other test


def _shim(which: str):
    _purge()
    sys.path.insert(0, str(SHIMS[which]))
    try:
        import torchvision
        from torchvision import datasets, transforms
    finally:
        sys.path.remove(str(SHIMS[which]))
        _purge()
    assert torchvision.datasets is datasets and torchvision.transforms is transforms
    return datasets, transforms


@pytest.mark.parametrize("which", sorted(SHIMS))
def test_transforms_compute_like_torchvision(which):
    _, transforms = _shim(which)
    image = torch.tensor([[0, 85], [170, 255]], dtype=torch.uint8)
    out = transforms.Compose([transforms.ToTensor(),
                              transforms.Normalize((0.1307,), (0.3081,))])(image)
    assert out.shape == (1, 2, 2) and out.dtype == torch.float32
    # torchvision: float32 division by 255, then tensor.sub_(mean).div_(std) in float32
    scaled = image.to(torch.float32).div(255)
    expected = scaled.sub(torch.tensor(0.1307)).div(torch.tensor(0.3081)).unsqueeze(0)
    assert torch.equal(out, expected)
    identity = transforms.Normalize(mean=(0.0,), std=(1.0,))(transforms.ToTensor()(image))
    assert torch.equal(identity, scaled.unsqueeze(0))
    flip = torch.arange(4).flip(0)
    permute = transforms.Lambda(lambda x: x.view(-1)[flip].view(1, 2, 2))
    assert permute(identity).view(-1).tolist() == pytest.approx([1.0, 170 / 255, 85 / 255, 0.0])
    # numpy HxWxC: channels first; scaled only when uint8 (as torchvision's ToTensor)
    features = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    assert torch.equal(transforms.ToTensor()(features), torch.arange(6.0).view(1, 2, 3))
    assert torch.equal(transforms.ToTensor()(features.astype(np.uint8)),
                       torch.arange(6.0).view(1, 2, 3) / 255)


def test_laborieux_fashion_mnist_and_usps_are_placeholders_that_refuse_to_serve():
    datasets, _ = _shim("laborieux2021")
    fashion = datasets.FashionMNIST("./fmnist_pytorch", train=True, download=True)
    loader = DataLoader(fashion, batch_size=100, shuffle=True)  # built at import in data_utils
    with pytest.raises(RuntimeError, match="Fashion-MNIST is not available"):
        next(iter(loader))
    with pytest.raises(RuntimeError, match="USPS is not available"):
        datasets.USPS("./usps_pytorch", train=True)


def test_ludwig_second_task_is_the_permutation_of_mnist_permuted_pair(monkeypatch):
    datasets, transforms = _shim("ludwig2024")
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([7, 2, 1])
    monkeypatch.setattr(datasets, "mnist_splits", lambda: {True: (images, labels),
                                                            False: (images[:1], labels[:1])})
    for seed in (0, 5):
        monkeypatch.setenv("NEUROPLASTIC_SHIM_PERMUTATION_SEED", str(seed))
        datasets._permuted_splits.cache_clear()
        perm = permutations(784, 2, seed, first_unpermuted=True)[1]
        assert not torch.equal(perm, torch.arange(784))
        second = datasets.FashionMNIST("../data", train=True, transform=transforms.ToTensor())
        assert len(second) == 3
        for i in range(3):
            x, y = second[i]
            assert y == int(labels[i])
            assert torch.equal(x.view(-1), images[i].view(-1)[perm].float() / 255)
    assert datasets.permutation_seed() == 5
    datasets._permuted_splits.cache_clear()


@needs_mnist
@pytest.mark.parametrize("which", sorted(SHIMS))
def test_shim_mnist_pixels_equal_our_loader(which):
    from neuroplastic.datasets.mnist import load_mnist

    datasets, transforms = _shim(which)
    ours = load_mnist()
    for train, x, y in ((True, ours.x_train, ours.y_train), (False, ours.x_test, ours.y_test)):
        theirs = datasets.MNIST("../data", train=train, download=True,
                                transform=transforms.ToTensor())
        assert len(theirs) == len(y)
        assert theirs.data.dtype == torch.uint8
        assert torch.equal(theirs.data.float().div(255), torch.as_tensor(x[:, 0]))
        assert torch.equal(theirs.targets, torch.as_tensor(y).long())
        for i in (0, 1, len(y) - 1):
            image, label = theirs[i]
            assert label == int(y[i]) and torch.equal(image, torch.as_tensor(x[i]))


@needs_mnist
@pytest.mark.parametrize("seed", [0, 3])
def test_ludwig_fashion_mnist_stand_in_equals_our_permuted_pair(monkeypatch, seed):
    monkeypatch.setenv("NEUROPLASTIC_SHIM_PERMUTATION_SEED", str(seed))
    datasets, transforms = _shim("ludwig2024")
    stream = build_benchmark("mnist-permuted-pair", {"permutation_seed": seed}, "domain", None,
                             seed=0)
    first, second = stream.tasks
    for train in (True, False):
        mnist = datasets.MNIST("../data", train=train, transform=transforms.ToTensor())
        fashion = datasets.FashionMNIST("../data", train=train, transform=transforms.ToTensor())
        for theirs, task in ((mnist, first), (fashion, second)):
            x, y = (task.x_train, task.y_train) if train else (task.x_test, task.y_test)
            assert len(theirs) == len(y)
            assert torch.equal(theirs.data.float().div(255).view(len(y), -1),
                               torch.as_tensor(x).view(len(y), -1))
            assert torch.equal(theirs.targets, torch.as_tensor(y).long())
            assert torch.equal(theirs[len(y) // 2][0].view(-1), torch.as_tensor(x[len(y) // 2])
                               .view(-1))


@needs_mnist
def test_shim_mnist_limit_keeps_the_first_images(monkeypatch):
    monkeypatch.setenv("NEUROPLASTIC_SHIM_MNIST_LIMIT", "50")
    datasets, _ = _shim("ludwig2024")
    full = datasets.mnist_splits.__wrapped__
    monkeypatch.delenv("NEUROPLASTIC_SHIM_MNIST_LIMIT")
    whole = full()
    monkeypatch.setenv("NEUROPLASTIC_SHIM_MNIST_LIMIT", "50")
    for train in (True, False):
        limited = full()[train]
        assert len(limited[1]) == 50 and torch.equal(limited[0], whole[train][0][:50])


@pytest.mark.parametrize("runner", ["laborieux2021", "ludwig2024"])
def test_runners_name_the_checkout_they_need(tmp_path, runner):
    proc = subprocess.run([sys.executable, str(BENCH / runner / "run.py"), "--code",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert ("SynapticMetaplasticityBNN" if runner == "laborieux2021" else "CLASSP") in proc.stderr


FAKE_CLASSP = """
import torch
from torch import nn
from torchvision import datasets, transforms

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
dataset1 = datasets.MNIST('../data', train=True, download=True, transform=transform)
dataset2 = datasets.FashionMNIST('../data', train=True, download=True, transform=transform)


class Constant(nn.Module):
    def forward(self, x):
        out = torch.zeros(len(x), 10)
        out[:, 1] = 1.0
        return out


model = Constant()
for step in range(3):
    print("average_grad_sum = " + str(step))
print('Accuracy on dataset#1 without shuffling and custom optimizer: ' + str(12.5) + '%')
print('Accuracy on dataset2: ' + str(50.0) + '%')
"""


@needs_mnist
def test_ludwig_runner_keeps_his_numbers_and_adds_test_accuracy(tmp_path):
    code = tmp_path / "classp"
    code.mkdir()
    (code / "CLASSP.py").write_text("")
    (code / "experiment_EWC.py").write_text(textwrap.dedent(FAKE_CLASSP))
    out = tmp_path / "out"
    env = {**os.environ, "NEUROPLASTIC_SHIM_MNIST_LIMIT": "200"}
    proc = subprocess.run([sys.executable, str(BENCH / "ludwig2024" / "run.py"), "--code",
                           str(code), "--script", "experiment_EWC.py", "--out", str(out),
                           "--seed", "0", "--eval-train-sets"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "average_grad_sum" not in proc.stdout  # per-step lines go to the log only
    assert (out / "stdout.log").read_text().count("average_grad_sum") == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_acc_train_mode"] == {"dataset1": 12.5, "dataset2": 50.0}
    from neuroplastic.datasets.mnist import load_mnist

    data = load_mnist()
    ones = 100 * float(np.mean(data.y_test[:200] == 1))  # the stand-in model always says 1
    assert summary["test_acc_eval_mode"] == {"mnist": pytest.approx(ones),
                                             "permuted_mnist": pytest.approx(ones)}
    assert summary["train_acc_eval_mode"]["mnist"] == pytest.approx(
        100 * float(np.mean(data.y_train[:200] == 1)))


FAKE_MBNN = """
import argparse
import os

import torch
import torchvision
from data_utils import *  # noqa: F403

parser = argparse.ArgumentParser()
parser.add_argument('--scenario', type=str, default='task')
args = parser.parse_args()
device = torch.device('cpu')
transform = torchvision.transforms.Compose([torchvision.transforms.ToTensor()])
dset = torchvision.datasets.MNIST('./mnist_pytorch', train=False, transform=transform)
test_loader_list = [torch.utils.data.DataLoader(dset, batch_size=1000)] * 2
task_names = ['pMNIST1', 'pMNIST2']
model = None


def test(model, loader, device):
    return 42.0, 0.0


os.makedirs('results/2026-01-01/00-00-00_gpu0')
with open('results/2026-01-01/00-00-00_gpu0/00-00-01_bnn_.csv', 'w') as f:
    f.write('acc_tr,acc_test_tsk_1,acc_test_tsk_2\\n90.0,10.0,20.0\\n91.5,30.5,95.25\\n')
"""


@needs_mnist
def test_laborieux_runner_reads_his_last_csv_row_and_adds_current_batchnorm(tmp_path):
    code = tmp_path / "mbnn" / "Continual_Learning_Fig-2abcdefgh-3abcd-5cde"
    code.mkdir(parents=True)
    (code / "main.py").write_text(textwrap.dedent(FAKE_MBNN))
    (code / "data_utils.py").write_text("")
    out = tmp_path / "out"
    env = {**os.environ, "NEUROPLASTIC_SHIM_MNIST_LIMIT": "100"}
    proc = subprocess.run([sys.executable, str(BENCH / "laborieux2021" / "run.py"), "--code",
                           str(tmp_path / "mbnn"), "--out", str(out), "--", "--scenario",
                           "task"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "task" and summary["args"] == ["--scenario", "task"]
    assert summary["final_test_acc"] == {"pMNIST1": 30.5, "pMNIST2": 95.25}
    assert summary["final_train_acc_last_task"] == 91.5
    assert summary["final_test_acc_current_bn"] == {"pMNIST1": 42.0, "pMNIST2": 42.0}
    assert summary["mean_final_test_acc"] == pytest.approx(62.875)
