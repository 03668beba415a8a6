"""PNG encoding and decoding of RGBA arrays; deterministic bytes for equal pixels."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pixelbuild import limits
from pixelbuild.errors import Issue, Location
from pixelbuild.inputs import regular_file_problem


def to_rgba(image: Image.Image) -> np.ndarray:
    """A Pillow image as a uint8 (H, W, 4) array."""
    return np.asarray(image.convert("RGBA"), dtype=np.uint8).copy()


def read_image(path: Path, max_pixels: int = limits.IMAGE_PIXELS) -> np.ndarray:
    """Any image file Pillow reads, as RGBA.

    The file must be a regular file within IMAGE_FILE_BYTES, and its header's size within
    `max_pixels` before a pixel is decoded (a 20000 x 20000 PNG of a few KB would take 1.6 GB).
    A file that breaks a limit, or is truncated or not an image, raises `Issue` naming it.
    """
    where = Location(Path(path), 1, 1)
    try:
        reason = regular_file_problem(Path(path), limits.IMAGE_FILE_BYTES)
        if reason is not None:
            raise _Refused(f"the image {reason}")
        with _open_within(path, max_pixels) as im:
            return to_rgba(im)
    except _Refused as exc:
        raise Issue(str(exc), where) from None
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's many ways of saying "not a (whole) image"
        raise Issue(f"cannot read the image: {_why(exc)}", where) from None


def image_size_problem(path: Path, max_pixels: int) -> str | None:
    """Why the image at `path` cannot be read within `max_pixels`, from its header only, or
    None; a file that is no image Pillow knows is a reason too."""
    try:
        with _open_within(path, max_pixels):
            return None
    except _Refused as exc:
        return f"{Path(path).name}: {exc}"
    except MemoryError:
        raise
    except Exception as exc:
        return f"{Path(path).name} cannot be read as an image: {_why(exc)}"


class _Refused(Exception):
    """An image over a limit: the reason, in words."""


@contextlib.contextmanager
def _open_within(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """`Image.open` (the header only) held to `max_pixels`, in place of Pillow's global
    decompression-bomb guard."""
    limit = limits.megapixels(max_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError:
            raise _Refused(f"the image is far over the {limit} limit") from None
    with im:
        w, h = im.size
        if w * h > max_pixels:
            size = limits.megapixels(w * h)
            raise _Refused(f"the image is {w}x{h} ({size}), over the {limit} limit")
        yield im


def _why(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not an image format Pillow knows"
    return str(exc) or type(exc).__name__


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return to_rgba(im)


def encode_png(pixels: np.ndarray, *, fast: bool = False) -> bytes:
    """PNG bytes of an RGBA array, the same on every platform (pixelbuild/png.py). `fast`
    trades size for speed (cache blobs of raw images)."""
    from pixelbuild.png import encode_rgba

    return encode_rgba(pixels, fast=fast)
