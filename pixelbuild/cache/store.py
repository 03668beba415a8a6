"""Content-addressed blob store: `blobs/ab/cdef...`, verified on every read."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from pixelbuild.cache import layout
from pixelbuild.cache.hashing import digest_bytes

_DIGEST = re.compile("[0-9a-f]{32}")


class BlobStore:
    """Immutable blobs named by the digest of their content.

    Anything in the way of a blob (a folder where it belongs, a file where its fan-out folder
    belongs) is moved to the cache's quarantine folder, with a `warn`ing, and the blob is
    written or rebuilt.
    """

    def __init__(self, root: Path, warn: Callable[[str], None] = print):
        self.root = root
        self.tmp = root / layout.TMP
        self.warn = warn

    def _path(self, digest: str) -> Path:
        """Where blob `digest` lives; ValueError for anything but a digest (a mangled record
        must not name a path elsewhere)."""
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise ValueError(f"not a blob digest: {digest!r}")
        return self.root / layout.BLOBS / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        """Store `data` (atomically) and return its digest."""
        digest = digest_bytes(data)
        path = self._path(digest)
        if path.is_file() and not path.is_symlink():
            return digest
        folder = path.parent
        if os.path.lexists(folder) and (folder.is_symlink() or not folder.is_dir()):
            layout.quarantine(self.root, folder, self.warn, "was in the way of blobs")
        elif os.path.lexists(path):  # a folder or a link where the blob belongs
            layout.quarantine(self.root, path, self.warn, "was in the way of a blob")
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, self.tmp)
        return digest

    def get(self, digest: str) -> bytes | None:
        """The blob's bytes, or None when it is missing or corrupt (a corrupt blob is removed)."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except (IsADirectoryError, NotADirectoryError, PermissionError):
            if os.path.lexists(path):
                layout.quarantine(self.root, path, self.warn, "is no readable blob")
            return None
        if digest_bytes(data) != digest:
            path.unlink(missing_ok=True)
            return None
        return data

    def has(self, digest: str) -> bool:
        return self._path(digest).exists()


def _file_mode() -> int:
    """The mode a plain `open(path, "w")` would give: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


TEMP_PREFIX = ".tmp-"  # the temp files of write_atomic (a killed build may leave one)


def write_atomic(dest: Path, data: bytes, staging: Path) -> None:
    """Write `data` to `dest` via a temp file in `staging` and `os.replace`.

    Readers (Bevy's hot reload among them) see the old file or the new one, never a partial one;
    `staging` must be on the same filesystem as `dest` and outside any watched tree.
    """
    staging.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=staging, prefix=TEMP_PREFIX, suffix=dest.suffix)
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600 files; outputs are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
