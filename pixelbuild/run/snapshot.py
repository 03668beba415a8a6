"""The no-op fast path, as make and ninja do it: compare file stats, not contents.

After a complete, successful build the stat signature (size, mtime, inode) of everything the
build read or wrote is recorded: the manifest, the lock, every input file and every output. When
all of them are unchanged, nothing can be stale, and `build` answers without loading the
manifest (no pydantic, no YAML, no hashing). Any difference at all falls back to a full plan,
which is always right on its own. This module imports only the standard library.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pixelbuild import __version__
from pixelbuild.engines.registry import ENGINE_VERSIONS
from pixelbuild.plan.steps import STEP_VERSIONS

SNAPSHOT_NAME = "snapshot.json"


def _signature(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _context(manifest: Path) -> dict[str, object]:
    return {
        "pixelbuild": __version__,
        "steps": STEP_VERSIONS,
        "engines": ENGINE_VERSIONS,
        "manifest": str(manifest),
    }


def record(cache: Path, manifest: Path, paths: list[Path], entries: list[str]) -> None:
    """Remember the signatures of `paths` (which must include manifest and lock)."""
    body = {
        "context": _context(manifest),
        "stats": {str(p): _signature(str(p)) for p in sorted(set(paths))},
        "entries": sorted(entries),
    }
    target = cache / SNAPSHOT_NAME
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(body), encoding="utf-8")
    os.replace(tmp, target)


def check(cache: Path, manifest: Path) -> list[str] | None:
    """The entries, all up to date, if nothing changed since the snapshot; else None."""
    try:
        body = json.loads((cache / SNAPSHOT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if body.get("context") != _context(manifest):
        return None
    for path, signature in body["stats"].items():
        if _signature(path) != signature:
            return None
    return list(body["entries"])


def default_cache(directory: Path) -> Path:
    """The cache folder when the manifest does not move it (the only case the fast path serves)."""
    env = os.environ.get("PIXELBUILD_CACHE")
    if env:
        return Path(env) if os.path.isabs(env) else directory / env
    return directory / ".pixelbuild"
