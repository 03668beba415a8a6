"""PNG encoding and decoding of RGBA arrays; deterministic bytes for equal pixels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def to_rgba(image: Image.Image) -> np.ndarray:
    """A Pillow image as a uint8 (H, W, 4) array."""
    return np.asarray(image.convert("RGBA"), dtype=np.uint8).copy()


def read_image(path: Path) -> np.ndarray:
    """Any image file Pillow reads, as RGBA."""
    with Image.open(path) as im:
        return to_rgba(im)


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return to_rgba(im)


def encode_png(pixels: np.ndarray, *, fast: bool = False) -> bytes:
    """PNG bytes of an RGBA array. `fast` trades size for speed (cache blobs of raw images)."""
    buf = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGBA")
    image.save(buf, format="PNG", compress_level=1 if fast else 9)
    return buf.getvalue()
