"""Writing outputs into the assets tree without ever clobbering a file pixelbuild did not write.

A file may be replaced only if it is absent, already identical, or ours and untouched: recorded
in the lock (or in the local emit journal, for a build that was interrupted before the lock was
written) with the digest it has now. Writes go through a temp file outside the assets tree and
`os.replace`, so a running game's hot reload never sees a half-written file, and a byte-identical
file is never rewritten (no spurious reloads). Each rewritten file is then opened for writing and
closed unchanged (`_close_write`), so that Bevy 0.14-0.16 reload it too.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.cache.lock import Lock
from pixelbuild.cache.state import State
from pixelbuild.cache.store import TEMP_PREFIX, write_atomic
from pixelbuild.errors import (
    DiskFull,
    OwnershipError,
    PixelbuildError,
    as_disk_full,
    disk_full_message,
)


@dataclass
class Emitter:
    assets: Path
    staging: Path
    state: State
    lock: Lock
    force: bool = False
    used_staging: set[Path] = field(default_factory=set)
    chosen: Path | None = None  # the staging folder that worked last (one mount: one answer)

    def conflict(self, rel: str) -> str | None:
        """Why writing `rel` would clobber someone's file, or None when it is safe."""
        path = self.assets / rel
        if path.is_dir() and not path.is_symlink():
            return f"{path} is a folder; move it away, or point `out:` elsewhere"
        try:
            on_disk = self.state.digest(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"cannot read {path}: {exc.strerror or exc}"
        if self.force:
            return None
        if self.state.owned(path) == on_disk:
            return None  # we wrote it (a build stopped before the lock recorded it)
        owner = self.lock.owner_of(rel)
        if owner is not None:
            if self.lock.entries[owner].outputs[rel].digest == on_disk:
                return None
            return (
                f"{path} was edited since pixelbuild wrote it; "
                "keep your edit by moving it away, or pass --force to overwrite it"
            )
        return (
            f"{path} exists and was not written by pixelbuild; "
            "move it away, point `out:` elsewhere, or pass --force to overwrite it"
        )

    def write(self, rel: str, data: bytes) -> tuple[str, bool]:
        """Write one output; returns (digest, whether the file changed)."""
        path = self._inside(rel)
        digest = digest_bytes(data)
        try:
            same = path.is_file() and self.state.digest(path) == digest
        except OSError:
            same = False
        if not same:
            reason = self.conflict(rel)
            if reason:
                raise OwnershipError(reason)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._inside(rel)  # a link swapped in meanwhile
                self.state.own(path, digest)  # journal first: a kill after the replace stays ours
                self._replace(path, data)
            except OSError as exc:
                raise _unwritable(path, exc, len(data)) from None
            _close_write(path)
            self.state.remember(path, digest)
        else:
            self.state.own(path, digest)
        return digest, not same

    def remove(self, rel: str, digest: str) -> bool:
        """Delete an output we wrote if it is unchanged since; False when it was kept."""
        try:
            path = self._inside(rel)
        except OwnershipError:
            return False  # never delete through a link out of the tree
        try:
            if self.state.digest(path) != digest and not self.force:
                return False
        except FileNotFoundError:
            return True
        path.unlink()
        self.state.own(path, None)
        _prune_empty_dirs(path.parent, self.assets)
        return True

    def _inside(self, rel: str) -> Path:
        """`rel` under the assets root, refused when a symlinked folder leads it out."""
        path = self.assets / rel
        if not path.parent.resolve().is_relative_to(self.assets):
            raise OwnershipError(
                f"{path}: a symlinked folder leads outside the assets tree "
                f"(to {path.parent.resolve()}); pixelbuild writes only inside {self.assets}"
            )
        return path

    def _replace(self, path: Path, data: bytes) -> None:
        """Write `path` atomically through a temp file that os.replace can rename onto it.

        The temp file goes to the cache's tmp/, outside the watched tree. When the assets tree
        is a mount of its own (a Docker bind mount, a tmpfs: rename fails with EXDEV, even
        between two mounts of one disk), it goes to a hidden `.pixelbuild-staging/` at the top
        of the tree, or beside the output for a mount further down. Bevy lists no hidden files
        and loads nothing from there; the close-write after the rename reloads the real path.
        """
        tried = [] if self.chosen is None else [self.chosen]
        for staging in [*tried, self.staging, self.assets / STAGING, path.parent]:
            try:
                write_atomic(path, data, staging)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                continue
            if staging.name == STAGING:
                self.used_staging.add(staging)
            self.chosen = staging
            return
        raise AssertionError("a temp file beside the output cannot be on another device")

    def close(self) -> None:
        """Remove the hidden staging folders, once empty. A temp file left in the top one is a
        killed build's (builds hold the project's build lock, and ours are all renamed by now):
        it goes first, so no build leaves a stray file in the assets tree."""
        top = self.assets / STAGING
        if top.is_dir() and not top.is_symlink():
            self.used_staging.add(top)
            for stale in top.glob(f"{TEMP_PREFIX}*"):
                with contextlib.suppress(OSError):
                    stale.unlink()
        for staging in self.used_staging:
            with contextlib.suppress(OSError):
                staging.rmdir()
        self.used_staging.clear()


STAGING = ".pixelbuild-staging"


def _unwritable(path: Path, exc: OSError, size: int) -> PixelbuildError:
    """A failed write as the user's error: a full disk (the build stops), or why not."""
    full = as_disk_full(exc, path.parent)
    if full is not None:
        return DiskFull(disk_full_message(path, size))
    what = exc.strerror or str(exc)
    return OwnershipError(
        f"cannot write {path}: {what}"
        + ("" if exc.filename in (None, str(path)) else f" ({exc.filename})")
    )


def _close_write(path: Path) -> None:
    """Open `path` for writing and close it unchanged, so that Bevy 0.14-0.16 hot-reload it.

    Bevy reports our rename-in as `AddedAsset`, which only 0.17+ reload (bevyengine/bevy#21183);
    0.14-0.16, and 0.17+ for a `.meta`, reload on `Modified*` only. A close-write (inotify's
    IN_CLOSE_WRITE) is `ModifiedAsset`/`ModifiedMeta` for Bevy, and notify-debouncer-full keeps it
    after a creation (an attribute change such as `os.utime` it drops). No O_TRUNC, no write: the
    bytes and mtime stay. Nothing is reported on macOS/Windows; any failure is ignored.
    """
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # permissions, a sharing lock, a symlink or FIFO swapped in
        return
    os.close(fd)


def _prune_empty_dirs(directory: Path, root: Path) -> None:
    while directory != root and directory.is_relative_to(root):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
