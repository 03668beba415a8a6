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
from pixelbuild.manifest.include import INCLUDE, shard_of
from pixelbuild.manifest.load import MANIFEST_NAME, read_manifest, validate_document
from pixelbuild.manifest.resolve import AbsentInput, Resolver
from pixelbuild.manifest.schema import Manifest
from pixelbuild.manifest.source import Document
from pixelbuild.plan import memo
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
    settled: memo.Settled = memo.NOTHING  # included files left unparsed: up to date
    memo_context: str | None = None  # plan/memo.py's context, where a memo can serve

    def plan(self, only: set[str] | None = None) -> Plan:
        """The plan of the targets (those in `only` checked); a project opened with settled
        files that turn out to be needed is opened again in full first."""
        try:
            with long_lived():
                planner = Planner(self.assets, self.state, self.lock)
                return planner.plan(self.targets, only, self.settled.entries.keys())
        except memo.Unsettled:
            readonly = self.state.readonly
            self.state.close()
            vars(self).update(vars(open_project(self.dir, readonly=readonly,
                                                manifest=self.manifest_path)))  # fmt: skip
            return self.plan(only)

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

    def remember_clean_state(self, plan: Plan) -> None:
        """After a complete, successful build: let the next no-op skip loading the manifest,
        and the next edit skip the included files it does not touch (plan/memo.py)."""
        from pixelbuild.run import snapshot

        if self.cache != default_cache(self.dir) or self.state.readonly:
            return
        self._remember_files(plan)
        assets = str(self.assets)  # strings, not 50,000 Path objects (outputs are normalized)
        outputs = [f"{assets}/{rel}" for e in self.lock.entries.values() for rel in e.outputs]
        lock_files = [self.lock_path, *shard_files(self.lock_path).values()]
        files = [self.manifest_path, *self.doc.included, *lock_files, *self.inputs]
        paths = [*map(str, files), *outputs]
        snapshot.record(self.cache, self.manifest_path, paths, list(self.lock.entries))

    def _remember_files(self, plan: Plan) -> None:
        """Record the included files whose entries all stand alone (plan/memo.py)."""
        if self.memo_context is None:
            memo.forget(self.cache)
            return
        files: dict[str, list[str]] = {}  # every included file's entries, parsed or settled
        shut = plan.entangled | self.absent.keys()
        excluded = set()
        for name, rel in self.lock.shards.items():
            files.setdefault(rel, []).append(name)
            if name in shut:
                excluded.add(rel)
        for part in self.doc.parts.values():
            if INCLUDE in part.data:
                excluded.add(part.path.relative_to(self.dir).as_posix())
        kept = {rel: names for rel, names in files.items() if rel not in excluded}
        memo.record(self.cache, self.dir, self.assets, self.lock_path, self.lock,
                    self.memo_context, kept, self.inputs, self.settled)  # fmt: skip

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
    directory: Path, *, readonly: bool = False, manifest: Path | None = None, settle: bool = False
) -> Project:
    """Load, validate and resolve the project in `directory`.

    `readonly` keeps the state database in memory, so nothing on disk changes (`--locked`).
    `settle`: for a whole build, leave out the included files the last complete build recorded
    as unchanged (plan/memo.py); their entries are then `settled`, not targets.
    """
    with long_lived():
        if settle and not readonly:
            try:
                return _open_project(directory, readonly, manifest, use_memo=True)
            except (memo.Unsettled, ManifestError):  # a problem is reported by the full open,
                pass  # which sees every file (an entry may name one in a skipped file)
        return _open_project(directory, readonly, manifest)


def _open_project(
    directory: Path, readonly: bool, manifest: Path | None, use_memo: bool = False
) -> Project:
    directory = directory.resolve()
    manifest_path = (manifest or directory / MANIFEST_NAME).resolve()
    root_doc = read_manifest(manifest_path)
    root = manifest_path.parent
    lock_path = root / LOCK_NAME
    context = _memo_context(root_doc)
    settled, lock = memo.NOTHING, None
    if use_memo and context is not None and directory == root:
        lock = read_lock(lock_path)
        settled = memo.settle(default_cache(directory), root, lock_path, lock, context)
    skip = frozenset((root / rel).resolve() for rel in settled.files)
    parsed, doc = validate_document(root_doc, skip)
    if not skip.issubset(doc.included):  # a recorded file that is no longer included
        raise memo.Unsettled("an included file was dropped")
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
    if settled.files and settled.assets != assets:
        raise memo.Unsettled("the assets folder moved")
    fresh_cache = not cache.exists()
    state = State(cache / layout.STATE, readonly=readonly, warn=notes.append)
    if lock is None:
        lock = read_lock(lock_path)
    lock.shards = shard_of(doc) | dict(settled.entries)
    for conflict in lock.conflicts:
        notes.append(
            f"{conflict}: unresolved merge conflict; both sides are read, and `pixelbuild build` "
            "writes the merged lock (commit it)"
        )
    resolver = Resolver(parsed, doc, state, lock, frozenset(settled.entries))
    try:
        targets = resolver.targets()
        if settled.files:
            _check_apart(targets, settled, lock)
    except memo.Unsettled:
        state.close()
        raise
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
        inputs=resolver.read | settled.inputs,
        absent=resolver.absent,
        notes=notes,
        settled=settled,
        memo_context=context,
    )


def _memo_context(root: Document) -> str | None:
    """plan/memo.py's context for this manifest, or None where no memo serves: a cache the
    manifest moves (the memo lives in the default one), a Rust module or a gallery (both are
    written from every target)."""
    data = root.data if isinstance(root.data, dict) else {}
    project = data.get("project")
    if isinstance(project, dict) and any(project.get(k) for k in ("cache", "rust_module",
                                                                  "gallery")):  # fmt: skip
        return None
    return memo.context(data)


def _check_apart(targets: list[Target], settled: memo.Settled, lock: Lock) -> None:
    """Unsettled when a parsed entry takes the name or an output of a settled one (a full
    plan reports it where both are written)."""
    names = settled.entries
    for target in targets:
        if target.name in names:
            raise memo.Unsettled(f"{target.name} is defined twice")
        for out in target.outputs().values():
            owner = lock.owner_of(out)
            if owner is not None and owner in names:
                raise memo.Unsettled(f"{out} is written by {owner} too")


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
