"""The PNG writer: equal pixels give equal bytes on every platform.

Pillow's wheels compress with the zlib-ng they bundle (Pillow >= 11.1), distribution builds
with the system's zlib, and each gives other bytes for the same pixels. Output digests would
then depend on the machine: a clone filled from a remote cache (bytes from the producer) would
not match a local build, and `--locked` would fail on a machine with another Pillow. So the
bytes are made here, by one deflate implementation the project pins: libdeflate, through the
`deflate` package (an exact pin in pyproject.toml; libdeflate's choices are scalar C code, the
same on every CPU). Changing the pin, the filter rule or the chunk layout changes the bytes:
bump the ASSEMBLE step version with it (tests/test_png.py holds the digest of a known image).

The file holds IHDR (8-bit RGBA, no interlace), one IDAT and IEND; no time, gamma or text
chunk. Each row's filter is the one of the five with the least sum of absolute values (libpng's
heuristic), computed on integers, so the choice is exact too. Pillow decodes these files.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL_LEVEL = 9  # about zlib -9's size at its speed (10-12 cost 10-25x the time)
FAST_LEVEL = 1  # cache blobs of large raw images: decoded again, never shipped
_UP = 2


def encode_rgba(pixels: np.ndarray, *, fast: bool = False) -> bytes:
    """PNG bytes of a uint8 (H, W, 4) array. `fast` filters every row by 'up' and compresses
    lightly; otherwise each row takes its best filter and libdeflate's strongest level."""
    import deflate

    image = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, channels = image.shape
    assert channels == 4, "RGBA only"
    rows = image.reshape(height, width * 4)
    filtered = _up(rows) if fast else _best_filters(rows)
    data = deflate.zlib_compress(filtered.tobytes(), FAST_LEVEL if fast else SMALL_LEVEL)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _up(rows: np.ndarray) -> np.ndarray:
    """Every row filtered by 'up' (the difference to the row above), its filter byte first."""
    above = np.vstack([np.zeros_like(rows[:1]), rows[:-1]])
    out = (rows - above).astype(np.uint8)
    return np.hstack([np.full((len(rows), 1), _UP, dtype=np.uint8), out])


def _best_filters(rows: np.ndarray) -> np.ndarray:
    """Each row under the filter (none, sub, up, average, paeth) that leaves the least sum of
    absolute (signed) byte values; ties go to the lower filter number. Differences wrap in
    uint8, as the format defines them."""
    left = np.hstack([np.zeros((len(rows), 4), np.uint8), rows[:, :-4]])
    above = np.vstack([np.zeros_like(rows[:1]), rows[:-1]])
    corner = np.hstack([np.zeros((len(rows), 4), np.uint8), above[:, :-4]])
    average = ((left.astype(np.uint16) + above) // 2).astype(np.uint8)
    predictions = (None, left, above, average, _paeth(left, above, corner))
    candidates = np.stack([rows if p is None else rows - p for p in predictions])
    cost = np.abs(candidates.view(np.int8)).view(np.uint8).sum(axis=2, dtype=np.int64)
    choice = cost.argmin(axis=0)
    chosen = candidates[choice, np.arange(len(rows))]
    return np.hstack([choice.astype(np.uint8)[:, None], chosen])


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The Paeth predictor of each byte from its left (a), upper (b) and upper-left (c) bytes."""
    a16, b16, c16 = (v.astype(np.int16) for v in (a, b, c))
    p = a16 + b16 - c16
    pa, pb, pc = np.abs(p - a16), np.abs(p - b16), np.abs(p - c16)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
