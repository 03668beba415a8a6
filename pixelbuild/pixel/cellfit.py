"""`method: fit`: cell colours of enlarged pixel art read by a least-squares fit of blurred cells.

Enlarged pixel art is flat cells on a grid, then blurred (resampling, a soft upscaler, JPEG) and
noisy. Per axis the picture is modelled as `A @ cells`: source pixel x sees cell k with weight
Phi((b[k+1] - x) / sigma) - Phi((b[k] - x) / sigma), b the cell borders (real numbers: a scale
that is not an integer, or a drift that grows across the picture, is a grid like any other) and
sigma the blur; the outer cells reach past the image edge (what edge-replicate resampling does).
The two axes are separable, so the cells' colours are P_y @ image @ P_x^T with P the ridge
pseudo-inverse of A. Every pixel counts, blends at cell borders included, so colours far closer
together than the noise are still told apart: a per-pixel vote throws that away.

The grid is fitted to the picture's edge profile (how much colour changes across each border,
summed over the other axis): the strongest comb within a drift of ALLOWED cells over the whole
axis, its phase read centred on zero (a drift of a pixel up is -1, never step - 1), then every
border placed at the centre of its own edge energy and a line fitted through them (weighted
least squares). The blur is the sigma whose model leaves the least residual on sampled lines,
one for lightness and one for the colour differences (codecs keep colour at lower resolution).
Which palette colour a fitted cell is, is assign.py's question.
"""

from __future__ import annotations

import math

import numpy as np

from .reduce import AxisGrid, nominal

ALLOWED = 0.6  # cells the grid may drift from the nominal one over a whole axis
SIGMAS = (0.3, 0.45, 0.65, 0.9, 1.25, 1.75, 2.4, 3.3)  # blur candidates (source pixels)
RIDGE = 1e-3
REFINE = 3
NOISE_FLOOR = 5.0
SAMPLE_LINES = 24  # rows (and columns) the blur is measured on
WINDOW = 24  # ... across this many cells in the middle of the picture
START = 3  # the SIGMAS candidate tried first
# The noise a picture was clipped with, over the residual it shows: blur and JPEG (which drops
# most of the finest detail, noise included) come after the clipping in a resampling pipeline.
# Measured on bench/realart.py (1.0: 0.9655, 1.6: 0.9665, 2.0: 0.9675 at x8, more images worse).
CLIP_NOISE = 1.6
# Y'CbCr (JPEG's space) with colour differences weighed down: JPEG keeps colour at half
# resolution and quantises it harder, so a colour error of a few levels is only JPEG.
CHROMA_WEIGHT = 0.3
# (Without JPEG's offsets: linear, so it commutes with premultiplied alpha.)
_PLAIN_YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.1687, -0.3313, 0.5], [0.5, -0.4187, -0.0813]], np.float32
)
_YCC = _PLAIN_YCC.copy()
_YCC[1:] *= math.sqrt(CHROMA_WEIGHT)
# The same codecs keep colour at half resolution and quantise its detail harder, so colour edges
# are softer than lightness edges: the colour differences get their own blur, fitted the same
# way, at most this many times the lightness blur. Measured on bench/realart.py (x8 mean, one
# blur for all: 0.9700; own blurs: 0.9735 at 1.5, 0.9734 unbounded, 0.9724 at 1.25).
CHROMA_BLUR_MAX = 1.5


def edge_profile(rgb: np.ndarray, axis: int, group: int = 1) -> np.ndarray:
    """prof[b] (n_src + 1,) = summed colour change across border b (between pixels b-1 and b).

    Lines along the other axis are first averaged in groups of `group` (about a cell: the art is
    flat there, the noise is not). A pair's change is |lightness change| x 4 plus two
    |colour-difference changes|, less NOISE_FLOOR times the median change (what noise and JPEG's
    block pattern leave in a flat area), clipped at zero.
    """
    rgb = rgb[..., :3]
    n_lines = rgb.shape[1 - axis]
    g = max(1, min(group, n_lines))
    m = n_lines // g
    acc = np.uint32 if g > 256 else np.uint16
    if axis == 1:  # rows in groups: (m, W, 3)
        a = rgb[: m * g].reshape(m, g, rgb.shape[1], 3).sum(axis=1, dtype=acc)
    else:  # columns in groups, as (m, H, 3); strided slices add far faster than a reduction
        a = rgb[:, 0 : m * g : g].astype(acc)
        for j in range(1, g):
            a += rgb[:, j : m * g : g]
        a = a.transpose(1, 0, 2)
    a = a.astype(np.float32) / np.float32(g)
    y = a @ np.array([0.299, 0.587, 0.114], np.float32)
    c = np.abs(np.diff(y, axis=1)) * 4
    c += np.abs(np.diff(a[..., 0] - y, axis=1))
    c += np.abs(np.diff(a[..., 2] - y, axis=1))
    c = np.maximum(c - NOISE_FLOOR * np.float32(np.median(c)), 0)
    out = np.zeros(a.shape[1] + 1)
    out[1:-1] = c.sum(axis=0, dtype=np.float64)
    return out


def _floor(v: np.ndarray, width: int) -> np.ndarray:
    """Running minimum over `width` entries: the noise floor under the edges."""
    width = max(1, min(width, len(v)) | 1)
    pad = np.pad(v, width // 2, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(pad, width).min(axis=1)


def fit_axis(prof: np.ndarray, n_dst: int) -> AxisGrid:
    """The grid of `n_dst` cells whose borders best follow the edges of `prof` (see the module)."""
    n_src = len(prof) - 1
    base = nominal(n_src, n_dst)
    if base.step < 2:
        return base
    v = np.maximum(prof - _floor(prof, int(base.step)), 0.0)
    v[0] = v[-1] = 0.0
    if v.sum() <= 0:
        return base
    x = np.arange(n_src + 1, dtype=np.float64)
    centre = n_src / 2
    span = ALLOWED * base.step / n_dst
    steps = base.step + np.linspace(-span, span, 49)
    spec = np.exp((-2j * np.pi / steps)[:, None] * (x - centre)[None, :]) @ v
    best = int(np.argmax(np.abs(spec)))
    step = float(steps[best])
    line = centre - float(np.angle(spec[best])) * step / (2 * np.pi)  # a border near the centre
    start = (line + step / 2) % step - step / 2  # centred: the first border within half a cell
    for _ in range(REFINE):
        start, step = _refine(v, x, n_dst, start, step, base)
    return AxisGrid(start, step)


def _refine(
    v: np.ndarray, x: np.ndarray, n_dst: int, start: float, step: float, base: AxisGrid
) -> tuple[float, float]:
    """Each border moved to the centre of the edge energy within a third of a cell of it, and a
    line fitted through them (each weighted by its energy); kept within ALLOWED of nominal."""
    k = np.arange(n_dst + 1, dtype=np.float64)
    q = start + k * step
    d = x[None, :] - q[:, None]
    near = np.abs(d) <= step / 3
    w = np.where(near, v[None, :], 0.0)
    mass = w.sum(axis=1)
    ok = mass > 1e-9 * max(float(mass.max()), 1e-300)
    if ok.sum() < 2:
        return start, step
    c = (w * x[None, :]).sum(axis=1)[ok] / mass[ok]
    kk, ww = k[ok], mass[ok]
    km = (ww * kk).sum() / ww.sum()
    cm = (ww * c).sum() / ww.sum()
    var = (ww * (kk - km) ** 2).sum()
    new_step = step if var <= 0 else float((ww * (kk - km) * (c - cm)).sum() / var)
    span = ALLOWED * base.step / n_dst
    new_step = float(np.clip(new_step, base.step - span, base.step + span))
    new_start = float(cm - km * new_step)
    return float(np.clip(new_start, -new_step / 2, new_step / 2)), new_step


def ndtr(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF (Abramowitz and Stegun 7.1.26: within 1.5e-7 everywhere)."""
    x = np.abs(z) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-(x**2))
    return 0.5 * (1.0 + np.sign(z) * erf)


def axis_matrix(n_src: int, n_dst: int, grid: AxisGrid, sigma: float) -> np.ndarray:
    """A (n_src, n_dst): how much of each cell each source pixel (centre x + 0.5) sees."""
    b = grid.start + np.arange(n_dst + 1) * grid.step
    xc = np.arange(n_src) + 0.5
    cdf = ndtr((b[None, :] - xc[:, None]) / sigma)
    cdf[:, 0], cdf[:, -1] = 0.0, 1.0
    a = np.diff(cdf, axis=1)
    a[a < 1e-12] = 0.0
    return a


def _pinv(a: np.ndarray) -> np.ndarray:
    """Ridge pseudo-inverse (n_dst, n_src) of a (n_src, n_dst)."""
    ata = a.T @ a
    ata[np.diag_indices_from(ata)] += RIDGE
    p = np.linalg.solve(ata, a.T)
    p[np.abs(p) < 1e-9] = 0.0  # no denormals in float32 (they are slow, and meaningless here)
    return np.ascontiguousarray(p)


def _window(n_src: int, n_dst: int, g: AxisGrid) -> tuple[int, int, int, AxisGrid]:
    """The central WINDOW cells of an axis: source pixels [x0, x1) from the middle of the first
    to the middle of the last, their cell count, and their grid (the outer two reach past the
    window as the image's do past the image)."""
    k = min(n_dst, WINDOW)
    c0 = (n_dst - k) // 2
    x0 = max(0, math.ceil(g.start + (c0 + 0.5) * g.step)) if c0 > 0 else 0
    x1 = min(n_src, math.floor(g.start + (c0 + k - 0.5) * g.step)) if c0 + k < n_dst else n_src
    return x0, max(x1, x0 + 1), k, AxisGrid(g.start + c0 * g.step - x0, g.step)


def blur_sigma(
    img: np.ndarray, gx: AxisGrid, gy: AxisGrid, size: tuple[int, int]
) -> tuple[float, float]:
    """The blur (source pixels) whose cell model leaves the least residual on sampled rows and
    columns (across the central WINDOW cells), refined by a parabola through the best candidate
    and its neighbours (in log); and the noise (levels: the RMS of that residual)."""
    return blur_sigmas(img, gx, gy, size, np.eye(img.shape[2]), [list(range(img.shape[2]))])[0]


def blur_sigmas(
    img: np.ndarray,
    gx: AxisGrid,
    gy: AxisGrid,
    size: tuple[int, int],
    mix: np.ndarray,
    groups: list[list[int]],
) -> list[tuple[float, float]]:
    """blur_sigma of each group of the channels img @ mix.T (mix (M, C)): one blur for the
    channels of a group, each group its own; the sampled lines and the cell models of each
    candidate blur are shared."""
    w, h = size
    H, W = img.shape[:2]
    (ax0, ax1, kx, wx), (ay0, ay1, ky, wy) = _window(W, w, gx), _window(H, h, gy)
    rows = img[np.linspace(0, H - 1, min(SAMPLE_LINES, H)).astype(np.intp), ax0:ax1]
    cols = img[ay0:ay1, np.linspace(0, W - 1, min(SAMPLE_LINES, W)).astype(np.intp)]
    m = np.asarray(mix, np.float64)
    lines = (
        ((rows.astype(np.float64) @ m.T).transpose(0, 2, 1), (ax1 - ax0, kx, wx)),
        ((cols.astype(np.float64) @ m.T).transpose(1, 2, 0), (ay1 - ay0, ky, wy)),
    )
    per_channel = (rows.size + cols.size) / img.shape[2]
    top = min(gx.step, gy.step) / 3
    cand = [s for s in SIGMAS if s <= max(top, SIGMAS[0])]
    memo: dict[int, np.ndarray] = {}

    def residuals(j: int) -> np.ndarray:
        """Residual per channel (M,) of candidate j."""
        if j not in memo:
            r = np.zeros(len(m))
            for a, (n, k, g) in lines:
                am = axis_matrix(n, k, g, cand[j])
                r += ((a - (a @ _pinv(am).T) @ am.T) ** 2).sum(axis=(0, 2))
            memo[j] = r
        return memo[j]

    out = []
    for group in groups:

        def residual(j: int, group: list[int] = group) -> float:
            return float(residuals(j)[group].sum())

        i = min(START, len(cand) - 1)  # walk downhill from a typical blur (unimodal residuals)
        while True:
            nxt = min((j for j in (i - 1, i, i + 1) if 0 <= j < len(cand)), key=residual)
            if nxt == i:
                break
            i = nxt
        res = [residual(j) if j in memo else math.inf for j in range(len(cand))]
        i = int(np.argmin(res))
        noise = math.sqrt(res[i] / (per_channel * len(group)))
        sigma = cand[i]
        if 0 < i < len(cand) - 1 and i - 1 in memo and i + 1 in memo:
            y0, y1, y2 = res[i - 1], res[i], res[i + 1]
            den = y0 - 2 * y1 + y2
            if den > 0:
                t = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
                lo, hi = math.log(cand[i - 1]), math.log(cand[i + 1])
                sigma = math.exp(math.log(cand[i]) + t * ((hi - lo) / 2))
        out.append((sigma, noise))
    return out


def nominal_grid(img: np.ndarray, size: tuple[int, int]) -> tuple[AxisGrid, AxisGrid]:
    """The (x, y) grids that spread the cells evenly from pixel 0 (no search)."""
    return nominal(img.shape[1], size[0]), nominal(img.shape[0], size[1])


def fit_grid(rgb: np.ndarray, size: tuple[int, int]) -> tuple[AxisGrid, AxisGrid]:
    """The (x, y) grids of `size` = (w, h) cells fitted to the picture's edges."""
    H, W = rgb.shape[:2]
    gy, gx = max(1, round(H / size[1])), max(1, round(W / size[0]))
    return fit_axis(edge_profile(rgb, 1, gy), size[0]), fit_axis(edge_profile(rgb, 0, gx), size[1])


def cell_values(
    img: np.ndarray, size: tuple[int, int], gx: AxisGrid, gy: AxisGrid, sigma: float
) -> np.ndarray:
    """The fitted value of every cell (h, w, C) float32, for an image (H, W, C) of any values."""
    w, h = size
    H, W = img.shape[:2]
    py = _pinv(axis_matrix(H, h, gy, sigma)).astype(np.float32)  # (h, H)
    px = _pinv(axis_matrix(W, w, gx, sigma)).astype(np.float32)  # (w, W)
    c = img.shape[2]
    t = (py @ img.reshape(H, -1).astype(np.float32)).reshape(h, W, c)
    rows = np.ascontiguousarray(t.transpose(0, 2, 1)).reshape(h * c, W)
    return (rows @ px.T).reshape(h, c, w).transpose(0, 2, 1)  # (h, w, C)


def colour_blurs(
    rgb: np.ndarray, gx: AxisGrid, gy: AxisGrid, size: tuple[int, int]
) -> tuple[tuple[float, float], float]:
    """The blurs (source pixels) of lightness and of colour differences (see CHROMA_BLUR_MAX),
    and the noise (levels: blur_sigma's over the RGB channels)."""
    mix = np.vstack([np.eye(3), _PLAIN_YCC])
    (_, noise), (luma, _), (chroma, _) = blur_sigmas(
        rgb[..., :3], gx, gy, size, mix, [[0, 1, 2], [3], [4, 5]]
    )
    return (luma, min(chroma, CHROMA_BLUR_MAX * luma)), noise


def cell_colours(
    img: np.ndarray,
    size: tuple[int, int],
    gx: AxisGrid,
    gy: AxisGrid,
    blurs: tuple[float, float],
) -> np.ndarray:
    """The fitted RGB (and, for an (H, W, 4) image of premultiplied RGB and alpha, the fitted
    alpha) of every cell (h, w, C) float32: lightness and alpha at blurs[0], colour
    differences at blurs[1]."""
    ycc = img[..., :3].astype(np.float32) @ _PLAIN_YCC.T
    sharp = np.concatenate([ycc[..., :1], img[..., 3:].astype(np.float32)], axis=2)
    vs = cell_values(sharp, size, gx, gy, blurs[0])
    vc = cell_values(ycc[..., 1:], size, gx, gy, blurs[1])
    rgb = np.concatenate([vs[..., :1], vc], axis=2) @ np.linalg.inv(_PLAIN_YCC).T.astype(np.float32)
    return np.concatenate([rgb, vs[..., 1:]], axis=2)


def observed(entries: np.ndarray, noise: float) -> np.ndarray:
    """What a flat cell of each colour (K, 3) averages to under Gaussian noise of `noise` levels
    clipped to 0..255: near black and white the noise only adds (#000000 reads about 0.4
    `noise`), so a fitted cell is compared with these, not with the colours themselves."""
    c = entries.astype(np.float64)
    if noise <= 0:
        return c
    lo, hi = c / noise, (c - 255) / noise

    def pdf(z: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)

    # E[max(X, 0)] - E[max(X - 255, 0)] for X ~ N(c, noise^2)
    return c * ndtr(lo) + noise * pdf(lo) - ((c - 255) * ndtr(hi) + noise * pdf(hi))


def weighted_ycc(colors: np.ndarray) -> np.ndarray:
    """Colours (..., 3) in weighted Y'CbCr (float64, levels), element-wise (no BLAS)."""
    m = _YCC.astype(np.float64)
    c = np.asarray(colors, np.float64)
    return c[..., 0:1] * m[:, 0] + c[..., 1:2] * m[:, 1] + c[..., 2:3] * m[:, 2]


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Weighted Y'CbCr distance (levels) between colours (..., 3), element-wise."""
    d = (a.astype(np.float64) - b.astype(np.float64)) @ _YCC.T.astype(np.float64)
    return np.sqrt((d**2).sum(-1))


def sq_distances(colors: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """Squared weighted Y'CbCr distances (N, K) of colours (..., 3) to entries (K, 3)."""
    c = weighted_ycc(colors.reshape(-1, 3))
    e = weighted_ycc(entries)
    d = (c[:, None, 0] - e[None, :, 0]) ** 2
    d += (c[:, None, 1] - e[None, :, 1]) ** 2
    d += (c[:, None, 2] - e[None, :, 2]) ** 2
    return d


def nearest(colors: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """Index of the nearest entry (K, 3) for each colour (..., 3), in weighted Y'CbCr."""
    return sq_distances(colors, entries).argmin(axis=1).reshape(colors.shape[:-1])
