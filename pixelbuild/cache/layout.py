"""What a cache folder (`.pixelbuild/` by default) holds, and nothing else.

Everything pixelbuild keeps there is named here, so `clean --cache` deletes exactly these and
never anything else a misconfigured `project.cache` might point at; and `repair` puts a cache
back in shape after something outside pixelbuild broke it (a file where a folder belongs, the
folder itself replaced by a file), reporting what it moved aside.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

STATE = "state.db"  # sqlite: stat cache, step records, emit journal (cache/state.py)
STATE_SIDE = (f"{STATE}-wal", f"{STATE}-shm", f"{STATE}-journal")
BLOBS = "blobs"  # content-addressed results (cache/store.py)
TMP = "tmp"  # temp files of atomic writes
SNAPSHOT = "snapshot.json"  # the no-op fast path (run/snapshot.py)
MEMO = "memo.json"  # the included files the last build may leave out next time (plan/memo.py)
ENGINES = "engines"  # compiled engines (engines/compiled/store.py)
LOCK = "build.lock"  # one build at a time (run/exclusive.py)
COMPARE = "compare"  # `pixelbuild compare` pages, one folder per entry (compare/)
GALLERY = "gallery"  # the gallery page and the last build's report (pages/gallery.py)
FOLDERS = (BLOBS, TMP, ENGINES, COMPARE, GALLERY)
FILES = (STATE, *STATE_SIDE, SNAPSHOT, MEMO, LOCK)
QUARANTINE = "corrupt"  # what repair moved aside, for a bug report; deleted by clean --cache


def repair(cache: Path, warn: Callable[[str], None]) -> None:
    """Move aside whatever is in the way of the layout: the cache itself when it is not a
    folder, a file where one of its folders belongs (or the other way round)."""
    if os.path.lexists(cache) and (cache.is_symlink() or not cache.is_dir()):
        aside = cache.with_name(f"{cache.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(cache, aside)
        warn(f"the cache {cache} was not a folder: moved it to {aside.name}; starting afresh")
        return
    for name in FOLDERS:
        path = cache / name
        if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
            quarantine(cache, path, warn, "was not a folder")
    for name in FILES:
        path = cache / name
        if path.is_dir() and not path.is_symlink():
            quarantine(cache, path, warn, "was a folder")


def quarantine(cache: Path, path: Path, warn: Callable[[str], None], why: str) -> Path:
    """Move `path` (inside the cache) to the cache's quarantine folder, saying so."""
    where = cache / QUARANTINE
    where.mkdir(parents=True, exist_ok=True)
    aside = where / f"{path.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    os.replace(path, aside)
    warn(f"{path} {why}: moved it to {aside.relative_to(cache)}; it will be rebuilt")
    return aside


def clear(cache: Path) -> list[str]:
    """Delete what pixelbuild keeps in `cache` (the layout's names only) but the build lock,
    which the caller holds (then `remove_if_empty`). Returns the names of what was kept
    because it is not ours."""
    if cache.is_symlink() or not cache.is_dir():
        return []
    for name in (*FOLDERS, QUARANTINE):
        path = cache / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            path.unlink()
    for name in FILES:
        if name != LOCK and os.path.lexists(cache / name):
            (cache / name).unlink()
    return sorted(p.name for p in cache.iterdir() if p.name != LOCK)


def remove_if_empty(cache: Path) -> None:
    """Delete the (released) build lock, then the cache folder if that left it empty."""
    with contextlib.suppress(OSError):
        (cache / LOCK).unlink(missing_ok=True)
        cache.rmdir()
