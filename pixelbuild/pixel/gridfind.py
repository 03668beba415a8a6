"""Grid finding for `size: auto`: the cell grid of enlarged pixel art, read from its edges alone.

Pixel art enlarged by s is flat inside each cell and changes colour only across cell borders, so
per axis the edge profile (how much colour changes between adjacent columns, summed over all
rows; rows likewise) is a comb with a tooth every s pixels, whatever the picture. That survives
an unknown or slightly non-integer factor, a shift, blur, noise, JPEG and a cropped border.

Per axis: the profile less its noise floor; the fundamental period from the autocorrelation
(the lag with the cleanest peak: nothing halfway to it, so neither p/2 nor 2p wins); the exact
period and phase from the profile's spectrum (the comb's phase is held over the whole image, so
the step is good to a small fraction of a pixel over all cells); then a test for teeth halfway
(or a third of the way) between the found ones, which means the period is really p/2 (p/3).
Confidence is the share of edge energy on the grid lines, above what lines placed at random
would catch. The two axes may differ; they are made equal when one common step fits both as well.

An image with no credible period is native pixel art (scale 1) when it looks drawn: few colours,
pixels that repeat their neighbours, visible steps between colours. Anything else (a photo, a
smooth gradient, noise, a smoothly resized image) raises NoGridError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NO_GRID = (
    "no pixel grid found: the image looks like it was drawn at its own size or smoothly "
    "resized; give `size:` explicitly"
)

MAX_PERIOD = 64.0
MIN_CONFIDENCE = 0.25  # a band whose comb explains less than this of the edges has no grid
FINAL_CONFIDENCE = 0.1  # the least confidence of a grid reported
EQUAL = 0.03  # periods within 3% may be one (square cells)
OWN_MARGIN = 10.0  # an axis keeps its own period when e^5 times likelier than the shared one
MIN_SIGNIFICANCE = 3.0  # -2 ln P of a credible grid after the look-elsewhere allowance
NOISE_CORRELATION = 1.5  # rows are not independent (blur, JPEG blocks): a wider noise spread
OPENING = 33  # window of the floor's opening: any 33 borders hold a quiet cell middle
BLOCK = 16  # JPEG block borders repeat every 8 pixels (luma) and 16 (subsampled chroma)
LUMA = 8  # weight of lightness changes against colour changes in the edge profiles
JPEG_STEP = 5 * LUMA  # the largest change of JPEG's block pattern (lightness levels x LUMA)
BLOCK_SAMPLE = 256  # rows (columns) sampled for the block floor
MAX_FLATNESS = 0.6  # within-cell variance over that of cells straddling the borders
MERGE = 1.5  # coarser cells' mid-cell variance over the grid's that still means the coarser
CONTRAST = 0.05  # or, flatter than this share of the other choices of coarser borders
SPLIT = 3.0  # coarse cells' mid-cell variance over the finer grid's that means a finer grid
FEW_COLOURS = 32  # a picture of so few colours and clear steps is drawn, even if noisy
STEP = 24  # summed |channel difference| of a colour step anyone would see (not a gradient's 1s)


class NoGridError(ValueError):
    """The image shows no pixel grid (it is not enlarged pixel art, nor native pixel art)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(NO_GRID + (f" ({detail})" if detail else ""))


@dataclass(frozen=True, slots=True)
class GridFit:
    """The cell grid of an enlarged pixel-art image.

    scale: source pixels per art pixel (x, y). offset: where the first counted cell starts (x, y),
    in (-scale/2, scale/2]; cell k spans [offset + k*scale, offset + (k+1)*scale). size: the cell
    count (width, height); a cell at the image edge counts when at least half of it is inside.
    confidence: 0..1, how much better the grid explains the edges than lines placed at random.
    """

    scale: tuple[float, float]
    offset: tuple[float, float]
    size: tuple[int, int]
    confidence: float


@dataclass(frozen=True, slots=True)
class _Axis:
    period: float
    phase: float  # a grid line (cell border) position in pixel-edge coordinates, in [0, period)
    confidence: float
    significance: float = 0.0


def find_grid(image: np.ndarray) -> GridFit:
    """The pixel grid of `image` (uint8 RGB/RGBA): scale, offset, art size and confidence.

    Native pixel art gives scale (1, 1). Raises NoGridError when no grid is credible.
    """
    a = _channels(image)
    h, w = a.shape[:2]
    packed = _packed(a)
    native = _native(a, packed) if packed is not None else None
    if native is not None and packed is not None and (min(h, w) < 4 or _single_pixels(packed)):
        return native
    try:
        return _grid(a, clean=packed is not None)
    except NoGridError:
        if native is not None:
            return native
        raise


def _grid(a: np.ndarray, clean: bool) -> GridFit:
    """The enlarged-art grid of `a` (see find_grid), or NoGridError. `clean`: few colours (no
    noise or JPEG), so neighbouring pixels are no more alike than pixels further apart."""
    h, w = a.shape[:2]
    if min(h, w) < 4:
        raise NoGridError("too small")
    px, py = (_Profile(e, noise) for e, noise in edge_profiles(a))
    fit = _fit(px, py)
    if fit is None:
        raise NoGridError()
    var, profs, vote = _variances(a), [px, py], fit[2]

    def noise(axis: int) -> float:
        return 0.0 if clean else _pair_noise(a, axis)

    fx, fy = _split(var, _merge(var, _split(var, list(fit[:2]), profs), profs, noise), profs)
    if all(vote):
        fx, fy = _prefer_equal(*_prefer_square(fx, fy, px, py), px, py)
    elif vote[0]:
        fy = _Axis(fx.period, 0.0, fx.confidence)
    else:
        fx = _Axis(fy.period, 0.0, fy.confidence)
    grid = _grid_fit(fx, fy, w, h)
    if grid.confidence < FINAL_CONFIDENCE:
        raise NoGridError("no grid explains the edges much better than chance")
    _check_cells(a, grid)
    return grid


def _channels(image: np.ndarray) -> np.ndarray:
    """The image as uint8 (H, W, C); RGBA has its colour premultiplied by alpha."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) or (H, W, 4) image, got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    if a.shape[2] == 3:
        return a
    alpha = a[..., 3:4].astype(np.uint16)
    rgb = ((a[..., :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    return np.concatenate([rgb, a[..., 3:4]], axis=2)


def _edge_planes(a: np.ndarray) -> list[np.ndarray]:
    """Planes for edge profiles: lightness at LUMA times the weight of two colour differences.

    JPEG keeps colour at half resolution and smears colour edges over 3-4 pixels; lightness
    edges stay sharp. Colour still counts, so edges between colours of equal lightness show.
    """
    r, g, b = (a[..., i].astype(np.uint16) for i in range(3))
    y = ((77 * r + 150 * g + 29 * b + 128) >> 8).astype(np.int16)
    planes = [y * LUMA, r.astype(np.int16) - y, b.astype(np.int16) - y]
    if a.shape[2] == 4:
        planes.append(a[..., 3].astype(np.int16) * LUMA)
    return planes


def _changes(plane: np.ndarray, axis: int) -> np.ndarray:
    """|change| across each border along `axis` (1: between columns), per pixel."""
    q = np.moveaxis(plane, axis, 0)
    return np.moveaxis(np.abs(q[1:] - q[:-1]), 0, axis)


def edge_profiles(a: np.ndarray) -> tuple[tuple[np.ndarray, float], tuple[np.ndarray, float]]:
    """Per axis (x, y): the summed |colour change| across each column (row) border, float64,
    less JPEG's block pattern (see _block_floor), and the noise spread of one entry.

    ex[i] is the change between columns i and i+1: the border at pixel-edge position i+1.
    """
    h, w = a.shape[:2]
    planes = _edge_planes(a)
    out = []
    for axis, n, step in ((1, h, max(1, h // BLOCK_SAMPLE)), (0, w, max(1, w // BLOCK_SAMPLE))):
        e = np.zeros(a.shape[axis] - 1)
        d = np.zeros((len(range(0, n, step)), a.shape[axis] - 1), np.int32)
        for pl in planes:
            e += _changes(pl, axis).sum(axis=1 - axis, dtype=np.int32)
            part = _changes(pl[::step] if axis else pl[:, ::step], axis)
            d += part if axis else part.T  # (sampled lines, borders)
        e -= n * _block_floor(d, d <= JPEG_STEP)
        few = d.ravel()[:: max(1, d.size // 65536)]
        spread = 1.4826 * float(np.median(np.abs(few - np.median(few))))
        out.append((e, NOISE_CORRELATION * spread * math.sqrt(n)))
    return out[0], out[1]


def _block_floor(d: np.ndarray, small: np.ndarray) -> np.ndarray:
    """Per border, how much more it changes than borders do in general, for borders grouped by
    position modulo 16 (JPEG's 8-pixel blocks, and its 16-pixel blocks of halved colour).

    JPEG leaves a fixed pattern in every block (steps at its borders, ringing next to them, the
    rounding of its finest frequencies inside): in noisy or smooth areas, a comb as regular as
    a pixel grid, at periods 16, 8, 4 and 2. Each border's level is its mean change over the
    sampled rows, leaving out changes too big for JPEG (art edges: not `small`); each group's
    level is the median over its borders, which the few borders holding art lines do not move.
    `d` is (sampled rows, borders) of summed |channel change|.
    """
    n = d.shape[1]
    if n < 4 * BLOCK:
        return np.zeros(n)
    level = np.where(small, d, 0).sum(axis=0) / np.maximum(small.sum(axis=0), 1)
    m = n // BLOCK
    group = np.roll(np.median(level[: m * BLOCK].reshape(m, BLOCK), axis=0), 1)  # by position
    return (group - np.median(group))[np.arange(1, n + 1) % BLOCK]


def _top_hat(e: np.ndarray) -> np.ndarray:
    """The profile less its regional floor (JPEG ringing and colour smear raise it where the
    art is busy): a morphological opening over a window wider than a cell's quiet middle, which
    keeps the peaks at cell borders and follows what lies under them."""
    n = len(e)
    w = min(OPENING, n if n % 2 else n - 1)
    if w < 3:
        return e - e.min()
    pad = np.pad(e, w // 2, mode="edge")
    low = np.lib.stride_tricks.sliding_window_view(pad, w).min(axis=1)
    pad = np.pad(low, w // 2, mode="edge")
    return e - np.lib.stride_tricks.sliding_window_view(pad, w).max(axis=1)


class _Profile:
    """One axis's edge profile less its regional floor: also less three noise spreads and clipped
    at zero (`e`, edges only) for the share of edge energy a grid explains; without that (`raw`)
    for the period and phase, which a threshold would pull towards the stronger of two pixels
    sharing an edge. Plus the zero-padded spectrum of `raw`."""

    def __init__(self, profile: np.ndarray, noise: float) -> None:
        hat = _top_hat(profile)
        self.hat = np.maximum(hat, 0.0)
        self.e = np.maximum(hat - 3.0 * noise, 0.0)  # edges only, for shares of edge energy
        self.raw = hat - hat.mean()  # for period and phase: no threshold, no bias
        self.n = len(self.e)
        self.x = _positions(self.n)
        self.total = float(self.e.sum())
        self.z = 1 << (16 * self.n - 1).bit_length()
        self.spec = np.abs(np.fft.rfft(self.raw, self.z))

    def period(self, p0: float, span: float) -> float:
        """The period of the strongest comb within p0 ± span.

        The spectrum is sampled 16 times finer than its peaks are wide; the peak is placed by a
        parabola through its three highest samples.
        """
        z = self.z
        lo = max(1, math.ceil(z / (p0 + span)))
        hi = min(z - 2, math.floor(z / max(p0 - span, 1.01)))
        if hi - lo < 2:
            return p0
        bins = np.arange(lo - 1, hi + 2)
        mag = self.spec[np.where(bins > z // 2, z - bins, bins)]  # mirrored past Nyquist
        j = int(np.argmax(mag[1:-1])) + 1
        y0, y1, y2 = mag[j - 1], mag[j], mag[j + 1]
        den = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / den if den < 0 else 0.0
        return z / (lo - 1 + j + float(np.clip(shift, -0.5, 0.5)))

    def combs(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per period: the comb phase in [0, p) (circular mean of positions modulo p, weighted
        by `raw`) and the coherence of the edge energy modulo p (1: all on one comb)."""
        theta = (2 * np.pi / p[:, None]) * self.x[None, :]
        both = np.stack([self.raw, self.e], 1)
        re, im = np.cos(theta) @ both, np.sin(theta) @ both  # spectrum: re - i*im
        phase = (np.arctan2(im[:, 0], re[:, 0]) * p / (2 * np.pi)) % p
        return phase, np.hypot(re[:, 1], im[:, 1]) / max(self.total, 1e-12)

    def coherence(self, p: float) -> float:
        return float(self.combs(np.array([p]))[1][0])

    def refine(self, p0: float, span: float) -> tuple[float, float]:
        p = self.period(p0, span)
        return p, float(self.combs(np.array([p]))[0][0])

    def scores(
        self, p: np.ndarray, phase: np.ndarray, coh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(confidence, significance) per grid (period p, a line at phase, coherence coh).

        Confidence: the share of edge energy within ±max(0.5, 0.2p) of the lines (wide enough
        for blur; each profile entry a unit-wide bin), rescaled so chance is 0 and all is 1.
        Significance: -2 ln(chance probability) of the best of three tests over K, the
        effective number of periods holding energy, less 2 ln of the number of distinct grids
        the test could have tried in the period's band: Rayleigh's 2·K·R² (R: coherence of the
        energy's phases modulo p), and binomial 2·K·KL(share, chance) for the share within
        ±0.5 (sharp edges) and within the wide window (blurred ones).
        """
        rel = self.x[None, :] - phase[:, None] + p[:, None] / 2
        line = np.floor(rel / p[:, None])
        d = rel - line * p[:, None] - p[:, None] / 2  # distance to the nearest line
        m, width = len(p), int(line.max() - line.min()) + 1
        key = (line - line.min()).astype(np.intp) + width * np.arange(m)[:, None]
        per = np.bincount(key.ravel(), np.broadcast_to(self.e, key.shape).ravel(), m * width)
        per = per.reshape(m, width)
        k_eff = np.sqrt(per).sum(axis=1) ** 2 / max(self.total, 1e-12)
        sig = 2 * k_eff * coh**2 - 2 * np.log(np.maximum(1.0, self.n / p**2))
        conf = np.zeros(m)
        ad = np.abs(d)
        for r in (np.full(m, 0.5), np.maximum(0.5, 0.2 * p)):
            w = np.clip(r[:, None] + 0.5 - ad, 0.0, 1.0)  # bin [d-0.5, d+0.5] within ±r
            chance = 2 * r / p
            share = np.clip((w @ self.e) / max(self.total, 1e-12), 1e-9, 1 - 1e-9)
            kl = share * np.log(share / chance) + (1 - share) * np.log((1 - share) / (1 - chance))
            kl = np.where(share > chance, kl, 0.0)
            sig = np.maximum(sig, 2 * k_eff * kl - 2 * np.log(self.n / (2 * r)))
            conf = (share - chance) / (1 - chance)
        return np.clip(conf, 0.0, 1.0), sig

    def score(self, p: float, phase: float) -> tuple[float, float]:
        pp = np.array([p])
        conf, sig = self.scores(pp, np.array([phase]), self.combs(pp)[1])
        return float(conf[0]), float(sig[0])


@dataclass(frozen=True, slots=True)
class _Bands:
    """Per period band [q - 0.5, q + 0.5), q = 2, 3, ...: its strongest comb and scores."""

    period: np.ndarray
    phase: np.ndarray
    conf: np.ndarray
    sig: np.ndarray

    @classmethod
    def of(cls, prof: _Profile) -> _Bands:
        top = min(int(MAX_PERIOD), prof.n // 2)
        period = np.array(
            [prof.period(q, 0.5) if q > 2 else prof.period(2.2, 0.3) for q in range(2, top + 1)]
        )
        if prof.total <= 1e-9 or top < 2:
            zero = np.zeros(len(period))
            return cls(period, zero, zero, zero)
        phase, coh = prof.combs(period)
        conf, sig = prof.scores(period, phase, coh)
        return cls(period, phase, conf, np.where(conf >= MIN_CONFIDENCE, sig, -np.inf))


def _voters(px: _Profile, py: _Profile) -> list[bool]:
    """Which axes have edges to speak of (an axis of plain stripes has none across them)."""
    dens = [p.total / max(p.n, 1) for p in (px, py)]
    return [d > 0.05 * max(dens) and d > 0 for d in dens]


def _choose(bands: list[_Bands], vote: list[bool]) -> list[int | None]:
    """The band index per axis. Square cells first: the band most significant over both axes
    together (each voting axis must explain its edges there); an axis whose own best band is
    far more significant (and no harmonic of that) keeps its own."""
    m = min(len(b.sig) for b in bands)
    joint = sum((b.sig[:m] for b, v in zip(bands, vote, strict=True) if v), np.zeros(m))
    if all(vote):  # a band is shared only where both axes found about the same period there
        apart = np.abs(bands[0].period[:m] / bands[1].period[:m] - 1) > EQUAL
        joint = np.where(apart, -np.inf, joint)
    j = int(np.argmax(joint)) if m else -1
    shared = j if j >= 0 and joint[j] >= MIN_SIGNIFICANCE else None
    out: list[int | None] = []
    for b, v in zip(bands, vote, strict=True):
        own = int(np.argmax(b.sig)) if len(b.sig) else None
        if own is None or b.sig[own] < MIN_SIGNIFICANCE / 2:
            own = None
        pick = shared
        if v and own is not None and (shared is None or _overrules(b, own, shared)):
            pick = own
        out.append(pick)
    return out


def _overrules(b: _Bands, own: int, shared: int) -> bool:
    """Whether an axis's own band beats the shared one by far, other than as its harmonic."""
    if not np.isfinite(b.sig[shared]):
        return True
    ratio = b.period[own] / b.period[shared]
    harmonic = min(abs(ratio - round(ratio)), abs(1 / ratio - round(1 / ratio))) < 0.03
    return not harmonic and b.sig[own] >= b.sig[shared] + OWN_MARGIN


def _fit(px: _Profile, py: _Profile) -> tuple[_Axis, _Axis, list[bool]] | None:
    """The grid of both axes and which have edges of their own, or None when no period is
    credible on either."""
    profs = [px, py]
    vote = _voters(px, py)
    bands = [_Bands.of(p) for p in profs]
    picks = _choose(bands, vote)
    if all(i is None for i in picks) or not any(vote):
        return None
    grids: list[tuple[float, float]] = []
    for prof, b, i, ob, oi in zip(profs, bands, picks, bands[::-1], picks[::-1], strict=True):
        if i is not None:
            grids.append((float(b.period[i]), float(b.phase[i])))
        else:  # no period of its own: the other axis's, fitted here
            assert oi is not None
            p = float(ob.period[oi])
            grids.append(prof.refine(p, max(0.05, 0.02 * p)))
    grids = _coarsest(profs, bands, grids, vote)
    axes = []
    for prof, (p, phase), v in zip(profs, grids, vote, strict=True):
        axes.append(_finish(prof, p, phase) if v else _Axis(p, 0.0, 0.0))
    fx, fy = axes
    if not vote[0]:
        fx = _Axis(fy.period, 0.0, fy.confidence)
    if not vote[1]:
        fy = _Axis(fx.period, 0.0, fx.confidence)
    worst = min(a.confidence for a, v in zip(axes, vote, strict=True) if v)
    if min(fx.period, fy.period) < 1.5 or worst < MIN_CONFIDENCE:
        return None
    return fx, fy, vote


def _coarsest(
    profs: list[_Profile],
    bands: list[_Bands],
    grids: list[tuple[float, float]],
    vote: list[bool],
) -> list[tuple[float, float]]:
    """The largest common multiple k of the periods (k = 2, 3, ...) that is nearly as
    significant over the voting axes (sharp borders make every harmonic of the border
    frequency about as strong as the first). Multiples whose bands score far lower are
    skipped unfitted."""

    def total(gs: list[tuple[float, float]]) -> tuple[float, float]:
        scores = [p.score(*g) for p, g, v in zip(profs, gs, vote, strict=True) if v]
        return min(c for c, _ in scores), sum(z for _, z in scores)

    _, base = total(grids)
    best = grids
    limit = min(min(MAX_PERIOD, p.n / 2) + 0.5 for p in profs)
    for k in range(2, int(limit / max(p for p, _ in grids)) + 1):
        ahead = 0.0
        for b, (p, _), v in zip(bands, grids, vote, strict=True):
            i = round(k * p) - 2
            ahead += float(b.sig[i]) if v and i < len(b.sig) else 0.0
        if not ahead >= 0.5 * base:
            continue
        cand = [
            p.refine(k * g[0], max(0.05, 0.01 * k * g[0]))
            for p, g in zip(profs, grids, strict=True)
        ]
        conf, sig = total(cand)
        if conf >= MIN_CONFIDENCE and sig >= 0.85 * base:
            best = cand
    return best


def _finish(prof: _Profile, p: float, phase: float) -> _Axis:
    """A near-whole period snaps to it; the phase is the comb's at that period, unless that
    moves it by a quarter cell or more (then it was chosen otherwise: which of a multiple's
    lines are cell borders)."""
    p, phase = _snap(prof, p, phase)
    comb = float(prof.combs(np.array([p]))[0][0])
    if abs((comb - phase + p / 2) % p - p / 2) < p / 4:
        phase = comb
    phase = _centre_phase(prof, p, phase)
    return _Axis(p, phase, *prof.score(p, phase))


def _centre_phase(prof: _Profile, p: float, phase: float) -> float:
    """The phase that puts the lines at the centroids of the edge energy around them (within a
    quarter cell, at most 3 pixels): exact for sharp edges, sub-pixel for blurred or resampled
    ones, where the comb's circular mean is pulled by the profile's ends and harmonics."""
    w = min(p / 4, 3.0)
    for _ in range(2):
        rel = (prof.x - phase + p / 2) % p - p / 2  # signed distance to the nearest line
        near = np.abs(rel) <= w
        weight = prof.hat[near]
        if weight.sum() <= 0:
            break
        phase = (phase + float((weight * rel[near]).sum() / weight.sum())) % p
    return phase


def _centre_var(
    a: np.ndarray, axis: int, p: float, phases: np.ndarray, at: np.ndarray, across: _Axis
) -> np.ndarray:
    """Per phase (cells of period p along `axis`): the mean over cells of the variance (summed
    over channels) of the pixels at `at` (fractions of a cell from its centre), at the centres
    of the cells across; at most 128 cells and 64 across, in _lightness terms."""
    n, m = a.shape[axis], a.shape[1 - axis]
    lo, hi = float(at.min()) * p, float(at.max()) * p
    first = math.ceil((-lo - float(phases.min())) / p - 0.5)
    last = math.floor((n - 1 - hi - float(phases.max())) / p - 0.5)
    k = np.arange(first, last + 1)[:: max(1, (last - first + 1) // 128)]
    pos = np.floor(phases[:, None, None] + (k[None, :, None] + 0.5 + at) * p).astype(np.intp)
    j = np.arange(math.ceil(-across.phase / across.period - 0.5), m / across.period)
    where = np.floor(across.phase + (j + 0.5) * across.period).astype(np.intp)
    where = where[(where >= 0) & (where < m)][:: max(1, len(where) // 64)]
    pos = np.clip(pos, 0, n - 1)
    if len(k) == 0 or len(where) == 0:
        return np.zeros(len(phases))
    flat = pos.ravel()
    if axis == 1:
        v = _lightness(a[where[:, None], flat[None, :]]).reshape(len(where), *pos.shape, -1)
    else:
        v = _lightness(a[flat[:, None], where[None, :]]).reshape(*pos.shape, len(where), -1)
        v = np.moveaxis(v, 3, 0)
    # v: (across, phases, cells, samples, channels)
    dev = ((v - v.mean(axis=3, keepdims=True)) ** 2).sum(axis=(3, 4))
    return dev.mean(axis=(0, 2)) / (pos.shape[2] - 1)


QUARTERS = (-0.25, 0.25)
VarFn = Callable[[int, float, list[float], tuple[float, ...], _Axis], list[float]]


def _variances(a: np.ndarray) -> VarFn:
    """_centre_var over `a` for a list of phases, remembered: splitting and merging ask for the
    same cells again."""
    memo: dict[tuple[object, ...], float] = {}

    def var(
        axis: int, p: float, phases: list[float], at: tuple[float, ...], across: _Axis
    ) -> list[float]:
        keys = [(axis, p, ph, at, across.period, across.phase) for ph in phases]
        todo = [ph for ph, key in zip(phases, keys, strict=True) if key not in memo]
        if todo:
            got = _centre_var(a, axis, p, np.array(todo), np.array(at), across)
            for ph, v in zip(todo, got, strict=True):
                memo[(axis, p, ph, at, across.period, across.phase)] = float(v)
        return [memo[key] for key in keys]

    return var


def _lightness(a: np.ndarray) -> np.ndarray:
    """(..., 3 or 4) float32 lightness, the two colour differences at half weight (JPEG smears
    colour over a few pixels, not lightness), and alpha where there is one."""
    m = np.array(
        [
            [0.299, 0.5 * 0.701, -0.5 * 0.299],
            [0.587, -0.5 * 0.587, -0.5 * 0.587],
            [0.114, -0.5 * 0.114, 0.5 * 0.886],
        ],
        np.float32,
    )
    out = a[..., :3].astype(np.float32) @ m  # Y, (R - Y) / 2, (B - Y) / 2
    if a.shape[2] == 4:
        out = np.concatenate([out, a[..., 3:4].astype(np.float32)], axis=2)
    return out


def _pair_noise(a: np.ndarray, axis: int) -> float:
    """The variance between two pixels 2 apart along `axis` in flat areas (median over a
    sample, scaled as for three channels of normal noise), in _lightness terms."""
    b = a[:: max(1, a.shape[0] // 64)] if axis == 1 else a[:, :: max(1, a.shape[1] // 64)]
    q = _lightness(np.moveaxis(b, axis, 0))
    if len(q) < 3:
        return 0.0
    return float(np.median(((q[2:] - q[:-2]) ** 2).sum(-1))) / 2 / 0.79


def _merge(
    var: VarFn, axes: list[_Axis], profs: list[_Profile], noise: Callable[[int], float]
) -> list[_Axis]:
    """Double (or triple) a period whose coarser cells are about as flat in the middle as its
    own, or far flatter at one choice of their borders than at the others: then the lines
    between were no art borders (JPEG's block borders can pass for them when they fall
    mid-cell). `var` measures lightness (and alpha), see _lightness."""
    axes = list(axes)
    for axis, idx in ((1, 0), (0, 1)):
        if profs[idx].total <= 0:
            continue
        for _ in range(4):
            cur, other = axes[idx], axes[1 - idx]
            own = var(axis, cur.period, [cur.phase], QUARTERS, other)[0]
            if cur.period < 3:  # its own pixels are neighbours: they share blur and JPEG
                own = max(own, noise(axis))
            best = None
            for k in (2, 3):
                big = k * cur.period
                if big > min(MAX_PERIOD, profs[idx].n / 2):
                    break
                subs = tuple((j + 0.5) / k - 0.5 for j in range(k))  # centres of the k within
                # the finer grid's choices of coarser borders, and the coarser comb's own
                # phase (the finer one's can be JPEG's, no guide)
                comb = profs[idx].refine(big, max(0.05, 0.01 * big))[1]
                near = (-0.5, -0.25, 0.0, 0.25, 0.5) if cur.period < 3 else (-0.25, 0.0, 0.25)
                starts = [(cur.phase + j * cur.period) % big for j in range(k)]
                starts += [(comb + d) % big for d in near]
                tries = var(axis, big, starts, subs, other)
                low = min(tries)
                rest = (sum(tries[:k]) - min(tries[:k])) / (k - 1)
                start = starts[tries.index(low)]
                if low <= MERGE * own + 1.0 or low <= CONTRAST * rest:
                    best = _finish(profs[idx], big, start)
                    break
            if best is None:
                break
            axes[idx] = best
    return axes


def _split(var: VarFn, axes: list[_Axis], profs: list[_Profile]) -> list[_Axis]:
    """Halve (or third) a period whose cells are not flat in their middle while the cells of
    the finer grid are: then art borders run through the middle of the coarse cells. Edge
    energy alone is fooled here by JPEG's block borders, which can fall mid-cell. `var`
    measures lightness (and alpha), which JPEG does not smear across cells."""
    axes = list(axes)
    for axis, idx in ((1, 0), (0, 1)):
        for _ in range(4):
            cur, other = axes[idx], axes[1 - idx]
            split = False
            coarse = var(axis, cur.period, [cur.phase], QUARTERS, other)[0]
            for k in (2, 3):
                fine = cur.period / k
                if fine < 2:
                    break
                if coarse > SPLIT * var(axis, fine, [cur.phase], QUARTERS, other)[0] + 1.0:
                    p, phase = profs[idx].refine(fine, max(0.05, 0.02 * fine))
                    axes[idx] = _finish(profs[idx], p, phase)
                    split = True
                    break
            if not split:
                break
    return axes


def _positions(n: int) -> np.ndarray:
    """Pixel-edge positions of a profile's entries (entry i is the border at i + 1)."""
    return np.arange(1, n + 1, dtype=np.float64)


def _snap(prof: _Profile, p: float, phase: float) -> tuple[float, float]:
    """The nearest whole period instead, when the difference drifts the grid by under a quarter
    pixel across the whole profile or the whole period explains the edges about as coherently
    (enlarged by an integer: report exactly that integer; few cells place a peak loosely)."""
    q = float(round(p))
    if q == p or q < 1:
        return p, phase
    qphase = float(prof.combs(np.array([q]))[0][0])
    if abs(p - q) * prof.n / p < 0.25 or prof.coherence(q) >= 0.97 * prof.coherence(p):
        return q, qphase
    return p, phase


def _dft_mag(prof: _Profile, freqs: np.ndarray) -> np.ndarray:
    """|spectrum| of a profile at the given frequencies (cycles per pixel), per unit energy."""
    ph = np.exp(-2j * np.pi * np.outer(freqs, _positions(prof.n)))
    return np.abs(ph @ prof.e) / prof.total


def _prefer_square(fx: _Axis, fy: _Axis, px: _Profile, py: _Profile) -> tuple[_Axis, _Axis]:
    """Square cells after all when one axis explains its edges credibly at the other's period
    (few edges along an axis, or JPEG's blocks, can lead it its own way); of two such, the
    one more significant over both axes."""
    ratio = max(fx.period, fy.period) / min(fx.period, fy.period)
    if ratio <= 1 + EQUAL or abs(ratio - round(ratio)) < EQUAL * ratio:
        return fx, fy  # equal already, or cells of 1 x k: the finer grid holds the coarser
    best, best_sig = (fx, fy), -np.inf
    for move in (0, 1):
        prof, target = (px, py)[move], (fy, fx)[move]
        p, phase = prof.refine(target.period, max(0.05, 0.01 * target.period))
        conf, sig = prof.score(p, phase)
        if (
            conf >= FINAL_CONFIDENCE
            and sig >= MIN_SIGNIFICANCE
            and sig + target.significance > (best_sig)
        ):
            moved = _finish(prof, p, phase)
            best = (moved, fy) if move == 0 else (fx, moved)
            best_sig = sig + target.significance
    return best


def _prefer_equal(fx: _Axis, fy: _Axis, px: _Profile, py: _Profile) -> tuple[_Axis, _Axis]:
    """One common period for both axes when it explains both nearly as well as their own."""
    sx, sy = fx.period, fy.period
    if sx == sy or abs(sx - sy) > EQUAL * max(sx, sy):
        return fx, fy
    n = max(px.n, py.n)
    f_lo, f_hi = min(1 / sx, 1 / sy) - 0.25 / n, max(1 / sx, 1 / sy) + 0.25 / n
    freqs = np.linspace(f_lo, f_hi, max(8, math.ceil((f_hi - f_lo) * 16 * n)))
    own = _dft_mag(px, np.array([1 / sx]))[0] + _dft_mag(py, np.array([1 / sy]))[0]
    joint = _dft_mag(px, freqs) + _dft_mag(py, freqs)
    j = int(np.argmax(joint))
    if joint[j] < 0.9 * own:
        return fx, fy
    p, _ = _snap(px if px.n >= py.n else py, float(1 / freqs[j]), 0.0)
    ax, ay = (float(q.combs(np.array([p]))[0][0]) for q in (px, py))
    return _Axis(p, ax, *px.score(p, ax)), _Axis(p, ay, *py.score(p, ay))


def _grid_fit(fx: _Axis, fy: _Axis, w: int, h: int) -> GridFit:
    """The public result: offsets folded into (-p/2, p/2], cells counted when half inside."""

    def offset(a: _Axis) -> float:
        o = a.phase % a.period
        return o - a.period if o > a.period / 2 else o

    ox, oy = offset(fx), offset(fy)
    sx = max(1, math.floor((w - ox) / fx.period + 0.5))
    sy = max(1, math.floor((h - oy) / fy.period + 0.5))
    return GridFit(
        (fx.period, fy.period), (ox, oy), (sx, sy), float(min(fx.confidence, fy.confidence))
    )


def _cell_samples(a: np.ndarray, grid: GridFit) -> np.ndarray:
    """Two pixels per cell and axis, a quarter cell either side of its centre (clear of blurred
    borders): (rows of cells, 2, columns of cells, 2, channels) float32."""

    def pick(n: int, s: float, o: float, count: int) -> np.ndarray:
        c = o + (np.arange(count)[:, None] + 0.5) * s + np.array([-0.25, 0.25])[None, :] * s
        return np.clip(np.floor(c), 0, n - 1).astype(np.intp)

    h, w = a.shape[:2]
    iy = pick(h, grid.scale[1], grid.offset[1], grid.size[1])
    ix = pick(w, grid.scale[0], grid.offset[0], grid.size[0])
    px = a[iy.ravel()][:, ix.ravel()].astype(np.float32)
    return px.reshape(len(iy), 2, len(ix), 2, -1)


def _within(a: np.ndarray, grid: GridFit) -> tuple[float, np.ndarray]:
    """(mean variance of the pixels sampled within each cell, summed over channels; the cells'
    means)."""
    px = _cell_samples(a, grid)
    four = [px[:, i, :, j] for i in (0, 1) for j in (0, 1)]
    mean = (four[0] + four[1] + four[2] + four[3]) / 4
    var = sum(((f - mean) ** 2 for f in four), np.zeros_like(mean)) / 3
    return float(var.sum(-1).mean()), mean


def _check_cells(a: np.ndarray, grid: GridFit) -> None:
    """NoGridError unless the cells look like enlarged pixels: flat inside, compared with the
    same grid shifted by half a cell, whose cells straddle the borders (noise, smooth images
    and JPEG's own block grid are no flatter one way than the other); and a visible step
    between neighbouring cells somewhere (a smooth 8-bit gradient is a perfect staircase, of
    1-level steps)."""
    if grid.size[0] * grid.size[1] < 2:
        return
    within, cells = _within(a, grid)
    half = tuple(o + s / 2 for o, s in zip(grid.offset, grid.scale, strict=True))
    shifted = GridFit(grid.scale, (half[0], half[1]), grid.size, grid.confidence)
    across, _ = _within(a, shifted)
    if within > MAX_FLATNESS * across:
        raise NoGridError("the cells of the best grid are no flatter than the borders")
    dy, dx = np.diff(cells, axis=0), np.diff(cells, axis=1)
    steps = np.concatenate([np.abs(dy).sum(-1).ravel(), np.abs(dx).sum(-1).ravel()])
    if int((steps >= STEP).sum()) < max(1, math.ceil(0.001 * len(steps))):
        raise NoGridError("the steps between cells are too faint to be pixel art")


def _packed(a: np.ndarray) -> np.ndarray | None:
    """Each pixel's colour as one uint32, or None when a sample of the image already holds more
    than 256 colours (no drawn pixel art, or not clean: noise, JPEG, smooth resizing)."""
    h, w = a.shape[:2]
    few = a.reshape(-1, a.shape[2])[:: max(1, (h * w) // 8192)]
    shifts = 8 * np.arange(a.shape[2], dtype=np.uint32)
    if len(np.unique((few.astype(np.uint32) << shifts).sum(axis=1))) > 256:
        return None
    packed = a[..., 0].astype(np.uint32)
    for i in range(1, a.shape[2]):
        packed |= a[..., i].astype(np.uint32) << np.uint32(8 * i)
    return packed


def _native(a: np.ndarray, packed: np.ndarray) -> GridFit | None:
    """Scale 1 when the image looks drawn at its own size: few colours, most pixels repeating
    a neighbour exactly, and visible steps between colours (not a smooth 8-bit gradient); or
    a texture of at most FEW_COLOURS colours whose steps are at least a third as clear."""
    h, w = packed.shape
    same_x = packed[:, 1:] == packed[:, :-1]
    same_y = packed[1:] == packed[:-1]
    diag = packed[1:, 1:] == packed[:-1, :-1]
    repeated = np.zeros((h, w), bool)
    repeated[:, 1:] |= same_x
    repeated[:, :-1] |= same_x
    repeated[1:] |= same_y
    repeated[:-1] |= same_y
    repeated[1:, 1:] |= diag
    repeated[:-1, :-1] |= diag
    share = float(repeated.mean())
    c = a.astype(np.int16)
    steps = np.concatenate(
        [
            np.abs(c[:, 1:] - c[:, :-1]).sum(-1)[~same_x],
            np.abs(c[1:] - c[:-1]).sum(-1)[~same_y],
        ]
    )
    few = len(np.unique(packed)) <= FEW_COLOURS  # a drawn texture: noise of a small palette
    if (share < 0.5 and not few) or (
        len(steps) and float(np.median(steps)) < STEP / (3 if few else 1)
    ):
        return None
    return GridFit((1.0, 1.0), (0.0, 0.0), (w, h), share)


def _single_pixels(packed: np.ndarray) -> bool:
    """Whether some pixels differ from both neighbours along a row or a column (art enlarged
    by 2 or more, cleanly, has none away from the image border)."""
    mid = packed[:, 1:-1]
    xs = np.count_nonzero((mid != packed[:, :-2]) & (mid != packed[:, 2:]))
    mid = packed[1:-1]
    ys = np.count_nonzero((mid != packed[:-2]) & (mid != packed[2:]))
    return bool(xs + ys >= max(2, 0.0005 * packed.size))
