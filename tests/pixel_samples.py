"""Procedural true pixel art and degradations, shared by the pixel tests and bench/pixelize.py.

Everything is seeded: the same arguments give the same pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from pixelbuild.pixel.oklab import srgb_to_oklab


@dataclass(frozen=True)
class Sample:
    name: str
    art: np.ndarray  # (h, w, 4) uint8, alpha 0/255, transparent RGB 0
    palette: np.ndarray  # (K, 3) uint8
    sprite: bool  # transparent background (a sprite) or full-bleed (a scene/tile)


def _by_lightness(pal: np.ndarray) -> np.ndarray:
    return pal[np.argsort(srgb_to_oklab(pal)[:, 0], kind="stable")]


def make_sprite(rng: np.random.Generator, n: int, pal: np.ndarray) -> np.ndarray:
    """A blob creature: shaded body (3-colour ramp lit from the top left), dark outline, eyes."""
    pal = _by_lightness(pal)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    body = np.zeros((n, n), bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0.35, 0.65, 2) * n
        ry, rx = rng.uniform(0.15, 0.32, 2) * n
        body |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    body[:2] = body[-2:] = False
    body[:, :2] = body[:, -2:] = False
    k = len(pal)
    ramp = np.sort(rng.choice(np.arange(1, k), size=min(3, k - 1), replace=False))
    light = (xx + yy) / (2 * n)
    band = np.clip((light * len(ramp) + rng.uniform(-0.3, 0.3)).astype(int), 0, len(ramp) - 1)
    idx = np.full((n, n), -1)
    idx[body] = ramp[::-1][band[body]]
    grown = body.copy()
    grown[1:] |= body[:-1]
    grown[:-1] |= body[1:]
    grown[:, 1:] |= body[:, :-1]
    grown[:, :-1] |= body[:, 1:]
    idx[grown & ~body] = 0  # outline: darkest colour
    ys, xs = np.nonzero(body)
    if len(ys):
        cy, cx = int(ys.mean()), int(xs.mean())
        for dx in (-2, 1):
            y, x = cy - 1, cx + dx
            if 0 < y < n - 2 and 0 < x < n - 2 and body[y : y + 2, x : x + 2].all():
                idx[y : y + 2, x : x + 2] = k - 1  # 2x2 eye, lightest colour
                idx[y, x] = 0  # pupil
    out = np.zeros((n, n, 4), np.uint8)
    out[idx >= 0, :3] = pal[idx[idx >= 0]]
    out[idx >= 0, 3] = 255
    return out


def make_scene(rng: np.random.Generator, n: int, pal: np.ndarray) -> np.ndarray:
    """Full-bleed art: a banded diagonal gradient, checker-dithered transitions, some bricks."""
    pal = _by_lightness(pal)
    yy, xx = np.mgrid[0:n, 0:n]
    k = len(pal)
    steps = np.sort(rng.choice(k, size=min(5, k), replace=False))
    t = (yy * rng.uniform(0.5, 1.5) + xx) / (n * 2.5) * len(steps)
    lo = np.clip(np.floor(t).astype(int), 0, len(steps) - 1)
    hi = np.clip(lo + 1, 0, len(steps) - 1)
    frac = t - np.floor(t)
    checker = (yy + xx) % 2 == 0
    pick = np.where((frac > 0.7) & checker, hi, lo)
    idx = steps[pick]
    # bricks in the lower third
    by = n * 2 // 3
    brick = (yy >= by) & (((yy - by) % 4 == 0) | (((xx + 3 * (((yy - by) // 4) % 2)) % 6) == 0))
    idx[brick] = steps[0]
    out = np.zeros((n, n, 4), np.uint8)
    out[..., :3] = pal[idx]
    out[..., 3] = 255
    return out


PALETTE_NAMES = ("pico-8", "db32", "sweetie-16", "endesga-32", "gameboy", "aap-64")


def sample_set(count: int = 12, sizes=(16, 32), seed: int = 7) -> list[Sample]:
    """A varied set: sprites and scenes on several built-in palettes."""
    from pixelbuild.pixel import builtin_palette

    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        name = PALETTE_NAMES[i % len(PALETTE_NAMES)]
        pal = builtin_palette(name)
        n = int(sizes[i % len(sizes)])
        sprite = i % 3 != 2
        art = make_sprite(rng, n, pal) if sprite else make_scene(rng, n, pal)
        out.append(Sample(f"{'sprite' if sprite else 'scene'}{i}-{name}-{n}", art, pal, sprite))
    return out


def upscale_nearest(a: np.ndarray, s: int) -> np.ndarray:
    return np.repeat(np.repeat(a, s, axis=0), s, axis=1)


def flatten(rgba: np.ndarray, bg: tuple[int, int, int]) -> np.ndarray:
    """Composite over a solid colour (what an image model paints behind a sprite): RGB uint8."""
    a = rgba[..., 3:4].astype(np.float32) / 255
    out = rgba[..., :3].astype(np.float32) * a + np.array(bg, np.float32) * (1 - a)
    return np.round(out).astype(np.uint8)


def wobble_upscale(a: np.ndarray, s: int, rng: np.random.Generator, amp: float = 0.2) -> np.ndarray:
    """Upscale by s with a wobbly grid: each boundary drifts smoothly by up to `amp` of a cell."""
    h, w = a.shape[:2]

    def axis_map(n: int) -> np.ndarray:
        x = np.arange(n * s, dtype=np.float64)
        phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 2.0)
        shift = amp * s * np.sin(2 * np.pi * freq * x / (n * s) + phase)
        return np.clip(np.floor((x + shift) / s).astype(int), 0, n - 1)

    return a[axis_map(h)][:, axis_map(w)]


def blur(rgb: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius)))


def noise(rgb: np.ndarray, rng: np.random.Generator, sigma: float = 4.0) -> np.ndarray:
    n = rng.normal(0, sigma, rgb.shape)
    return np.clip(np.round(rgb.astype(np.float64) + n), 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


BACKGROUNDS = ((255, 255, 255), (255, 0, 255), (40, 200, 90))


def degrade(sample: Sample, s: int, seed: int) -> np.ndarray:
    """The full degradation: wobbly grid, blur, noise and JPEG q85, over a solid background."""
    rng = np.random.default_rng(seed)
    big = wobble_upscale(sample.art, s, rng)
    rgb = flatten(big, BACKGROUNDS[seed % len(BACKGROUNDS)]) if sample.sprite else big[..., :3]
    rgb = blur(rgb, s / 8)
    rgb = noise(rgb, rng)
    return jpeg(rgb)


def cell_accuracy(out: np.ndarray, art: np.ndarray) -> float:
    """Share of cells right: both transparent, or both opaque in the same colour."""
    ta, oa = art[..., 3] == 0, out[..., 3] == 0
    same = (ta & oa) | (~ta & ~oa & (out[..., :3] == art[..., :3]).all(-1))
    return float(same.mean())


def palette_compliance(out: np.ndarray, palette: np.ndarray) -> float:
    """Share of opaque output pixels whose colour is in the palette (1.0 when all are)."""
    op = out[..., 3] > 0
    if not op.any():
        return 1.0
    px = out[op][:, :3]
    pal = {tuple(c) for c in palette.tolist()}
    return float(np.mean([tuple(c) in pal for c in px.tolist()]))
