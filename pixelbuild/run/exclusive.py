"""One build at a time per project: an advisory lock on `<cache>/build.lock`.

`build`, `clean` and each pass of `watch` hold it exclusively; `build --locked` holds it shared
(it only reads, but must not read a cache half-written by a build). The holder writes its pid
and command into the file, so a second process can say who it is waiting for. The lock is
`flock(2)`: the kernel drops it when the holder exits, however it exits (kill -9 included), so
a stale lock file never blocks anyone. Where `fcntl` does not exist (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pixelbuild.cache import layout
from pixelbuild.errors import PixelbuildError

LOCK_FILE = layout.LOCK


class Busy(PixelbuildError):
    """Another pixelbuild process is working on the project (and we were not to wait)."""

    exit_code = 4


@contextlib.contextmanager
def hold(
    cache: Path, command: str, *, wait: bool, say: Callable[[str], None], shared: bool = False
) -> Iterator[None]:
    """Hold the project's lock for the duration of the block (see the module docstring).

    Raises Busy when another process holds it and `wait` is false; otherwise `say`s who it waits
    for, then waits.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        yield
        return
    flags = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if shared:  # a reader changes nothing, not even by creating the lock file
        try:
            fd = os.open(cache / LOCK_FILE, flags | os.O_RDONLY)
        except OSError:  # no build has run here (or the cache is unreadable: the reader says)
            yield
            return
    else:
        cache.mkdir(parents=True, exist_ok=True)
        fd = os.open(cache / LOCK_FILE, flags | os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise Busy(
                    f"another pixelbuild ({holder}) is working on this project; let it "
                    "finish, or pass --wait to wait for it"
                ) from None
            say(f"waiting for another pixelbuild ({holder}) to finish ...")
            fcntl.flock(fd, mode)
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, {command}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it ("pid 123, build")."""
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
