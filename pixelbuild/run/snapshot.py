"""The no-op fast path, as make and ninja do it: compare file stats, not contents.

After a complete, successful build the stat signature (size, mtime, inode) of everything the
build read or wrote is recorded: the manifest, the lock, every input file and every output. When
all of them are unchanged, nothing can be stale, and `build` answers without loading the
manifest (no pydantic, no YAML, no hashing). Any difference at all falls back to a full plan,
which is always right on its own. This module needs only the standard library (and names from
the equally light cache.layout).
"""

from __future__ import annotations

import base64
import json
import os
from array import array
from pathlib import Path

from pixelbuild import __version__
from pixelbuild.cache import layout
from pixelbuild.engines.registry import ENGINE_VERSIONS
from pixelbuild.plan.steps import STEP_VERSIONS

SNAPSHOT_NAME = layout.SNAPSHOT


def _context(manifest: Path) -> dict[str, object]:
    return {
        "pixelbuild": __version__,
        "steps": STEP_VERSIONS,
        "engines": ENGINE_VERSIONS,
        "manifest": str(manifest),
    }


# The snapshot is one JSON object whose large parts are single strings (names joined by
# newlines; the signatures packed as base64 int64s), so reading it for 50,000 files is a few
# big string operations, not 250,000 small JSON values.
_SEP = "\n"
_FIELDS = 4  # as cache/signature.py: size, mtime_ns, ctime_ns, inode
_HEAD = 256  # the paths compared first


def record(cache: Path, manifest: Path, paths: list[str], entries: list[str]) -> None:
    """Remember the signatures of `paths` (which must include manifest and lock), in their
    order: the files most likely to change (the manifest's) first, as `check` reads them."""
    names = list(dict.fromkeys(paths))
    try:
        packed = _signatures(names)
    except OSError:  # gone already: the next build cannot take the fast path anyway
        return
    body = {
        "context": _context(manifest),
        "paths": _SEP.join(names),
        "signatures": base64.b64encode(packed.tobytes()).decode("ascii"),
        "entries": _SEP.join(sorted(entries)),
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
        paths = body["paths"].split(_SEP)
        stored = array("q")
        stored.frombytes(base64.b64decode(body["signatures"], validate=True))
        if len(stored) != _FIELDS * len(paths):
            return None
        head = paths[:_HEAD]  # an edit is nearly always here: seen without 50,000 stats
        if _signatures(head) != stored[: _FIELDS * len(head)]:
            return None
        if _signatures(paths[_HEAD:]) != stored[_FIELDS * len(head) :]:
            return None
        return body["entries"].split(_SEP) if body["entries"] else []
    except OSError:  # a file is gone
        return None
    except (AttributeError, KeyError, TypeError, ValueError):  # not a snapshot we wrote
        return None


def _signatures(paths: list[str]) -> array[int]:
    """The packed signatures of `paths`, in order; OSError when one cannot be stat'ed. (Threads
    taking the stats in parallel, as git's preloadIndex does, measured slower here.)"""
    now = array("q")
    for st in map(os.stat, paths):
        now.extend((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return now


def default_cache(directory: Path) -> Path:
    """The cache folder when the manifest does not move it (the only case the fast path serves)."""
    env = os.environ.get("PIXELBUILD_CACHE")
    if env:
        return Path(env) if os.path.isabs(env) else directory / env
    return directory / ".pixelbuild"
