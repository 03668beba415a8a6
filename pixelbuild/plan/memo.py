"""The last complete build, remembered per included manifest file, so that a one-entry edit in a
large project neither parses nor plans the files that did not change.

A large project is kept as included files (manifest/include.py), one per folder of assets, each
with its own lock shard. After a complete build, every included file whose entries stand alone
is recorded: its text digest, its entries, and the stat signatures of its lock shard and of its
entries' outputs; with them, for the whole project, the signatures of every input file read and
the context: this pixelbuild's step and engine versions and pixels.yaml's settings (everything
but its entries: project, models, LoRAs, palettes).

An entry stands alone when no other entry reads it or its frames (an atlas member, an animation's
base), it shares nothing planned with others (a named `auto` palette, a LoRA trained in the
build) and none of its inputs is known only from the lock; a file qualifies when all its entries
do and it includes no file itself.

A later whole build (`settle`) skips a recorded file when its digest, its shard and its outputs
and the project's inputs and context are all as recorded. Its entries are then up to date by
construction: their keys are the lock's (the shard is the one that build wrote), and their
outputs the files it wrote. Whatever could make that untrue plans the project in full, which is
always right on its own: a name or output of a parsed entry that meets a skipped one, an atlas
pattern or animation base that reaches into a skipped file (`Unsettled`).
"""

from __future__ import annotations

import contextlib
import json
import os
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelbuild import __version__
from pixelbuild.cache import layout
from pixelbuild.cache.hashing import digest_bytes, digest_json
from pixelbuild.cache.lock import Lock
from pixelbuild.cache.lockshards import shard_path
from pixelbuild.cache.signature import signature
from pixelbuild.engines.registry import ENGINE_VERSIONS
from pixelbuild.errors import PixelbuildError
from pixelbuild.manifest.schema import ENTRY_SECTIONS
from pixelbuild.plan.steps import STEP_VERSIONS

MEMO_NAME = layout.MEMO


class Unsettled(PixelbuildError):
    """A parsed entry reaches an entry of a skipped file: the project must be planned in full."""


@dataclass(frozen=True, slots=True)
class Settled:
    """The included files a build skips: file (project-relative) -> its entries' names."""

    files: Mapping[str, tuple[str, ...]]
    inputs: frozenset[Path]  # what the recording build read: still decides the keys
    assets: Path | None = None  # the assets root they were recorded under
    records: Mapping[str, Any] = field(default_factory=dict)  # file -> its record, as read
    entries: Mapping[str, str] = field(init=False)  # entry name -> the file it is written in

    def __post_init__(self) -> None:
        entries = {name: rel for rel, names in self.files.items() for name in names}
        object.__setattr__(self, "entries", entries)


NOTHING = Settled({}, frozenset())


def context(root_data: Mapping[str, Any]) -> str | None:
    """What every recorded file's keys also depend on: versions and pixels.yaml's settings.
    (The files they read, a hub model's ref among them, are the project's inputs.)"""
    settings = {k: v for k, v in root_data.items() if k not in ENTRY_SECTIONS and k != "include"}
    body = {"pixelbuild": __version__, "steps": STEP_VERSIONS, "engines": ENGINE_VERSIONS,
            "settings": settings}  # fmt: skip
    try:
        return digest_json(body)
    except (TypeError, ValueError):  # a YAML value JSON cannot hold (a date): no memo
        return None


def settle(cache: Path, project_dir: Path, lock_path: Path, lock: Lock, ctx: str) -> Settled:
    """The recorded files that a whole build may skip (see the module)."""
    try:
        memo = json.loads((cache / MEMO_NAME).read_text(encoding="utf-8"))
        if memo["context"] != ctx:
            return NOTHING
        assets = str(memo["assets"])
        inputs = [str(p) for p in memo["inputs"]]
        if _signatures(inputs) != memo["inputs_signature"]:
            return NOTHING
        files: dict[str, tuple[str, ...]] = {}
        records = {}
        for rel, record in dict(memo["files"]).items():
            names = tuple(str(n) for n in record["entries"])
            if not all(n in lock.entries for n in names):
                continue
            text = _read_bytes(project_dir / rel)
            if text is None or digest_bytes(text) != record["digest"]:
                continue
            watched = _watched(lock_path, assets, lock, str(rel), names)
            if _signatures(watched) == record["signature"]:
                files[str(rel)] = names
                records[str(rel)] = record
        return Settled(files, frozenset(map(Path, inputs)), Path(assets), records)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none, or not ours
        return NOTHING


def record(
    cache: Path,
    project_dir: Path,
    assets: Path,
    lock_path: Path,
    lock: Lock,
    ctx: str,
    files: Mapping[str, Iterable[str]],
    inputs: Iterable[Path],
    settled: Settled = NOTHING,
) -> None:
    """Remember `files` (file -> its entries, all standing alone and up to date) for `settle`.
    A file the build left out keeps its record as `settle` checked it: had anything changed
    since, the next `settle` sees that it differs from the record."""
    target = cache / MEMO_NAME
    tmp = cache / f".{MEMO_NAME}.{os.getpid()}.tmp"
    try:
        read = sorted(str(p) for p in inputs)
        body: dict[str, Any] = {
            "context": ctx,
            "assets": str(assets),
            "inputs": read,
            "inputs_signature": _signatures(read),
            "files": {},
        }
        for rel, names in sorted(files.items()):
            if rel in settled.records:
                body["files"][rel] = settled.records[rel]
                continue
            text = _read_bytes(project_dir / rel)
            if text is None:
                continue
            entries = sorted(names)
            body["files"][rel] = {
                "digest": digest_bytes(text),
                "entries": entries,
                "signature": _signatures(_watched(lock_path, str(assets), lock, rel, entries)),
            }
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:  # only a shortcut: without it the next edit plans in full
        tmp.unlink(missing_ok=True)


def forget(cache: Path) -> None:
    """Drop the memo of a project where none serves (it would only grow stale)."""
    with contextlib.suppress(OSError):
        (cache / MEMO_NAME).unlink(missing_ok=True)


def _watched(lock_path: Path, assets: str, lock: Lock, rel: str, names: Iterable[str]) -> list[str]:
    """What must be unchanged for a recorded file to be skipped: its lock shard, its outputs.
    (Strings, not Paths: tens of thousands of them; lock outputs are normalized.)"""
    paths = [str(shard_path(lock_path, rel))]
    for name in names:
        paths.extend(f"{assets}/{out}" for out in sorted(lock.entries[name].outputs))
    return paths


def _signatures(paths: Iterable[str | Path]) -> str:
    """One digest of the stat signatures of `paths` (a missing one counts as its own)."""
    packed = array("q")
    for path in paths:
        try:
            packed.extend(signature(path))
        except OSError:
            packed.extend((-1, -1, -1, -1))
    return digest_bytes(packed.tobytes())


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
