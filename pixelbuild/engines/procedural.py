"""The embedded engine: deterministic placeholder art on any CPU, with no weights.

It is honest placeholder art, not a model: sprites are mirrored random masks (creatures and
items) with shading and an outline, tiles are sums of periodic waves (so they wrap by
construction), animation frames bob and step. Like a diffusion model it paints a smooth image at
the canvas size (soft edges, noise, a plain background), so the pixelize step does real work.
Colours follow a few words of the prompt ("red", "slime", "grass", ...); digits in the prompt are
ignored, so the frames of "walk frame {i}" share one design.

Characters (`request.view` set) are one design seen from a side: "s" the front (eyes), "n" the
back (no eyes, a darker cape), "w" the left-facing profile (narrower, one eye), "sw"/"nw" between.
"e", "se" and "ne" are painted as "w", "sw" and "nw" and mirrored, so they are exactly the mirror
images. Invariants a caller can rely on:

* The design (silhouette, colours, spots, eye row) comes from the seed and `design_prompt(prompt)`
  only, never from the view or the frame. The rule: the prompt is cut at the first pose marker,
  ", facing " or ", seen from " (case-insensitive), and everything from it on is ignored; digits
  are ignored as everywhere. So "a red knight, facing left, walk frame 2 of 6" is designed from
  "a red knight". Put every view-, animation- and frame-specific word after the marker.
* The feet stand on one row (`character_feet_row`) in every view and frame: walking lifts and
  swings the legs and raises the body at the passing pose, but one foot always stays on that row.
* With `view` None nothing here applies: sprites are painted exactly as before.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

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
            if request.tileable:
                images.append(paint_tile(request))
            elif request.view is not None:
                images.append(paint_character(request))
            else:
                images.append(paint_sprite(request))
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


def _cells(w: int, h: int) -> tuple[int, int]:
    """Design cells (across, down) for a canvas: DESIGN_CELLS on the longer side."""
    gw = DESIGN_CELLS if w >= h else max(4, round(DESIGN_CELLS * w / h))
    gh = DESIGN_CELLS if h >= w else max(4, round(DESIGN_CELLS * h / w))
    return gw, gh


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
    gw, gh = _cells(w, h)
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


# --- Characters: one design seen from a side -------------------------------------------------

#: The views painted directly, with the angle the character faces away from the viewer's
#: direction (0: towards the viewer, 90: to the left, 180: away).
VIEW_ANGLES = {"s": 0.0, "sw": 45.0, "w": 90.0, "nw": 135.0, "n": 180.0}
#: The views painted as the mirror image of another.
MIRRORED_VIEWS = {"e": "w", "se": "sw", "ne": "nw"}
VIEWS = (*VIEW_ANGLES, *MIRRORED_VIEWS)
#: Where a character prompt's pose text starts (see the module docstring).
POSE_MARKERS = (", facing ", ", seen from ")
SUB = 2  # a character is drawn on sub-cells, SUB per design cell, so legs move finer than cells


def design_prompt(prompt: str) -> str:
    """The part of a character prompt its design comes from: up to the first pose marker."""
    lower = prompt.lower()
    cuts = [i for i in (lower.find(m) for m in POSE_MARKERS) if i >= 0]
    return prompt[: min(cuts)] if cuts else prompt


def character_feet_row(width: int, height: int) -> int:
    """The canvas row of the lowest body pixel of every character painted at this size.

    The row is that of the mask (before the soft edge and the outline below it).
    """
    _, gh = _cells(width, height)
    return ((SUB * (gh - 2)) * height - 1) // (SUB * gh)


@dataclass(frozen=True, slots=True)
class CharacterDesign:
    """What every view and frame of one character shares, in design cells.

    `body` is the front silhouette above the legs (left-right symmetric), `spots` the accent
    cells on it, `eye_row` the row of the eyes within it. Colours are RGB floats in 0..1.
    """

    cells: tuple[int, int]
    body: np.ndarray
    spots: np.ndarray
    eye_row: int
    base: np.ndarray
    accent: np.ndarray
    cape: np.ndarray
    background: np.ndarray


def character_design(request: GenerateRequest) -> tuple[CharacterDesign, np.random.Generator]:
    """The request's design and the generator after drawing it (its noise comes next)."""
    hue, sat, digest = _theme(design_prompt(request.prompt))
    rng = np.random.default_rng([request.seed, digest & 0xFFFFFFFF])
    gw, gh = _cells(request.width, request.height)
    legs = max(1, round((gh - 4) / 4))
    bw, bh = max(2, gw - 4), max(2, gh - 4 - legs)
    body = _design_mask(rng, (bw, bh))
    body[bh // 2 :, bw // 2 - 1 : bw // 2 + 1] = True  # a core down to the hips
    turn = rng.uniform(0.35, 0.65)
    spots = (rng.random((bh, bw)) < 0.12) & body
    eye_row = bh // 3 + int(rng.integers(0, 2))
    design = CharacterDesign(
        cells=(gw, gh),
        body=body,
        spots=spots,
        eye_row=eye_row,
        base=_rgb(hue, sat, 0.75),
        accent=_rgb(hue + turn, sat * 0.9, 0.9),
        cape=_rgb(hue + turn, sat * 0.9, 0.42),
        background=_rgb(hue + 0.5, 0.08, 0.93),
    )
    return design, rng


def paint_character(request: GenerateRequest) -> np.ndarray:
    """A character seen from `request.view` (see the module docstring), frames walking."""
    view = request.view
    if view in MIRRORED_VIEWS:
        image = paint_character(replace(request, view=MIRRORED_VIEWS[view]))
        return np.ascontiguousarray(image[:, ::-1])
    if view not in VIEW_ANGLES:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    design, rng = character_design(request)
    layers = character_layers(design, view, request.frame, request.frames)
    w, h = request.width, request.height
    gw = design.cells[0]
    sh, sw = layers["body"].shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cy = np.minimum((ys * sh / h).astype(int), sh - 1)
    cx = np.minimum((xs * sw / w).astype(int), sw - 1)
    light = 1.15 - 0.55 * (ys / h) - 0.25 * (xs / w)
    color = design.base[None, None, :] * light[..., None]
    color = np.where(layers["far"][cy, cx][..., None], color * 0.7, color)
    color = np.where(layers["spots"][cy, cx][..., None], design.accent, color)
    color = np.where(layers["cape"][cy, cx][..., None], design.cape * light[..., None], color)
    color = np.where(layers["eyes"][cy, cx][..., None], np.float32(0.97), color)
    body = layers["body"]
    outline = _edge(_edge(body)) & ~body  # SUB sub-cells: one design cell, as sprites have
    rgb = np.where(body[cy, cx][..., None], color, design.background)
    rgb = np.where(outline[cy, cx][..., None], design.base * 0.22, rgb)
    return _finish(rgb, rng, blur=w / gw / 8)


def character_layers(
    design: CharacterDesign, view: str, frame: int = 0, frames: int = 1
) -> dict[str, np.ndarray]:
    """Sub-cell masks of one pose: "body" (all of it), "spots", "cape", "eyes", "far" (leg).

    `view` is one of VIEW_ANGLES (the mirrored views are mirrored images of these).
    """
    theta = np.radians(VIEW_ANGLES[view])
    gw, gh = design.cells
    sh, sw = SUB * gh, SUB * gw
    feet = SUB * (gh - 2) - 1
    body = np.repeat(np.repeat(design.body, SUB, 0), SUB, 1)
    spots = np.repeat(np.repeat(design.spots, SUB, 0), SUB, 1)
    if np.cos(theta) < 0:  # seen from behind: left and right swap
        spots = spots[:, ::-1]
    bh, bw = body.shape
    # Narrower from the side: keep an even width, so the body stays centred on the canvas.
    narrow = max(2, 2 * round((1 - 0.42 * abs(np.sin(theta))) * bw / 2))
    cols = ((np.arange(narrow) + 0.5) * bw / narrow).astype(int)
    body, spots = body[:, cols], spots[:, cols]

    walking = frames > 1
    phase = 2 * np.pi * frame / frames if walking else 0.0
    bob = int(walking and abs(np.cos(phase)) < 0.6)  # the body is highest as the legs pass
    # ... and over the standing leg (only seen from the front or back)
    sway = round(np.sin(phase) * np.cos(theta)) if walking else 0
    top, left = SUB * 2 - bob, (sw - narrow) // 2 + sway
    centre = sw / 2
    out = {k: np.zeros((sh, sw), bool) for k in ("body", "spots", "cape", "eyes", "far")}
    out["body"][top : top + bh, left : left + narrow] = body
    out["spots"][top : top + bh, left : left + narrow] = spots
    _add_legs(out, bw, theta, phase if walking else None, hip_row=top + bh, feet=feet)
    _add_face(out, design, theta, top, centre + sway, half=narrow / 2)
    out["spots"] &= out["body"]
    return out


def _add_legs(
    out: dict[str, np.ndarray],
    bw: int,
    theta: float,
    phase: float | None,
    hip_row: int,
    feet: int,
) -> None:
    """Two legs from the hips down, in 3-D projected to the view; one foot stays on `feet`.

    Each leg has a lateral hip offset and, walking, a forward stride (cos) and a lift while it
    swings forward (sin); a foot nearer the viewer stands lower, so after projection the feet are
    raised by their distance behind the nearest one (and the swing lift), and the lowest is on
    `feet`.
    """
    length = feet - hip_row  # strides scale with the legs, the hips with the body
    hip, stride, lift, width = 0.16 * bw, 0.5 * length, 0.45 * length, max(2, round(bw / 8))
    centre = out["body"].shape[1] / 2
    legs = []
    for side, offset in ((1, 0.0), (-1, np.pi)):
        fwd = stride * np.cos(phase + offset) if phase is not None else 0.0
        up = lift * max(0.0, -np.sin(phase + offset)) if phase is not None else 0.0
        lateral = side * hip
        hip_x = lateral * np.cos(theta)
        foot_x = hip_x - (fwd + 0.6 * up) * np.sin(theta)  # a lifted foot leads; left is -x
        toward = lateral * np.sin(theta) + fwd * np.cos(theta)  # towards the viewer
        legs.append((hip_x, foot_x, up - 0.25 * toward, toward))
    low = min(leg[2] for leg in legs)
    nearest = max(leg[3] for leg in legs)
    for hip_x, foot_x, raise_, toward in sorted(legs, key=lambda leg: leg[3]):  # far leg first
        far = toward < nearest - 1e-6 and np.sin(theta) > 0.5
        bottom = feet - round(raise_ - low)
        rows = range(hip_row - 1, bottom + 1)
        for r in rows:
            t = (r - rows[0]) / max(1, len(rows) - 1)
            x0 = max(0, int(np.floor(centre + hip_x + t * (foot_x - hip_x) - width / 2 + 0.5)))
            out["body"][r, x0 : x0 + width] = True
            out["far"][r, x0 : x0 + width] = far


EYE = np.arcsin(0.3)  # the eyes' angle either side of the face's middle, on a round head


def _add_face(
    out: dict[str, np.ndarray],
    design: CharacterDesign,
    theta: float,
    top: int,
    centre: float,
    half: float,
) -> None:
    """Eyes where the face turns to the viewer, a snout on the leading edge, a cape behind."""
    row = top + SUB * design.eye_row
    body = out["body"]
    snout = round(SUB * np.sin(theta)) if np.sin(theta) > 0.5 else 0
    if snout:
        lead = np.flatnonzero(body[row : row + SUB].any(axis=0))
        if lead.size:
            body[row : row + SUB, max(0, lead[0] - snout) : lead[0]] = True
    radius = max(1.0, half - SUB)
    inside = np.asarray(body[row : row + SUB].all(axis=0))
    placed: list[int] = []
    for angle in sorted((EYE - theta, -EYE - theta), key=abs):  # the one nearer the middle first
        if np.cos(angle) <= 0.15:  # turned away
            continue
        want = int(np.floor(centre + radius * np.sin(angle) - SUB / 2 + 0.5))
        fits = [
            x
            for x in range(inside.size - SUB + 1)
            if inside[x : x + SUB].all() and all(abs(x - p) > SUB for p in placed)  # apart
        ]
        if fits:
            x0 = min(fits, key=lambda x: (abs(x - want), x))
            out["eyes"][row : row + SUB, x0 : x0 + SUB] = True
            placed.append(x0)
    if np.cos(theta) < -0.1:  # the back: a cape from below the head to above the hips
        mid = centre + radius * np.sin(np.pi - theta)
        xs = np.arange(body.shape[1]) + 0.5
        band = np.abs(xs - mid) <= 0.6 * half
        bottom = top + SUB * (design.body.shape[0] - 1)
        cape = np.zeros_like(body)
        cape[row + SUB : bottom, band] = True
        out["cape"] |= cape & body
