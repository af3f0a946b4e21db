"""CPU cost of the pieces of Artsy on the frozen EfficientNet-Lite0 (one thread, CPU seconds).

Measures process time (not wall time, which depends on the machine's load): the frozen prefix
(images -> activations before ``split_block``), the suffix with and without one adapter set,
and one training step of a sub-network (forward + backward through the adapted blocks).

    python benchmarks/artsy_speed.py [--input-size 64] [--split-block 12]
"""

from __future__ import annotations

import argparse
import time

import torch


def cpu_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats


def main() -> None:
    from neuroplastic.models.adapters import adapter_set
    from neuroplastic.models.efficientnet import EfficientNetLite0Backbone

    ap = argparse.ArgumentParser()
    ap.add_argument("--input-size", type=int, default=64)
    ap.add_argument("--split-block", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = EfficientNetLite0Backbone(args.input_size, args.split_block)
    adapters = adapter_set(net.adapted_channels)
    images = torch.rand(64, 3, 32, 32)
    with torch.no_grad():
        h = net.prefix(images)
        prefix = cpu_seconds(lambda: net.prefix(images), 3) / len(images)
        suffix = cpu_seconds(lambda: net.suffix(h), 5) / len(images)
        adapted = cpu_seconds(lambda: net.suffix(h, adapters), 5) / len(images)
    opt = torch.optim.SGD(adapters.parameters(), lr=0.01, momentum=0.9)
    hb = h[:48]

    def step():
        loss = net.suffix(hb, adapters).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    train = cpu_seconds(step, 5)
    n_adapter = sum(p.numel() for p in adapters.parameters())
    print(f"backbone {net.key}, prefix shape {tuple(h.shape[1:])}, one thread, CPU time:")
    print(f"  prefix (32x32 image -> {args.input_size} px -> block {args.split_block}): "
          f"{1e3 * prefix:.2f} ms/image ({1 / prefix:.0f} images per CPU-second)")
    print(f"  suffix, pre-trained:       {1e3 * suffix:.2f} ms/sample")
    print(f"  suffix with adapters:      {1e3 * adapted:.2f} ms/sample")
    print(f"  sub-network training step, batch 48: {1e3 * train:.0f} ms")
    print(f"  adapter parameters per task: {n_adapter}")


if __name__ == "__main__":
    main()
