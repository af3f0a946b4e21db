"""Where data lives: the data root, file lookup, checked downloads and the decoded-data cache.

The data root is ``$NEUROPLASTIC_DATA`` when set, else ``~/.cache/neuroplastic``. Loaders look for
their files there (in a per-data-set folder such as ``mnist/`` or in the root itself), download
them with an MD5 check when they are missing, and otherwise raise :class:`DataNotFoundError`
naming the files and where to put them. Set ``NEUROPLASTIC_OFFLINE=1`` to skip download attempts.

The data root may be read-only (a shared data folder), so nothing here ever requires writing to
it: downloads and decoded caches fall back to a user cache folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import DataNotFoundError

ENV_VAR = "NEUROPLASTIC_DATA"
OFFLINE_ENV_VAR = "NEUROPLASTIC_OFFLINE"
USER_CACHE = Path("~/.cache/neuroplastic")


def data_root() -> Path:
    """The folder the loaders read from: ``$NEUROPLASTIC_DATA``, else ``~/.cache/neuroplastic``."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else USER_CACHE.expanduser()


def resolve_root(root: str | os.PathLike | None) -> Path:
    return Path(root).expanduser() if root is not None else data_root()


def _may_write(path: Path) -> bool:
    """Whether we may write in an existing folder.

    The mode bits are checked as well as ``os.access``: a superuser passes ``os.access`` on
    anything, yet a folder marked read-only (a shared data folder) must be left alone.
    """
    write_bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    return bool(path.stat().st_mode & write_bits) and os.access(path, os.W_OK | os.X_OK)


def _writable_dir(path: Path) -> bool:
    """Whether ``path`` exists, or can be created, in a folder we may write in."""
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            return False
        existing = existing.parent
    if not existing.is_dir() or not _may_write(existing):
        return False
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return _may_write(path)


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """A writable folder for decoded caches (``.npz``): ``<data root>/.cache`` when writable.

    Falls back to ``~/.cache/neuroplastic/.cache`` and, as a last resort, to the system temp
    folder, so a read-only data root never makes a load fail.
    """
    candidates = [
        resolve_root(root) / ".cache",
        USER_CACHE.expanduser() / ".cache",
        Path(tempfile.gettempdir()) / "neuroplastic-cache",
    ]
    for candidate in candidates:
        if _writable_dir(candidate):
            return candidate
    return candidates[-1]


def download_dir(subdir: str, root: str | os.PathLike | None = None) -> Path:
    """Where a download of a file belonging in ``<root>/<subdir>`` goes (root first if writable)."""
    for base in (resolve_root(root), USER_CACHE.expanduser()):
        if _writable_dir(base / subdir):
            return base / subdir
    return Path(tempfile.gettempdir()) / "neuroplastic-downloads" / subdir


def find_file(
    names: Iterable[str],
    subdirs: Sequence[str] = ("",),
    root: str | os.PathLike | None = None,
) -> Path | None:
    """The first existing file ``<root>/<subdir>/<name>``, trying subdirs in order, then names.

    The download folder of each subdir is searched too, so a file fetched into the user cache
    (because the data root is read-only) is found on the next load.
    """
    names = list(names)
    bases = [resolve_root(root)]
    fallback = USER_CACHE.expanduser()
    if fallback not in bases:
        bases.append(fallback)
    for base in bases:
        for sub in subdirs:
            for name in names:
                path = base / sub / name
                if path.is_file():
                    return path
    return None


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _open_url(url: str, timeout: float):
    # A separate function so tests can replace the network with a stub.
    request = urllib.request.Request(url, headers={"User-Agent": "neuroplastic"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (fixed https/http URLs)


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV_VAR, "").lower() in ("1", "true", "yes")


def download(
    urls: Sequence[str], dest: Path, md5: str | None = None, timeout: float = 30.0
) -> Path:
    """Download ``dest`` from the first of ``urls`` (mirrors, in order) that works.

    The file is written to ``dest.part`` and renamed only after its MD5 matches, so an
    interrupted or corrupted download never looks like a valid file. Raises
    :class:`DataNotFoundError` listing every URL tried and why it failed.
    """
    if offline():
        raise DataNotFoundError(f"{dest.name}: downloads are disabled ({OFFLINE_ENV_VAR} is set)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures = []
    for url in urls:
        try:
            digest = hashlib.md5()
            with _open_url(url, timeout) as response, open(part, "wb") as out:
                while block := response.read(1 << 20):
                    digest.update(block)
                    out.write(block)
            if md5 is not None and digest.hexdigest() != md5:
                failures.append(f"{url}: MD5 {digest.hexdigest()} != expected {md5}")
                continue
            os.replace(part, dest)
            return dest
        except Exception as exc:  # noqa: BLE001 (any network failure means: try the next mirror)
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            if part.exists():
                part.unlink()
    raise DataNotFoundError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))


def missing_message(
    what: str, files: Sequence[str], subdir: str, root: Path, extra: str = ""
) -> str:
    """The message of a missing-data error: which files, where to put them, and how."""
    where = root / subdir if subdir else root
    lines = [
        f"{what} not found: missing {', '.join(files)}.",
        f"Put the file(s) in {where}/ (the data root is {root}; set {ENV_VAR} to use another "
        "folder).",
    ]
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def ensure_files(
    what: str,
    files: Sequence[tuple[str, Sequence[str], Sequence[str], str | None]],
    subdirs: Sequence[str],
    root: str | os.PathLike | None = None,
) -> list[Path]:
    """Find, or else download, each file; raise one error naming every file that is missing.

    ``files`` holds ``(canonical name, accepted local names, mirror URLs, md5)``. A download
    goes into ``<root>/<subdirs[0]>`` when that is writable, else into the user cache.
    """
    base = resolve_root(root)
    found: list[Path | None] = [find_file(names, subdirs, base) for _, names, _, _ in files]
    failures = []
    for i, (name, _, urls, md5) in enumerate(files):
        if found[i] is not None:
            continue
        if not urls:
            failures.append(f"{name}: no download source")
            continue
        try:
            found[i] = download(urls, download_dir(subdirs[0], base) / name, md5)
        except DataNotFoundError as exc:
            failures.append(str(exc))
    missing = [name for (name, *_), path in zip(files, found, strict=True) if path is None]
    if missing:
        detail = "Download failed (offline?):\n" + "\n".join(failures) if failures else ""
        raise DataNotFoundError(missing_message(what, missing, subdirs[0], base, detail))
    return [p for p in found if p is not None]


def source_key(path: Path) -> str:
    """A short stamp of a file or folder (path, sizes, mtimes) for naming a decoded cache."""
    path = path.resolve()
    digest = hashlib.sha1(str(path).encode())
    if path.is_dir():
        # A folder's own mtime misses edits deeper down, so stamp every file in it.
        for sub in sorted(path.rglob("*")):
            if sub.is_file():
                st = sub.stat()
                digest.update(f"{sub.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        st = path.stat()
        digest.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
