"""Run records: one self-describing JSON file per run, named by a hash of its resolved config."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

RECORD_VERSION = 1


def config_hash(resolved: dict[str, Any]) -> str:
    """A stable short hash of a fully resolved config (the run's identity)."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_name(resolved: dict[str, Any]) -> str:
    bench = Path(str(resolved["benchmark"]["name"])).name.replace(".", "_")
    method = resolved["method"]["name"]
    return f"{bench}-{resolved['scenario']}-{method}-s{resolved['seed']}-{config_hash(resolved)}"


def versions() -> dict[str, str]:
    import numpy
    import torch

    from . import __version__

    return {
        "neuroplastic": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file then rename: a half-written record never exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_default))
    os.replace(tmp, path)


def _default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def read(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def find(out_dir: str | Path, resolved: dict[str, Any]) -> Path | None:
    """The record of this exact config in ``out_dir``, if a finished one exists."""
    path = Path(out_dir) / f"{run_name(resolved)}.json"
    return path if path.exists() else None


def load_all(folder: str | Path) -> list[dict[str, Any]]:
    """Every run record under ``folder`` (recursively), skipping files that are not records."""
    records = []
    for path in sorted(Path(folder).rglob("*.json")):
        try:
            data = read(path)
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and "accuracy_matrix" in data and "config" in data:
            data.setdefault("path", str(path))
            records.append(data)
    return records
