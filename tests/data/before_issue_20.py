"""One small run per area, recorded by the code as it was before issue 20 (one protocol format,
evaluators, checkpoints as state dicts, the cli/ and experiments/ packages) and rerun by
``tests/test_same_as_before.py`` with the code as it is: the accuracy matrices and run names
must be identical.

The records in ``before_issue_20.json`` were written by commit 8ee63ef (2026-11-22, the last
commit before that work began), on one thread:

    git worktree add /tmp/before 8ee63ef
    NEUROPLASTIC_DATA=... OMP_NUM_THREADS=1 PYTHONPATH=/tmp/before/src \\
        python tests/data/before_issue_20.py tests/data/before_issue_20.json

The metaplasticity experiments are not here: they used their own loop then, with other random
draws (docs/metaplasticity.md says why the numbers cannot be the same).
"""

from __future__ import annotations

import json
import sys
import tempfile

SUBSET = {"train_per_class": 100, "test_per_class": 50}
CONFIGS = {
    "baselines-si": {"benchmark": {"name": "split-mnist", **SUBSET}, "method": {"name": "si"},
                     "train": {"epochs": 1}, "threads": 1, "seed": 1},
    "baselines-ewc": {"benchmark": {"name": "split-mnist", **SUBSET}, "method": {"name": "ewc"},
                      "train": {"epochs": 1}, "threads": 1, "seed": 1},
    "baselines-replay": {"benchmark": {"name": "split-mnist", **SUBSET},
                         "method": {"name": "replay"}, "train": {"epochs": 1}, "threads": 1,
                         "seed": 1},
    "bnn-mbnn": {"benchmark": {"name": "permuted-mnist", "n_tasks": 3, **SUBSET},
                 "scenario": "domain", "method": {"name": "mbnn"},
                 "model": {"name": "bnn", "hidden": [128, 128]},
                 "optimizer": {"name": "adam-meta", "meta": 1.35, "lr": 0.005,
                               "reset": "per_task"},
                 "train": {"epochs": 2, "batch_size": 100}, "threads": 1, "seed": 1},
    "classp-official": {"benchmark": {"name": "permuted-mnist", "n_tasks": 3, **SUBSET},
                        "scenario": "domain", "method": {"name": "finetune"},
                        "model": {"name": "mlp", "hidden": [100]},
                        "optimizer": {"name": "classp", "rule": "official", "lr": 0.2,
                                      "threshold": 0.0},
                        "train": {"epochs": 1, "batch_size": 32}, "threads": 1, "seed": 1},
    "dgm-dgmw": {"benchmark": {"name": "split-digits", "n_tasks": 2, "classes_per_task": 1},
                 "scenario": "class", "model": {"name": "dgm-disc"},
                 "method": {"name": "dgmw", "niter": 2},
                 "train": {"epochs": 2, "batch_size": 64}, "threads": 1, "seed": 1},
}


def record(name: str) -> dict:
    from neuroplastic import experiment

    with tempfile.TemporaryDirectory() as out:
        rec = experiment.run(CONFIGS[name], out=out, progress=False)
    return {"name": rec["name"], "accuracy_matrix": rec["accuracy_matrix"],
            "versions": rec["versions"]}


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        json.dump({name: record(name) for name in CONFIGS}, f, indent=1)
