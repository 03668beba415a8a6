"""PNG bytes are a function of the pixels alone (pixelbuild/png.py): the digests below were
made once; a platform, a Pillow or a zlib that changed them would fail here, and with them
every committed asset and every remote cache hit."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.png import encode_rgba

# Change only together with the ASSEMBLE step version (plan/steps.py) and the deflate pin.
SMALL = "5ec0f7c2b6ad41e36980596154d54a36"
FAST = "4ceea0e10c1249a7effd70d0d33c4399"


def _sprite() -> np.ndarray:
    rng = np.random.default_rng(17)
    palette = rng.integers(0, 256, (6, 4), dtype=np.uint8)
    palette[:, 3] = 255
    palette[0, 3] = 0
    return palette[np.kron(rng.integers(0, 6, (12, 10)), np.ones((4, 4), dtype=int))]


def test_known_pixels_give_known_bytes():
    image = _sprite()
    assert digest_bytes(encode_rgba(image)) == SMALL
    assert digest_bytes(encode_rgba(image, fast=True)) == FAST
    # a view of other strides holds the same pixels: the same bytes
    assert digest_bytes(encode_rgba(np.asfortranarray(image))) == SMALL


def test_pillow_reads_back_the_pixels():
    rng = np.random.default_rng(3)
    for shape in [(1, 1, 4), (7, 3, 4), (64, 48, 4)]:
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        for fast in (False, True):
            with Image.open(io.BytesIO(encode_rgba(image, fast=fast))) as im:
                assert im.mode == "RGBA" and im.size == (shape[1], shape[0])
                assert (np.asarray(im) == image).all()
