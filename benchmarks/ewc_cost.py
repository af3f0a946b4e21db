"""Cost of EWC's two heavy parts on van de Ven's permuted-MNIST MLP (1,024 -> 1,000 -> 1,000 ->
outputs), each measured against the form it replaced, in one run:

- the exact Fisher on 1,000 samples: one forward pass for all classes with batched per-class
  backward passes (``_linear_expected_fisher``) vs one closed-form pass per class;
- the exact Fisher on the CLASSP protocols' MNIST CNN and sentiment Transformer (models that are
  not all ``nn.Linear``): the library's path (the CNN's Linear layers in closed form, the rest
  through torch.func, each per-sample block squared in place and summed by one matrix-vector
  product) vs the form before (torch.func for every parameter, the per-sample blocks
  concatenated, ``abs().pow_()``, weighted and summed), on the same samples;
- the offline penalty with 9 stored tasks, forward + backward: the completed square the method
  uses, written per parameter tensor (``weighted_squared_distance``), vs the same on the
  parameters concatenated into one vector, and vs the direct per-task sum
  ``sum_k F_k (theta - theta*_k)^2``.

    python benchmarks/ewc_cost.py [--threads 1] [--samples 128]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from neuroplastic.methods import ewc


class _MLP(nn.Module):
    def __init__(self, outputs: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1024, 1000), nn.ReLU(), nn.Linear(1000, 1000),
                                 nn.ReLU(), nn.Linear(1000, outputs))

    def forward(self, x, task_id=None):
        return self.net(x)


def _seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def fisher_seconds(classes: int, samples: int = 1000) -> tuple[float, float]:
    model = _MLP(classes).eval()
    params, x = list(model.parameters()), torch.randn(samples, 1024)

    def batched():
        return ewc._linear_expected_fisher(model, params, x, None, None)

    def per_class():
        with torch.no_grad():
            prob = F.softmax(model(x), 1)
        return sum(ewc.per_sample_grad_power_sum(model, params, x, None, None, ewc._nll,
                                                 torch.full((samples,), c), prob[:, c])
                   for c in range(classes))

    torch.testing.assert_close(batched(), per_class(), rtol=1e-3, atol=1e-9)
    return _seconds(batched, 2), _seconds(per_class, 2)


def _vmap_before(model, params, x, targets, weights) -> torch.Tensor:
    """The per-sample path as it was before the change (kept here as the reference)."""
    names = {id(p): n for n, p in model.named_parameters()}
    wanted = [names[id(p)] for p in params]
    trainable = {n: p.detach() for n, p in model.named_parameters()}
    buffers = dict(model.named_buffers())

    def one(params_, xi, ti):
        out = torch.func.functional_call(model, (params_, buffers), (xi.unsqueeze(0), None))
        return ewc._nll(out, ti.unsqueeze(0)).sum()

    total = torch.zeros(sum(p.numel() for p in params))
    per_grad = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))
    chunk = ewc._chunk_size(total.numel())
    for s in range(0, len(x), chunk):
        g = per_grad(trainable, x[s : s + chunk], targets[s : s + chunk])
        flat = torch.cat([g[n].reshape(len(x[s : s + chunk]), -1) for n in wanted], dim=1)
        total += (flat.abs().pow_(2.0) * weights[s : s + chunk, None]).sum(0)
    return total


def mixed_fisher_seconds(name: str, samples: int) -> tuple[float, float]:
    """Exact Fisher (every class, weighted by p(c|x)) on ``samples`` inputs of a CLASSP
    protocol's model: (library, before) in seconds, after checking that they agree."""
    import warnings

    from neuroplastic.models.classifier import build_model
    from neuroplastic.scenarios.task import StreamInfo

    if name == "cnn":  # classp-vision(-official): the PyTorch MNIST example CNN, 10 classes
        info = StreamInfo("domain", "single", 10, ((0,),), (1, 28, 28), 2, False)
        model = build_model({"name": "mnist-cnn"}, info)
        x = torch.randn(samples, 1, 28, 28)
    else:  # classp-sentiment-transformer: 64-token sentences, 2 classes
        info = StreamInfo("domain", "single", 2, ((0,),), (64,), 2, False, vocab_size=5000)
        model = build_model({"name": "transformer", "d_model": 64, "heads": 4,
                             "feedforward": 128}, info)
        x = torch.randint(1, 5000, (samples, 64))
    model.eval()
    params = list(model.parameters())
    with torch.no_grad():
        prob = F.softmax(model(x), 1)

    def exact(per_class):
        return sum(per_class(torch.full((samples,), c), prob[:, c]) for c in range(prob.shape[1]))

    def library():
        return exact(lambda t, w: ewc.per_sample_grad_power_sum(model, params, x, None, None,
                                                                ewc._nll, t, w))

    def before():
        return exact(lambda t, w: _vmap_before(model, params, x, t, w))

    with warnings.catch_warnings():  # torch.func's note on attention without a batching rule
        warnings.simplefilter("ignore", UserWarning)
        torch.testing.assert_close(library(), before(), rtol=1e-4, atol=1e-9)
        new, old = [], []
        for _ in range(2):  # alternated, so both see the same machine state
            new.append(_seconds(library, 1))
            old.append(_seconds(before, 1))
    return min(new), min(old)


def penalty_seconds(tasks: int = 9) -> tuple[float, float, float]:
    """Forward + backward of the offline penalty with ``tasks`` stored terms, three ways: the
    method's (completed square, per parameter tensor), the completed square on the parameters
    concatenated into one vector (the form before), and the direct per-task sum."""
    params = list(_MLP(10).parameters())
    size = sum(p.numel() for p in params)
    fishers, anchors = torch.rand(tasks, size), torch.randn(tasks, size)
    method = ewc.EWC.__new__(ewc.EWC)  # only the penalty's state: no model needed
    method.fishers, method.anchors, method._square = fishers, anchors, None
    method.device = "cpu"

    def per_tensor():
        weight, center, residual = method._completed_square()
        (ewc.weighted_squared_distance(params, weight, center) + residual).backward()

    def concatenated():
        weight, center, residual = method._completed_square()
        theta = ewc.flat_params(params)
        ((weight * (theta - center) ** 2).sum() + residual).backward()

    def direct():
        (fishers * (ewc.flat_params(params) - anchors) ** 2).sum().backward()

    return _seconds(per_tensor, 20), _seconds(concatenated, 20), _seconds(direct, 10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=128,
                    help="inputs for the CNN and Transformer Fisher (default 128)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"threads: {args.threads}")
    for classes in (10, 100):
        new, old = fisher_seconds(classes)
        print(f"exact Fisher, 1,000 samples, {classes:3d} classes: batched {new:.2f} s, "
              f"per class {old:.2f} s ({old / new:.1f}x)")
    for name, label in (("cnn", "MNIST CNN (1.2 M weights)"),
                        ("transformer", "sentiment Transformer")):
        new, old = mixed_fisher_seconds(name, args.samples)
        print(f"exact Fisher, {label}, {args.samples} samples: library {new:.2f} s, before "
              f"{old:.2f} s ({old / new:.1f}x); {1000 * new / args.samples:.1f} ms per sample")
    new, flat, old = penalty_seconds()
    print(f"offline penalty, 9 tasks, forward+backward: completed square per tensor "
          f"{1000 * new:.1f} ms, on the concatenated parameters {1000 * flat:.1f} ms "
          f"({flat / new:.1f}x), direct sum {1000 * old:.1f} ms ({old / new:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
