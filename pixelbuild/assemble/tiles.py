"""Tile checks: how visible the seam is when a tile repeats."""

from __future__ import annotations

import numpy as np


def seam_metric(tile: np.ndarray) -> float:
    """Wrap-around edge difference divided by interior neighbour difference.

    Numerator: mean absolute difference (summed over channels) between the pixel pairs that meet
    when the tile repeats: last column against first column, last row against first row.
    Denominator: the same mean over every horizontally or vertically adjacent pair inside the tile.
    A seamless tile scores about 1 (its wrap pairs look like any other neighbours); a seam scores
    well above 1. A flat tile scores 1.0; a tile flat inside but differing across the wrap, inf.
    A side of one pixel has no pairs across it (the pixel meets itself): a 1x1 tile scores 1.0.
    Accepts (h, w), (h, w, 3) or (h, w, 4) arrays.
    """
    pixels = np.asarray(tile, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or 0 in pixels.shape[:2]:
        raise ValueError(f"a tile must be an (h, w[, channels]) array, not shape {np.shape(tile)}")
    wraps, inners = [], []
    for axis in (0, 1):
        if pixels.shape[axis] > 1:
            last, first = np.take(pixels, -1, axis=axis), np.take(pixels, 0, axis=axis)
            wraps.append(np.abs(last - first).sum(axis=-1))
            inners.append(np.abs(np.diff(pixels, axis=axis)).sum(axis=-1))
    if not wraps:
        return 1.0
    wrap = sum(float(w.sum()) for w in wraps) / sum(w.size for w in wraps)
    inner = sum(float(i.sum()) for i in inners) / sum(i.size for i in inners)
    if inner == 0:
        return 1.0 if wrap == 0 else float("inf")
    return float(wrap / inner)
