"""The local state database (`.pixelbuild/state.db`): stat cache, step records, emit journal.

One sqlite file, so every finished step is durable the moment it is recorded and a build killed
at any point resumes from what it had finished. Nothing in here is needed to verify a build
(that is `pixels.lock`'s job); deleting the folder only costs rebuild time.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pixelbuild.cache import layout
from pixelbuild.cache.hashing import digest_file
from pixelbuild.cache.signature import Signature, signature
from pixelbuild.errors import CacheError, DiskFull, disk_full_message

SCHEMA = """
CREATE TABLE IF NOT EXISTS stats (path TEXT PRIMARY KEY, signature TEXT, digest TEXT);
CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, kind TEXT, value TEXT);
CREATE TABLE IF NOT EXISTS owned (path TEXT PRIMARY KEY, digest TEXT);
"""


# Opening while another process opens it (WAL set-up is not covered by sqlite's busy timeout).
OPEN_ATTEMPTS = 20

# sqlite's words for a database it cannot write (as opposed to one that is corrupt)
_UNWRITABLE = ("readonly", "unable to open", "disk is full", "disk i/o", "locked")


class State:
    """Access to the state database. `readonly` keeps every change in memory (for `--locked`).

    A corrupt database is moved to the cache's quarantine folder (with a `warn`ing) and started
    afresh: it holds nothing that cannot be rebuilt. One that cannot be written (permissions, a
    full disk) is a CacheError naming it, raised from whichever call found out.
    """

    def __init__(self, path: Path, *, readonly: bool = False, warn: Callable[[str], None] = print):
        self.path = path
        self.readonly = readonly
        self.warn = warn
        self._closed = False
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            if readonly:  # a check needs no cache: the lock holds every digest
                warn(f"{path} is unreadable ({exc}): checking without it")
                self.db = sqlite3.connect(":memory:")
                self.db.executescript(SCHEMA)
            elif _unwritable(exc):
                raise self._error(exc) from None
            else:
                for name in (path.name, *layout.STATE_SIDE):
                    if (path.parent / name).exists():
                        layout.quarantine(
                            path.parent, path.parent / name, warn, f"is corrupt ({exc})"
                        )
                with self._errors():
                    self.db = self._open()
        self._stats: dict[str, tuple[str, str]] | None = None  # path -> (signature, digest)
        self._dirty_stats: dict[str, tuple[str, str]] = {}

    def _open(self) -> sqlite3.Connection:
        path = self.path
        if self.readonly:
            db = sqlite3.connect(":memory:")
            if path.exists():
                # immutable: read without locking, so no -wal/-shm side files appear
                disk = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
                try:
                    disk.backup(db)
                finally:
                    disk.close()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=30)
        # A byte flipped inside a stored path or record must read as a miss, not as an error.
        db.text_factory = lambda raw: raw.decode("utf-8", "replace")
        try:
            for attempt in range(OPEN_ATTEMPTS):
                try:
                    self._prepare(db)
                    break
                except sqlite3.OperationalError as exc:  # another process is opening it too
                    if "locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1))
        except BaseException:
            db.close()
            raise
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        """WAL mode, the tables, and a read of a page (which finds most damage)."""
        if not self.readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'files'").fetchone():
            db.execute("DROP TABLE files")  # the stat cache before ctime joined the signature
        db.executescript(SCHEMA)
        db.execute("SELECT count(*) FROM records").fetchone()

    def _error(self, exc: BaseException) -> CacheError:
        if "disk is full" in str(exc).lower() or getattr(exc, "errno", None) == errno.ENOSPC:
            return DiskFull(disk_full_message(self.path))
        return CacheError(
            f"cannot use the cache database {self.path} ({exc}); check the folder's "
            "permissions, or point PIXELBUILD_CACHE at a writable folder"
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """sqlite's errors as CacheError (corruption found mid-build included: rerun repairs)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if _unwritable(exc):
                raise self._error(exc) from None
            if not self.readonly:  # damage found mid-build: start a new one at once
                self.db.close()
                self._stats, self._dirty_stats = None, {}
                for name in (self.path.name, *layout.STATE_SIDE):
                    if (self.path.parent / name).exists():
                        layout.quarantine(
                            self.path.parent, self.path.parent / name, self.warn, "is damaged"
                        )
                self.db = self._open()
            raise CacheError(
                f"the cache database {self.path} is damaged ({exc}); it was moved aside: run "
                "the build again (finished outputs are kept)"
            ) from None

    # -- stat cache: a file's digest, re-read only when its signature changes --

    def digest(self, path: str | os.PathLike[str]) -> str:
        """The content digest of `path`, from the stat cache when the file is unchanged."""
        key = str(path)
        sig = _text(signature(path))
        if self._stats is None:
            with self._errors():
                rows = self.db.execute("SELECT path, signature, digest FROM stats")
                self._stats = {str(r[0]): (str(r[1]), str(r[2])) for r in rows}
        cached = self._stats.get(key)
        if cached is not None and cached[0] == sig:
            return cached[1]
        digest = digest_file(path)
        self._stats[key] = self._dirty_stats[key] = (sig, digest)
        return digest

    def remember(self, path: Path, digest: str) -> None:
        """Record the digest of a file we just wrote, so the next build need not read it."""
        entry = (_text(signature(path)), digest)
        if self._stats is not None:
            self._stats[str(path)] = entry
        self._dirty_stats[str(path)] = entry

    # -- step records: key -> result --

    def record(self, key: str) -> dict[str, Any] | None:
        """The stored result of step `key`; None when absent or unreadable (it runs again)."""
        with self._errors():
            row = self.db.execute("SELECT value FROM records WHERE key = ?", (key,)).fetchone()
        try:
            value = json.loads(row[0]) if row else None
        except (TypeError, ValueError):
            value = None
        return value if isinstance(value, dict) else None

    def put_record(self, key: str, kind: str, value: dict[str, Any]) -> None:
        with self._errors():
            self.db.execute(
                "INSERT OR REPLACE INTO records (key, kind, value) VALUES (?, ?, ?)",
                (key, kind, json.dumps(value, sort_keys=True)),
            )
        self.commit()

    def drop_record(self, key: str) -> None:
        with self._errors():
            self.db.execute("DELETE FROM records WHERE key = ?", (key,))
        self.commit()

    # -- emit journal: files in the assets tree we wrote, before the lock knows them --

    def owned(self, path: str | os.PathLike[str]) -> str | None:
        with self._errors():
            row = self.db.execute("SELECT digest FROM owned WHERE path = ?", (str(path),))
            found = row.fetchone()
        return str(found[0]) if found else None

    def own(self, path: Path, digest: str | None) -> None:
        with self._errors():
            if digest is None:
                self.db.execute("DELETE FROM owned WHERE path = ?", (str(path),))
            else:
                self.db.execute(
                    "INSERT OR REPLACE INTO owned (path, digest) VALUES (?, ?)", (str(path), digest)
                )
        self.commit()

    def commit(self) -> None:
        with self._errors():
            if self._dirty_stats:
                self.db.executemany(
                    "INSERT OR REPLACE INTO stats (path, signature, digest) VALUES (?, ?, ?)",
                    [(p, *v) for p, v in self._dirty_stats.items()],
                )
                self._dirty_stats.clear()
            self.db.commit()

    def close(self) -> None:
        """Commit and close (once: later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.commit()
        finally:
            self.db.close()


def _unwritable(exc: sqlite3.DatabaseError) -> bool:
    return any(word in str(exc).lower() for word in _UNWRITABLE)


def _text(sig: Signature) -> str:
    return " ".join(map(str, sig))
