"""Library calls leave process-wide state as they found it (issue 20): a run sets torch's
thread count and seeds the global random generators for itself only, and nothing in the library
chooses a matplotlib backend, prints, or imports another module's private names."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import numpy as np
import torch

from neuroplastic import experiment

SRC = Path(experiment.__file__).parent
TINY = {
    "benchmark": {"name": "split-digits", "n_tasks": 2},
    "scenario": "class",
    "method": {"name": "ewc"},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64},
    "seed": 5,
}


def test_a_run_leaves_threads_and_global_random_states_as_they_were(tmp_path):
    threads = torch.get_num_threads()
    other = 2 if threads == 1 else 1
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())

    rec = experiment.run({**TINY, "threads": other}, out=tmp_path, progress=False)

    assert rec["config"]["threads"] == other
    assert torch.get_num_threads() == threads
    assert random.getstate() == states[0]
    after = np.random.get_state()
    assert after[0] == states[1][0] and np.array_equal(after[1], states[1][1])
    assert after[2:] == states[1][2:]
    assert torch.equal(torch.get_rng_state(), states[2])
    # and the run is the same whatever the caller's random state was
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    again = experiment.run({**TINY, "threads": other}, out=tmp_path / "again", progress=False)
    assert again["accuracy_matrix"] == rec["accuracy_matrix"]


def _library_sources():
    """Every module but the command line's (which owns the process: it prints, and may set
    process-wide state for the commands it runs)."""
    return [p for p in SRC.rglob("*.py") if SRC / "cli" not in p.parents]


def _calls_and_imports(path: Path):
    """(line, dotted name) of every call and every imported module in a source file."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node.lineno, ast.unparse(node.func)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.lineno, f"import {node.module}.{alias.name}"


def test_the_library_never_changes_process_wide_settings_or_prints():
    forbidden = {
        "print", "matplotlib.use", "import matplotlib.pyplot", "random.seed", "np.random.seed",
        "numpy.random.seed", "torch.manual_seed", "torch.set_num_threads", "logging.basicConfig",
        "torch.set_default_dtype", "torch.use_deterministic_algorithms",
    }
    # the one place that seeds (run_resolved, inside fork_rng, states restored) and the worker
    # processes (a sweep worker, a Tune trial) that set the threads of their own process
    allowed = {
        ("experiment.py", "random.seed"), ("experiment.py", "np.random.seed"),
        ("experiment.py", "torch.manual_seed"), ("experiment.py", "torch.set_num_threads"),
        ("sweep.py", "torch.set_num_threads"), ("tune.py", "torch.set_num_threads"),
    }
    found = [
        f"{path.relative_to(SRC)}:{line}: {name}"
        for path in _library_sources()
        for line, name in _calls_and_imports(path)
        if name in forbidden and (path.name, name) not in allowed
    ]
    assert not found, "\n".join(found)


def test_no_module_imports_another_modules_private_names():
    pattern = re.compile(r"^\s*from\s+\S+\s+import\s+(.*)$")
    found = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        # join parenthesised import lists onto one line
        text = re.sub(r"import \(([^)]*)\)", lambda m: "import " + " ".join(m.group(1).split()),
                      text)
        for line in text.splitlines():
            match = pattern.match(line)
            if not match or line.strip().startswith("from __future__"):
                continue
            names = [n.strip().split(" as ")[0] for n in match.group(1).split(",")]
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                found.append(f"{path.relative_to(SRC)}: {line.strip()}")
    assert not found, "\n".join(found)


def _imported_modules(path: Path):
    """Absolute names of the neuroplastic modules a source file imports (relative ones
    resolved)."""
    package = ["neuroplastic", *path.relative_to(SRC).parent.parts]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{a.name}" for a in node.names)


def test_imports_only_go_downwards():
    """cli -> experiments -> the one-run core (ARCHITECTURE.md): nothing below the command line
    imports it, and the core (everything but cli/, experiments/ and the papers' modules, which
    the reporter calls) never imports the experiments layer."""
    found = []
    for path in SRC.rglob("*.py"):
        top = path.relative_to(SRC).parts[0]
        for module in _imported_modules(path):
            if top != "cli" and module.startswith("neuroplastic.cli"):
                found.append(f"{path.relative_to(SRC)} imports {module}")
            if (top not in ("cli", "experiments", "papers")
                    and module.startswith("neuroplastic.experiments")):
                found.append(f"{path.relative_to(SRC)} imports {module}")
    assert not found, "\n".join(found)
