"""The official code's training step against ours, at identical work, on the same machine state.

Whole-protocol wall times of the official code and of ``neuroplastic reproduce`` are measured on
whatever else the machine is doing at the time, and the two programs do different extra work
(the mBNN code tests on all 60,000 training images after every epoch; the CLASSP script prints
a line per step). This script times the part that is the same in both: one training step of
the official-scale protocol, the official code's own classes and loop body against
``Method.observe`` built as our protocol builds it, alternated in one process (so a busy machine
slows both alike), median over repeats.

* **mBNN** (``mbnn-pmnist-official``; further lines with our opt-in ``optimizer.fused`` and
  ``train.compile``): his
  ``BNN([784, 1024, 1024, 10], init="uniform", width=0.1, norm="bn")`` and
  ``Adam_meta(lr=0.005, meta=1.35)`` from ``models_utils.py``, the body
  of his ``train`` loop (zero_grad, forward, cross-entropy, backward, the hidden weights copied
  in and out around ``step``), batch 100; ours: ``mbnn`` with ``adam-meta``.
* **CLASSP** (``classp-vision-official``): his ``CLASSP_optimizer`` from ``CLASSP.py``, the body
  of ``experiment_CV.py``'s loop in its second phase (``average_grad_sum()``, then
  ``step(threshold=0, apply_scaling=True)``; the per-step ``print`` left out), on the PyTorch
  example CNN (his script's ``Net``, which is the same network as our ``mnist-cnn``; his script
  cannot be imported without running it, so the model is ours in both), batch 32, lr 0.2; ours:
  ``finetune`` with ``classp`` (``rule: official``) in its scaling phase.

His files are imported from checkouts, never copied (``--mbnn``, ``--classp``; torchvision comes
from ``benchmarks/laborieux2021/shim``):

    python benchmarks/official_speed.py --mbnn /path/to/SynapticMetaplasticityBNN \\
        --classp /path/to/CLASSP [--steps 30] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from floor import _info, _library_step  # noqa: E402  (benchmarks/floor.py, beside this file)

sys.path.insert(0, str(HERE / "laborieux2021"))
from lockstep import his_modules, his_step  # noqa: E402  (benchmarks/laborieux2021/lockstep.py)


def _time(fn: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def mbnn_steps(code: Path, fused: bool = False, compiled: bool = False
               ) -> tuple[Callable[[], None], Callable[[], None]]:
    his = his_modules(code)

    x, y = torch.rand(100, 784), torch.randint(0, 10, (100,))
    model = his.BNN([784, 1024, 1024, 10], init="uniform", width=0.1, norm="bn")
    meta = {}
    for index, p in enumerate(model.parameters(), start=1):  # as his main.py names them
        p.newname = f"l{index}"
        meta[p.newname] = 1.35
    optimizer = his.Adam_meta(model.parameters(), lr=0.005, meta=meta)
    model.train()

    def official() -> None:  # the body of his train() loop, without EWC/SI
        his_step(model, optimizer, x, y)

    ours = _library_step({"name": "mbnn"}, {"name": "bnn", "hidden": [1024, 1024],
                                            "init": "uniform", "init_width": 0.1},
                         {"name": "adam-meta", "lr": 0.005, "meta": 1.35, "fused": fused},
                         _info((784,)), x, y, compile_model=compiled)
    return official, ours


def classp_steps(code: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    sys.path.insert(0, str(code))
    from CLASSP import CLASSP_optimizer  # noqa: PLC0415  (his module, from the checkout)

    from neuroplastic.models import build_model

    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    model = build_model({"name": "mnist-cnn"}, _info((1, 28, 28)))
    model.train()
    optimizer = CLASSP_optimizer(model.parameters(), lr=0.2, threshold=0.5, epsilon=1e-5,
                                 power=1)

    def official() -> None:  # experiment_CV.py's loop body after the first dataset
        optimizer.zero_grad()
        # his Net ends in log_softmax and his criterion is CrossEntropyLoss on top of it
        loss = F.cross_entropy(model(x, None).log_softmax(1), y)
        loss.backward()
        optimizer.average_grad_sum()
        optimizer.step(lr=0.2, threshold=0, epsilon=1e-5, power=1, apply_scaling=True)

    opt = {"name": "classp", "lr": 0.2, "rule": "official", "threshold": 0.0, "eps": 1e-5,
           "scale_from_task": 0}
    ours = _library_step({"name": "finetune"}, {"name": "mnist-cnn"}, opt, _info((1, 28, 28)),
                         x, y)
    return official, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbnn", type=Path, help="checkout of SynapticMetaplasticityBNN")
    parser.add_argument("--classp", type=Path, help="checkout of oswaldoludwig/CLASSP")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not (args.mbnn or args.classp):
        parser.error("give --mbnn and/or --classp (checkouts of the official code)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    pairs = []
    if args.mbnn:
        pairs.append(("mBNN 2x1024, batch 100, Adam_meta m=1.35", mbnn_steps(args.mbnn)))
        pairs.append(("the same, ours with adam-meta fused: true",
                      mbnn_steps(args.mbnn, fused=True)))
        pairs.append(("the same, ours fused and train.compile: true",
                      mbnn_steps(args.mbnn, fused=True, compiled=True)))
    if args.classp:
        pairs.append(("CLASSP example CNN, batch 32, scaling phase", classp_steps(args.classp)))
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats} x "
          f"{args.steps} steps, ms per step")
    print(f"{'step':<46} {'official':>9} {'ours':>7} {'official/ours':>14}")
    for name, (official, ours) in pairs:
        for fn in (official, ours):
            _time(fn, 3)  # warm-up
        times: dict[str, list[float]] = {"official": [], "ours": []}
        for _ in range(args.repeats):
            times["official"].append(_time(official, args.steps))
            times["ours"].append(_time(ours, args.steps))
        t = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name:<46} {1e3 * t['official']:9.2f} {1e3 * t['ours']:7.2f} "
              f"{t['official'] / t['ours']:14.2f}")


if __name__ == "__main__":
    main()
