"""Throughput of a protocol's runs on 1 worker and on N workers (issue 24: use both cores).

Runs the same 6 runs of a committed protocol (default: ``bnn-pmnist``, the rows finetune and
mbnn x seeds 0-2, a quick preset of about 10-30 s per run) through the one runner, once with
``--workers 1`` and once with ``--workers N`` (default: the cores available), each into a fresh
temporary folder, and prints runs per minute and the speed-up. With fewer workers than cores
each run gets cores // workers torch threads (the runner's rule), so the 1-worker pass uses every
core too: the comparison is runs in parallel against threads within one run.

    NEUROPLASTIC_DATA=... python benchmarks/workers.py [--protocol bnn-pmnist]
        [--rows finetune,mbnn] [--seeds 0,1,2] [--workers 2]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

from neuroplastic.experiments.reproduce import find_protocol
from neuroplastic.experiments.sweep import default_workers, load_sweep, restrict, run_sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocol", default="bnn-pmnist")
    ap.add_argument("--rows", default="finetune,mbnn")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()
    spec = load_sweep(find_protocol(args.protocol))
    spec = restrict(spec, {"row": args.rows.split(",")})
    spec.base.pop("threads", None)  # the protocol's own thread count would defeat the share
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for workers in (1, args.workers):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            result = run_sweep(copy.deepcopy(spec), out=out, workers=workers, seeds=seeds,
                               progress=False)
            wall = time.perf_counter() - start
        if result.failed:
            raise SystemExit(f"{len(result.failed)} run(s) failed: {result.failed}")
        results[workers] = (len(result.done), wall)
        print(f"{workers} worker(s): {len(result.done)} runs in {wall:.1f} s, "
              f"{60 * len(result.done) / wall:.2f} runs per minute")
    (n1, w1), (_, wn) = results[1], results[args.workers]
    print(f"speed-up with {args.workers} workers: {w1 / wn:.2f}x ({n1} runs)")


if __name__ == "__main__":
    main()
