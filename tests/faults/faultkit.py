"""Helpers for the fault-injection tests: a time limit per case, a memory-limited subprocess,
the verdict on one run, and a sentinel folder that must stay untouched."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from conftest import Result

MEMORY_LIMIT = 2 << 30  # RLIMIT_AS of a limited run: a regression fails instead of swapping
CLEAN_CODES = {0, 1, 2}


class Hang(BaseException):
    """A case ran past its time limit (BaseException: the CLI's `except Exception` lets it by)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise `Hang` in this (main) thread when the block runs longer than `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(args: list[str], timeout: float = 60) -> Result:
    """`python -m pixelbuild ARGS` with MEMORY_LIMIT of address space and `timeout` seconds.

    A timeout comes back as code 124; a signal as its negative number (as subprocess gives it).
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PIXELBUILD_CACHE", None)
    try:
        p = subprocess.run(
            [sys.executable, "-m", "pixelbuild", *args],
            capture_output=True, text=True, timeout=timeout, env=env, check=False,
            preexec_fn=_limit_memory,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        return Result(124, str(exc.stdout or ""), f"timed out after {timeout} s")
    return Result(p.returncode, p.stdout, p.stderr)


def problems(r: Result) -> list[str]:
    """What is wrong with how a run ended: empty when it ended as the user's error or success."""
    found = []
    if r.code not in CLEAN_CODES:
        found.append(f"exit code {r.code}")
    text = r.out + r.err
    for bad in ("Traceback", "internal error", "MemoryError"):
        if bad in text:
            found.append(f"{bad!r} in the output")
    return found


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes (for a small sentinel folder)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }
