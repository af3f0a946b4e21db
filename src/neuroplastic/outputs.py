"""Checks of output locations, made before the first training step.

A run that trains for an hour and then cannot write its record (``--out`` is a file, the disk is
read-only or full) loses the hour; these checks turn such problems into one clear error at the
start. The probe is a real file write: ``os.access`` says yes to root on a read-only mount of
some file systems and knows nothing of quotas.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import OutputError


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_dir(path: str | Path, what: str, create: bool = True) -> Path:
    """``path`` as a folder that takes files, or an :class:`OutputError` naming the problem.

    With ``create`` the folder (and its parents) is created and a probe file is written and
    removed; without it nothing is created: only a file in the way, or a read-only first
    existing ancestor, is reported.
    """
    path = Path(path)
    existing = _first_existing(path)
    if not existing.is_dir():
        if existing == path:
            problem = "is a file, not a folder"
        else:
            problem = f"lies under {existing}, which is a file, not a folder"
        raise OutputError(f"{what} {path} {problem}; choose another path or move the file away")
    if not create:
        if not os.access(existing, os.W_OK | os.X_OK):
            raise OutputError(
                f"{what} {path}: {existing} is not writable (read-only disk or permissions); "
                "choose another path"
            )
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{what} {path} cannot be created ({exc.strerror or exc}); choose another path"
        ) from None
    probe = path / f".neuroplastic-write-test.{os.getpid()}"
    try:
        probe.write_bytes(b"\0" * 64)
    except OSError as exc:
        raise OutputError(
            f"{what} {path} does not take files ({exc.strerror or exc}); choose another path "
            "or fix its permissions"
        ) from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return path


def check_space(path: str | Path, needed: int) -> None:
    """An :class:`OutputError` when the file system of ``path`` has less than ``needed`` bytes
    free (a checkpoint and a record must fit)."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return  # no figure to judge by: the writes themselves will report
    if free < needed:
        raise OutputError(
            f"{path} has {free / 2**20:.1f} MiB free, but a checkpoint and a record of this "
            f"run need about {needed / 2**20:.1f} MiB; free some space or choose another --out"
        )
