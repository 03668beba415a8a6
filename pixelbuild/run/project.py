"""A project on disk: its manifest, assets root, cache and lock, opened together."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pixelbuild.cache import layout
from pixelbuild.cache.lock import LOCK_NAME, Lock, read_lock, write_lock
from pixelbuild.cache.lockshards import ROOT, shard_files
from pixelbuild.cache.state import State
from pixelbuild.cache.store import BlobStore
from pixelbuild.engines.base import ModelRef
from pixelbuild.errors import Issue, ManifestError
from pixelbuild.manifest.include import shard_of
from pixelbuild.manifest.load import MANIFEST_NAME, load_manifest
from pixelbuild.manifest.resolve import AbsentInput, Resolver
from pixelbuild.manifest.schema import Manifest
from pixelbuild.manifest.source import Document
from pixelbuild.plan.plan import Plan, Planner
from pixelbuild.run.snapshot import default_cache
from pixelbuild.targets import Target


@dataclass
class Project:
    dir: Path
    manifest_path: Path
    manifest: Manifest
    doc: Document
    assets: Path
    cache: Path
    state: State
    store: BlobStore
    lock_path: Path
    lock: Lock
    targets: list[Target]
    files: dict[str, str]
    inputs: set[Path]
    absent: dict[str, list[AbsentInput]]  # entry -> inputs absent here (digests from the lock)
    notes: list[str]  # what opening it repaired (a corrupt cache moved aside), for the user

    def plan(self, only: set[str] | None = None) -> Plan:
        with long_lived():
            return Planner(self.assets, self.state, self.lock).plan(self.targets, only)

    def missing_inputs(self, name: str, *, allow_download: bool = False) -> list[Issue]:
        """Why entry `name` cannot be built here: inputs only the lock knows (none: it can)."""
        return [
            a.issue for a in self.absent.get(name, []) if not (a.downloadable and allow_download)
        ]

    def require_inputs(self, entries: list[str], *, allow_download: bool = False) -> None:
        """A located ManifestError when an entry that must be built lacks an input here."""
        found = {
            id(issue): issue
            for name in entries
            for issue in self.missing_inputs(name, allow_download=allow_download)
        }
        issues = sorted(found.values(), key=_position)
        if issues:
            raise ManifestError(issues, where="inputs of the entries to build")

    def remember_clean_state(self) -> None:
        """After a complete, successful build: let the next no-op skip loading the manifest."""
        from pixelbuild.run import snapshot

        if self.cache != default_cache(self.dir) or self.state.readonly:
            return
        assets = str(self.assets)  # strings, not 50,000 Path objects (outputs are normalized)
        outputs = [f"{assets}/{rel}" for e in self.lock.entries.values() for rel in e.outputs]
        lock_files = [self.lock_path, *shard_files(self.lock_path).values()]
        files = [self.manifest_path, *self.doc.included, *lock_files, *self.inputs]
        paths = [*map(str, files), *outputs]
        snapshot.record(self.cache, self.manifest_path, paths, list(self.lock.entries))

    def move_lock_entries(self) -> None:
        """Write the lock when an up-to-date entry moved to another manifest file (its shard)."""
        moved = any(self.lock.shards.get(n, ROOT) != s for n, s in self.lock.read_from.items())
        if moved or self.lock.conflicts:
            write_lock(self.lock_path, self.lock, self.cache / layout.TMP)

    def model(self, name: str) -> ModelRef:
        """The manifest's model `name`, resolved as entries' models are (used or not)."""
        return Resolver(self.manifest, self.doc, self.state, self.lock).model(name)

    def close(self) -> None:
        self.state.close()
        gc.unfreeze()  # what long_lived() froze may be garbage now (watch opens one per pass)


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Allocate objects that live for the whole command (manifest, targets, lock, plan) with
    the cyclic garbage collector paused, then move them out of its sight (`gc.freeze`): with
    50,000 entries its full passes over them cost a third of the planning time, and they hold
    no garbage to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def open_project(
    directory: Path, *, readonly: bool = False, manifest: Path | None = None
) -> Project:
    """Load, validate and resolve the project in `directory`.

    `readonly` keeps the state database in memory, so nothing on disk changes (`--locked`).
    """
    with long_lived():
        return _open_project(directory, readonly, manifest)


def _open_project(directory: Path, readonly: bool, manifest: Path | None) -> Project:
    directory = directory.resolve()
    manifest_path = (manifest or directory / MANIFEST_NAME).resolve()
    parsed, doc = load_manifest(manifest_path)
    root = manifest_path.parent
    assets = _confined(root, parsed.project.assets, "assets", doc)
    cache = default_cache(directory)
    if parsed.project.cache and "PIXELBUILD_CACHE" not in os.environ:
        cache = _confined(root, parsed.project.cache, "cache", doc)
        if cache.is_relative_to(assets) or assets.is_relative_to(cache):
            where = doc.locate(("project", "cache"))
            message = "the cache and the assets tree must be apart (neither inside the other)"
            raise ManifestError([Issue(f"project: cache: {message}", where)])
    notes: list[str] = []
    if not readonly:
        layout.repair(cache, notes.append)
    fresh_cache = not cache.exists()
    state = State(cache / layout.STATE, readonly=readonly, warn=notes.append)
    lock_path = manifest_path.parent / LOCK_NAME
    lock = read_lock(lock_path)
    lock.shards = shard_of(doc)
    for conflict in lock.conflicts:
        notes.append(
            f"{conflict}: unresolved merge conflict; both sides are read, and `pixelbuild build` "
            "writes the merged lock (commit it)"
        )
    resolver = Resolver(parsed, doc, state, lock)
    targets = resolver.targets()
    if resolver.issues:
        state.close()
        if fresh_cache:  # "nothing was written": not even the cache it just made
            shutil.rmtree(cache, ignore_errors=True)
        raise ManifestError(sorted(resolver.issues, key=_position))
    return Project(
        dir=manifest_path.parent,
        manifest_path=manifest_path,
        manifest=parsed,
        doc=doc,
        assets=assets,
        cache=cache,
        state=state,
        store=BlobStore(cache, notes.append),
        lock_path=lock_path,
        lock=lock,
        targets=targets,
        files=resolver.files,
        inputs=resolver.read,
        absent=resolver.absent,
        notes=notes,
    )


def _confined(root: Path, value: str, field: str, doc: Document) -> Path:
    """`project.<field>` as a folder strictly inside the project once symlinks are resolved,
    never the project itself nor anything in `.git`: `clean` deletes there and builds write there.
    (Absolute paths and '..' are refused earlier, with the manifest: load.unsafe_project_path.)"""
    resolved = (root / value).resolve()
    problem = None
    if resolved == root:
        problem = "must be a folder inside the project, not the project folder itself"
    elif not resolved.is_relative_to(root):
        problem = f"leaves the project folder (to {resolved}); give a path inside it"
    elif ".git" in resolved.relative_to(root).parts:
        problem = "must not be inside .git"
    if problem:
        raise ManifestError(
            [Issue(f"project: {field}: {value!r} {problem}", doc.locate(("project", field)))]
        )
    return resolved


def _position(issue: Issue) -> tuple[int, int]:
    return (issue.location.line, issue.location.column) if issue.location else (0, 0)
