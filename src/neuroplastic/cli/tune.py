"""``neuroplastic tune FILE.yaml``: random search + ASHA with Ray Tune on validation data."""

from __future__ import annotations

import sys


def cmd_tune(args) -> int:
    from ..experiments.tune import load_tune, run_tune

    spec = load_tune(args.file)
    if args.num_samples is not None:
        spec.num_samples = args.num_samples
    outcome = run_tune(spec, out=args.out, workers=args.workers, address=args.address)
    print(outcome.table(spec.metric))
    print(
        f"\nbest {spec.metric} on validation data: {outcome.best_value:.4f} with "
        f"{outcome.best_sample}\nbest config written to {outcome.path} "
        f"({outcome.wall_seconds:.1f} s); run it with: neuroplastic run --config {outcome.path}",
        file=sys.stderr,
    )
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tune",
        help="hyper-parameter search (Ray Tune: random search + ASHA) on a validation split of "
        "the training data; writes the best config as YAML",
    )
    p.add_argument("file", help="tune file (YAML: base, search, num_samples, metric, mode)")
    p.add_argument("--out", "-o", default=None,
                   help="where to write the best config (default: <name>-best.yaml)")
    p.add_argument("--num-samples", "-n", type=int, default=None,
                   help="trials, replacing the file's num_samples")
    p.add_argument("--workers", "-j", type=int, default=None,
                   help="concurrent trials (default: the cores / the cluster's CPUs)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: local Ray)")
    p.set_defaults(func=cmd_tune)
