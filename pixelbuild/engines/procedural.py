"""The embedded engine: deterministic placeholder art on any CPU, with no weights.

It is honest placeholder art, not a model: sprites are mirrored random masks (creatures and
items) with shading and an outline, tiles are sums of periodic waves (so they wrap by
construction), animation frames bob and step. Like a diffusion model it paints a smooth image at
the canvas size (soft edges, noise, a plain background), so the pixelize step does real work.
Colours follow a few words of the prompt ("red", "slime", "grass", ...); digits in the prompt are
ignored, so the frames of "walk frame {i}" share one design.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Hashable, Sequence

import numpy as np
import xxhash
from PIL import Image, ImageFilter

from pixelbuild.engines.base import GenerateRequest, ProgressFn

HUES = {
    "red": 0.0, "fire": 0.04, "lava": 0.03, "orange": 0.07, "wood": 0.08, "gold": 0.12,
    "yellow": 0.15, "sand": 0.11, "grass": 0.28, "green": 0.30, "slime": 0.33, "moss": 0.25,
    "forest": 0.32, "teal": 0.47, "ice": 0.53, "water": 0.56, "blue": 0.60, "night": 0.65,
    "purple": 0.77, "magic": 0.80, "pink": 0.90, "stone": 0.58, "rock": 0.6,
}  # fmt: skip
DULL = {"stone", "rock", "iron", "steel", "ghost", "bone", "dirt"}
DESIGN_CELLS = 16


class ProceduralEngine:
    """Seed-driven CPU engine; see the module docstring."""

    name = "procedural"
    version = "1"

    def __init__(self, **_: object):
        pass

    def batch_key(self, request: GenerateRequest) -> Hashable:
        return "all"

    def batch_size(self, request: GenerateRequest) -> int:
        return 64  # cheap images: a batch only sets how often results are stored

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressFn | None = None
    ) -> list[np.ndarray]:
        images = []
        for i, request in enumerate(requests):
            painter = paint_tile if request.tileable else paint_sprite
            images.append(painter(request))
            if progress:
                progress(i, 1, 1)
        return images

    def provenance(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def _theme(prompt: str) -> tuple[float, float, int]:
    """(hue, saturation, prompt hash) from the prompt's words, ignoring digits."""
    text = re.sub(r"\d+", "", prompt.lower())
    words = re.findall(r"[a-z]+", text)
    digest = xxhash.xxh3_64_intdigest(" ".join(words).encode())
    hues = [HUES[w] for w in words if w in HUES]
    hue = hues[0] if hues else (digest % 360) / 360
    saturation = 0.25 if any(w in DULL for w in words) else 0.65
    return hue, saturation, digest


def _rgb(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1)), np.float32)


def _design_mask(rng: np.random.Generator, cells: tuple[int, int]) -> np.ndarray:
    """A left-right symmetric blob: dense in the middle, ragged at the edges, one piece."""
    gw, gh = cells
    half = (gw + 1) // 2
    y, x = np.mgrid[0:gh, 0:half]
    cx, cy = half - 0.5, (gh - 1) / 2
    dist = np.sqrt(((x - cx) / half) ** 2 + ((y - cy) / (gh / 2)) ** 2)
    keep = rng.random((gh, half)) < np.clip(1.25 - dist * 1.1, 0, 1)
    keep &= dist < 0.95
    for _ in range(2):  # smooth: a cell survives with enough neighbours
        padded = np.pad(keep, 1)
        shifted = [np.roll(padded, (dy, dx), (0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        neighbours = np.sum(shifted, axis=0)[1:-1, 1:-1]
        keep = (neighbours >= 5) | (keep & (neighbours >= 3))
    full = np.concatenate([keep, keep[:, ::-1][:, gw % 2 :]], axis=1)
    full[gh // 3 : 2 * gh // 3, gw // 2 - 1 : gw // 2 + 1] = True  # a solid core
    return full


def paint_sprite(request: GenerateRequest) -> np.ndarray:
    """A creature or item on a plain background, smooth at canvas resolution."""
    hue, sat, digest = _theme(request.prompt)
    rng = np.random.default_rng([request.seed, digest & 0xFFFFFFFF])
    w, h = request.width, request.height
    gw = DESIGN_CELLS if w >= h else max(4, round(DESIGN_CELLS * w / h))
    gh = DESIGN_CELLS if h >= w else max(4, round(DESIGN_CELLS * h / w))
    inner = (gw - 4, gh - 4)
    mask = np.zeros((gh, gw), bool)
    mask[2:-2, 2:-2] = _design_mask(rng, inner)
    # Animation: the lower third steps with cos(phase) while the body bobs with sin(phase), so
    # every frame of a cycle is a distinct pose.
    bob = 0
    if request.frames > 1:
        phase = 2 * np.pi * request.frame / request.frames
        lower = slice(2 * gh // 3, gh)
        mask[lower] = np.roll(mask[lower], round(np.cos(phase)), axis=1)
        bob = round(np.sin(phase) * h / gh)
    base = _rgb(hue, sat, 0.75)
    accent = _rgb(hue + rng.uniform(0.35, 0.65), sat * 0.9, 0.9)
    spots = (rng.random((gh, gw)) < 0.12) & mask
    eyes_row = gh // 3 + int(rng.integers(0, 2))
    eyes = np.zeros_like(mask)
    if request.frames <= 1 or request.frame % max(request.frames, 4) != 1:  # one blink frame
        eyes[eyes_row, [gw // 2 - 2, gw // 2 + 1]] = True
    eyes &= mask

    # Render at canvas resolution: nearest upscale, then light, blur, noise (diffusion-like).
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cell_y = np.minimum((ys * gh / h).astype(int), gh - 1)
    cell_x = np.minimum((xs * gw / w).astype(int), gw - 1)
    body = mask[cell_y, cell_x]
    light = 1.15 - 0.55 * (ys / h) - 0.25 * (xs / w)  # lit from the top left
    color = base[None, None, :] * light[..., None]
    color = np.where(spots[cell_y, cell_x][..., None], accent, color)
    color = np.where(eyes[cell_y, cell_x][..., None], np.float32(0.97), color)
    outline = _edge(mask)[cell_y, cell_x] & ~body
    background = _rgb(hue + 0.5, 0.08, 0.93)
    rgb = np.where(body[..., None], color, background)
    rgb = np.where(outline[..., None], base * 0.22, rgb)
    return _finish(np.roll(rgb, bob, axis=0), rng, blur=w / gw / 8)


def _edge(mask: np.ndarray) -> np.ndarray:
    """Cells next to the mask (4-neighbourhood): where the outline goes."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def paint_tile(request: GenerateRequest) -> np.ndarray:
    """A seamless terrain tile: periodic waves with integer frequencies wrap exactly."""
    hue, sat, digest = _theme(request.prompt)
    rng = np.random.default_rng([request.seed, digest & 0xFFFFFFFF])
    w, h = request.width, request.height
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w), np.float32)
    for _ in range(6):
        kx, ky = rng.integers(1, 5, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        field += np.cos(2 * np.pi * (kx * xs / w + ky * ys / h) + phase) / (kx + ky)
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    bands = np.digitize(field, [0.3, 0.55, 0.8])
    shades = np.stack([_rgb(hue + 0.02 * i, sat, 0.35 + 0.17 * i) for i in range(4)])
    rgb = shades[bands]
    speckle = rng.random((16, 16)) < 0.06
    rgb = np.where(speckle[(ys * 16 / h).astype(int), (xs * 16 / w).astype(int)][..., None],
                   _rgb(hue + 0.1, sat * 0.6, 0.95), rgb)  # fmt: skip
    return _finish(rgb, rng, blur=w / 64, wrap=True)


def _finish(
    rgb: np.ndarray, rng: np.random.Generator, blur: float, wrap: bool = False
) -> np.ndarray:
    """Soften edges and add noise, then return opaque RGBA uint8."""
    img = np.clip(rgb * 255, 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    if wrap:  # blur a wrapped copy so the tile stays seamless
        pad = int(blur * 3) + 1
        tiled = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="wrap")
        soft = np.asarray(Image.fromarray(tiled).filter(ImageFilter.GaussianBlur(blur)))
        img = soft[pad : pad + h, pad : pad + w]
    else:
        img = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(blur)))
    noise = rng.normal(0, 3.0, img.shape).astype(np.float32)
    out = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    alpha = np.full((h, w, 1), 255, np.uint8)
    return np.concatenate([out, alpha], axis=2)
