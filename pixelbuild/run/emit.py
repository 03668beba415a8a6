"""Writing outputs into the assets tree without ever clobbering a file pixelbuild did not write.

A file may be replaced only if it is absent, already identical, or ours and untouched: recorded
in the lock (or in the local emit journal, for a build that was interrupted before the lock was
written) with the digest it has now. Writes go through a temp file outside the assets tree and
`os.replace`, so a running game's hot reload never sees a half-written file, and a byte-identical
file is never rewritten (no spurious reloads). Each rewritten file is then opened for writing and
closed unchanged (`_close_write`), so that Bevy 0.14-0.16 reload it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.cache.lock import Lock
from pixelbuild.cache.state import State
from pixelbuild.cache.store import write_atomic
from pixelbuild.errors import OwnershipError


@dataclass
class Emitter:
    assets: Path
    staging: Path
    state: State
    lock: Lock
    force: bool = False

    def conflict(self, rel: str) -> str | None:
        """Why writing `rel` would clobber someone's file, or None when it is safe."""
        path = self.assets / rel
        try:
            on_disk = self.state.digest(path)
        except FileNotFoundError:
            return None
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
        path = self.assets / rel
        digest = digest_bytes(data)
        try:
            same = self.state.digest(path) == digest
        except FileNotFoundError:
            same = False
        if not same:
            reason = self.conflict(rel)
            if reason:
                raise OwnershipError(reason)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.state.own(path, digest)  # journal first: a kill after the replace stays ours
            write_atomic(path, data, self._staging_for(path))
            _close_write(path)
            self.state.remember(path, digest)
        else:
            self.state.own(path, digest)
        return digest, not same

    def remove(self, rel: str, digest: str) -> bool:
        """Delete an output we wrote if it is unchanged since; False when it was kept."""
        path = self.assets / rel
        try:
            if self.state.digest(path) != digest and not self.force:
                return False
        except FileNotFoundError:
            return True
        path.unlink()
        self.state.own(path, None)
        _prune_empty_dirs(path.parent, self.assets)
        return True

    def _staging_for(self, path: Path) -> Path:
        """The staging folder must share a filesystem with `path` (os.replace cannot cross one)."""
        self.staging.mkdir(parents=True, exist_ok=True)
        if os.stat(self.staging).st_dev == os.stat(path.parent).st_dev:
            return self.staging
        return self.assets.parent / ".pixelbuild-staging"


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
