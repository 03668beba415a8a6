"""Known-grid reduction: cell boundaries, grid-phase search, and per-cell colour choice.

The target size is always known, so the grid is never guessed: cell k of an axis spans
[round(start + k*step), round(start + (k+1)*step)), nominally with step = source/target and
start 0. The phase is searched within half a cell, and the step within a small slide (art that
was resampled by a slightly wrong factor). Cells that hang over the image edge read the edge
pixels again (edge-replicate padding); nothing is cropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .quantize import PaletteMap


@dataclass(frozen=True, slots=True)
class AxisGrid:
    """Cell k of an axis spans [round(start + k*step), round(start + (k+1)*step))."""

    start: float
    step: float


def nominal(n_src: int, n_dst: int) -> AxisGrid:
    """The grid that spreads `n_dst` cells evenly over `n_src` pixels, from pixel 0."""
    return AxisGrid(0.0, n_src / n_dst)


def axis_bounds(n_dst: int, grid: AxisGrid) -> np.ndarray:
    """Cell boundaries (n_dst + 1,) in source pixels; may lie outside the image (padding)."""
    return np.floor(grid.start + np.arange(n_dst + 1) * grid.step + 0.5).astype(np.intp)


def edge_profile(code: np.ndarray, axis: int) -> np.ndarray:
    """prof[b] = how many pixel pairs change value across boundary b (between b-1 and b)."""
    if axis == 1:
        change = np.count_nonzero(code[:, 1:] != code[:, :-1], axis=0)
    else:
        change = np.count_nonzero(code[1:, :] != code[:-1, :], axis=1)
    return np.concatenate([[0], change]).astype(np.int64)


def best_grid(code: np.ndarray, axis: int, n_dst: int, min_edge: float = 1.0) -> AxisGrid:
    """The grid of `code` (H, W palette indices) along `axis` whose borders collect the most edges.

    Offsets are read centred on zero, within half a cell either way: a drift of a pixel up is an
    offset of -1, never 7 of 8, which would shift the whole picture by a cell (a replicated or
    noisy margin cannot tell the two apart, and real drift is sub-pixel). The step is
    searched within a slide of one pixel per 64 cells each way plus half a cell over the whole
    axis (art resampled by a slightly wrong factor). Grids are tried nearest the nominal one
    (offset 0, step n_src/n_dst) first, and a farther one wins only by collecting more changes: at
    least one more for another offset, `min_edge` more (about half a cell of rows) for another
    step, so noise cannot stretch a clean picture.
    """
    n_src = code.shape[1 if axis == 1 else 0]
    base = nominal(n_src, n_dst)
    if base.step < 2:
        return base
    half = base.step / 2
    slide = max(1.0, n_dst / 64) + half  # pixels the last border may move
    steps = base.step + np.linspace(-slide, slide, 2 * math.ceil(slide) + 1) / n_dst
    offset, step = (g.ravel() for g in np.meshgrid(np.arange(math.ceil(base.step)), steps))
    start = np.where(offset <= step / 2, offset, offset - step).astype(np.float64)
    bounds = _bounds(start, step, n_dst)
    profile = edge_profile(code, axis)
    inner = bounds[:, 1:-1]
    scores = np.where((inner >= 1) & (inner < n_src), profile[np.clip(inner, 0, n_src - 1)], 0)
    scores = scores.sum(axis=1)
    order = np.lexsort((step, start, np.abs(start) + np.abs(step - base.step) * n_dst))
    # Moving off the nominal grid must gain edges; a step change must gain about half a cell.
    margin = np.where(step == base.step, 1.0, max(1.0, min_edge))
    best, best_score = (
        base,
        int(profile[_bounds(np.zeros(1), np.array([base.step]), n_dst)[0, 1:-1]].sum()),
    )
    for c in order:
        if scores[c] >= best_score + margin[c]:
            best, best_score = AxisGrid(float(start[c]), float(step[c])), int(scores[c])
    return best


def _bounds(start: np.ndarray, step: np.ndarray, n_dst: int) -> np.ndarray:
    """Cell boundaries of many grids at once: (len(start), n_dst + 1)."""
    k = np.arange(n_dst + 1)
    return np.floor(start[:, None] + k[None, :] * step[:, None] + 0.5).astype(np.intp)


def axis_samples(n_src: int, n_dst: int, grid: AxisGrid) -> np.ndarray:
    """Source index of each sample (n_dst, m): every cell read as m evenly spread pixels."""
    b = axis_bounds(n_dst, grid)
    size = np.maximum(np.diff(b), 1)
    m = int(size.max())
    pos = b[:-1, None] + (np.arange(m)[None, :] * size[:, None]) // m
    return np.clip(pos, 0, n_src - 1)


def gather_blocks(a: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Cells of `a` (H, W, ...) as blocks (h, my, w, mx, ...) following the sample maps."""
    h, my = ys.shape
    w, mx = xs.shape
    ry, rx = ys.ravel(), xs.ravel()
    if len(ry) == a.shape[0] and np.array_equal(ry, np.arange(len(ry))):
        rows = a
    else:
        rows = np.take(a, ry, axis=0)
    if len(rx) == a.shape[1] and np.array_equal(rx, np.arange(len(rx))):
        out = rows
    else:
        out = np.take(rows, rx, axis=1)
    return out.reshape(h, my, w, mx, *a.shape[2:])


def cell_counts(code_blocks: np.ndarray, nbins: int) -> np.ndarray:
    """Histogram of codes (0..nbins-1) per cell: (h*w, nbins)."""
    h, _, w, _ = code_blocks.shape
    cid = (
        np.arange(h, dtype=np.intp)[:, None, None, None] * w
        + np.arange(w, dtype=np.intp)[None, None, :, None]
    )
    key = code_blocks.astype(np.intp)  # bincount's own index type: no second conversion
    key += cid * nbins
    return np.bincount(key.ravel(), minlength=h * w * nbins).reshape(h * w, nbins)


def majority(counts: np.ndarray, pm: PaletteMap) -> np.ndarray:
    """Most common palette index per cell; on a tie, the snapped mean of its snapped colours."""
    top = counts.max(axis=1)
    choice = counts.argmax(axis=1)
    tied = (counts == top[:, None]).sum(axis=1) > 1
    tied &= top > 0
    if tied.any():
        c = counts[tied].astype(np.float32)
        mean = (c @ pm.lab) / c.sum(axis=1, keepdims=True)
        choice[tied] = pm.snap_lab(mean)
    return choice


def median_colors(rgb_blocks: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Per-cell, per-channel median of the cell's pixels (h*w, 3) float32; NaN where none valid."""
    h, my, w, mx, _ = rgb_blocks.shape
    cells = rgb_blocks.transpose(0, 2, 1, 3, 4).reshape(h * w, my * mx, 3).astype(np.float32)
    if valid is None:
        return np.median(cells, axis=1)
    v = valid.transpose(0, 2, 1, 3).reshape(h * w, my * mx)
    cells = np.where(v[..., None], cells, np.nan)
    out = np.full((h * w, 3), np.nan, dtype=np.float32)
    any_valid = v.any(axis=1)
    if any_valid.any():
        out[any_valid] = np.nanmedian(cells[any_valid], axis=1)
    return out


def kcentroid_colors(
    lab_blocks: np.ndarray, valid: np.ndarray | None, iters: int = 4
) -> np.ndarray:
    """2-means per cell in OKLab (from the darkest and lightest pixel); the larger centroid."""
    h, my, w, mx, _ = lab_blocks.shape
    x = lab_blocks.transpose(0, 2, 1, 3, 4).reshape(h * w, my * mx, 3).astype(np.float32)
    v = (
        np.ones(x.shape[:2], dtype=bool)
        if valid is None
        else valid.transpose(0, 2, 1, 3).reshape(h * w, my * mx)
    )
    big = np.float32(1e9)
    lum = x[..., 0]
    i0 = np.where(v, lum, big).argmin(axis=1)
    i1 = np.where(v, lum, -big).argmax(axis=1)
    ar = np.arange(len(x))
    c0, c1 = x[ar, i0], x[ar, i1]
    vf = v.astype(np.float32)
    for _ in range(iters):
        d0 = ((x - c0[:, None]) ** 2).sum(-1)
        d1 = ((x - c1[:, None]) ** 2).sum(-1)
        a1 = (d1 < d0).astype(np.float32) * vf
        a0 = vf - a1
        n0, n1 = a0.sum(1), a1.sum(1)
        c0 = np.where(n0[:, None] > 0, (a0[..., None] * x).sum(1) / np.maximum(n0, 1)[:, None], c0)
        c1 = np.where(n1[:, None] > 0, (a1[..., None] * x).sum(1) / np.maximum(n1, 1)[:, None], c1)
    out = np.where((n1 > n0)[:, None], c1, c0)
    out[~v.any(axis=1)] = np.nan
    return out


def _minmax_filter(a: np.ndarray, r: int, op) -> np.ndarray:
    """Square (2r+1) min or max filter over the first two axes, edge-replicate padded."""
    out = a
    for axis in (0, 1):
        n = a.shape[axis]
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r, r)
        p = np.pad(out, pad, mode="edge")
        acc = np.take(p, np.arange(0, n), axis=axis)
        for d in range(1, 2 * r + 1):
            acc = op(acc, np.take(p, np.arange(d, d + n), axis=axis))
        out = acc
    return out


def _box_mean(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1) square window, edge-replicate padded (2-D array)."""
    p = np.pad(a.astype(np.float64), r, mode="edge")
    c = np.cumsum(np.cumsum(p, 0), 1)
    c = np.pad(c, ((1, 0), (1, 0)))
    k = 2 * r + 1
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return (s / (k * k)).astype(np.float32)


def _argmin_filter(v: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the smallest value in each (2r+1) square window (separable)."""
    h, w = v.shape
    big = np.float32(np.inf)
    p = np.pad(v, ((0, 0), (r, r)), constant_values=big)
    best = p[:, 0:w].copy()
    bx = np.broadcast_to(np.arange(w) - r, (h, w)).copy()
    for d in range(1, 2 * r + 1):
        cand = p[:, d : d + w]
        take = cand < best
        best = np.where(take, cand, best)
        bx = np.where(take, np.arange(w)[None, :] - r + d, bx)
    bx = np.clip(bx, 0, w - 1)
    p2 = np.pad(best, ((r, r), (0, 0)), constant_values=big)
    px = np.pad(bx, ((r, r), (0, 0)), mode="edge")
    best2 = p2[0:h].copy()
    by = np.broadcast_to((np.arange(h) - r)[:, None], (h, w)).copy()
    bx2 = px[0:h].copy()
    for d in range(1, 2 * r + 1):
        cand = p2[d : d + h]
        take = cand < best2
        best2 = np.where(take, cand, best2)
        by = np.where(take, (np.arange(h) - r + d)[:, None], by)
        bx2 = np.where(take, px[d : d + h], bx2)
    return np.clip(by, 0, h - 1), bx2


def expand_outlines(rgb: np.ndarray, lum: np.ndarray, scale: float) -> np.ndarray:
    """PixelOE-style outline expansion before a big reduction (uint8 RGB out).

    Dark features thinner than about half a cell (found as a black top-hat: closing minus the
    image, in OKLab lightness) would lose every cell's vote. Pixels within half a cell of one take
    the colour of the darkest such pixel nearby, when that is darker than they are, so a 1-3 px
    outline grows to about a cell and survives the reduction. Features a cell wide or more, and
    edges between large areas, are left alone, so true pixel art passes through unchanged.
    """
    if scale < 4:
        return rgb
    k = max(1, math.ceil(scale / 4))
    r = max(1, round(scale / 2))
    smooth = _box_mean(lum, 1)  # single noisy pixels are not features
    closing = _minmax_filter(_minmax_filter(smooth, k, np.maximum), k, np.minimum)
    thin = (closing - smooth) > 0.08
    if not thin.any():
        return rgb
    near = _minmax_filter(thin.astype(np.uint8), r, np.maximum) > 0
    dark = np.where(thin, lum, np.float32(np.inf)).astype(np.float32)
    by, bx = _argmin_filter(dark, r)
    take = near & (lum[by, bx] < lum - 0.02)
    out = rgb.copy()
    out[take] = rgb[by[take], bx[take]]
    return out
