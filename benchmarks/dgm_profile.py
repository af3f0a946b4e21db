"""Where a DGM run's time goes: one ``dgmw`` run of the ``dgm-mnist10`` quick preset cut to its
first 3 tasks (300 images per class, 15 epochs, batch 32, official selection), under cProfile,
with each part's share of the run's time: the three steps of ``observe`` (classifier steps on
real and replayed images, the WGAN-GP critic step, the generator step), the best-validation
evaluation, and the rest. Then one critic step of D (batch 32) under torch.profiler: the share
of its convolutions (forward, backward and the gradient penalty's double backward), and the
same step with PyTorch's native convolution instead of oneDNN and with channels-last tensors.

    NEUROPLASTIC_DATA=<data> python benchmarks/dgm_profile.py [--tasks 3]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
import warnings

import torch

PARTS = {
    "classifier steps (a)": "_classifier_steps",
    "critic step, WGAN-GP (b)": "_critic_step",
    "generator step with masks (c)": "_generator_step",
    "best-validation evaluation": "_select",
}


def run_profile(tasks: int) -> None:
    from neuroplastic import config as config_mod
    from neuroplastic.experiment import resolve, run_resolved

    config = {
        "benchmark": {"name": "split-mnist", "classes_per_task": 1, "train_per_class": 300,
                      "test_per_class": 300, "n_tasks": tasks},
        "scenario": "class",
        "train": {"epochs": 15, "batch_size": 32},
        "threads": 1,
        "method": {"name": "dgmw", "niter": 15, "official_selection": True},
    }
    with tempfile.TemporaryDirectory() as out:
        resolved = resolve(config_mod.merge(config_mod.normalise(config_mod.DEFAULTS), config))
        profiler = cProfile.Profile()
        profiler.runcall(run_resolved, resolved, out=out, progress=False)
    stats = pstats.Stats(profiler).stats
    total = sum(v[3] for (_, _, name), v in stats.items() if name == "run_resolved")
    print(f"dgmw, {tasks} tasks of dgm-mnist10's quick preset: {total:.1f} s in run_resolved")
    for label, func in PARTS.items():
        cum = sum(v[3] for (_, _, name), v in stats.items() if name == func)
        print(f"  {label:34s} {cum:7.1f} s  {100 * cum / total:5.1f} %")


def critic_convolution_share() -> None:
    from torch.profiler import profile

    warnings.filterwarnings("ignore", message="TF32 acceleration")  # torch's note, not ours

    from neuroplastic.models.gan import ACDiscriminator

    torch.manual_seed(0)
    D = ACDiscriminator(1, 64, 10)  # the official MNIST netD (ndf 64), 32x32 inputs
    real, fake = torch.randn(32, 1, 32, 32), torch.randn(32, 1, 32, 32)

    def critic_step(net):
        net.zero_grad()
        alpha = torch.rand(32, 1, 1, 1)
        mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad = torch.autograd.grad(net.critic(mix).sum(), mix, create_graph=True)[0]
        penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean() * 10
        (-net.critic(real).mean() + net.critic(fake).mean() + penalty).backward()

    critic_step(D)
    with profile() as prof:
        for _ in range(3):
            critic_step(D)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events
               if "convolution" in e.key)
    print(f"critic step of D, batch 32: {total / 3 / 1000:.0f} ms, of which convolutions "
          f"(forward, backward, double backward) {100 * conv / total:.0f} %")
    # the two places a faster convolution could come from: another algorithm (PyTorch's own
    # instead of oneDNN) and another memory layout (channels-last), alternated in one process
    D_last = ACDiscriminator(1, 64, 10).to(memory_format=torch.channels_last)
    D_last.load_state_dict(D.state_dict())
    times: dict[str, list[float]] = {"oneDNN (default)": [], "native convolution": [],
                                     "channels-last": []}
    for _ in range(3):
        for label in times:
            with torch.backends.mkldnn.flags(enabled=label != "native convolution"):
                net = D_last if label == "channels-last" else D
                start = time.perf_counter()
                for _ in range(3):
                    critic_step(net)
                times[label].append((time.perf_counter() - start) / 3)
    base = min(times["oneDNN (default)"])
    for label, values in times.items():
        print(f"  critic step, {label:20s} {1000 * min(values):6.0f} ms  "
              f"{min(values) / base:4.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    run_profile(args.tasks)
    critic_convolution_share()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
