"""How far each seed method's training step is from its floor (issue 24).

For the model and batch of a committed protocol, three times are measured in one process,
alternated, each the median over repeats of ``--steps`` steps on random inputs of the protocol's
shape:

* **matmul floor**: the network's matrix multiplications and convolutions alone, forward and
  backward (for a layer ``y = x W^T``: ``x W^T``, ``g W`` and ``g^T x``), nothing else;
* **plain step**: a hand-written full-precision PyTorch step of the same shape (the same layer
  sizes, BatchNorm where the protocol's network has it, the protocol's optimizer from
  ``torch.optim``: what a researcher would write);
* **library step**: ``Method.observe`` of the method the protocol runs, built through the
  library exactly as a run builds it (its model, update rule and penalty).

It prints each ratio; the issue's target is library/plain <= 1.3. Entries: the metaplastic BNN
(mbnn-pmnist-official), the van de Ven MLP with EWC (vandeven-permuted-mnist), the CLASSP example
CNN (classp-vision-official, both rules), the CLASSP sentiment Transformer and MiniLM head
(classp-sentiment-*), and DGM's generator and discriminator step (dgm-*), whose reference is
the same GAN step without masks or growth (the cost the masks add), not a hand-written loop,
and which has no matmul floor, and Artsy's sub-network step on the frozen EfficientNet-Lite0
(artsy-*: the adapted blocks after the cached prefix), against the same blocks and adapters
with a linear head and torch's SGD.

    python benchmarks/floor.py [--steps 20] [--repeats 5] [--threads 1] [--only bnn,cnn]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuroplastic import params as params_mod
from neuroplastic.models import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.registry import METHODS
from neuroplastic.scenarios.task import StreamInfo


@dataclass
class Entry:
    name: str
    protocol: str
    floor: Callable[[], None] | None
    plain: Callable[[], None]
    library: Callable[[], None]


def _info(input_shape: tuple[int, ...], outputs: int = 10) -> StreamInfo:
    return StreamInfo("domain", "shared", outputs, tuple((i,) for i in range(outputs)),
                      input_shape, 2, False)


def _linear_floor(batch: int, widths: list[int]) -> Callable[[], None]:
    """Forward and both backward products of each fully connected layer."""
    xs = [torch.randn(batch, a) for a in widths[:-1]]
    ws = [torch.randn(b, a) for a, b in zip(widths, widths[1:], strict=False)]
    gs = [torch.randn(batch, b) for b in widths[1:]]

    def run() -> None:
        for x, w, g in zip(xs, ws, gs, strict=True):
            x @ w.T
            g @ w
            g.T @ x

    return run


def _library_step(method_cfg: dict, model_cfg: dict, opt_cfg: dict, info: StreamInfo,
                  x: torch.Tensor, y: torch.Tensor, second_task: bool = False,
                  compile_model: bool = False) -> Callable[[], None]:
    """``observe`` of the method built as a run builds it; with ``second_task`` after a first
    task has ended (so that a regulariser's penalty is in the step)."""
    from neuroplastic.scenarios.task import Task

    cls = METHODS.get(method_cfg["name"]).obj
    values = {k: v for k, v in method_cfg.items() if k != "name"}
    method = cls(build_model(model_cfg, info), info,
                 params_mod.build(cls.Params, values, method_cfg["name"]),
                 optimizer_factory(opt_cfg))
    if compile_model:  # train.compile: true
        method.compile_model()
    tasks = [Task(t, x, y, x[:2], y[:2], list(range(10)), {c: c for c in range(10)})
             for t in range(2)]
    method.begin_task(tasks[0])
    if second_task:
        method.observe(x, y, 0)
        method.end_task(tasks[0])
        method.begin_task(tasks[1])
    index = 1 if second_task else 0
    return lambda: method.observe(x, y, index)


def _plain_step(model: Callable, opt: torch.optim.Optimizer, x, y) -> Callable[[], None]:
    def run() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return run


def bnn_entry(fused: bool = False, compiled: bool = False) -> Entry:
    """mbnn-pmnist-official: BNN 784-1024-1024-10 with BatchNorm, batch 100, Adam_meta m=1.35
    (``fused``: its update as one torch.compile kernel; ``compiled``: also the model called
    through torch.compile, ``train.compile: true``); plain: the same shape in full precision
    with BatchNorm and torch's Adam."""
    x, y = torch.rand(100, 784), torch.randint(0, 10, (100,))
    widths = [784, 1024, 1024, 10]
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:], strict=False):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU()]
    plain = nn.Sequential(*layers[:-1])
    return Entry(
        f"metaplastic BNN 2x1024, batch 100{', fused' if fused else ''}"
        f"{', compiled' if compiled else ''}", "mbnn-pmnist-official",
        _linear_floor(100, widths),
        _plain_step(plain, torch.optim.Adam(plain.parameters(), lr=0.005), x, y),
        _library_step({"name": "mbnn"}, {"name": "bnn", "hidden": [1024, 1024]},
                      {"name": "adam-meta", "lr": 0.005, "meta": 1.35, "fused": fused},
                      _info((784,)), x, y, compile_model=compiled),
    )


def ewc_entry() -> Entry:
    """vandeven-permuted-mnist: MLP 1024-1000-1000-100, batch 128, Adam 1e-4, EWC with a Fisher
    in place (the penalty is what EWC adds to the step); plain: the MLP with Adam, no penalty."""
    x, y = torch.rand(128, 1024), torch.randint(0, 10, (128,))
    widths = [1024, 1000, 1000, 10]
    plain = nn.Sequential(nn.Linear(1024, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(),
                          nn.Linear(1000, 10))
    step = _library_step({"name": "ewc", "lambda_": 500.0, "fisher_samples": 64},
                         {"name": "mlp", "hidden": [1000, 1000]}, {"name": "adam", "lr": 1e-4},
                         _info((1024,)), x, y, second_task=True)
    return Entry("MLP 2x1000 + EWC penalty, batch 128", "vandeven-permuted-mnist",
                 _linear_floor(128, widths),
                 _plain_step(plain, torch.optim.Adam(plain.parameters(), lr=1e-4), x, y), step)


def cnn_entry(rule: str) -> Entry:
    """classp-vision-official: the PyTorch MNIST example CNN, batch 32, CLASSP lr 0.2 (scaling
    phase); plain: the same CNN with torch's SGD."""
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    model_cfg = {"name": "mnist-cnn"}
    plain = build_model(model_cfg, _info((1, 28, 28)))
    w1, w2 = torch.randn(32, 1, 3, 3), torch.randn(64, 32, 3, 3)
    fc1, fc2 = torch.randn(128, 9216), torch.randn(10, 128)

    def floor() -> None:  # the convolutions and products alone, forward and backward
        a = torch.rand(32, 1, 28, 28, requires_grad=True)
        h = F.conv2d(a, w1.requires_grad_())
        h2 = F.conv2d(h, w2.requires_grad_())
        z = h2.flatten(1)[:, :9216] @ fc1.T.requires_grad_()
        (z @ fc2.T.requires_grad_()).sum().backward()

    opt = {"name": "classp", "lr": 0.2, "rule": rule, "threshold": 0.0, "scale_from_task": 0}
    step = _library_step({"name": "finetune"}, model_cfg, opt, _info((1, 28, 28)), x, y)
    plain.train()
    sgd = torch.optim.SGD(plain.parameters(), lr=0.2)
    return Entry(f"MNIST example CNN, CLASSP ({rule} rule), batch 32", "classp-vision-official",
                 floor, _plain_step(lambda t: plain(t, None), sgd, x, y), step)


def transformer_entry() -> Entry:
    """classp-sentiment-transformer: one encoder layer, d_model 64, 4 heads, feedforward 128,
    40 tokens, batch 32, CLASSP (paper rule) lr 0.025; plain: the same layers hand-assembled
    from torch.nn with torch's SGD."""
    vocab, length, batch, d, ff = 5000, 40, 32, 64, 128
    x, y = torch.randint(1, vocab, (batch, length)), torch.randint(0, 2, (batch,))
    info = StreamInfo("domain", "shared", 2, ((0, 1),), (length,), 2, False, vocab)
    model_cfg = {"name": "transformer", "d_model": d, "heads": 4, "feedforward": ff}
    embed = nn.Embedding(vocab, d, padding_idx=0)
    layer = nn.TransformerEncoderLayer(d, 4, ff, 0.1, batch_first=True)
    head = nn.Linear(d, 2)
    parts = nn.ModuleList([embed, layer, head])

    def plain_model(t: torch.Tensor) -> torch.Tensor:
        return head(layer(embed(t)).mean(1))

    n = batch * length
    dense = _linear_floor(n, [d, 3 * d]), _linear_floor(n, [d, d]), _linear_floor(n, [d, ff, d])
    q, k = torch.randn(batch * 4, length, d // 4), torch.randn(batch * 4, length, d // 4)

    def floor() -> None:  # the dense layers and the attention products, forward and backward
        for run in dense:
            run()
        scores = q @ k.transpose(1, 2)
        scores @ k, scores.transpose(1, 2) @ q, scores @ k  # d(scores), and attention @ V
        _linear_floor(batch, [d, 2])()

    opt = {"name": "classp", "lr": 0.025, "threshold": 0.99, "eps": 1e-4, "p": 1}
    return Entry("Transformer d64, 40 tokens, CLASSP (paper), batch 32",
                 "classp-sentiment-transformer", floor,
                 _plain_step(plain_model, torch.optim.SGD(parts.parameters(), lr=0.025), x, y),
                 _library_step({"name": "finetune"}, model_cfg, opt, info, x, y))


def sentence_head_entry() -> Entry:
    """classp-sentiment-minilm: an MLP head 384-128-2 on cached MiniLM sentence embeddings,
    batch 32, CLASSP (paper rule); plain: the same MLP with torch's SGD."""
    x, y = torch.randn(32, 384), torch.randint(0, 2, (32,))
    info = StreamInfo("domain", "shared", 2, ((0, 1),), (384,), 4, False)
    plain = nn.Sequential(nn.Linear(384, 128), nn.ReLU(), nn.Linear(128, 2))
    opt = {"name": "classp", "lr": 0.025, "threshold": 0.99, "eps": 1e-4, "p": 1}
    return Entry("MiniLM head 384-128-2, CLASSP (paper), batch 32", "classp-sentiment-minilm",
                 _linear_floor(32, [384, 128, 2]),
                 _plain_step(plain, torch.optim.SGD(plain.parameters(), lr=0.025), x, y),
                 _library_step({"name": "finetune"}, {"name": "sentence-head", "hidden": [128]},
                               opt, info, x, y))


def dgm_entry(name: str) -> Entry:
    """dgm-*: one DGM training step (discriminator/classifier with gradient penalty, then the
    masked generator) on MNIST, batch 64, during the second one-class task (so that replay of
    the first class is in the step); reference: the same GAN and batches without masks or
    growth (``dgr`` with ``generator_replay: false`` and the variant's generator width)."""
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    info = _info((1, 28, 28))
    model_cfg = {"name": "dgm-disc"}
    unmasked = {"name": "dgr", "generator_replay": False, "ngf": 6 if name == "dgmw" else 20}
    return Entry(f"DGM ({name}) G+D step, batch 64", "dgm-mnist10-epochs", None,
                 _library_step(unmasked, model_cfg, {"name": "adam"}, info, x, y,
                               second_task=True),
                 _library_step({"name": name}, model_cfg, {"name": "adam"}, info, x, y,
                               second_task=True))


def artsy_entry() -> Entry:
    """artsy-*: one step of the current task's sub-network (bottleneck adapters in the frozen
    EfficientNet-Lite0 blocks after ``split_block`` 12, 64 px) on cached prefix activations,
    batch 48, cosine head over the task's 2 classes, SGD as EASE; plain: the same frozen blocks
    and one adapter set with an nn.Linear head and torch's SGD (no synapses, no prototypes)."""
    from neuroplastic.models.adapters import adapter_set
    from neuroplastic.models.efficientnet import EfficientNetLite0Backbone

    net = EfficientNetLite0Backbone(64, 12)
    with torch.no_grad():
        h = net.prefix(torch.rand(48, 3, 32, 32))
    y = torch.randint(0, 2, (48,))
    info = StreamInfo("class", "shared", 10, tuple((2 * t, 2 * t + 1) for t in range(5)),
                      tuple(h.shape[1:]), 5, False)
    adapters = adapter_set(net.adapted_channels)
    head = nn.Linear(net.feature_dim, 2)
    sgd = {"lr": 0.025, "momentum": 0.9, "weight_decay": 0.0005}
    opt = torch.optim.SGD(list(adapters.parameters()) + list(head.parameters()), **sgd)
    return Entry("Artsy sub-network step, EfficientNet-Lite0 64 px, batch 48", "artsy-*",
                 None,
                 _plain_step(lambda t: head(net.suffix(t, adapters)), opt, h, y),
                 _library_step({"name": "artsy"},
                               {"name": "efficientnet-lite0", "input": "prefix",
                                "input_size": 64, "split_block": 12},
                               {"name": "sgd", **sgd}, info, h, y))


ENTRIES = {
    "bnn": bnn_entry,
    "bnn-fused": lambda: bnn_entry(fused=True),
    "bnn-compiled": lambda: bnn_entry(fused=True, compiled=True),
    "ewc": ewc_entry,
    "cnn-official": lambda: cnn_entry("official"),
    "cnn-paper": lambda: cnn_entry("paper"),
    "transformer": transformer_entry,
    "minilm-head": sentence_head_entry,
    "dgmw": lambda: dgm_entry("dgmw"),
    "dgma": lambda: dgm_entry("dgma"),
    "artsy": artsy_entry,
}


def _time(fn: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def measure(entry: Entry, steps: int, repeats: int) -> dict[str, float]:
    runs = {"floor": entry.floor, "plain": entry.plain, "library": entry.library}
    runs = {k: fn for k, fn in runs.items() if fn is not None}
    for fn in runs.values():  # warm-up
        _time(fn, 2)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):  # alternated, so a busy machine slows all three alike
        for k, fn in runs.items():
            times[k].append(_time(fn, steps))
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default=None, help=f"comma-separated: {', '.join(ENTRIES)}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = args.only.split(",") if args.only else list(ENTRIES)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats} x "
          f"{args.steps} steps, ms per step")
    print(f"{'step':<48} {'floor':>7} {'plain':>7} {'library':>8} {'lib/plain':>9} "
          f"{'lib/floor':>9}  protocol")
    for name in names:
        entry = ENTRIES[name]()
        t = measure(entry, args.steps, args.repeats)
        floor = f"{1e3 * t['floor']:7.2f}" if "floor" in t else f"{'-':>7}"
        ratio = f"{t['library'] / t['floor']:9.2f}" if "floor" in t else f"{'-':>9}"
        print(f"{entry.name:<48} {floor} {1e3 * t['plain']:7.2f} "
              f"{1e3 * t['library']:8.2f} {t['library'] / t['plain']:9.2f} "
              f"{ratio}  {entry.protocol}")


if __name__ == "__main__":
    main()
