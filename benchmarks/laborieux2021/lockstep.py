"""Laborieux et al.'s metaplastic BNN and ours, trained in lockstep from the same initial weights
on the same batches: where does our ``mbnn`` (model ``bnn``, optimizer ``adam-meta``) depart from
the official code, and does the departure change what is remembered?

Issue 21 asks to find out why our ``mbnn-pmnist-official`` records and the official code's own
runs differ by more than seed noise on task 1 (README, "Official-scale evidence"). Reading both
finds no difference in the rule; this script measures it. His ``BNN`` and ``Adam_meta``
(``models_utils.py``) and the body of his ``train`` loop are imported from a checkout (never
copied; torchvision from ``shim/``); ours is the method a run builds. Both start from his
initial weights and see the same permuted-MNIST batches (our loader, seeded order), tasks of
``--steps`` steps of batch 100.

* By default (resync): before every step ours is set to his state (hidden weights,
  BatchNorm, Adam moments), so each step is compared from the same point: the largest hidden-
  weight difference one step makes, and how many binary weights (signs) disagree after it.
* ``--free``: no resync; both run on their own from the same start. A BNN is chaotic (one
  rounding difference flips a sign, which changes every later gradient), so the two
  trajectories separate; what matters is whether they forget alike: the accuracy of every task
  after the last (each task's own saved BatchNorm, ours through ``per_task_bn``, and the
  current BatchNorm), for both.

    NEUROPLASTIC_DATA=... python benchmarks/laborieux2021/lockstep.py --code mbnn [--free] \\
        [--tasks 3] [--steps 600] [--hidden 1024] [--meta 1.35] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
FOLDER = "Continual_Learning_Fig-2abcdefgh-3abcd-5cde"


def his_modules(code: Path):
    folder = code / FOLDER if (code / FOLDER).is_dir() else code
    if not (folder / "models_utils.py").is_file():
        sys.exit(f"{code}: no {FOLDER}/models_utils.py here; give a checkout of "
                 "https://github.com/Laborieux-Axel/SynapticMetaplasticityBNN (commit 5351570)")
    sys.path[:0] = [str(HERE / "shim"), str(folder)]
    os.environ.setdefault("MPLBACKEND", "agg")
    import models_utils  # noqa: PLC0415  (his module, from the checkout)

    return models_utils


def permuted_tasks(n_tasks: int, seed: int):
    """Every task permuted (his create_permuted_loaders), pixels in [0, 1]."""
    from neuroplastic.datasets.mnist import load_mnist

    data = load_mnist()
    x_train = torch.as_tensor(data.x_train).flatten(1)
    x_test = torch.as_tensor(data.x_test).flatten(1)
    y_train, y_test = torch.as_tensor(data.y_train).long(), torch.as_tensor(data.y_test).long()
    g = torch.Generator().manual_seed(seed)
    tasks = []
    for _ in range(n_tasks):
        perm = torch.randperm(784, generator=g)
        tasks.append((x_train[:, perm], y_train, x_test[:, perm], y_test))
    return tasks


def pairs(his_model, our_model):
    """(his parameter, our parameter) in the network's order: fc1, bn1, fc2, bn2, ..., head."""
    ours = [*our_model.body.layers], [*our_model.body.norms, our_model.head.bn]
    ours_fc = ours[0] + [our_model.head.fc]
    out = []
    for i, (fc, bn) in enumerate(zip(ours_fc, ours[1], strict=True), start=1):
        out.append((his_model.layers[f"fc{i}"].weight, fc.weight))
        out.append((his_model.layers[f"bn{i}"].weight, bn.weight))
        out.append((his_model.layers[f"bn{i}"].bias, bn.bias))
    return out


def hidden(p):
    """His hidden weight (``.org``) where it exists, else the parameter itself."""
    return p.org if hasattr(p, "org") else p.data


@torch.no_grad()
def copy_state(his_model, his_opt, method, params) -> None:
    """Ours := his (hidden weights, BatchNorm, Adam moments and step count)."""
    for theirs, ours in params:
        ours.copy_(hidden(theirs))
        st_his, st_ours = his_opt.state.get(theirs), method.optimizer.state[ours]
        if st_his:
            st_ours["step"] = st_his["step"]
            st_ours["exp_avg"] = st_his["exp_avg"].clone()
            st_ours["exp_avg_sq"] = st_his["exp_avg_sq"].clone()
        else:
            for k in ("step", "exp_avg", "exp_avg_sq"):
                st_ours.pop(k, None)


def his_step(model, opt, x, y) -> None:
    """The body of his ``train`` loop (no EWC, no SI)."""
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for p in model.parameters():
        if hasattr(p, "org"):
            p.data.copy_(p.org)
    opt.step()
    for p in model.parameters():
        if hasattr(p, "org"):
            p.org.copy_(p.data)


@torch.no_grad()
def accuracy(forward, x, y, batch=1000) -> float:
    correct = sum((forward(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(y), batch))
    return 100.0 * correct / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, required=True, help="SynapticMetaplasticityBNN")
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=600, help="steps per task (600 = 1 epoch)")
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--meta", type=float, default=1.35)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--free", action="store_true", help="no resync (see the docstring)")
    parser.add_argument("--out", type=Path, help="write the summary JSON here too")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    his = his_modules(args.code)
    from neuroplastic import params as params_mod
    from neuroplastic.models import build_model
    from neuroplastic.plasticity import optimizer_factory
    from neuroplastic.registry import METHODS
    from neuroplastic.scenarios.task import StreamInfo, Task

    widths = [784, args.hidden, args.hidden, 10]
    his_model = his.BNN(widths, init="uniform", width=0.1, norm="bn")
    meta = {}
    for index, p in enumerate(his_model.parameters(), start=1):  # as his main.py names them
        p.newname = f"l{index}"
        meta[p.newname] = args.meta
    his_model(torch.zeros(2, 784))  # creates .org on every binary layer (his first forward)

    info = StreamInfo("domain", "shared", 10, tuple((i,) for i in range(10)), (784,),
                      args.tasks, False)
    cls = METHODS.get("mbnn").obj
    method = cls(build_model({"name": "bnn", "hidden": [args.hidden] * 2}, info), info,
                 params_mod.build(cls.Params, {"per_task_bn": True}, "mbnn"),
                 optimizer_factory({"name": "adam-meta", "lr": args.lr, "meta": args.meta,
                                    "reset": "per_task"}))
    our_model = method.model
    data = permuted_tasks(args.tasks, args.seed)
    order = torch.Generator().manual_seed(args.seed + 1)

    first_his_opt = his.Adam_meta(his_model.parameters(), lr=args.lr, meta=meta)
    params = pairs(his_model, our_model)
    copy_state(his_model, first_his_opt, method, params)  # same initial weights

    step_diff, sign_diff, sign_total = [], [], sum(t.numel() for t, _ in params if t.dim() > 1)
    his_bn = []
    for t, (x, y, _, _) in enumerate(data):
        his_opt = his.Adam_meta(his_model.parameters(), lr=args.lr, meta=meta)  # per task
        task = Task(t, x[:2], y[:2], x[:2], y[:2], list(range(10)), {c: c for c in range(10)})
        method.begin_task(task)
        his_model.train()
        batches = []
        while len(batches) < args.steps:
            batches += torch.randperm(len(y), generator=order).split(100)
        for idx in batches[:args.steps]:
            if not args.free:
                copy_state(his_model, his_opt, method, params)
            his_step(his_model, his_opt, x[idx], y[idx])
            method.observe(x[idx], y[idx], t)
            with torch.no_grad():
                d = max((hidden(a) - b).abs().max().item() for a, b in params)
                s = sum((hidden(a).sign() != b.sign()).sum().item()
                        for a, b in params if a.dim() > 1)
            step_diff.append(d)
            sign_diff.append(s)
        method.end_task(task)
        his_bn.append(his_model.save_bn_states())  # ours: method.task_bn (per_task_bn)
        print(f"task {t + 1}: max hidden-weight difference {max(step_diff[-args.steps:]):.3g}, "
              f"binary weights differing at the end {sign_diff[-1]} of {sign_total}", flush=True)

    def his_forward(x):
        his_model.eval()
        return his_model(x)

    def our_forward(x, task=None):
        our_model.eval()
        if task is None:
            return method.logits(x, None)
        return method.predict_with_task_identity(x, task)  # the task's saved BatchNorm

    result = {"args": {k: str(v) for k, v in vars(args).items()}, "tasks": []}
    for t, (_, _, xt, yt) in enumerate(data):
        row = {"task": t + 1,
               "his_current_bn": accuracy(his_forward, xt, yt),
               "ours_current_bn": accuracy(our_forward, xt, yt)}
        current = his_model.save_bn_states()
        his_model.load_bn_states(his_bn[t])
        row["his_own_bn"] = accuracy(his_forward, xt, yt)
        his_model.load_bn_states(current)
        row["ours_own_bn"] = accuracy(lambda x, t=t: our_forward(x, t), xt, yt)
        result["tasks"].append(row)
    result["max_step_difference"] = max(step_diff)
    result["binary_weights"] = sign_total
    result["max_binary_weights_differing"] = max(sign_diff)
    result["binary_weights_differing_at_end"] = sign_diff[-1]
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
