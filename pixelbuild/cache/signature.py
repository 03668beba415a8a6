"""A file's stat signature: what says its bytes are unchanged without reading them.

Size, mtime and inode, as make and ninja use, plus ctime: an edit that puts the mtime back
(`touch -r`, `os.utime`, some editors and sync tools) still moves ctime, which no user call can
set. Standard library only: the no-op fast path uses it too.
"""

from __future__ import annotations

import os

Signature = tuple[int, int, int, int]


def signature(path: str | os.PathLike[str]) -> Signature:
    """(size, mtime_ns, ctime_ns, inode) of `path`; OSError when it cannot be stat'ed."""
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
