"""neuroplastic's engine against Avalanche 0.6.0 on identical split-MNIST work, alternated in one
process, printing the time ratio Avalanche / neuroplastic.

Work: class-incremental split MNIST (5 tasks x 2 digits, the full 60,000 / 10,000 images from
NEUROPLASTIC_DATA, loaded once; Avalanche gets the same tensors through ``nc_benchmark`` over a
``TensorDataset``), MLP 784-400-400-10 built by neuroplastic from the same seed, one shared
10-unit head with no logit masking on both sides (neuroplastic ``head: shared``; Avalanche's
``Naive``), Adam lr 1e-3 kept across tasks, one epoch per task, batch 128, evaluation of the test
set of every task before training and after every task with eval batch 1000, CPU, no DataLoader
workers. neuroplastic runs method ``finetune`` through the config a user would write
(``resolve`` + ``build_method`` + ``run_stream``, as ``benchmarks/overhead.py``). Avalanche runs
``Naive`` with an ``EvaluationPlugin`` that keeps only per-experience accuracy and has no logger.

Avalanche needs torchvision, which does not import beside the project's torch 2.13.0, so this
script runs from a separate environment (the repository's CI never runs it):

    python3 -m venv /work/avalanche-venv
    /work/avalanche-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 avalanche-lib==0.6.0
    /work/avalanche-venv/bin/pip install --no-deps -e .
    /work/avalanche-venv/bin/pip install numpy pyyaml tqdm matplotlib scikit-learn scipy \
        pillow mlxtend
    NEUROPLASTIC_DATA=../shared/data /work/avalanche-venv/bin/python \
        benchmarks/avalanche_speed.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from neuroplastic.config import load
from neuroplastic.engine import run_stream
from neuroplastic.experiment import build_method, build_stream, resolve
from neuroplastic.models import build_model

EVAL_BATCH = 1000
INSTALL = (
    "pip install torch==2.14.1 torchvision==0.29.1 avalanche-lib==0.6.0 (in a separate venv; "
    "see this script's docstring)"
)
CONFIG = {
    "benchmark": "split-mnist",
    "scenario": "class",
    "head": "shared",  # one 10-unit head, no masking: what Avalanche's Naive trains
    "method": "finetune",
    "model": {"name": "mlp", "hidden": [400, 400]},
    "optimizer": {"name": "adam", "lr": 1e-3},
    "train": {"epochs": 1, "batch_size": 128, "eval_batch_size": EVAL_BATCH},
}


def import_avalanche():
    try:
        import avalanche
    except (ImportError, RuntimeError) as err:  # RuntimeError: a torchvision that mismatches torch
        raise SystemExit(f"avalanche cannot be imported ({err}); install: {INSTALL}") from None
    return avalanche


def avalanche_benchmark(stream):
    """The same tensors as an Avalanche class-incremental benchmark, digits in order 0..9."""
    import_avalanche()
    from avalanche.benchmarks import nc_benchmark
    from torch.utils.data import TensorDataset

    def cat(split):
        x = torch.cat([getattr(t, f"x_{split}") for t in stream.tasks])
        y = torch.cat([getattr(t, f"y_{split}") for t in stream.tasks])
        return TensorDataset(x, y)

    return nc_benchmark(
        cat("train"), cat("test"), n_experiences=len(stream.tasks), task_labels=False,
        shuffle=False, fixed_class_order=list(range(stream.num_outputs)),
    )


def avalanche_run(resolved, stream, bench, seed: int) -> list[float]:
    """Avalanche's Naive over the benchmark; returns the final accuracy on each task."""
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training import Naive
    from avalanche.training.plugins import EvaluationPlugin

    torch.manual_seed(seed)
    model = build_model(resolved.config["model"], stream.info)  # same model, same seed
    strategy = Naive(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
        criterion=torch.nn.CrossEntropyLoss(),
        train_mb_size=128,
        train_epochs=1,
        eval_mb_size=EVAL_BATCH,
        device="cpu",
        evaluator=EvaluationPlugin(accuracy_metrics(experience=True), loggers=[]),
    )
    strategy.eval(bench.test_stream, num_workers=0)  # the engine measures the untrained model
    for exp in bench.train_stream:
        strategy.train(exp, num_workers=0)
        last = strategy.eval(bench.test_stream, num_workers=0)
    keys = sorted(k for k in last if k.startswith("Top1_Acc_Exp/eval_phase/test_stream"))
    return [last[k] for k in keys]


def neuroplastic_run(resolved, stream, seed: int) -> list[float]:
    """The engine with method finetune; returns the final accuracy on each task."""
    torch.manual_seed(seed)
    method = build_method(resolved, stream)
    _, state = run_stream(method, stream, resolved.train, seed=seed, progress=False)
    return state.accuracy_matrix[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    for module in ("avalanche", "qpsolvers"):  # "no loggers", deprecations, optional solvers
        warnings.filterwarnings("ignore", module=module)
    avalanche = import_avalanche()
    torch.set_num_threads(args.threads)
    resolved = resolve(load(None, [], base=CONFIG))
    stream = build_stream(resolved)
    bench = avalanche_benchmark(stream)
    n = sum(t.num_train for t in stream.tasks)
    print(
        f"split-mnist class-incremental: {n} training images, torch {torch.__version__}, "
        f"avalanche {avalanche.__version__}, {torch.get_num_threads()} threads"
    )
    runs = {
        "neuroplastic": lambda seed: neuroplastic_run(resolved, stream, seed),
        "avalanche": lambda seed: avalanche_run(resolved, stream, bench, seed),
    }
    for fn in runs.values():  # warm-up (allocator, kernels, lazy imports)
        fn(0)
    times: dict[str, list[float]] = {name: [] for name in runs}
    accs: dict[str, list[float]] = {name: [] for name in runs}
    ratios = []
    for r in range(args.repeats):
        # alternate the order so slow drifts of the machine hit both sides alike
        order = list(runs.items()) if r % 2 == 0 else list(reversed(runs.items()))
        for name, fn in order:
            start = time.perf_counter()
            final = fn(r)
            times[name].append(time.perf_counter() - start)
            accs[name].append(sum(final) / len(final))
        ratios.append(times["avalanche"][-1] / times["neuroplastic"][-1])
        print(
            f"repeat {r}: neuroplastic {times['neuroplastic'][-1]:.2f} s "
            f"(final acc {accs['neuroplastic'][-1]:.4f}), avalanche {times['avalanche'][-1]:.2f} s "
            f"(final acc {accs['avalanche'][-1]:.4f}), ratio {ratios[-1]:.2f}"
        )
    med = {name: statistics.median(t) for name, t in times.items()}
    acc = {name: statistics.mean(a) for name, a in accs.items()}
    print(
        f"median per stream: neuroplastic {med['neuroplastic']:.2f} s, avalanche "
        f"{med['avalanche']:.2f} s; avalanche/neuroplastic time ratio: median "
        f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}); "
        f"final accuracy (mean over tasks and repeats): neuroplastic {acc['neuroplastic']:.4f}, "
        f"avalanche {acc['avalanche']:.4f}"
    )


if __name__ == "__main__":
    main()
