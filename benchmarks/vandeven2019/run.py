"""Run van de Ven's own 2019 code (GMvandeVen/continual-learning) on this machine, as a check of
our implementation: the same protocol run by the code that made the targets.

His code is not part of neuroplastic and is not copied here: point ``--code`` at a checkout of his
repository (commit 86802a8 is the one released with the preprint, arXiv:1904.07734v1). It needs
``torchvision`` (which does not import beside this torch) for MNIST and four transforms, and
``visdom`` for optional plots; ``shim/`` provides both, written for this purpose (MNIST through
neuroplastic's own loader, from ``$NEUROPLASTIC_DATA``, tensor versions of Pad / ToTensor / Lambda /
Compose, each image's transform cached after its first use, which changes speed only). His
2019 calls use ``reduction='elementwise_mean'``, which torch 2 no longer accepts; it is mapped to
its equivalent ``'mean'`` at run time, so his files stay untouched.

    git clone https://github.com/GMvandeVen/continual-learning vdv && git -C vdv checkout 86802a8
    NEUROPLASTIC_DATA=... OMP_NUM_THREADS=1 python benchmarks/vandeven2019/run.py --code vdv -- \\
        --experiment=permMNIST --scenario=class --tasks=10 --iters=5000 --lr=0.0001 \\
        --fc-units=1000 --replay=current --distill --seed=1 --no-gpus

His ``main.py`` prints the test accuracy of every task and their average at the end.
"""

from __future__ import annotations

import argparse
import functools
import os
import runpy
import sys
from pathlib import Path

import torch.nn.functional as F

SHIM = Path(__file__).resolve().parent / "shim"
LOSSES = ("cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
          "mse_loss", "nll_loss", "kl_div")


def _accept_elementwise_mean(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs.get("reduction") == "elementwise_mean":  # torch 0.4/1.0 name of "mean"
            kwargs["reduction"] = "mean"
        return fn(*args, **kwargs)

    return wrapper


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", required=True, help="checkout of GMvandeVen/continual-learning")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="-- then the arguments of his main.py")
    ns = ap.parse_args()
    code = Path(ns.code).resolve()
    if not (code / "main.py").exists():
        ap.error(f"{code / 'main.py'} does not exist: --code must be a checkout of "
                 "GMvandeVen/continual-learning (e.g. at commit 86802a8)")
    if "NEUROPLASTIC_DATA" not in os.environ:
        ap.error("set NEUROPLASTIC_DATA to the data root holding mnist/*-idx*-ubyte.gz")
    for name in LOSSES:
        setattr(F, name, _accept_elementwise_mean(getattr(F, name)))
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    sys.path[:0] = [str(SHIM), str(code)]
    os.chdir(code)  # his code writes ./results and ./plots
    sys.argv = [str(code / "main.py"), *args]
    runpy.run_path(str(code / "main.py"), run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
