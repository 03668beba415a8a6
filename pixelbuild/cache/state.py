"""The local state database (`.pixelbuild/state.db`): stat cache, step records, emit journal.

One sqlite file, so every finished step is durable the moment it is recorded and a build killed
at any point resumes from what it had finished. Nothing in here is needed to verify a build
(that is `pixels.lock`'s job); deleting the folder only costs rebuild time.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from pixelbuild.cache.hashing import digest_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ino INTEGER, digest TEXT);
CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, kind TEXT, value TEXT);
CREATE TABLE IF NOT EXISTS owned (path TEXT PRIMARY KEY, digest TEXT);
"""


class State:
    """Access to the state database. `readonly` keeps every change in memory (for `--locked`)."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        if readonly:
            self.db = sqlite3.connect(":memory:")
            if path.exists():
                # immutable: read without locking, so no -wal/-shm side files appear
                disk = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
                disk.backup(self.db)
                disk.close()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._stats: dict[str, tuple[int, int, int, str]] | None = None
        self._dirty_stats: dict[str, tuple[int, int, int, str]] = {}

    # -- stat cache: a file's digest, re-read only when size, mtime or inode change --

    def digest(self, path: Path) -> str:
        """The content digest of `path`, from the stat cache when the file is unchanged."""
        key = str(path)
        st = os.stat(path)
        stat = (st.st_size, st.st_mtime_ns, st.st_ino)
        if self._stats is None:
            rows = self.db.execute("SELECT path, size, mtime_ns, ino, digest FROM files")
            self._stats = {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
        cached = self._stats.get(key)
        if cached is not None and cached[:3] == stat:
            return cached[3]
        digest = digest_file(path)
        entry = (*stat, digest)
        self._stats[key] = entry
        self._dirty_stats[key] = entry
        return digest

    def remember(self, path: Path, digest: str) -> None:
        """Record the digest of a file we just wrote, so the next build need not read it."""
        st = os.stat(path)
        entry = (st.st_size, st.st_mtime_ns, st.st_ino, digest)
        if self._stats is not None:
            self._stats[str(path)] = entry
        self._dirty_stats[str(path)] = entry

    # -- step records: key -> result --

    def record(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT value FROM records WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_record(self, key: str, kind: str, value: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO records (key, kind, value) VALUES (?, ?, ?)",
            (key, kind, json.dumps(value, sort_keys=True)),
        )
        self.commit()

    def drop_record(self, key: str) -> None:
        self.db.execute("DELETE FROM records WHERE key = ?", (key,))
        self.commit()

    # -- emit journal: files in the assets tree we wrote, before the lock knows them --

    def owned(self, path: Path) -> str | None:
        row = self.db.execute("SELECT digest FROM owned WHERE path = ?", (str(path),)).fetchone()
        return row[0] if row else None

    def own(self, path: Path, digest: str | None) -> None:
        if digest is None:
            self.db.execute("DELETE FROM owned WHERE path = ?", (str(path),))
        else:
            self.db.execute(
                "INSERT OR REPLACE INTO owned (path, digest) VALUES (?, ?)", (str(path), digest)
            )
        self.commit()

    def commit(self) -> None:
        if self._dirty_stats:
            self.db.executemany(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, ino, digest) "
                "VALUES (?, ?, ?, ?, ?)",
                [(p, *v) for p, v in self._dirty_stats.items()],
            )
            self._dirty_stats.clear()
        self.db.commit()

    def close(self) -> None:
        self.commit()
        self.db.close()
