"""Real filesystems for fault tests: a tmpfs (full disk, another device) or a read-only bind,
mounted where a test needs it; skipped with the reason where this machine cannot mount."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def mounted(kind: str, where: Path, *, size: str = "16m") -> Iterator[Path]:
    """Mount at `where` (made if absent): kind 'tmpfs' (of `size`) or 'readonly' (a read-only
    bind of `where` onto itself). Unmounted (lazily: an open file must not leave it) after."""
    where.mkdir(parents=True, exist_ok=True)
    if kind == "tmpfs":
        made = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    else:
        made = _run("mount", "--bind", "-o", "ro", str(where), str(where))
    if made.returncode != 0:
        pytest.skip(
            f"cannot mount a {kind} here (needs root or CAP_SYS_ADMIN): {made.stderr.strip()}"
        )
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))
