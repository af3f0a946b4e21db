"""Why experiment_EWC.py can diverge: its Fisher against the stability bound of its SGD step.

experiment_EWC.py adds ``5000 * sum F (theta - theta_sep)^2`` to the loss and steps with SGD at
lr 0.25. On that quadratic alone, one SGD step multiplies a weight's distance to the anchor by
``1 - lr * 2 * 5000 * F``; where ``F > 1 / (lr * 5000) = 8e-4`` that factor is below -1, and the
distance grows at every step (the oscillation diverges to inf, then NaN). So whether a run
diverges depends on how many Fisher entries pass 8e-4, which depends on the separate model's
one-epoch training (its initialisation and the shuffled order: the seed).

This script computes that Fisher both ways, at one seed each:

* **his**: the first part of his script, run from his checkout (the file is read and executed
  up to the line that builds the combined data set: the separate model's epoch and the
  Fisher), with the seeds set as ``benchmarks/ludwig2024/run.py`` sets them;
* **ours**: the ``ewc-official`` row of ``classp-vision-official`` (method ``ewc-separate``),
  built as a run builds it, its separate model trained by ``begin_task`` on the first task.

and prints, per parameter tensor, the largest entry and the number of entries above the bound.

    NEUROPLASTIC_DATA=... python benchmarks/ludwig2024/ewc_fisher.py --code <CLASSP checkout> \\
        --seeds 0,1
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
LR, LAMBDA = 0.25, 5000.0
BOUND = 1.0 / (LR * LAMBDA)  # |1 - lr * 2 * lambda * F| > 1 beyond this


def his_fisher(code: Path, seed: int) -> dict[str, torch.Tensor]:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    sys.path[:0] = [str(HERE / "shim"), str(code)]
    text = (code / "experiment_EWC.py").read_text()
    head = text[: text.index("combined_dataset = ")]  # the separate model and its Fisher
    scope: dict = {"__name__": "experiment_EWC_head"}
    exec(compile(head, str(code / "experiment_EWC.py"), "exec"), scope)  # noqa: S102 (his code)
    return {name: f.detach() for name, f in scope["fisher_matrix"].items()}


def our_fisher(seed: int) -> dict[str, torch.Tensor]:
    from neuroplastic.config import load
    from neuroplastic.experiment import build_method, build_stream, resolve, seed_everything
    from neuroplastic.experiments.sweep import load_sweep, plan

    spec = load_sweep(_protocol())
    run = next(r for r in plan(spec, [seed]) if r.config["method"]["name"] == "ewc-separate")
    resolved = resolve(load(None, [], base=run.config))
    seed_everything(seed)
    stream = build_stream(resolved)
    method = build_method(resolved, stream)
    method.begin_task(stream.tasks[0])  # trains the separate model, as the run does
    out, start = {}, 0
    for name, p in method.model.named_parameters():
        out[name] = method.fisher[start : start + p.numel()].view_as(p)
        start += p.numel()
    return out


def _protocol() -> Path:
    import neuroplastic

    return (Path(neuroplastic.__file__).parent / "protocols" / "classp"
            / "classp-vision-official.yaml")


def report(label: str, fisher: dict[str, torch.Tensor]) -> None:
    total = sum(int((f > BOUND).sum()) for f in fisher.values())
    print(f"{label}: {total} entries above {BOUND:.0e} (unstable under SGD lr {LR}, "
          f"lambda {LAMBDA:g})")
    for name, f in fisher.items():
        print(f"    {name:<24} max {f.max().item():.2e}  above {int((f > BOUND).sum()):>5} "
              f"of {f.numel()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, required=True, help="checkout of oswaldoludwig/CLASSP")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if "NEUROPLASTIC_DATA" not in os.environ:
        ap.error("set NEUROPLASTIC_DATA to the data root holding mnist/*-idx*-ubyte.gz")
    torch.set_num_threads(args.threads)
    for seed in (int(s) for s in args.seeds.split(",")):
        report(f"his experiment_EWC.py, seed {seed}", his_fisher(args.code.resolve(), seed))
        report(f"our ewc-separate, seed {seed}", our_fisher(seed))


if __name__ == "__main__":
    main()
