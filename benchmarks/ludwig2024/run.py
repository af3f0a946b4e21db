"""Run Ludwig's own CLASSP vision experiments (oswaldoludwig/CLASSP: experiment_CV.py, CLASSP
against catastrophic forgetting; experiment_EWC.py, the EWC comparison) on this machine, as a
check of our implementation of the protocol ``classp-vision-official``.

His code is not part of neuroplastic and is not copied here: point ``--code`` at a checkout of
his repository (commit ea3fe3c is the one our protocol file cites). His scripts need
``torchvision``, which does not import beside this torch; ``shim/`` stands in for the parts they
use: MNIST through neuroplastic's own loader (from ``$NEUROPLASTIC_DATA``), ToTensor / Normalize
/ Compose in plain torch, and ``datasets.FashionMNIST`` serving MNIST under one fixed pixel
permutation (Fashion-MNIST is not offline here): the permutation of our ``mnist-permuted-pair``
benchmark, drawn by the same function from ``--permutation-seed`` (default 0, the benchmark's
default). Everything else in his scripts runs untouched: normalisation (0.1307, 0.3081), batch
32, the unshuffled ConcatDataset of 4x MNIST + 1x the second task, his optimiser settings.

    git clone https://github.com/oswaldoludwig/CLASSP classp && git -C classp checkout ea3fe3c
    NEUROPLASTIC_DATA=... python benchmarks/ludwig2024/run.py --code classp \\
        --script experiment_CV.py --seed 0 --out DIR

The script runs with DIR as its working directory (nothing of ours is written there but
stdout.log and summary.json). His scripts report accuracy on the two *training* sets with the
model still in train mode (dropout active); those numbers are kept as he prints them. After the
script ends, this runner takes the trained ``model`` from the script's globals (``runpy``
returns them) and also tests it on the two 10,000-image *test* sets in eval mode, as our
protocol measures. His scripts set no seed; ``--seed`` seeds torch, numpy and random before the
script starts (initialisation, dropout, the shuffled loaders), leave it out to run them as
published. DIR/summary.json (also printed) holds both sets of accuracies and the wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import runpy
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

SHIM = Path(__file__).resolve().parent / "shim"
REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("experiment_CV.py", "experiment_EWC.py")
STEP_LINE = "average_grad_sum = "  # experiment_CV.py prints one per training step
ACCURACY = re.compile(r"^Accuracy on dataset#?([12])\b.*?: ([0-9.eE+-]+)%\s*$")


class _Tee:
    """stdout for his script: every line to the log, all but the per-step lines to the console,
    and his accuracy lines kept."""

    def __init__(self, log, console, quiet: bool):
        self.log, self.console, self.quiet = log, console, quiet
        self.pending, self.accuracy_lines = "", []

    def write(self, s: str) -> int:
        self.log.write(s)
        self.pending += s
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if ACCURACY.match(line):
                self.accuracy_lines.append(line)
            if not (self.quiet and line.startswith(STEP_LINE)):
                self.console.write(line + "\n")
        return len(s)

    def flush(self) -> None:
        self.log.flush()
        self.console.flush()


def _commit(path: Path) -> str | None:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    return None


def _accuracy(model, dataset, batch_size: int = 500) -> float:
    import torch
    from torch.utils.data import DataLoader

    correct = 0
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            correct += int((model(x).argmax(1) == y).sum())
    return 100.0 * correct / len(dataset)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", required=True, help="checkout of oswaldoludwig/CLASSP")
    ap.add_argument("--script", choices=SCRIPTS, default="experiment_CV.py")
    ap.add_argument("--out", help="results folder, outside this repository (default "
                    "~/neuroplastic-official/ludwig2024/<script>-<UTC time>)")
    ap.add_argument("--seed", type=int, help="seed torch/numpy/random first (his scripts don't)")
    ap.add_argument("--permutation-seed", type=int,
                    help="seed of the second task's pixel permutation (default: "
                         "$NEUROPLASTIC_SHIM_PERMUTATION_SEED, else 0)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1, as our protocols)")
    ap.add_argument("--eval-train-sets", action="store_true",
                    help="also test the final model on the two training sets in eval mode")
    ap.add_argument("--verbose", action="store_true",
                    help=f"echo his per-step '{STEP_LINE.strip()}' lines (always in stdout.log)")
    ns = ap.parse_args()
    code = Path(ns.code).resolve()
    script = code / ns.script
    if not (script.exists() and (code / "CLASSP.py").exists()):
        ap.error(f"{script} or {code / 'CLASSP.py'} does not exist: --code must be a checkout "
                 "of oswaldoludwig/CLASSP")
    if "NEUROPLASTIC_DATA" not in os.environ:
        ap.error("set NEUROPLASTIC_DATA to the data root holding mnist/*-idx*-ubyte.gz")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    default = Path.home() / "neuroplastic-official" / "ludwig2024" / f"{script.stem}-{stamp}"
    out = Path(ns.out or default).expanduser().resolve()
    if out == REPO or REPO in out.parents:
        ap.error(f"--out {out} is inside this repository; put results outside it")
    out.mkdir(parents=True, exist_ok=True)
    if ns.permutation_seed is not None:
        os.environ["NEUROPLASTIC_SHIM_PERMUTATION_SEED"] = str(ns.permutation_seed)

    import numpy as np
    import torch

    torch.set_num_threads(ns.threads)
    if ns.seed is not None:
        random.seed(ns.seed)
        np.random.seed(ns.seed)
        torch.manual_seed(ns.seed)
    sys.path[:0] = [str(SHIM), str(code)]
    from torchvision import datasets  # the shim's, the module his script will import

    os.chdir(out)  # his scripts read '../data' (ignored by the shim) and save nothing
    sys.argv = [str(script)]
    with open(out / "stdout.log", "w") as log:
        tee = _Tee(log, sys.stdout, quiet=not ns.verbose)
        start = time.perf_counter()
        with contextlib.redirect_stdout(tee):
            g = runpy.run_path(str(script), run_name="__main__")
        wall = time.perf_counter() - start

    printed = {}
    for line in tee.accuracy_lines:
        task, value = ACCURACY.match(line).groups()
        printed[f"dataset{task}"] = float(value)
    start = time.perf_counter()
    model, transform = g["model"], g["transform"]
    model.eval()
    test = {
        "mnist": _accuracy(model, datasets.MNIST(None, train=False, transform=transform)),
        "permuted_mnist": _accuracy(
            model, datasets.FashionMNIST(None, train=False, transform=transform)),
    }
    summary = {
        "script": ns.script,
        "code": str(code),
        "commit": _commit(code),
        "seed": ns.seed,
        "permutation_seed": datasets.permutation_seed(),
        "threads": ns.threads,
        "mnist_limit": os.environ.get("NEUROPLASTIC_SHIM_MNIST_LIMIT"),
        # as his script prints them: the two TRAINING sets, model in train mode (dropout on)
        "printed_accuracy_lines": tee.accuracy_lines,
        "train_acc_train_mode": printed,
        # ours: the two 10,000-image TEST sets, model in eval mode
        "test_acc_eval_mode": test,
        "wall_time_s": round(wall, 1),
    }
    if ns.eval_train_sets:
        summary["train_acc_eval_mode"] = {"mnist": _accuracy(model, g["dataset1"]),
                                          "permuted_mnist": _accuracy(model, g["dataset2"])}
    summary["eval_s"] = round(time.perf_counter() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
