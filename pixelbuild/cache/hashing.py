"""Content digests and step keys: xxh3-128 over bytes, files and canonical JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xxhash

CHUNK = 1 << 20


def digest_bytes(data: bytes) -> str:
    """The digest of a byte string: 32 hex characters of xxh3-128."""
    return xxhash.xxh3_128_hexdigest(data)


def digest_file(path: str | os.PathLike[str]) -> str:
    """The digest of a file's content, read in chunks (checkpoints can be many GB)."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def digest_folder(path: Path, file_digest: Callable[[Path], str] = digest_file) -> str:
    """The digest of a folder (a diffusers model): each file's relative path and digest, in
    sorted walk order. OSError for an entry that is not a regular file (a FIFO would block)."""
    parts = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            p = Path(root) / name
            if p.exists() and not p.is_file():
                raise OSError(f"{p} is not a regular file")
            parts.append(f"{p.relative_to(path).as_posix()}={file_digest(p)}")
    return xxhash.xxh3_128_hexdigest("\n".join(parts).encode())


# One encoder for every call: json.dumps with options builds a new one each time, which costs
# more than the encoding itself for the small values of step keys. JSONEncoder.encode still
# makes its C encoder anew on each call (a fifth of the time at 150,000 keys): where the C
# accelerator exists, one is made here with the very arguments encode() would pass it (no
# circular check: key values are trees), so the text is the same (tests/test_hashing.py).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = None
if _C_ENCODER is not None:  # markers, default, encoder, indent, separators, sort, skip, nan
    _ENCODE = _C_ENCODER(
        None, _CANONICAL.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    if _ENCODE is None:
        return _CANONICAL.encode(value)
    return "".join(_ENCODE(value, 0))


def digest_json(value: Any) -> str:
    """The digest of a JSON-able value's canonical form."""
    return digest_bytes(canonical_json(value).encode())


def short_digest(value: Any) -> str:
    """A 12-character fingerprint of a value, for the per-field record in the lock."""
    return xxhash.xxh3_64_hexdigest(canonical_json(value).encode())[:12]
