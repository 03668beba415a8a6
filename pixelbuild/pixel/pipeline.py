"""`pixelize`: smooth (diffusion) image -> true pixel art of a known size on a fixed palette."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import limits
from ..colors import parse_color
from ..defaults import PIXEL
from ..errors import Issue
from . import alpha as alpha_ops
from . import cellfit
from .assign import assign
from .dither import PERIODS, dither_cells, dither_period
from .oklab import oklab_to_srgb, srgb_to_oklab
from .quantize import PaletteMap, cells6, palette_map
from .reduce import (
    AxisGrid,
    axis_samples,
    best_grid,
    cell_counts,
    expand_outlines,
    gather_blocks,
    kcentroid_colors,
    majority,
    median_colors,
    nominal,
)

METHODS = ("majority", "nearest", "median", "kcentroid", "contrast", "fit")
# auto: flood the border colour in from the border; key: remove the border colour everywhere, if
# it is a key colour (none of the palette's); none: keep everything. Or a colour: that key.
BACKGROUNDS = ("auto", "key", "none")


@dataclass(frozen=True, slots=True)
class PixelParams:
    """Resolved pixelize settings (the manifest's PixelSettings with defaults applied)."""

    method: str = PIXEL["method"]
    phase_search: bool = PIXEL["phase_search"]
    dither: str = PIXEL["dither"]
    dither_strength: float = PIXEL["dither_strength"]
    background: str = PIXEL["background"]
    tolerance: float = PIXEL["tolerance"]
    remove_orphans: bool = PIXEL["remove_orphans"]
    outline: str = PIXEL["outline"]
    upscale: int = PIXEL["upscale"]
    tileable: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            known = ", ".join(METHODS)
            raise ValueError(f"unknown method {self.method!r}; expected one of {known}")
        if self.dither != "none" and self.dither not in PERIODS:
            raise ValueError(f"unknown dither {self.dither!r}; expected none or bayer2/4/8")
        if not 0.0 <= self.dither_strength <= 1.0:
            raise ValueError("dither_strength must be within 0..1")
        if self.background not in BACKGROUNDS:
            parse_color(self.background)
        if self.outline not in ("auto", "none"):
            parse_color(self.outline)
        if self.tolerance < 0:
            raise ValueError("tolerance must be >= 0")
        if int(self.upscale) != self.upscale or self.upscale < 1:
            raise ValueError("upscale must be a positive integer")


def _as_image(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"expected an (H, W, 3) or (H, W, 4) image, got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    return a


# OKLab of every 6-bit sRGB cell centre, for cheap colour-distance masks over whole images.
_CELL_LAB: np.ndarray | None = None


def _cell_lab() -> np.ndarray:
    global _CELL_LAB
    if _CELL_LAB is None:
        v = (np.arange(64) * 4 + 1.5).astype(np.float32)
        g = np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(-1, 3)
        _CELL_LAB = srgb_to_oklab(g)
    return _CELL_LAB


def _near_mask(cells: np.ndarray, target_lab: np.ndarray, tol: float) -> np.ndarray:
    """Pixels within `tol` (OKLab) of a colour, through the 6-bit cell table (exact to ~1/100)."""
    t = _cell_lab()
    d = (t[:, 0] - target_lab[0]) ** 2
    d += (t[:, 1] - target_lab[1]) ** 2
    d += (t[:, 2] - target_lab[2]) ** 2
    return (d <= np.float32(tol * tol)).take(cells)


# `background: auto` removes a background only where one is plausible: most of the border one
# colour, and at most this share of the cells removed (more is the picture itself).
BORDER_SHARE = 0.6
MAX_REMOVED = 0.95


def _ring(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


@dataclass(frozen=True, slots=True)
class _Ring:
    """The border pixels of an image: colours, 6-bit cells, palette indices, and whether the
    image brings its own transparency (then there is no background to find)."""

    rgb: np.ndarray
    cells: np.ndarray
    idx: np.ndarray
    transparent: bool

    @classmethod
    def of(cls, img: np.ndarray, pm: PaletteMap) -> _Ring:
        rgb = _ring(img[..., :3])
        cells = cells6(rgb)
        clear = img.shape[2] == 4 and bool((img[..., 3] < 128).any())
        return cls(rgb, cells, pm.index(rgb, cells), clear)


def _border_color(ring: _Ring, notes: list[str]) -> np.ndarray | None:
    """The background colour (OKLab) read from the image border, or None when the border holds
    no plausible background (transparent already, or not mostly one colour)."""
    if ring.transparent:
        return None  # the image brings its own transparency: nothing to flood
    px, ids = ring.rgb, ring.idx
    counts = np.bincount(ids)
    mode = int(counts.argmax())
    if counts[mode] < BORDER_SHARE * len(ids):
        notes.append(
            f"background kept: the border is not one colour (the most common covers "
            f"{counts[mode] / len(ids):.0%}); set `background:` to a colour or 'none'"
        )
        return None
    return np.median(srgb_to_oklab(px[ids == mode]), axis=0).astype(np.float32)


OWN_MARGIN = 8.0  # sRGB levels: a pixel this much nearer a blend than its own colour is a blend


def _unmix_cells(px, transparent, bg_rgb, pal, pm):
    """Alpha and colour of cells (n, m, 3) whose pixels may be blends of background and sprite.

    Each pixel is read as alpha*F + (1-alpha)*B for the palette colour F whose blend line passes
    closest to it (sRGB, where painting and blurring mix); if no line passes within 24 levels, or
    the pixel is about as close to its own (snapped) colour, it is that colour with alpha 1 (on
    white, every grey lies on the line to black: a grey pixel is grey, not a faded black). A
    cell is opaque when the alpha it collects outweighs the background it collects; its colour
    is the F with the most alpha.
    """
    n, m, _ = px.shape
    c = px.reshape(-1, 3).astype(np.float32)
    f = pal.astype(np.float32)
    color = pm.index(px.reshape(-1, 3)).astype(np.intp)  # each pixel's own (snapped) colour
    alpha = np.ones(len(c), np.float32)
    own_res = ((c - f[color]) ** 2).sum(1)
    # A pixel within OWN_MARGIN of its own colour is that colour whatever the lines say.
    sel = np.flatnonzero(own_res > OWN_MARGIN**2)
    b = bg_rgb.astype(np.float32)
    fb = f - b  # (K, 3)
    den = np.maximum((fb**2).sum(1), 1.0)
    cb = c[sel] - b  # (N, 3)
    dot = cb[:, 0:1] * fb[:, 0]  # (N, K); in place from here on (these are the big arrays)
    dot += cb[:, 1:2] * fb[:, 1]
    dot += cb[:, 2:3] * fb[:, 2]
    a = dot / den
    np.clip(a, 0.0, 1.0, out=a)
    # |cb - a*fb|^2 = |cb|^2 + a*(a*|fb|^2 - 2*dot), without an (N, K, 3) temporary
    res = a * (fb**2).sum(1)
    res -= 2 * dot
    res *= a
    res += (cb**2).sum(1)[:, None]
    best = res.argmin(axis=1)
    ar = np.arange(len(sel))
    r = res[ar, best]
    on_line = (r <= 24.0**2) & (own_res[sel] > r + OWN_MARGIN**2)
    color[sel[on_line]] = best[on_line]
    alpha[sel[on_line]] = a[ar, best][on_line]
    if transparent is not None:
        alpha = np.where(transparent.ravel(), 0.0, alpha)
    k = len(pal)
    cell = np.repeat(np.arange(n), m)
    votes = np.bincount(cell * k + color, weights=alpha, minlength=n * k).reshape(n, k)
    clear = np.bincount(cell, weights=1.0 - alpha, minlength=n)
    return votes.sum(axis=1) > clear, votes.argmax(axis=1)


def pixelize(
    image: np.ndarray,
    size: tuple[int, int],
    palette: np.ndarray,
    params: PixelParams | None = None,
    notes: list[str] | None = None,
) -> np.ndarray:
    """Reduce `image` (uint8 RGB/RGBA, any size) to `size` = (width, height) on `palette` (K, 3).

    Returns uint8 (height, width, 4): RGB only from the palette, alpha 0 or 255, transparent RGB 0.
    Deterministic. The upscale setting is not applied here (see `upscale`). What the user should
    know (a background that was not plausible, so kept) is appended to `notes`.

    Stages: snap every source pixel to the palette; mark background candidates; find the grid
    phase; let each cell vote, removing background without halos; refine with the chosen
    method; dither; then drop orphans and draw the outline. `method: fit` (for enlarged true
    pixel art: `image:` entries) replaces the snap, grid and vote by cellfit's fitted cells.
    """
    p = params or PixelParams()
    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise ValueError(f"target size must be positive, got {size}")
    pal = np.ascontiguousarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(pal) == 0:
        raise ValueError("empty palette")
    pm = palette_map(pal)
    img = _as_image(image)
    if img.shape[0] < h or img.shape[1] < w:  # smaller than the target: nearest upscale first
        fy, fx = math.ceil(h / img.shape[0]), math.ceil(w / img.shape[1])
        img = np.repeat(np.repeat(img, fy, axis=0), fx, axis=1)

    notes = [] if notes is None else notes
    if p.method == "fit" and img.shape[:2] != (h, w):
        return _finish(_fit_cells(img, (w, h), p, pm, notes), pal, pm, p)
    src = _snap(img, (w, h), p, pm)
    bg, cand = _background_candidates(src, p, pm, notes)
    ys, xs = _grid(src, (w, h), p)
    choice, removed, clear = _vote(src, cand, ys, xs, (w, h), p, pm)
    flooded = p.background == "auto"  # a key colour is never the art's: it may be everything
    if cand is not None and flooded and (removed & ~clear).mean() > MAX_REMOVED:
        notes.append(
            f"background kept: removing it would leave {1 - removed.mean():.0%} of the picture; "
            "set `background:` to a colour or 'none'"
        )
        bg = cand = None
        choice, removed, clear = _vote(src, None, ys, xs, (w, h), p, pm)
    if cand is not None and bg is not None:
        choice, removed = _unmix_fringe(src, bg, ys, xs, choice, removed, clear, pm)
    choice = _refine(src, ys, xs, choice, p, pm)
    choice = _dither(src, ys, xs, choice, (w, h), p, pm)

    out_idx = np.where(removed.ravel(), alpha_ops.TRANSPARENT, choice).reshape(h, w)
    if p.remove_orphans and img.shape[:2] != (h, w):  # art given at its own size: as drawn
        out_idx = alpha_ops.remove_orphans(out_idx, wrap=p.tileable)
    return _finish(out_idx, pal, pm, p)


def _finish(out_idx: np.ndarray, pal: np.ndarray, pm: PaletteMap, p: PixelParams) -> np.ndarray:
    """The outline, if any, and the RGBA picture of an index map."""
    if p.outline != "none":
        if p.outline == "auto":
            oc = int(np.argmin(pm.lab[:, 0]))
        else:
            oc = int(pm.snap_lab(srgb_to_oklab(np.array(parse_color(p.outline), np.uint8))))
        out_idx = alpha_ops.add_outline(out_idx, oc, wrap=p.tileable)
    return compose(out_idx, pal)


def _fit_cells(
    img: np.ndarray, size: tuple[int, int], p: PixelParams, pm: PaletteMap, notes: list[str]
) -> np.ndarray:
    """`method: fit` (see cellfit): the index map (h, w) of cells fitted as blurred flat cells,
    each given its palette colour by `assign` (likelihood, and the neighbours between colours
    closer together than the fit's error).

    A cell is transparent where the fitted alpha is under one half, or where its colour is
    nearer the background than any palette colour or within `tolerance` of it (`key` or a
    colour: everywhere; `auto`: if connected to the border, and not more of the picture than a
    background can be).
    """
    w, h = size
    rgb = img[..., :3]
    alpha = img[..., 3] if img.shape[2] == 4 and bool((img[..., 3] < 128).any()) else None
    gx, gy = cellfit.fit_grid(rgb, size) if p.phase_search else cellfit.nominal_grid(img, size)
    blurs, noise = cellfit.colour_blurs(rgb, gx, gy, size)
    if alpha is None:
        colour = cellfit.cell_colours(rgb, size, gx, gy, blurs)
        opaque = np.ones((h, w), dtype=bool)
    else:
        a = alpha.astype(np.float32)[..., None] / 255
        v = cellfit.cell_colours(np.concatenate([rgb * a, a], axis=2), size, gx, gy, blurs)
        cover = v[..., 3]
        opaque = cover >= 0.5
        colour = v[..., :3] / np.maximum(cover, 1e-3)[..., None]
    colour = np.clip(colour, 0, 255)
    bg = background_color(_Ring.of(img, pm), p, pm, notes)
    entries = pm.palette if bg is None else np.vstack([pm.palette, oklab_to_srgb(bg)])
    seen = cellfit.observed(entries, cellfit.CLIP_NOISE * noise)
    key = None if bg is None else len(pm.palette)
    choice = assign(colour, seen, use=None if alpha is None else opaque, key=key)
    if alpha is None:  # (where the image has its own alpha, its transparent pixels hold no colour)
        choice = _vote_misfits(img, (gx, gy), colour, choice, seen)
    if bg is not None:
        choice, removed = _fit_background(colour, choice, bg, seen, p, notes)
        opaque &= ~removed
    period = dither_period(p.dither, w, h, p.tileable)
    if period and p.dither_strength > 0:
        lab = srgb_to_oklab(colour.astype(np.float32))
        choice = dither_cells(lab, pm, period, p.dither_strength)
    out = np.where(opaque, choice, alpha_ops.TRANSPARENT)
    if p.remove_orphans:
        out = alpha_ops.remove_orphans(out, wrap=p.tileable)
    return out


def _fit_background(
    colour: np.ndarray,
    choice: np.ndarray,
    bg: np.ndarray,
    seen: np.ndarray,
    p: PixelParams,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """The cells of fitted `colour` that are background (nearer it than any palette colour, the
    last of `seen`, or within `tolerance`), and the palette colour of those that stay."""
    near = np.sqrt(((srgb_to_oklab(colour.astype(np.float32)) - bg) ** 2).sum(-1))
    k = len(seen) - 1
    cand = (choice == k) | (near <= p.tolerance)
    removed = cand
    if p.background == "auto":
        removed = alpha_ops.flood_from_border(cand, wrap=p.tileable)
        if removed.mean() > MAX_REMOVED:
            notes.append(
                f"background kept: removing it would leave {1 - removed.mean():.0%} of the "
                "picture; set `background:` to a colour or 'none'"
            )
            removed = np.zeros_like(cand)
    if (cand & ~removed).any():
        choice = choice.copy()
        choice[cand] = cellfit.nearest(colour[cand], seen[:k])
    return choice, removed


MISFIT_LEVELS = 16.0  # a fitted cell this far (weighted Y'CbCr levels) from every entry


def _vote_misfits(
    img: np.ndarray,
    grids: tuple[AxisGrid, AxisGrid],
    colour: np.ndarray,
    choice: np.ndarray,
    entries: np.ndarray,
) -> np.ndarray:
    """Cells whose fitted colour lies far from every entry are not flat cells on the grid (a
    grid that wobbles, a soft detail): there each pixel votes for its nearest entry instead."""
    far = cellfit.distance(colour, entries[choice]) > MISFIT_LEVELS
    if not far.any():
        return choice
    (H, W), (h, w) = img.shape[:2], choice.shape
    ys, xs = axis_samples(H, h, grids[1]), axis_samples(W, w, grids[0])
    cy, cx = np.nonzero(far)
    px = img[ys[cy][:, :, None], xs[cx][:, None, :], :3].reshape(len(cy), -1, 3)
    near = cellfit.nearest(px.astype(np.float32), entries)
    k = len(entries)
    votes = np.bincount((np.arange(len(cy))[:, None] * k + near).ravel(), minlength=len(cy) * k)
    choice = choice.copy()
    choice[cy, cx] = votes.reshape(len(cy), k).argmax(axis=1)
    return choice


@dataclass(frozen=True, slots=True)
class _Source:
    """The source image snapped to the palette. `code` is the palette index of each pixel, or
    `k` (the palette size) where the source is transparent."""

    rgb: np.ndarray
    transparent: np.ndarray | None
    cells: np.ndarray
    idx: np.ndarray
    code: np.ndarray
    k: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.code.shape  # (H, W)

    def ring(self) -> _Ring:
        clear = self.transparent is not None and bool(self.transparent.any())
        return _Ring(_ring(self.rgb), _ring(self.cells), _ring(self.idx), clear)


def _snap(img: np.ndarray, size: tuple[int, int], p: PixelParams, pm: PaletteMap) -> _Source:
    """Snap every source pixel to the palette (after outline expansion for `contrast`)."""
    rgb = img[..., :3]
    transparent = img[..., 3] < 128 if img.shape[2] == 4 else None
    if p.method == "contrast":
        scale = min(img.shape[0] / size[1], img.shape[1] / size[0])
        rgb = expand_outlines(rgb, srgb_to_oklab(rgb)[..., 0], scale)
    cells = cells6(rgb)
    idx = pm.index(rgb, cells)
    code = idx.astype(np.int16)
    k = len(pm.palette)
    if transparent is not None:
        code[transparent] = k
    return _Source(rgb, transparent, cells, idx, code, k)


# `background: key` needs this share of the border in one colour none of the palette's, at
# least this far from each palette colour in sRGB levels (Euclidean).
KEY_SHARE = 0.1
KEY_LEVELS = 24.0


def _key_color(ring: _Ring, pm: PaletteMap, p: PixelParams, notes: list[str]) -> np.ndarray | None:
    """The key colour (OKLab) on the border: the most common one that is none of the palette's
    (so not the art's), or None when the border holds no such colour (or its own transparency)."""
    if ring.transparent:
        return None
    rgb = ring.rgb
    lab = srgb_to_oklab(rgb)
    off = _lab_distance(lab, pm.lab) > p.tolerance
    key = None
    if off.sum() >= KEY_SHARE * len(lab):
        cells = ring.cells[off]
        mode = cells == np.bincount(cells).argmax()
        key_rgb = np.median(rgb[off][mode], axis=0)
        key = srgb_to_oklab(key_rgb.astype(np.float32)).astype(np.float32)
        # Clearly none of the palette's: OKLab is steep near black, where noise of a few levels
        # is already `tolerance` away, so a key must also be KEY_LEVELS away in sRGB.
        rgb_distance = np.sqrt(((pm.palette.astype(np.float32) - key_rgb) ** 2).sum(axis=1))
        held = _lab_distance(lab, key[None]) <= p.tolerance / 2  # one colour, not blends
        if rgb_distance.min() <= KEY_LEVELS or held.sum() < KEY_SHARE * len(lab):
            key = None
    if key is None and p.background == "key" and off.any():
        notes.append(
            "background kept: the border is in the palette's colours, so it is part of the "
            "picture; set `background:` to the key colour or 'auto' to remove it"
        )
    return key


def _lab_distance(lab: np.ndarray, to: np.ndarray) -> np.ndarray:
    """OKLab distance of each colour in `lab` (N, 3) to the nearest of `to` (K, 3)."""
    return np.sqrt(((lab[:, None, :] - to[None, :, :]) ** 2).sum(-1)).min(axis=1)


def background_color(
    ring: _Ring, p: PixelParams, pm: PaletteMap, notes: list[str]
) -> np.ndarray | None:
    """The background colour (OKLab) to remove: the border colour (`auto`), the key colour, or
    the one given; None when there is none to remove."""
    if p.background == "none":
        return None
    if p.background == "auto":
        return _border_color(ring, notes)
    if p.background == "key":
        return _key_color(ring, pm, p, notes)
    return srgb_to_oklab(np.array(parse_color(p.background), dtype=np.uint8))


def _background_candidates(
    src: _Source, p: PixelParams, pm: PaletteMap, notes: list[str]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The background colour (OKLab) and the source pixels near it: near the border colour
    (`auto`) or the key colour. (None, None) when there is no background to remove."""
    bg = background_color(src.ring(), p, pm, notes)
    if bg is None:
        return None, None
    cand = _near_mask(src.cells, bg, p.tolerance)
    if src.transparent is not None:
        cand &= ~src.transparent
    return bg, cand


def _grid(src: _Source, size: tuple[int, int], p: PixelParams) -> tuple[np.ndarray, np.ndarray]:
    """Source rows and columns sampled by each target cell, at the best grid phase."""
    (H, W), (w, h) = src.shape, size
    gx, gy = nominal(W, w), nominal(H, h)
    if p.phase_search:
        gx = best_grid(src.code, 1, w, min_edge=H / h / 2)
        gy = best_grid(src.code, 0, h, min_edge=W / w / 2)
    return axis_samples(H, h, gy), axis_samples(W, w, gx)


def _vote(
    src: _Source,
    cand: np.ndarray | None,
    ys: np.ndarray,
    xs: np.ndarray,
    size: tuple[int, int],
    p: PixelParams,
    pm: PaletteMap,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each cell's majority colour, and which cells are removed (transparent or background).

    Returns (choice, removed, clear): `clear` cells were mostly transparent in the source.
    """
    (w, h), k = size, src.k
    nb = k + 1
    full = src.code
    if cand is not None:
        full = src.code + cand.astype(np.int16) * np.int16(nb)
    counts = cell_counts(gather_blocks(full, ys, xs), nb if cand is None else 2 * nb)
    col_all = counts[:, :nb] if cand is None else counts[:, :nb] + counts[:, nb:]
    n = counts.sum(axis=1)
    clear = (col_all[:, k] * 2 > n).reshape(h, w)
    removed = clear
    col = col_all[:, :k]
    if cand is not None:
        bgc = counts[:, nb : nb + k]
        passable = ((col_all[:, k] + bgc.sum(axis=1)) * 2 > n).reshape(h, w)
        if p.background == "auto":
            removed = clear | alpha_ops.flood_from_border(passable, wrap=p.tileable)
        else:
            removed = clear | passable
        # No halo: next to removed background, background-coloured pixels do not vote.
        edge = (alpha_ops.dilate8(removed) & ~removed).ravel()
        rest = col - bgc
        use = edge & (rest.sum(axis=1) > 0)
        col = col.copy()
        col[use] = rest[use]
    return majority(col, pm), removed, clear


def _unmix_fringe(
    src: _Source,
    bg: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    choice: np.ndarray,
    removed: np.ndarray,
    clear: np.ndarray,
    pm: PaletteMap,
) -> tuple[np.ndarray, np.ndarray]:
    """Cells on the background boundary: un-mix fringe pixels (background + one palette colour)
    to decide whether the cell is sprite or background, and its colour."""
    bg_removed = removed & ~clear
    ring = (alpha_ops.dilate8(bg_removed) & ~removed) | (bg_removed & alpha_ops.dilate8(~removed))
    if not ring.any():
        return choice, removed
    w = removed.shape[1]
    cy, cx = np.nonzero(ring)
    # At most ~8x8 samples per cell: enough to weigh alpha against colour.
    sy, sx = ys[:, :: max(1, ys.shape[1] // 8)], xs[:, :: max(1, xs.shape[1] // 8)]
    at = (sy[cy][:, :, None], sx[cx][:, None, :])
    px = src.rgb[at].reshape(len(cy), -1, 3)
    tr = None if src.transparent is None else src.transparent[at].reshape(len(cy), -1)
    opaque, color = _unmix_cells(px, tr, oklab_to_srgb(bg), pm.palette, pm)
    flat = cy * w + cx
    removed = removed.copy()
    removed[cy, cx] = ~opaque
    choice[flat[opaque]] = color[opaque]
    return choice, removed


def _refine(
    src: _Source,
    ys: np.ndarray,
    xs: np.ndarray,
    choice: np.ndarray,
    p: PixelParams,
    pm: PaletteMap,
) -> np.ndarray:
    """Replace the majority colours by the chosen method's (nearest, median, kcentroid)."""
    if p.method not in ("nearest", "median", "kcentroid"):
        return choice
    if p.method == "nearest":
        c = src.code[ys[:, ys.shape[1] // 2][:, None], xs[:, xs.shape[1] // 2][None, :]].ravel()
        return np.where(c < src.k, c, choice)
    valid = None if src.transparent is None else ~gather_blocks(src.transparent, ys, xs)
    if p.method == "median":
        rep = srgb_to_oklab(median_colors(gather_blocks(src.rgb, ys, xs), valid))
    else:
        rep = kcentroid_colors(gather_blocks(srgb_to_oklab(src.rgb), ys, xs), valid)
    ok = ~np.isnan(rep).any(axis=1)
    if ok.any():
        choice[ok] = pm.snap_lab(rep[ok])
    return choice


def _dither(
    src: _Source,
    ys: np.ndarray,
    xs: np.ndarray,
    choice: np.ndarray,
    size: tuple[int, int],
    p: PixelParams,
    pm: PaletteMap,
) -> np.ndarray:
    """Ordered dithering of smooth cells (gradients), leaving detailed cells as voted."""
    period = dither_period(p.dither, size[0], size[1], p.tileable)
    if not period or p.dither_strength <= 0:
        return choice
    blocks = gather_blocks(src.rgb, ys, xs).astype(np.float32)
    wt = (
        np.ones(blocks.shape[:4], np.float32)
        if src.transparent is None
        else (~gather_blocks(src.transparent, ys, xs)).astype(np.float32)
    )
    tot = np.maximum(wt.sum(axis=(1, 3)), 1e-6)[..., None]
    mean = (blocks * wt[..., None]).sum(axis=(1, 3)) / tot
    var = ((blocks**2) * wt[..., None]).sum(axis=(1, 3)) / tot - mean**2
    smooth = (np.sqrt(np.maximum(var, 0).sum(-1)) < 24.0).ravel()
    dithered = dither_cells(srgb_to_oklab(mean), pm, period, p.dither_strength).ravel()
    return np.where(smooth, dithered, choice)


def compose(idx: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Index map (h, w; TRANSPARENT = -1) -> RGBA uint8 with transparent pixels all zero."""
    out = np.zeros((*idx.shape, 4), dtype=np.uint8)
    opaque = idx >= 0
    out[opaque, :3] = palette[idx[opaque]]
    out[opaque, 3] = 255
    return out


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour integer upscale (for previews)."""
    if int(factor) != factor or factor < 1:
        raise ValueError("upscale factor must be a positive integer")
    a = np.asarray(image)
    if factor == 1:
        return a.copy()
    h, w = a.shape[:2]
    if max(h, w) * factor > limits.OUTPUT_SIDE:
        raise Issue(
            f"a {w}x{h} image upscaled {factor}x would be {w * factor}x{h * factor}, over the "
            f"{limits.OUTPUT_SIDE} px limit on a side; lower `pixel.upscale` or the size"
        )
    return np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)


def palette_colors(image: np.ndarray) -> set[tuple[int, int, int]]:
    """The set of opaque colours an RGB(A) image uses."""
    a = np.asarray(image)
    px = a.reshape(-1, a.shape[-1])
    if a.shape[-1] == 4:
        px = px[px[:, 3] > 0]
    return {(int(c[0]), int(c[1]), int(c[2])) for c in np.unique(px[:, :3], axis=0)}
