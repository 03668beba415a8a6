"""Checks on the files a project names, made before any of them is read.

An input (`image:`, a palette file, the manifest itself) must be a regular file, symlinks
followed, of bounded size; `image:` and palette files must also lie inside the project. A FIFO
would block the build forever, /dev/zero would fill memory, a folder or a 5,000-character name
would raise deep in a library: each is a reason in words here, which callers put at the
manifest line that names the file. Standard library only.
"""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath

from pixelbuild import limits


def regular_file_problem(path: Path, limit: int) -> str | None:
    """Why `path` (symlinks followed) is not a regular file of at most `limit` bytes, or None.

    Raises FileNotFoundError when nothing is there; other OSErrors pass through.
    """
    st = path.stat()
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return f"is not a regular file (it is {_kind(st.st_mode)})"
    if st.st_size > limit:
        return f"is {st.st_size:,} bytes, over the {limit / limits.MIB:g} MiB limit"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def path_text_problem(rel: str) -> str | None:
    """Why the text of a path cannot name a file, or None."""
    if "\0" in rel:
        return "contains a NUL character"
    if not rel.strip():
        return "is empty"
    if len(rel) > limits.PATH_CHARS:
        return f"is {len(rel)} characters long, over the {limits.PATH_CHARS} limit"
    if any(len(part.encode()) > limits.PATH_PART_CHARS for part in PurePosixPath(rel).parts):
        return f"has a name over {limits.PATH_PART_CHARS} bytes between slashes"
    return None


def input_file_problem(root: Path, rel: str, limit: int) -> str | None:
    """Why `rel`, a path the manifest gives relative to the project folder `root`, may not be
    read as an input file, or None when it may. The reason starts with the path.

    Raises FileNotFoundError when nothing is there (callers may know the file from the lock).
    """
    reason = path_text_problem(rel)
    if reason is not None:
        return f"the path {_short(rel)} {reason}"
    try:
        real = (root / rel).resolve(strict=True)
        reason = regular_file_problem(real, limit)
        inside = real.is_relative_to(root.resolve())
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(rel) from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission
        return f"{rel} cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if reason is not None:
        return f"{rel} {reason}"
    if not inside:
        return f"{rel} is outside the project folder ({real}); input files must be inside it"
    return None


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
