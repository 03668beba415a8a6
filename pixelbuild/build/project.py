"""A project on disk: its manifest, assets root, cache and lock, opened together."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pixelbuild.build.plan import Plan, Planner
from pixelbuild.build.snapshot import default_cache
from pixelbuild.cache.lock import LOCK_NAME, Lock, read_lock
from pixelbuild.cache.state import State
from pixelbuild.cache.store import BlobStore
from pixelbuild.errors import ManifestError
from pixelbuild.manifest.load import MANIFEST_NAME, load_manifest
from pixelbuild.manifest.resolve import Resolver, Target
from pixelbuild.manifest.schema import Manifest


@dataclass
class Project:
    dir: Path
    manifest_path: Path
    manifest: Manifest
    assets: Path
    cache: Path
    state: State
    store: BlobStore
    lock_path: Path
    lock: Lock
    targets: list[Target]
    files: dict[str, str]
    inputs: set[Path]

    def plan(self, only: set[str] | None = None) -> Plan:
        planner = Planner(
            self.assets, self.state, self.lock, meta_files=self.manifest.project.meta_files
        )
        return planner.plan(self.targets, only)

    def remember_clean_state(self) -> None:
        """After a complete, successful build: let the next no-op skip loading the manifest."""
        from pixelbuild.build import snapshot

        if self.cache != default_cache(self.dir) or self.state.readonly:
            return
        outputs = [self.assets / rel for e in self.lock.entries.values() for rel in e["outputs"]]
        paths = [self.manifest_path, self.lock_path, *self.inputs, *outputs]
        snapshot.record(self.cache, self.manifest_path, paths, list(self.lock.entries))

    def close(self) -> None:
        self.state.close()


def open_project(
    directory: Path, *, readonly: bool = False, manifest: Path | None = None
) -> Project:
    """Load, validate and resolve the project in `directory`.

    `readonly` keeps the state database in memory, so nothing on disk changes (`--locked`).
    """
    directory = directory.resolve()
    manifest_path = (manifest or directory / MANIFEST_NAME).resolve()
    parsed, _ = load_manifest(manifest_path)
    cache = default_cache(directory)
    if parsed.project.cache and "PIXELBUILD_CACHE" not in os.environ:
        cache = directory / parsed.project.cache
    state = State(cache / "state.db", readonly=readonly)
    lock_path = manifest_path.parent / LOCK_NAME
    lock = read_lock(lock_path)
    resolver = Resolver(parsed, manifest_path.parent, state, lock)
    targets = resolver.targets()
    if resolver.issues:
        state.close()
        raise ManifestError(resolver.issues, where="files the manifest uses")
    return Project(
        dir=manifest_path.parent,
        manifest_path=manifest_path,
        manifest=parsed,
        assets=(manifest_path.parent / parsed.project.assets).resolve(),
        cache=cache,
        state=state,
        store=BlobStore(cache),
        lock_path=lock_path,
        lock=lock,
        targets=targets,
        files=resolver.files,
        inputs=resolver.read,
    )
