"""Run Laborieux et al.'s own metaplastic-BNN code (Laborieux-Axel/SynapticMetaplasticityBNN,
folder Continual_Learning_Fig-2abcdefgh-3abcd-5cde) on this machine, as a check of our mbnn
implementation: the official-scale permuted-MNIST protocol run by the code behind the paper.

His code is not part of neuroplastic and is not copied here: point ``--code`` at a checkout of
his repository (commit 5351570 is the one our protocol files cite) or at its continual-learning
folder. It needs ``torchvision``, which does not import beside this torch; ``shim/`` stands in
for the parts it uses: MNIST through neuroplastic's own loader (from ``$NEUROPLASTIC_DATA``),
ToTensor / Lambda / Normalize / Compose in plain torch, and placeholders for the Fashion-MNIST
datasets his ``data_utils.py`` builds at import time (they raise if an item is read; USPS raises
when built). His files stay untouched; it runs on the CPU (his code picks cuda only if present).

    git clone https://github.com/Laborieux-Axel/SynapticMetaplasticityBNN mbnn
    git -C mbnn checkout 5351570
    NEUROPLASTIC_DATA=... python benchmarks/laborieux2021/run.py --code mbnn --out DIR -- \\
        --net bnn --hidden-layers 1024 1024 --task-sequence pMNIST pMNIST pMNIST pMNIST pMNIST \\
        --epochs-per-task 5 --lr 0.005 --meta 1.35 --seed 0

His main.py runs with DIR as its working directory (it writes results/<date>/<time>_gpu0/ there:
hyperparameters.txt, weight histograms and a CSV with one row per epoch). His CSV holds the
accuracy of every task in his ``--scenario`` only (``task``, the default: earlier tasks tested
with the BatchNorm parameters saved at their end; ``domain``: every task with the current ones).
After his script ends, this runner also tests every task with the final (current) BatchNorm
parameters through his own ``test`` function and loaders, so one ``task`` run gives both
numbers; in a ``domain`` run the two coincide. DIR/summary.json (also printed) holds the
accuracies after the last task and the wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import runpy
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

SHIM = Path(__file__).resolve().parent / "shim"
REPO = Path(__file__).resolve().parents[2]
FOLDER = "Continual_Learning_Fig-2abcdefgh-3abcd-5cde"


def _main_py(code: Path) -> Path | None:
    for candidate in (code / "main.py", code / FOLDER / "main.py"):
        if candidate.exists() and (candidate.parent / "data_utils.py").exists():
            return candidate
    return None


def _commit(path: Path) -> str | None:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    return None


def _last_row(results: Path) -> tuple[Path, dict]:
    csvs = sorted(results.glob("results/*/*/*.csv"), key=lambda p: p.stat().st_mtime)
    if not csvs:
        raise SystemExit(f"no CSV under {results}/results: did his main.py finish?")
    with open(csvs[-1], newline="") as f:
        rows = list(csv.DictReader(f))
    return csvs[-1], rows[-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", required=True,
                    help="checkout of Laborieux-Axel/SynapticMetaplasticityBNN (or its folder "
                         f"{FOLDER})")
    ap.add_argument("--out", help="results folder, outside this repository (default "
                    "~/neuroplastic-official/laborieux2021/<UTC time>)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1, as our protocols)")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="-- then the arguments of his main.py")
    ns = ap.parse_args()
    code = Path(ns.code).resolve()
    main_py = _main_py(code)
    if main_py is None:
        ap.error(f"no main.py + data_utils.py in {code} or {code / FOLDER}: --code must be a "
                 "checkout of Laborieux-Axel/SynapticMetaplasticityBNN")
    if "NEUROPLASTIC_DATA" not in os.environ:
        ap.error("set NEUROPLASTIC_DATA to the data root holding mnist/*-idx*-ubyte.gz")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(ns.out or Path.home() / "neuroplastic-official" / "laborieux2021" / stamp)
    out = out.expanduser().resolve()
    if out == REPO or REPO in out.parents:
        ap.error(f"--out {out} is inside this repository; put results outside it")
    out.mkdir(parents=True, exist_ok=True)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args

    import torch

    torch.set_num_threads(ns.threads)
    os.environ.setdefault("MPLBACKEND", "agg")  # he saves weight histograms, never shows them
    sys.path[:0] = [str(SHIM), str(main_py.parent)]
    os.chdir(out)  # his main.py writes ./results/<date>/<time>_gpu<device>/
    sys.argv = [str(main_py), *args]
    start = time.perf_counter()
    g = runpy.run_path(str(main_py), run_name="__main__")
    wall = time.perf_counter() - start

    csv_path, last = _last_row(out)
    names = list(g["task_names"])
    scenario = g["args"].scenario
    theirs = {n: float(last[f"acc_test_tsk_{i + 1}"]) for i, n in enumerate(names)}
    # the final model with the BatchNorm parameters of the last epoch (his main.py reloads them
    # after every epoch's tests), tested by his own test() on his own test loaders
    start = time.perf_counter()
    model, test, device = g["model"], g["test"], g["device"]
    current = {n: float(test(model, loader, device)[0])
               for n, loader in zip(names, g["test_loader_list"], strict=True)}
    summary = {
        "code": str(main_py.parent),
        "commit": _commit(main_py.parent),
        "args": args,
        "scenario": scenario,
        "threads": ns.threads,
        "mnist_limit": os.environ.get("NEUROPLASTIC_SHIM_MNIST_LIMIT"),
        "csv": str(csv_path),
        # his CSV, last row (after the last epoch of the last task), in percent
        "final_test_acc": theirs,
        "final_train_acc_last_task": float(last["acc_tr"]),
        # every task tested with the current (last task's) BatchNorm parameters
        "final_test_acc_current_bn": current,
        "mean_final_test_acc": sum(theirs.values()) / len(theirs),
        "mean_final_test_acc_current_bn": sum(current.values()) / len(current),
        "wall_time_s": round(wall, 1),
        "current_bn_eval_s": round(time.perf_counter() - start, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
