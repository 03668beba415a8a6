"""pixelize on real pixel art (tests/data/real_pixel_art, CC0 / public domain, see SOURCES.md).

Each image is degraded the way bench/realart.py does it at x8 (sub-pixel drift and grid slide,
blur, noise, JPEG q85; sprites painted on a key colour) with its fixed seed, reduced back with
the settings an `image:` entry gets by default, and scored cell by cell against the original.
Two checks per image:

- defaults score at least THRESHOLDS[name] (what the code achieved when the threshold was set,
  minus a small margin: tighten them as the algorithm improves);
- defaults score at least the naive baseline (snap to the palette, majority per cell on the
  nominal grid), less one cell. Images in BELOW_NAIVE are known to fail this today: they are
  strict xfails, so the day they pass the test says so and the entry should go.

`python tests/test_real_pixel_art.py` prints what the current code achieves.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).parent / "data" / "real_pixel_art"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import realart  # noqa: E402

from pixelbuild import defaults  # noqa: E402
from pixelbuild.pixel import PixelParams, pixelize  # noqa: E402

# What an `image:` entry gets when it sets nothing: the settings these images are reduced with.
IMPORT = PixelParams(**(defaults.PIXEL | defaults.IMPORT_PIXEL))

SCALE = 8  # seed: realart.case_seed(name, 0), the first run of the bench
# Minimum cell accuracy per image: what the code achieved when set (in the comment), less about
# 0.02 (at most 0.98).
THRESHOLDS: dict[str, float] = {
    "dcss-amulet-bloodlust": 0.98,  # 1.0000 (naive 0.8148)
    "dcss-blue-fountain": 0.98,  # 1.0000 (naive 0.9167)
    "dcss-door-closed": 0.98,  # 1.0000 (naive 0.9561)
    "dcss-floor-lair": 0.98,  # 1.0000 (naive 0.9883)
    "dcss-floor-snake": 0.965,  # 0.9863 (naive 0.8887; 23 colours, two 0.006 apart in OKLab)
    "dcss-icon-airstrike": 0.98,  # 1.0000
    "dcss-icon-stonesoup": 0.98,  # 1.0000 (naive 0.8917)
    "dcss-nessos": 0.98,  # 0.9992 (naive 0.8488; 40 colours, two 0.007 apart)
    # #000000 and #010101, one level apart (the key colour bleeds into both through JPEG's
    # half-resolution colour, which is why colour differences get their own blur)
    "dcss-prince-ribbit": 0.92,  # 0.9412 (naive 0.9395; 0.9294 with one blur for all)
    "dcss-statue-dragon": 0.98,  # 1.0000 (naive 0.8643)
    "dcss-wall-relief": 0.98,  # 1.0000
    "x11-6x13-digits": 0.98,  # 1.0000
    # #000000 and #010101 (0.16 CIEDE2000 apart): a shadow and the 1-px outline beside it. The
    # neighbours decide most outline cells; the colour prior gives some to the commoner shade
    # (0.9498 without it, an invisible difference)
    "dcss-armour-war": 0.87,  # 0.8927 (naive 0.8824; 0.9377 by the nearest colour alone)
    # 36 colours, most pairs 1-2 levels apart: closer than a fitted cell's error, and a texture
    # (few runs for the neighbours to tell): cells decided by how common each shade is
    "dcss-wall-orc": 0.67,  # 0.6973 (naive 0.1865; 0.5967 without the colour prior, 0.5576 by
    # the nearest colour alone)
}
# Images that score below the naive baseline today, and why.
BELOW_NAIVE: dict[str, str] = {}

NAMES = sorted(p.stem for p in DATA.glob("*.png"))


@cache
def cells(name: str) -> int:
    with Image.open(DATA / f"{name}.png") as im:
        return im.size[0] * im.size[1]


@cache
def scores(name: str) -> tuple[float, float]:
    """(defaults, naive) cell accuracy of one committed image, degraded at x8 like the bench."""
    art = np.asarray(Image.open(DATA / f"{name}.png").convert("RGBA")).copy()
    art[art[..., 3] < 128] = 0
    art[..., 3] = np.where(art[..., 3] >= 128, 255, 0)
    pal = realart.corpus.opaque_colors(art)
    h, w = art.shape[:2]
    deg = realart.degrade(art, SCALE, realart.case_seed(name, 0))
    out = pixelize(deg.image, (w, h), pal, IMPORT)
    assert realart.binary_alpha(out)
    assert realart.palette_compliance(out, pal) == 1.0
    base = realart.naive(deg.image, (w, h), pal, deg.key)
    return realart.cell_accuracy(out, art), realart.cell_accuracy(base, art)


def test_data_is_small_and_sourced() -> None:
    sources = (DATA / "SOURCES.md").read_text()
    assert 1 <= len(NAMES) <= 14
    assert set(NAMES) == set(THRESHOLDS)
    for name in NAMES:
        assert f"| {name}.png |" in sources, f"{name}.png has no line in SOURCES.md"
        line = next(ln for ln in sources.splitlines() if ln.startswith(f"| {name}.png |"))
        assert "| CC0-1.0 |" in line or "| public-domain |" in line, line
        with Image.open(DATA / f"{name}.png") as im:
            assert max(im.size) <= 64


@pytest.mark.parametrize("name", NAMES)
def test_defaults_reach_threshold(name: str) -> None:
    got, naive = scores(name)
    print(f"{name}: defaults {got:.4f}, naive {naive:.4f}")
    assert got >= THRESHOLDS[name], f"{name}: {got:.4f} < threshold {THRESHOLDS[name]:.4f}"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=BELOW_NAIVE[n]))
        if n in BELOW_NAIVE
        else n
        for n in NAMES
    ],
)
def test_defaults_not_below_naive(name: str) -> None:
    got, naive = scores(name)
    slack = 1 / cells(name)  # one cell: a single flipped cell does not decide
    assert got >= naive - slack, f"{name}: defaults {got:.4f} < naive {naive:.4f}"


if __name__ == "__main__":
    for n in NAMES:
        d, b = scores(n)
        print(f"{n:24s} defaults {d:.4f}  naive {b:.4f}  threshold {THRESHOLDS.get(n, 0):.2f}")
