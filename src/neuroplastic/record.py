"""Run records: one self-describing JSON file per run, named by a hash of its resolved config."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

from .errors import DamagedFileError

RECORD_VERSION = 1
log = logging.getLogger(__name__)


#: settings added after runs were recorded, left out of the hash while at their "off" value, so
#: runs recorded before they existed keep their names; set to anything else, they make a
#: different run: (block, key) -> the off value
LATER_SETTINGS: dict[tuple[str | None, str], Any] = {
    (None, "evaluators"): [],  # evaluators/ (nothing measured besides accuracy)
    ("optimizer", "fused"): False,  # adam-meta's torch.compile kernel (not bit-identical)
    ("train", "compile"): False,  # the model called through torch.compile (not bit-identical)
    ("method", "lr_schedule"): "constant",  # artsy: EASE's cosine learning rate as an option
    ("method", "lr_epochs"): None,  # artsy: the cosine's T_max
}


def config_hash(resolved: dict[str, Any]) -> str:
    """A stable short hash of a fully resolved config (the run's identity); settings in
    :data:`LATER_SETTINGS` at their off value are left out of it."""
    resolved = dict(resolved)
    for (block, key), off in LATER_SETTINGS.items():
        if block is None:
            if key in resolved and resolved[key] == off:
                del resolved[key]
        elif isinstance(resolved.get(block), dict) and resolved[block].get(key, off) == off:
            resolved[block] = {k: v for k, v in resolved[block].items() if k != key}
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


#: fields every run record has, with their JSON types: a file without them is not a finished run
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "config": dict,
    "seed": int,
    "accuracy_matrix": list,
    "metrics": dict,
}
#: what a damaged record is renamed to (``<name>.json.damaged``): no longer a ``*.json``, so no
#: reader counts it, but kept for inspection; never deleted
DAMAGED_SUFFIX = ".damaged"


def problem(data: Any, fields: dict[str, Any] | None = None) -> str | None:
    """What makes ``data`` (parsed JSON) not a complete run record, or None when it is one.
    ``fields`` replaces :data:`REQUIRED_FIELDS` for other files written by the library (a
    failure file, a paper experiment's result); the run-record checks then do not apply."""
    required = REQUIRED_FIELDS if fields is None else fields
    if not isinstance(data, dict):
        return f"holds a JSON {type(data).__name__}, not a mapping"
    missing = [k for k in required if k not in data]
    if missing:
        return f"lacks the field(s) {', '.join(missing)}"
    for key, kind in required.items():
        if not isinstance(data[key], kind) or (isinstance(data[key], bool) and kind is int):
            return f"has a {key} of the wrong type ({type(data[key]).__name__})"
    if fields is not None:
        return None
    matrix = data["accuracy_matrix"]
    if not matrix or not all(
        isinstance(row, list)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)
        for row in matrix
    ):
        return "has an accuracy_matrix that is not a non-empty list of rows of numbers"
    for key in ("method", "benchmark"):
        if not isinstance(data["config"].get(key), dict):
            return f"has a config without its {key} block"
    return None


def read(
    path: str | Path, fields: dict[str, Any] | None = None, what: str = "run record"
) -> dict[str, Any]:
    """The run record in ``path``, validated: every reader of records goes through here (other
    JSON files of the library too, with their own ``fields``).

    Raises :class:`DamagedFileError` naming the file when it does not parse or lacks a required
    field (see :data:`REQUIRED_FIELDS`), and ``OSError`` when it cannot be read at all.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DamagedFileError(f"{what} {path} is not valid JSON ({exc})") from None
    reason = problem(data, fields)
    if reason is not None:
        raise DamagedFileError(f"{what} {path} {reason}")
    return data


def set_aside(path: Path) -> Path | None:
    """Rename a damaged file to ``<name>.damaged`` (``.damaged.1``, ... when taken); None when it
    cannot be renamed (then it stays where it is)."""
    target = path.with_name(path.name + DAMAGED_SUFFIX)
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{DAMAGED_SUFFIX}.{n}")
    try:
        os.rename(path, target)
    except OSError as exc:
        log.warning("could not move %s aside: %s", path, exc.strerror or exc)
        return None
    return target


def read_valid(
    path: str | Path,
    move_damaged: bool = False,
    fields: dict[str, Any] | None = None,
    what: str = "run record",
) -> dict[str, Any] | None:
    """:func:`read`, but a missing file yields None, and a damaged one is reported (logged by
    file name) and yields None: it does not count as done. With ``move_damaged`` it is also
    renamed to ``<name>.json.damaged`` (never deleted), so the run can write a fresh one."""
    path = Path(path)
    try:
        return read(path, fields, what)
    except FileNotFoundError:
        return None
    except DamagedFileError as exc:
        if move_damaged:
            moved = set_aside(path)
            where = f"moved to {moved.name}" if moved else "left in place"
            log.warning("%s; %s, and the run counts as not done", exc, where)
        else:
            log.warning("%s; skipped (rerun it to replace it)", exc)
        return None


def find(out_dir: str | Path, resolved: dict[str, Any]) -> Path | None:
    """The record of this exact config in ``out_dir``, if a finished, valid one exists (a
    damaged one is moved aside and does not count)."""
    path = Path(out_dir) / f"{run_name(resolved)}.json"
    return path if read_valid(path, move_damaged=True) is not None else None


def _records_with_paths(folder: str | Path, recursive: bool) -> list[tuple[Path, dict]]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.rglob("*.json") if recursive else folder.glob("*.json")):
        if path.name.endswith(".failed.json"):
            continue
        try:
            data = json.loads(path.read_bytes())
        except OSError as exc:
            log.warning("run record %s cannot be read (%s); skipped", path, exc.strerror or exc)
            continue
        except (json.JSONDecodeError, UnicodeDecodeError):
            read_valid(path)  # reports it by name
            continue
        # other JSON files (settings, results of other tools) are not records: skip quietly
        if not isinstance(data, dict) or not set(data) & {*REQUIRED_FIELDS, "record_version"}:
            continue
        reason = problem(data)  # parsed once: the same check as read()
        if reason is not None:
            log.warning("run record %s %s; skipped (rerun it to replace it)", path, reason)
            continue
        records.append((path, data))
    return records


def records_in(folder: str | Path, recursive: bool = False) -> list[dict[str, Any]]:
    """Every run record in ``folder`` (and below it with ``recursive``). Files that are not
    records (other JSON, ``*.failed.json``) are skipped quietly; a record that is damaged (does
    not parse, or looks like a record but lacks required fields) is reported by name and
    skipped, not moved."""
    return [data for _, data in _records_with_paths(folder, recursive)]


def load_all(folder: str | Path) -> list[dict[str, Any]]:
    """Every run record under ``folder``, recursively (see :func:`records_in`), each with the
    ``path`` it was read from."""
    records = []
    for path, data in _records_with_paths(folder, recursive=True):
        data.setdefault("path", str(path))
        records.append(data)
    return records
