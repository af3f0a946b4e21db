"""Peak resident memory and model bytes, training and inference: full-precision MLP vs BNN,
metaplastic BNN and engram BNN at the same widths, in one benchmark run.

Every (configuration, phase) runs in a fresh Python subprocess so that its peak RSS
(``getrusage().ru_maxrss``) is its own. A ``baseline`` subprocess does the same imports and
builds the same random data without any model; the table reports each peak both raw and above
that baseline (so the difference is the model, its training state and its activations).
Training: ``--steps`` Adam / Adam_meta steps of batch ``--batch`` on a random
5-task class-incremental stream of MNIST-shaped inputs (every configuration sees the same data).
Inference: the trained model is saved (float ``state_dict`` for the MLP; one bit per binary
weight with ``save_packed`` for the BNNs) and a fresh process loads it and predicts
``--test`` inputs in batches of 1000; the packed BNN unpacks one layer at a time.

    python benchmarks/bnn_memory.py [--hidden 1024,1024] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    # label: (method, model, optimizer)
    "fp-mlp": ("finetune", "mlp", {"name": "adam", "lr": 0.001}),
    "bnn": ("mbnn", "bnn", {"name": "adam-meta", "meta": [0.0], "reset": "per_task"}),
    "mbnn": ("mbnn", "bnn", {"name": "adam-meta", "meta": [1.35], "reset": "per_task"}),
    "engram-bnn": ("engram-bnn", "bnn", {"name": "adam-meta", "meta": [1.35], "reset": "per_task"}),
}


def _stream(n_train: int, n_test: int):
    import torch

    from neuroplastic.scenarios.task import Stream, Task

    g = torch.Generator().manual_seed(0)
    tasks = []
    for t in range(5):
        x = torch.rand(n_train, 1, 28, 28, generator=g)
        y = torch.randint(2 * t, 2 * t + 2, (n_train,), generator=g)
        xt = torch.rand(n_test // 5, 1, 28, 28, generator=g)
        yt = torch.randint(2 * t, 2 * t + 2, (n_test // 5,), generator=g)
        tasks.append(Task(t, x, y, xt, yt, [2 * t, 2 * t + 1], {}))
    return Stream(tasks, "class", "growing", 10, (1, 28, 28), "random")


def _peak() -> int:
    from neuroplastic.metrics import peak_rss_bytes

    return peak_rss_bytes()


def child(args) -> dict:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    from neuroplastic.methods.base import optimizer_state_bytes
    from neuroplastic.models.binary import load_packed, save_packed
    from neuroplastic.models.classifier import build_model, model_bytes
    from neuroplastic.plasticity import optimizer_factory
    from neuroplastic.registry import METHODS, load_builtins

    load_builtins()

    hidden = [int(h) for h in args.hidden.split(",")]
    stream = _stream(args.batch * args.steps // 5 + 1, args.test)
    result: dict = {"label": args.label, "phase": args.phase}
    if args.label == "baseline":
        from neuroplastic.registry import load_builtins

        load_builtins()  # the same imports as every configuration (all registered components)
        result["peak_rss"] = _peak()
        return result
    method_name, model_name, opt = CONFIGS[args.label]
    ckpt = Path(args.ckpt)
    method_cls = METHODS.get(method_name).obj
    params = method_cls.Params()
    if args.phase == "train":
        model = build_model({"name": model_name, "hidden": hidden}, stream.info)
        method = method_cls(model, stream.info, params, optimizer_factory(opt))
        per_task = args.steps // 5
        for task in stream.tasks:
            method.begin_task(task)
            for s in range(per_task):
                idx = torch.arange(s * args.batch, (s + 1) * args.batch) % task.num_train
                method.observe(task.x_train[idx], task.y_train[idx], task.index)
            method.end_task(task)
        result["model_bytes"] = model_bytes(method.model)
        result["float_param_bytes"] = sum(p.numel() * 4 for p in method.model.parameters())
        result["optimizer_state_bytes"] = optimizer_state_bytes(method.optimizer)
        if model_name == "bnn":
            result["checkpoint_bytes"] = save_packed(method.model, ckpt)
        else:
            torch.save(method.model.state_dict(), ckpt)
            result["checkpoint_bytes"] = ckpt.stat().st_size
    else:
        if model_name == "bnn":
            model = load_packed(ckpt)
        else:
            with torch.device("meta"):  # as load_packed: the weights are allocated only once
                model = build_model({"name": model_name, "hidden": hidden}, stream.info)
            model.load_state_dict(torch.load(ckpt, weights_only=True), assign=True)
        method = method_cls(model, stream.info, params, optimizer_factory(opt))
        method.seen_tasks = 5
        model.eval()
        correct = 0
        start = time.perf_counter()
        with torch.inference_mode():
            for task in stream.tasks:
                for i in range(0, len(task.y_test), 1000):
                    out = method.predict(task.x_test[i : i + 1000], None)
                    correct += (out.argmax(1) == task.y_test[i : i + 1000]).sum().item()
        result["predict_seconds"] = time.perf_counter() - start
        result["model_bytes"] = model_bytes(model)
    result["peak_rss"] = _peak()
    return result


def spawn(label: str, phase: str, ckpt: Path, args) -> dict:
    cmd = [
        sys.executable, __file__, "--child", "--label", label, "--phase", phase,
        "--ckpt", str(ckpt), "--hidden", args.hidden, "--steps", str(args.steps),
        "--batch", str(args.batch), "--test", str(args.test),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", default="1024,1024", help="hidden widths (default 1024,1024)")
    ap.add_argument("--steps", type=int, default=30, help="training steps in all (5 tasks)")
    ap.add_argument("--batch", type=int, default=100, help="batch size (official: 100)")
    ap.add_argument("--test", type=int, default=10000, help="test inputs predicted")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--label", default="baseline", help=argparse.SUPPRESS)
    ap.add_argument("--phase", default="train", help=argparse.SUPPRESS)
    ap.add_argument("--ckpt", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = spawn("baseline", "train", Path(tmp) / "none", args)["peak_rss"]
        rows = {}
        for label in CONFIGS:
            ckpt = Path(tmp) / f"{label}.pt"
            rows[label] = (spawn(label, "train", ckpt, args), spawn(label, "infer", ckpt, args))
    print(f"hidden {args.hidden}; {args.steps} training steps of batch {args.batch}; "
          f"{args.test} test inputs; baseline process (imports + data) peak RSS {mib(base)} MiB")
    print()
    print("| model | train peak RSS MiB (above baseline) | inference peak RSS MiB (above baseline) "
          "| model bytes | float params bytes | optimizer state bytes | checkpoint bytes |")
    print("|---|---|---|---|---|---|---|")
    for label, (tr, inf) in rows.items():
        print(
            f"| {label} | {mib(tr['peak_rss'])} ({mib(tr['peak_rss'] - base)}) "
            f"| {mib(inf['peak_rss'])} ({mib(inf['peak_rss'] - base)}) "
            f"| {tr['model_bytes']:,} | {tr['float_param_bytes']:,} "
            f"| {tr['optimizer_state_bytes']:,} | {tr['checkpoint_bytes']:,} |"
        )
    fp_tr, fp_inf = rows["fp-mlp"]
    print()
    print("ratios to the full-precision MLP (peak RSS above baseline; model bytes; checkpoint):")
    for label, (tr, inf) in rows.items():
        if label == "fp-mlp":
            continue
        r = [
            (tr["peak_rss"] - base) / max(1, fp_tr["peak_rss"] - base),
            (inf["peak_rss"] - base) / max(1, fp_inf["peak_rss"] - base),
            tr["model_bytes"] / fp_tr["model_bytes"],
            tr["checkpoint_bytes"] / fp_tr["checkpoint_bytes"],
        ]
        print(f"  {label}: train RSS x{r[0]:.2f}, inference RSS x{r[1]:.2f}, "
              f"model bytes x{r[2]:.4f}, checkpoint x{r[3]:.4f}")
    print(f"\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
