"""Does the input size explain a permuted-MNIST gap? One protocol run on 32x32 images.

van de Ven's code pads MNIST to 32x32 (``transforms.Pad(2)``: 1,024 inputs) before permuting;
the library's ``permuted-mnist`` keeps 28x28 (784 inputs). For an MLP the 240 always-zero
inputs get no gradient, so the two differ only in the first layer's default initialisation
scale (PyTorch draws it from U(-1/sqrt(fan_in), 1/sqrt(fan_in))). This script registers a
padded copy of the benchmark (here, not in the library, so the library's run names do not
change) and runs one cell of ``configs/vandeven/permuted-mnist.yaml`` on it, with everything
else equal. Compare its ``average_accuracy`` with the 28x28 record of the same cell in
``runs/reproduce/vandeven-permuted-mnist/``.

    NEUROPLASTIC_DATA=... python benchmarks/permuted_padding.py --method finetune --seed 0
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from neuroplastic import experiment
from neuroplastic.registry import BENCHMARKS
from neuroplastic.scenarios.benchmarks import PermutedMnistParams, _mnist, subsample_dataset
from neuroplastic.scenarios.builders import permuted
from neuroplastic.sweep import expand, load_sweep, restrict

PROTOCOL = (
    Path(__file__).resolve().parents[1] / "src/neuroplastic/configs/vandeven/permuted-mnist.yaml"
)


@dataclass
class PaddedPermutedParams(PermutedMnistParams):
    pad: int = 2  # zero pixels added on every side before permuting (van de Ven: Pad(2))


def padded_permuted_mnist(params: PaddedPermutedParams, scenario, head, seed):
    data = subsample_dataset(_mnist(params.source), params.train_per_class,
                             params.test_per_class, seed)  # fmt: skip
    width = ((0, 0), (0, 0), (params.pad, params.pad), (params.pad, params.pad))
    data = replace(data, x_train=np.pad(data.x_train, width), x_test=np.pad(data.x_test, width))
    return permuted(data, n_tasks=params.n_tasks, seed=seed,
                    first_unpermuted=params.first_unpermuted, scenario=scenario, head=head,
                    name="permuted-mnist-padded")  # fmt: skip


padded_permuted_mnist.default_model = {"name": "mlp"}
padded_permuted_mnist.default_scenario = "domain"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="finetune")
    ap.add_argument("--scenario", default="domain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pad", type=int, default=2)
    ap.add_argument("--out", default="runs/reproduce/vandeven-permuted-mnist-padded")
    args = ap.parse_args()
    if "permuted-mnist-padded" not in BENCHMARKS:
        BENCHMARKS.register("permuted-mnist-padded", params=PaddedPermutedParams)(
            padded_permuted_mnist
        )
    spec = restrict(load_sweep(PROTOCOL), {"method": [args.method], "scenario": [args.scenario]})
    ((_, config),) = expand(spec, [args.seed])
    config["benchmark"] = {**config["benchmark"], "name": "permuted-mnist-padded", "pad": args.pad}
    record = experiment.run(config, out=args.out, resume=True, skip_existing=True)
    print(json.dumps({"name": record["name"], "pad": args.pad,
                      "average_accuracy": record["metrics"]["average_accuracy"],
                      "train_seconds": record["metrics"]["train_seconds"]}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
