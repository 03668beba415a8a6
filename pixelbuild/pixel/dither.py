"""Ordered (Bayer) dithering onto a palette, at the output resolution."""

from __future__ import annotations

import numpy as np

from .quantize import PaletteMap

PERIODS = {"bayer2": 2, "bayer4": 4, "bayer8": 8}


def bayer_matrix(n: int) -> np.ndarray:
    """Bayer threshold matrix (n x n, n a power of two) scaled to -0.5..0.5, mean 0."""
    m = np.zeros((1, 1), dtype=np.int64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return ((m + 0.5) / (n * n) - 0.5).astype(np.float32)


def dither_period(mode: str, width: int, height: int, tileable: bool) -> int:
    """The Bayer period to use (0 for none); in tileable mode the largest one dividing the tile."""
    n = PERIODS.get(mode, 0)
    if tileable:
        while n > 1 and (width % n or height % n):
            n //= 2
        if n < 2:
            return 0
    return n


def palette_spread(pm: PaletteMap) -> float:
    """Typical OKLab step between palette neighbours (median nearest-neighbour distance)."""
    lab = pm.lab
    if len(lab) < 2:
        return 0.0
    d = np.sqrt(((lab[:, None, :] - lab[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def dither_cells(mean_lab: np.ndarray, pm: PaletteMap, period: int, strength: float) -> np.ndarray:
    """Palette index per cell (h, w) of cell colours (h, w, 3), lightness offset by a Bayer matrix.

    The offset is at most strength/2 of the palette's typical step, so with strength < 1 a cell that
    is exactly a palette colour keeps it wherever its neighbours are a full step away.
    """
    h, w, _ = mean_lab.shape
    m = bayer_matrix(period)
    t = m[np.arange(h)[:, None] % period, np.arange(w)[None, :] % period]
    lab = mean_lab.astype(np.float32).copy()
    lab[..., 0] += np.float32(strength * palette_spread(pm)) * t
    return pm.snap_lab(lab)
