"""The no-op fast path, as make and ninja do it: compare file stats, not contents.

After a complete, successful build the stat signature (size, mtime, inode) of everything the
build read or wrote is recorded: the manifest, the lock, every input file and every output. When
all of them are unchanged, nothing can be stale, and `build` answers without loading the
manifest (no pydantic, no YAML, no hashing). Any difference at all falls back to a full plan,
which is always right on its own. This module needs only the standard library (and names from
the equally light cache.layout).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pixelbuild import __version__
from pixelbuild.cache import layout
from pixelbuild.cache.signature import signature
from pixelbuild.engines.registry import ENGINE_VERSIONS
from pixelbuild.plan.steps import STEP_VERSIONS

SNAPSHOT_NAME = layout.SNAPSHOT


def _signature(path: str) -> list[int] | None:
    try:
        return list(signature(path))
    except OSError:
        return None


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
    tmp = cache / f".{SNAPSHOT_NAME}.{os.getpid()}.tmp"  # one per process: builds may overlap
    try:
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:  # only a shortcut: without it the next no-op plans in full
        tmp.unlink(missing_ok=True)


def check(cache: Path, manifest: Path) -> list[str] | None:
    """The entries, all up to date, if nothing changed since the snapshot; else None."""
    try:
        body = json.loads((cache / SNAPSHOT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        if body.get("context") != _context(manifest):
            return None
        for path, signature in body["stats"].items():
            if _signature(path) != signature:
                return None
        return [str(name) for name in body["entries"]]
    except (AttributeError, KeyError, TypeError):  # not a snapshot we wrote
        return None


def default_cache(directory: Path) -> Path:
    """The cache folder when the manifest does not move it (the only case the fast path serves)."""
    env = os.environ.get("PIXELBUILD_CACHE")
    if env:
        return Path(env) if os.path.isabs(env) else directory / env
    return directory / ".pixelbuild"
