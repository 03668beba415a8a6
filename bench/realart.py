"""Benchmark of pixelbuild.pixel.pixelize on real pixel art (bench/corpus.py), degraded like an
image model's upscaled output and reduced back to its own size on its own palette.

    python bench/realart.py [--quick] [--seeds N] [--scales 4,8,16] [--cache DIR] [--jobs N]
                            [--only NAME,...] [--pixeloe] [--json PATH]

The first run fetches the corpus (bench/corpus.py: `apt-get download` needs `apt-get update` to
have run once; about 100 MB into ~/.cache/pixelbuild/realart). A full run (67 images, x4/x8/x16,
3 seeds, 2 processes) takes about 2.5 minutes on 2 cores; --quick (x8, 1 seed, 20 images) about
15 s. Results go to bench/results/realart.json (per run, per image, totals, timings, commit).

Degradation of a corpus image `art` (w x h) at scale s, seeded per image and run (case_seed):

1. sprites (art with transparent pixels) are flattened onto a solid key colour: white, magenta
   or green by seed, skipping one that is within OKLab 0.15 of an art colour;
2. nearest upscale by s, resampled (bilinear) with a drift in both axes: a random sub-pixel
   offset in [-0.6, +0.6] pixels of the upscaled picture per axis (issue 11's degradation), plus
   a scale drift that slides the grid by up to +-0.5 art pixel (half a cell) from one edge to the
   other (the output stays exactly w*s x h*s);
3. Gaussian blur, sigma = 0.8 * s / 8 output pixels (the same blur relative to a cell at every
   scale: 0.8 px at x8);
4. Gaussian noise, sigma 4 levels per channel;
5. JPEG quality 85 (Pillow, 4:2:0).

Pictures larger than MAX_INPUT (2048 px, about an image model's canvas) are not made: x16 runs
on art up to 128 px, x8 up to 256 px; the totals say how many images each scale has.

Reductions, all to (w, h) on the art's own colours:

- defaults: `PixelParams()`, pixelize's defaults (defaults.PIXEL, what a generated entry gets);
- image: the settings an `image:` entry resolves to (defaults.PIXEL | defaults.IMPORT_PIXEL):
  method fit, cells read by a least-squares fit (pixel/cellfit.py), each given its palette
  colour by likelihood with a neighbour prior for colours it cannot tell apart (pixel/assign.py);
- best: reference settings, no background detection (background none, or for sprites the exact
  key colour), remove_orphans false, method fit (the grid fitted, as an `image:` entry does);
- naive: every pixel snapped to the nearest palette colour in OKLab (for sprites the key colour
  is one more, transparent, entry: the baseline is told the key), then a majority per cell on the
  nominal grid (offset 0);
- ceiling: no method's output but the most a reader of each cell on its own can expect (see
  `ceiling`): the true colours read through the noise alone (sigma 4 / s per channel for a
  cell's mean), the most likely palette colour taken. Where a palette holds shades a level or
  two apart, this is below 1 even to the eye, and the targets cannot be asked for;
- pixeloe (--pixeloe, slow): PixelOE's contrast mode when `pixeloe` is importable, without
  outline expansion, its colours snapped to the palette and told the key as naive is (it keeps no
  transparency). It installs beside torch in a throwaway venv: see README's benchmarks;
- attribution: defaults with one setting changed (background as in best / remove_orphans false
  / phase_search false): the accuracy each gains is what that setting lost.

Score: cell accuracy against the original (a cell is right when both are transparent, or both
opaque with the exact same RGB; alpha binarised at 128), accuracy to the eye (the same, with
colours within one just-noticeable CIEDE2000 difference counted as one: many real palettes hold
shades one level apart, which no degraded cell can tell), opaque-cell accuracy, palette
compliance (share of opaque output pixels on the palette) and whether the output's alpha is only
0 or 255. Phase errors: the whole-cell shift (-1..1 each axis) that would fix a defaults output
(best_shift), and the accuracy with it forgiven. pixelize's notes to the user are kept per run.
Also timed: 1024x1024 -> 64x64 pixelize with defaults and with the `image:` entry settings, one
thread, median of 5.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # one BLAS / OpenMP thread per process, before numpy loads
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse
import importlib
import inspect
import io
import json
import platform
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import corpus  # noqa: E402

from pixelbuild import defaults  # noqa: E402
from pixelbuild.pixel import PixelParams, pixelize  # noqa: E402

SCALES = (4, 8, 16)
KEYS = ((255, 255, 255), (255, 0, 255), (40, 200, 90))
OFFSET_PX = 0.6  # pixels of the upscaled picture, each axis (sub-pixel: 0.6/s of a cell)
SLIDE = 0.5  # art pixels, edge to edge
BLUR = 0.8  # output pixels at x8 (sigma = BLUR * s / 8)
NOISE = 4.0
JPEG_Q = 85
MAX_INPUT = 2048  # longest side of a degraded picture; larger (image, scale) pairs are skipped
METHODS = ("defaults", "image", "best", "naive", "ceiling", "pixeloe")
TOGGLES = ("bg", "orphans", "phase")


# ---- colour ---------------------------------------------------------------------------------


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 (..., 3) -> OKLab float32 (..., 3) (Björn Ottosson's matrices)."""
    c = np.asarray(rgb, np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m1 = np.array(
        [
            [0.4122214708, 0.5363325363, 0.0514459929],
            [0.2119034982, 0.6806995451, 0.1073969566],
            [0.0883024619, 0.2817188376, 0.6299787005],
        ],
        np.float32,
    )
    m2 = np.array(
        [
            [0.2104542553, 0.7936177850, -0.0040720468],
            [1.9779984951, -2.4285922050, 0.4505937099],
            [0.0259040371, 0.7827717662, -0.8086757660],
        ],
        np.float32,
    )
    return (np.cbrt(lin @ m1.T) @ m2.T).astype(np.float32)


def key_color(art: np.ndarray, seed: int) -> tuple[int, int, int]:
    """The solid colour a sprite is painted on: by seed, avoiding colours close to the art's."""
    lab = srgb_to_oklab(corpus.opaque_colors(art))
    best, best_d = KEYS[seed % len(KEYS)], -1.0
    for i in range(len(KEYS)):
        k = KEYS[(seed + i) % len(KEYS)]
        d = float(np.sqrt(((lab - srgb_to_oklab(np.array(k))) ** 2).sum(-1)).min())
        if d >= 0.15:
            return k
        if d > best_d:
            best, best_d = k, d
    return best


# ---- degradation ----------------------------------------------------------------------------


def _axis_taps(n: int, s: int, offset: float, slide: float) -> tuple[np.ndarray, ...]:
    """Bilinear taps of the drifted, nearest-upscaled axis: art indices i0, i1 and weight f."""
    big = n * s
    centre = np.arange(big, dtype=np.float64) + 0.5
    u = centre / s + offset + slide * (centre / big - 0.5)  # art coordinate of each pixel centre
    p = u * s - 0.5  # position in the nearest-upscaled image (pixel centres at integers)
    p0 = np.floor(p)
    f = (p - p0).astype(np.float32)
    i0 = np.clip(p0.astype(np.int64), 0, big - 1) // s
    i1 = np.clip(p0.astype(np.int64) + 1, 0, big - 1) // s
    return i0, i1, f


def drifted_upscale(
    rgb: np.ndarray, s: int, offset: tuple[float, float], slide: tuple[float, float]
) -> np.ndarray:
    """Nearest upscale by `s` resampled (bilinear) with a drift: (x, y) offset and slide, art px."""
    h, w = rgb.shape[:2]
    a = rgb.astype(np.float32)
    y0, y1, fy = _axis_taps(h, s, offset[1], slide[1])
    a = a[y0] * (1 - fy)[:, None, None] + a[y1] * fy[:, None, None]
    x0, x1, fx = _axis_taps(w, s, offset[0], slide[0])
    a = a[:, x0] * (1 - fx)[None, :, None] + a[:, x1] * fx[None, :, None]
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def flatten(art: np.ndarray, key: tuple[int, int, int]) -> np.ndarray:
    """RGB of `art` with transparent pixels painted `key` (alpha is 0/255)."""
    rgb = art[..., :3].copy()
    rgb[art[..., 3] < 128] = key
    return rgb


@dataclass(frozen=True)
class Degraded:
    image: np.ndarray  # (h*s, w*s, 3) uint8
    key: tuple[int, int, int] | None  # the colour a sprite was painted on
    offset: tuple[float, float]
    slide: tuple[float, float]


def degrade(art: np.ndarray, s: int, seed: int) -> Degraded:
    """The degraded x`s` picture of `art` (see the module docstring), deterministic in `seed`."""
    rng = np.random.default_rng([seed, s, 1_000_003])
    alpha = bool((art[..., 3] < 128).any())
    key = key_color(art, seed) if alpha else None
    rgb = flatten(art, key) if key else art[..., :3]
    shift = OFFSET_PX / s  # in art pixels
    off = (float(rng.uniform(-shift, shift)), float(rng.uniform(-shift, shift)))
    slide = (float(rng.uniform(-SLIDE, SLIDE)), float(rng.uniform(-SLIDE, SLIDE)))
    big = drifted_upscale(rgb, s, off, slide)
    big = np.asarray(Image.fromarray(big).filter(ImageFilter.GaussianBlur(BLUR * s / 8)))
    noisy = big.astype(np.float32) + NOISE * rng.standard_normal(big.shape, dtype=np.float32)
    big = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, format="JPEG", quality=JPEG_Q)
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return Degraded(out, key, off, slide)


# ---- reductions -----------------------------------------------------------------------------


def naive(
    image: np.ndarray, size: tuple[int, int], palette: np.ndarray, key: tuple[int, int, int] | None
) -> np.ndarray:
    """Snap every pixel to the nearest palette colour (OKLab; the key colour, if any, is one more
    entry that means transparent), then each cell's majority on the nominal grid."""
    w, h = size
    pal = np.asarray(palette, np.uint8).reshape(-1, 3)
    entries = pal if key is None else np.vstack([pal, np.array(key, np.uint8)])
    # nearest entry for each 6-bit RGB cell present in the image, then a look-up per pixel
    q = image[..., :3].astype(np.int64) >> 2
    code = (q[..., 0] << 12) | (q[..., 1] << 6) | q[..., 2]
    present = np.flatnonzero(np.bincount(code.ravel(), minlength=1 << 18))
    centre = np.stack([present >> 12, (present >> 6) & 63, present & 63], -1) * 4 + 1.5
    d = ((srgb_to_oklab(centre)[:, None, :] - srgb_to_oklab(entries)[None, :, :]) ** 2).sum(-1)
    table = np.zeros(1 << 18, np.int64)
    table[present] = d.argmin(1)
    idx = table[code]
    H, W = idx.shape
    ys = np.minimum((np.arange(H) * h) // H, h - 1)
    xs = np.minimum((np.arange(W) * w) // W, w - 1)
    cell = ys[:, None] * w + xs[None, :]
    k = len(entries)
    votes = np.bincount((cell * k + idx).ravel(), minlength=h * w * k).reshape(h * w, k)
    win = votes.argmax(1).reshape(h, w)
    out = np.zeros((h, w, 4), np.uint8)
    opaque = win < len(pal)
    out[opaque, :3] = pal[win[opaque]]
    out[opaque, 3] = 255
    return out


def ceiling(art: np.ndarray, palette: np.ndarray, s: int, seed: int) -> np.ndarray:
    """What an ideal reader of each cell alone gets from the noise alone: every opaque cell's
    true colour plus the error of the mean of its s*s pixels under the bench's noise (NOISE / s
    per channel: no blur, no drift, no JPEG, the true grid), decided between the palette colours
    by maximum a posteriori with the art's own colour frequencies as the prior; alpha is given.

    The blur and the resampling mix cells without adding to what the pixels say of them, and
    JPEG is a function of the noisy picture, so the degraded picture holds no more about a cell
    than this one does (data processing; a slide gives a cell a few hundredths of a pixel more
    or less), and the mean of a flat cell's pixels is all they say about its colour: no method
    that decides each cell on its own can expect more. A prior over neighbours can, where the
    art's neighbours repeat (assign.py's does)."""
    rng = np.random.default_rng([seed, s, 7])
    opaque = art[..., 3] >= 128
    true = art[..., :3][opaque].astype(np.float64)
    pal = palette.astype(np.float64)
    freq = np.array([(true == c).all(axis=1).sum() for c in pal], np.float64)
    sigma = NOISE / s
    seen = true + sigma * rng.standard_normal(true.shape)
    d2 = ((seen[:, None, :] - pal[None]) ** 2).sum(axis=2)
    post = np.log(np.maximum(freq, 0.5))[None] - d2 / (2 * sigma**2)
    out = np.zeros_like(art)
    out[opaque, :3] = pal[post.argmax(axis=1)].astype(np.uint8)
    out[opaque, 3] = 255
    return out


def _pixeloe() -> Callable[..., Any] | None:
    """PixelOE's numpy ("legacy") pixelize, if the package (and its cv2, torch) can be imported."""
    for mod in ("pixeloe.legacy.pixelize", "pixeloe.pixelize"):
        try:
            return importlib.import_module(mod).pixelize  # type: ignore[no-any-return]
        except Exception:
            continue
    return None


def pixeloe_reduce(
    image: np.ndarray,
    size: tuple[int, int],
    palette: np.ndarray,
    s: int,
    key: tuple[int, int, int] | None,
) -> np.ndarray | None:
    """PixelOE's contrast mode without outline expansion (thickness 0: its default of 2 widens
    the lines of art that is already pixel art, and scores lower here), no colour matching; its
    colours snapped to the palette as the naive baseline's are (told the key: PixelOE keeps no
    transparency). None if unavailable."""
    pz = _pixeloe()
    if pz is None:
        return None
    bgr = np.ascontiguousarray(image[..., ::-1])
    y = pz(bgr, mode="contrast", target_size=size, patch_size=s, thickness=0,
           color_matching=False, no_upscale=True)  # fmt: skip
    y = np.ascontiguousarray(np.asarray(y)[..., ::-1])
    if y.shape[:2] != (size[1], size[0]):
        y = np.asarray(Image.fromarray(y).resize(size, Image.Resampling.NEAREST))
    return naive(y, size, palette, key)


def params_for(method: str, key: tuple[int, int, int] | None) -> PixelParams:
    """The PixelParams of a named pixelize reduction ('defaults', 'image', 'best', '+bg', ...)."""
    bg = "none" if key is None else "#{:02x}{:02x}{:02x}".format(*key)
    if method == "defaults":
        return PixelParams()
    if method == "image":
        extra = dict(getattr(defaults, "IMPORT_PIXEL", {}))
        extra.pop("upscale", None)
        return PixelParams(**extra)
    if method == "best":
        return PixelParams(method="fit", background=bg, remove_orphans=False)
    if method == "+bg":
        return PixelParams(background=bg)
    if method == "+orphans":
        return PixelParams(remove_orphans=False)
    if method == "+phase":
        return PixelParams(phase_search=False)
    raise ValueError(method)


# ---- scores ---------------------------------------------------------------------------------


def cell_accuracy(out: np.ndarray, art: np.ndarray) -> float:
    """Share of cells right: both transparent, or both opaque in exactly the same RGB."""
    to, ta = out[..., 3] < 128, art[..., 3] < 128
    same = (to & ta) | (~to & ~ta & (out[..., :3] == art[..., :3]).all(-1))
    return float(same.mean())


# CIEDE2000 colour difference at which two colours look the same on a screen: about one just
# noticeable difference. A palette's #000000 and #010101 are 0.16 apart (no viewer can tell
# them, and no cell of a degraded picture can be asked to); black and (2, 6, 2) are 2.6 apart.
VISIBLE = 1.0


def visible_accuracy(out: np.ndarray, art: np.ndarray) -> float:
    """Share of cells right to the eye: both transparent, or both opaque and within VISIBLE in
    CIEDE2000 (scikit-image's CIELAB and CIEDE2000)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    to, ta = out[..., 3] < 128, art[..., 3] < 128
    near = deltaE_ciede2000(rgb2lab(out[..., :3]), rgb2lab(art[..., :3])) <= VISIBLE
    return float(((to & ta) | (~to & ~ta & near)).mean())


def opaque_accuracy(out: np.ndarray, art: np.ndarray) -> float:
    """Share of the art's opaque cells that come out opaque in exactly the same RGB (the footing
    PixelOE, which keeps no transparency, is compared on)."""
    op = art[..., 3] >= 128
    same = (out[..., 3] >= 128) & (out[..., :3] == art[..., :3]).all(-1)
    return float(same[op].mean()) if op.any() else 1.0


def best_shift(out: np.ndarray, art: np.ndarray) -> tuple[tuple[int, int], float]:
    """The whole-cell shift (dx, dy) in -1..1 of `out` that best matches `art`, and the cell
    accuracy there (on the overlap). A shift wins over (0, 0) only by more than 0.02: one that
    does is a phase error of a whole cell."""
    h, w = art.shape[:2]
    at, best = (0, 0), cell_accuracy(out, art)
    base = best
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if (dx, dy) == (0, 0):
                continue
            o = out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)]
            a = art[max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
            acc = cell_accuracy(o, a)
            if acc > max(best, base + 0.02):
                best, at = acc, (dx, dy)
    return at, best


def palette_compliance(out: np.ndarray, palette: np.ndarray) -> float:
    """Share of opaque output pixels whose colour is on the palette (1.0 when all are)."""
    op = out[..., 3] >= 128
    if not op.any():
        return 1.0
    pal = {tuple(c) for c in np.asarray(palette).reshape(-1, 3).tolist()}
    return float(np.mean([tuple(c) in pal for c in out[op][:, :3].tolist()]))


def binary_alpha(out: np.ndarray) -> bool:
    return bool(np.isin(out[..., 3], (0, 255)).all())


# ---- one image ------------------------------------------------------------------------------


def _notes(notes: list[str]) -> tuple[list[str], ...]:
    """pixelize's notes argument (what it tells the user), where this version has one."""
    return (notes,) if "notes" in inspect.signature(pixelize).parameters else ()


def run_case(
    img: corpus.CorpusImage, s: int, seed: int, toggles: bool = True, pixeloe: bool = False
) -> dict[str, Any]:
    """Degrade one image at one scale and seed, reduce it every way, score each."""
    art, pal = img.art, img.palette
    h, w = art.shape[:2]
    t0 = time.perf_counter()
    deg = degrade(art, s, seed)
    t_deg = time.perf_counter() - t0
    res: dict[str, Any] = {
        "name": img.name,
        "scale": s,
        "seed": seed,
        "key": deg.key,
        "offset": deg.offset,
        "slide": deg.slide,
        "scores": {},
        "errors": {},
    }
    names = ["defaults", "image", "best"] + (["+bg", "+orphans", "+phase"] if toggles else [])
    timings = {"degrade": t_deg}
    for m in [*names, "naive", "ceiling", *(["pixeloe"] if pixeloe else [])]:
        t = time.perf_counter()
        try:
            if m == "naive":
                out = naive(deg.image, (w, h), pal, deg.key)
            elif m == "ceiling":
                out = ceiling(art, pal, s, seed)
            elif m == "pixeloe":
                out = pixeloe_reduce(deg.image, (w, h), pal, s, deg.key)
                if out is None:
                    continue
            else:
                notes: list[str] = []
                out = pixelize(deg.image, (w, h), pal, params_for(m, deg.key), *_notes(notes))
                if m == "defaults" and notes:
                    res["defaults_notes"] = notes
        except Exception as e:  # a failure scores 0 and is reported, the run goes on
            res["errors"][m] = f"{type(e).__name__}: {e}"
            res["scores"][m] = {"accuracy": 0.0, "opaque_accuracy": 0.0, "compliance": 0.0,
                                "visible_accuracy": 0.0, "binary_alpha": False}  # fmt: skip
            continue
        timings[m] = time.perf_counter() - t
        if m == "defaults":
            shift, acc = best_shift(out, art)
            res["defaults_shift"] = {"dx": shift[0], "dy": shift[1], "accuracy": acc}
        res["scores"][m] = {
            "accuracy": cell_accuracy(out, art),
            "opaque_accuracy": opaque_accuracy(out, art),
            "visible_accuracy": visible_accuracy(out, art),
            "compliance": palette_compliance(out, pal),
            "binary_alpha": binary_alpha(out),
        }
    res["seconds"] = timings
    return res


def case_seed(name: str, i: int) -> int:
    """The seed of run `i` of an image: its own drift, key and noise, the same on every machine."""
    return 1000 * i + zlib.crc32(name.encode()) % 1000


def fits(img: corpus.CorpusImage, s: int) -> bool:
    """Whether the x`s` picture of `img` stays within MAX_INPUT (an image model's canvas)."""
    return max(img.art.shape[:2]) * s <= MAX_INPUT


def _image_cases(
    args: tuple[corpus.CorpusImage, tuple[int, ...], int, bool],
) -> list[dict[str, Any]]:
    img, scales, seeds, oe = args
    return [
        run_case(img, s, case_seed(img.name, i), pixeloe=oe)
        for s in scales
        if fits(img, s)
        for i in range(seeds)
    ]


# ---- speed ----------------------------------------------------------------------------------


def speed(images: list[corpus.CorpusImage], repeats: int = 5) -> dict[str, Any]:
    """1024x1024 -> 64x64 with defaults, one thread: a 64x64 tile and a sprite padded to 64x64."""
    by = {im.name: im for im in images}
    cases: dict[str, np.ndarray] = {}
    tile = next((im for im in images if im.art.shape[:2] == (64, 64) and not im.has_alpha), None)
    if tile is not None:
        cases[f"tile {tile.name}"] = tile.art
    sprite = by.get("dcss-nessos") or next((im for im in images if im.kind == "sprite"), None)
    if sprite is not None:
        pad = np.zeros((64, 64, 4), np.uint8)
        a = sprite.art[:64, :64]
        y, x = (64 - a.shape[0]) // 2, (64 - a.shape[1]) // 2
        pad[y : y + a.shape[0], x : x + a.shape[1]] = a
        cases[f"sprite {sprite.name} (padded)"] = pad
    out: dict[str, Any] = {
        "task": "1024x1024 -> 64x64, defaults and image: entry settings, 1 thread, degraded x16"
    }
    for name, art in cases.items():
        img = degrade(art, 16, 7).image
        pal = corpus.opaque_colors(art)
        for method in ("defaults", "image"):
            p = params_for(method, None)
            pixelize(img, (64, 64), pal, p)
            ts = []
            for _ in range(repeats):
                t = time.perf_counter()
                pixelize(img, (64, 64), pal, p)
                ts.append(time.perf_counter() - t)
            out[f"{name}, {method}"] = {
                "median_ms": 1000 * float(np.median(ts)),
                "min_ms": 1000 * min(ts),
                "colors": len(pal),
            }
    return out


# ---- aggregation and tables -----------------------------------------------------------------


def aggregate(cases: list[dict[str, Any]], images: list[corpus.CorpusImage]) -> dict[str, Any]:
    """Per image and scale: mean accuracy over seeds per method; totals per scale."""
    kind = {im.name: im.kind for im in images}
    per: dict[tuple[str, int], dict[str, list[float]]] = {}
    comp: dict[str, list[float]] = {}
    alpha_ok: dict[str, bool] = {}
    for c in cases:
        d = per.setdefault((c["name"], c["scale"]), {})
        for m, sc in c["scores"].items():
            d.setdefault(m, []).append(sc["accuracy"])
            d.setdefault(f"{m}:opaque", []).append(sc.get("opaque_accuracy", float("nan")))
            d.setdefault(f"{m}:visible", []).append(sc.get("visible_accuracy", float("nan")))
            comp.setdefault(m, []).append(sc["compliance"])
            alpha_ok[m] = alpha_ok.get(m, True) and sc["binary_alpha"]
    rows = []
    for (name, s), d in per.items():
        rows.append(
            {
                "name": name,
                "kind": kind[name],
                "scale": s,
                **{m: float(np.mean(v)) for m, v in d.items()},
            }
        )
    scales = sorted({r["scale"] for r in rows})
    methods = [m for m in (*METHODS, *(f"+{t}" for t in TOGGLES)) if any(m in r for r in rows)]
    totals = {}
    for s in scales:
        rs = [r for r in rows if r["scale"] == s]
        t: dict[str, Any] = {"n": len(rs)}
        t["opaque_cells"] = {
            m: float(np.mean([r[f"{m}:opaque"] for r in rs if f"{m}:opaque" in r]))
            for m in methods
            if any(f"{m}:opaque" in r for r in rs)
        }
        for m in methods:
            v = [(r[m], r["name"]) for r in rs if m in r]
            if not v:
                continue
            worst = min(v)
            t[m] = {
                "mean": float(np.mean([a for a, _ in v])),
                "worst": worst[0],
                "worst_image": worst[1],
            }
        t["visible"] = {}
        for m in methods:
            v = [(r[f"{m}:visible"], r["name"]) for r in rs if f"{m}:visible" in r]
            if v:
                worst = min(v)
                t["visible"][m] = {"mean": float(np.mean([a for a, _ in v])), "worst": worst[0],
                                   "worst_image": worst[1]}  # fmt: skip
        for m in ("defaults", "image"):
            if m in methods:
                t[f"{m}_ge_naive"] = float(np.mean([r[m] >= r["naive"] - 1e-12 for r in rs]))
        t["by_kind"] = {
            k: {
                m: float(np.mean([r[m] for r in rs if r["kind"] == k and m in r]))
                for m in ("defaults", "image", "best", "naive")
            }
            for k in corpus.KINDS
            if any(r["kind"] == k for r in rs)
        }
        totals[str(s)] = t
    shifted: dict[str, list[bool]] = {}
    for c in cases:
        sh = c.get("defaults_shift")
        if sh is not None:
            shifted.setdefault(c["name"], []).append((sh["dx"], sh["dy"]) != (0, 0))
    for s in scales:
        sc = [c for c in cases if c["scale"] == s and "defaults_shift" in c]
        totals[str(s)]["defaults_cell_shifted"] = float(
            np.mean([(c["defaults_shift"]["dx"], c["defaults_shift"]["dy"]) != (0, 0) for c in sc])
        )
        totals[str(s)]["defaults_shift_forgiven"] = float(
            np.mean([c["defaults_shift"]["accuracy"] for c in sc])
        )
    attribution = []
    for name in dict.fromkeys(r["name"] for r in rows):
        rs = [r for r in rows if r["name"] == name]
        a = {"name": name, "kind": kind[name], "shifted": float(np.mean(shifted.get(name, [0])))}
        for tg in TOGGLES:
            if all(f"+{tg}" in r for r in rs):
                a[tg] = float(np.mean([r[f"+{tg}"] - r["defaults"] for r in rs]))
        attribution.append(a)
    return {
        "per_image": rows,
        "totals": totals,
        "attribution": attribution,
        "palette_compliance_min": {m: float(min(v)) for m, v in comp.items()},
        "binary_alpha_all": alpha_ok,
    }


def closest_pair(palette: np.ndarray) -> float:
    """The OKLab distance between the two closest palette colours (inf for one colour)."""
    lab = srgb_to_oklab(palette)
    d = np.sqrt(((lab[:, None] - lab[None]) ** 2).sum(-1))
    d[np.eye(len(lab), dtype=bool)] = np.inf
    return float(d.min()) if len(lab) > 1 else float("inf")


def _fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def print_tables(agg: dict[str, Any], images: list[corpus.CorpusImage]) -> None:
    rows = agg["per_image"]
    scales = sorted({r["scale"] for r in rows})
    cols = ("defaults", "image", "best", "naive", "ceiling")
    has_oe = any("pixeloe" in r for r in rows)
    if has_oe:
        cols = (*cols, "pixeloe")
    size = {im.name: f"{im.art.shape[1]}x{im.art.shape[0]}" for im in images}
    colors = {im.name: len(im.palette) for im in images}
    dmin = {im.name: closest_pair(im.palette) for im in images}
    print(
        "\ncell accuracy per image, mean over seeds (def = defaults, img = image: entry, "
        "best, nai = naive; +bg/+orph/+phase: accuracy gained by defaults with that one setting "
        "changed; off%: runs where defaults come out a whole cell off; dmin: OKLab distance x100 "
        "of the two closest palette colours)"
    )
    short = {"defaults": "def", "image": "img", "best": "best", "naive": "nai", "ceiling": "ceil",
             "pixeloe": "oe"}  # fmt: skip
    head = f"{'image':26s} {'kind':6s} {'size':7s} {'col':>3s}"
    for s in scales:
        head += " |" + "".join(f" {short[c] + str(s):>6s}" for c in cols)
    head += " | +bg    +orph  +phase  off% dmin"
    print(head)
    print("-" * len(head))
    att = {a["name"]: a for a in agg["attribution"]}
    for name in dict.fromkeys(r["name"] for r in rows):
        kind = next(r["kind"] for r in rows if r["name"] == name)
        line = f"{name[:26]:26s} {kind:6s} {size[name]:7s} {colors[name]:3d}"
        for s in scales:
            r = next((x for x in rows if x["name"] == name and x["scale"] == s), None)
            line += " |" + "".join(f" {_fmt(r.get(c) if r else None):>6s}" for c in cols)
        a = att[name]
        line += " | " + " ".join(f"{a.get(t, float('nan')):+.3f}" for t in TOGGLES)
        line += f" {100 * a['shifted']:4.0f} {100 * dmin[name]:4.1f}"
        print(line)
    print("\ntotals per scale (mean accuracy over images; worst image in brackets)")
    for s, t in agg["totals"].items():
        print(f"x{s} ({t['n']} images):")
        for m in (*cols, "+bg", "+orphans", "+phase"):
            if m in t:
                v = t[m]
                print(
                    f"  {m:9s} mean {v['mean']:.4f}   worst {v['worst']:.3f} ({v['worst_image']})"
                )
        print(
            f"  defaults >= naive on {100 * t['defaults_ge_naive']:.0f}% of images"
            + (
                f"; image: entry >= naive on {100 * t['image_ge_naive']:.0f}%"
                if "image_ge_naive" in t
                else ""
            )
        )
        print(
            f"  defaults output off by a whole cell (phase error) in "
            f"{100 * t['defaults_cell_shifted']:.0f}% of runs; with that shift forgiven, defaults "
            f"mean {t['defaults_shift_forgiven']:.4f}"
        )
        print(
            f"  right to the eye (colours within CIEDE2000 {VISIBLE:g} count as one): "
            + ", ".join(
                f"{m} {v['mean']:.4f} (worst {v['worst']:.3f} {v['worst_image']})"
                for m, v in t["visible"].items()
                if m in cols
            )
        )
        print(
            "  opaque-cell accuracy (colour where the art is opaque): "
            + ", ".join(f"{m} {v:.3f}" for m, v in t["opaque_cells"].items() if m[0] != "+")
        )
        print(
            "  by kind: "
            + "; ".join(
                f"{k} " + " ".join(f"{short[m]} {v:.3f}" for m, v in d.items())
                for k, d in t["by_kind"].items()
            )
        )
    print(
        "\npalette compliance (worst over all runs): "
        + ", ".join(f"{m} {v:.4f}" for m, v in agg["palette_compliance_min"].items())
    )
    print(
        "alpha only 0/255 in every output: "
        + ", ".join(f"{m} {'yes' if v else 'NO'}" for m, v in agg["binary_alpha_all"].items())
    )
    print(
        "\nwhat each default setting loses (accuracy gained by changing it, mean over scales "
        "and seeds; images gaining > 0.005):"
    )
    for tg, label in zip(
        TOGGLES,
        ("background auto (-> none / the key)", "remove_orphans", "phase_search"),
        strict=True,
    ):
        gains = sorted(
            ((a[tg], a["name"], a["kind"]) for a in agg["attribution"] if tg in a), reverse=True
        )
        big = [g for g in gains if g[0] > 0.005]
        worse = [g for g in gains if g[0] < -0.005]
        top = ", ".join(f"{n} ({k}) {g:+.3f}" for g, n, k in big[:6])
        print(
            f"  {label}: {len(big)} images lose to it, {len(worse)} gain from it; "
            f"mean {np.mean([g[0] for g in gains]):+.4f}" + (f"; most: {top}" if top else "")
        )
    sh = sorted(((a["shifted"], a["name"], a["kind"]) for a in agg["attribution"]), reverse=True)
    sh = [x for x in sh if x[0] > 0]
    worst = ", ".join(f"{n} ({k}) {100 * f:.0f}% of runs" for f, n, k in sh[:8])
    print(
        f"  phase errors: defaults come out a whole cell off on {len(sh)} images"
        + (f": {worst}" if sh else "")
    )


def code_state() -> dict[str, Any]:
    """The commit measured and the files of pixelbuild/ changed on top of it (read-only git)."""
    import subprocess

    def git(*args: str) -> str:
        try:
            r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return ""
        return r.stdout.strip() if r.returncode == 0 else ""

    # (porcelain lines are "XY path": the stripped output has lost the first line's blank X)
    dirty = [
        ln.split(maxsplit=1)[1]
        for ln in git("status", "--porcelain", "--", "pixelbuild").splitlines()
    ]
    return {"head": git("rev-parse", "--short", "HEAD"), "dirty": dirty}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="x8 only, 1 seed, 20 images")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scales", default=",".join(map(str, SCALES)))
    ap.add_argument("--cache", type=Path, default=None, help="corpus cache folder")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--only", default="", help="comma-separated image names")
    ap.add_argument("--pixeloe", action="store_true", help="also PixelOE (slow), if importable")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "realart.json")
    a = ap.parse_args()
    t0 = time.perf_counter()
    code = code_state()
    images = corpus.load(a.cache)
    if not images:
        sys.exit("no corpus image could be fetched: see `python bench/corpus.py`")
    scales = tuple(int(x) for x in a.scales.split(","))
    seeds = a.seeds
    if a.quick:
        scales, seeds = (8,), 1
        # 20 images spread over the corpus order (which groups sources and kinds)
        step = max(1, len(images) / 20)
        images = [images[int(i * step)] for i in range(min(20, len(images)))]
    if a.only:
        keep = set(a.only.split(","))
        images = [im for im in images if im.name in keep]
    oe = a.pixeloe and _pixeloe() is not None
    oe_note = "on" if oe else ("not importable (skipped)" if a.pixeloe else "off (--pixeloe)")
    print(
        f"{len(images)} images, scales {scales}, {seeds} seed(s), {a.jobs} job(s); "
        f"PixelOE {oe_note}"
    )
    jobs = [(im, scales, seeds, oe) for im in images]
    cases: list[dict[str, Any]] = []
    if a.jobs > 1:
        with ProcessPoolExecutor(a.jobs) as ex:
            for got in ex.map(_image_cases, jobs):
                cases.extend(got)
    else:
        for j in jobs:
            cases.extend(_image_cases(j))
    t_fid = time.perf_counter() - t0
    sp = speed(corpus.load(a.cache))
    agg = aggregate(cases, images)
    print_tables(agg, images)
    print("\nspeed: " + sp["task"])
    for k, v in sp.items():
        if isinstance(v, dict):
            print(
                f"  {k}: median {v['median_ms']:.1f} ms (min {v['min_ms']:.1f}; "
                f"{v['colors']} colours)"
            )
    errors = [(c["name"], c["scale"], m, e) for c in cases for m, e in c["errors"].items()]
    for e in errors[:20]:
        print("error:", *e)
    wall = time.perf_counter() - t0
    print(
        f"\nfidelity {t_fid:.0f} s, total {wall:.0f} s; code {code['head']}"
        + (f" + uncommitted {', '.join(code['dirty'])}" if code["dirty"] else "")
    )
    result = {
        "bench": "realart",
        "quick": a.quick,
        "scales": list(scales),
        "seeds": seeds,
        "degradation": {
            "offset_upscaled_px": OFFSET_PX,
            "slide_art_px": SLIDE,
            "blur_sigma_px_at_x8": BLUR,
            "noise_sigma": NOISE,
            "jpeg_quality": JPEG_Q,
            "keys": KEYS,
        },
        "params": {m: repr(params_for(m, (255, 0, 255))) for m in ("defaults", "image", "best")},
        "images": [im.meta for im in images],
        **agg,
        "cases": cases,
        "errors": errors,
        "speed": sp,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
        },
        "wall_s": wall,
        "code": code,
    }
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(result, indent=1))
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
