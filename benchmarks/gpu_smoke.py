"""GPU smoke test: one short run per area on a CUDA device, checked and timed against the CPU.

For every area (baselines, metaplastic BNN, CLASSP, neuromimetic metaplasticity, DGM) a short
run of the area's protocol network is built exactly as ``neuroplastic run`` builds it and trained
through the engine twice, on ``--device`` and on the CPU. It checks that

* the run finished with an accuracy matrix of the stream's shape and finite accuracies;
* nothing silently stayed on or fell back to the CPU: every tensor of the method's state
  (model, optimizer state, buffers: ``Method.state_dict``) lives on the device, the record names
  the GPU, and the device's allocator saw memory;

and prints training steps per second on both, with their ratio. It exits with 1 when a check
fails. Run it whenever a device machine is lent (issue 24):

    python benchmarks/gpu_smoke.py                 # cuda vs cpu
    python benchmarks/gpu_smoke.py --device cpu    # the checks alone, on a machine without GPU
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import torch

from neuroplastic import config as config_mod
from neuroplastic.engine import run_stream
from neuroplastic.experiment import build_method, build_stream, resolve, seed_everything

#: area -> (protocol it stands for, a short config of that protocol's network and method)
AREAS: dict[str, tuple[str, dict[str, Any]]] = {
    "baselines": ("vandeven-split-mnist", {
        "benchmark": {"name": "split-mnist", "train_per_class": 300, "test_per_class": 100},
        "scenario": "class", "method": {"name": "ewc", "fisher_samples": 100},
        "model": {"name": "mlp", "hidden": [400, 400]}, "train": {"iterations": 50}}),
    "bnn": ("mbnn-pmnist-official", {
        "benchmark": {"name": "permuted-mnist", "n_tasks": 2, "first_unpermuted": False,
                      "train_per_class": 300, "test_per_class": 100},
        "scenario": "domain", "method": {"name": "mbnn", "per_task_bn": True},
        "model": {"name": "bnn", "hidden": [1024, 1024]},
        "optimizer": {"name": "adam-meta", "lr": 0.005, "meta": 1.35, "reset": "per_task"},
        "train": {"iterations": 50, "batch_size": 100}}),
    "classp": ("classp-vision-official", {
        "benchmark": {"name": "mnist-permuted-pair", "train_per_class": 100,
                      "test_per_class": 50},
        "scenario": "domain", "method": {"name": "finetune"}, "model": {"name": "mnist-cnn"},
        "optimizer": {"name": "classp", "lr": 0.2, "rule": "official", "threshold": 0.5,
                      "scale_from_task": 1},
        "train": {"iterations": 50, "batch_size": 32}}),
    "metaplasticity": ("metaplastic-sgd update rule, quick preset", {
        "benchmark": {"name": "split-mnist", "train_per_class": 200, "test_per_class": 100},
        "scenario": "domain", "method": {"name": "finetune"},
        "model": {"name": "mlp", "hidden": [256, 256]},
        "optimizer": {"name": "metaplastic-sgd", "lr": 0.05, "s": 10.0, "flexibility": "hybrid"},
        "train": {"iterations": 50, "batch_size": 64}}),
    "dgm": ("dgm-mnist10-epochs", {
        "benchmark": {"name": "split-mnist", "classes_per_task": 5, "train_per_class": 60,
                      "test_per_class": 30},
        "scenario": "class", "model": {"name": "dgm-disc"},
        "method": {"name": "dgmw", "niter": 1}, "train": {"epochs": 1, "batch_size": 64}}),
}


def _tensors(obj: Any):
    """Every tensor in a method's packed state (nested dicts, lists, tuples)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _tensors(value)


def run_once(cfg: dict[str, Any], device: str) -> dict[str, Any]:
    resolved = resolve(config_mod.load(None, None, base={**cfg, "device": device, "seed": 0}))
    seed_everything(0)
    stream = build_stream(resolved).to(device)
    method = build_method(resolved, stream)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    _, state = run_stream(method, stream, resolved.train, seed=0, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    steps = sum(resolved.train.steps(t.num_train, t.index) for t in stream.tasks)
    kind = torch.device(device).type
    # packed state: the model's and optimizers' state dicts, buffers (methods/state.py)
    off_device = [tuple(t.shape) for t in _tensors(method.state_dict())
                  if t.is_floating_point() and t.device.type != kind]
    matrix = state.accuracy_matrix
    return {
        "steps_per_second": steps / max(state.train_seconds, 1e-9),
        "seconds": seconds,
        "shape_ok": len(matrix) == len(stream) and all(len(r) == len(stream) for r in matrix),
        "finite": all(math.isfinite(a) for row in matrix for a in row),
        "off_device": off_device,
        "peak_bytes": torch.cuda.max_memory_allocated(device) if kind == "cuda" else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--only", default=None, help=f"comma-separated: {', '.join(AREAS)}")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the CPU runs")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"error: --device {args.device}: torch sees no CUDA device here "
              "(use --device cpu for the checks alone)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    names = args.only.split(",") if args.only else list(AREAS)
    name_of = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"torch {torch.__version__}, device {args.device} ({name_of}), CPU: {args.threads} "
          "thread(s)")
    print(f"{'area':<15} {'device steps/s':>14} {'cpu steps/s':>12} {'ratio':>7}  checks  "
          "(protocol)")
    failed = False
    for name in names:
        protocol, cfg = AREAS[name]
        on_device = run_once(cfg, args.device)
        on_cpu = run_once(cfg, "cpu") if args.device != "cpu" else on_device
        problems = []
        if not on_device["shape_ok"] or not on_device["finite"]:
            problems.append("accuracy matrix")
        if on_device["off_device"]:
            problems.append(f"{len(on_device['off_device'])} tensors off the device")
        if args.device.startswith("cuda") and not on_device["peak_bytes"]:
            problems.append("no device memory used")
        failed = failed or bool(problems)
        ratio = on_device["steps_per_second"] / on_cpu["steps_per_second"]
        print(f"{name:<15} {on_device['steps_per_second']:14.1f} "
              f"{on_cpu['steps_per_second']:12.1f} {ratio:7.2f}  "
              f"{'ok' if not problems else 'FAIL: ' + ', '.join(problems)}  ({protocol})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
