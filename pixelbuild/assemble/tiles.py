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
    Accepts (h, w), (h, w, 3) or (h, w, 4) arrays of at least 2x2 pixels.
    """
    pixels = np.asarray(tile, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[0] < 2 or pixels.shape[1] < 2:
        raise ValueError(f"a tile must be at least 2x2 pixels, not shape {np.shape(tile)}")
    wrap_x = np.abs(pixels[:, -1] - pixels[:, 0]).sum(axis=-1)
    wrap_y = np.abs(pixels[-1, :] - pixels[0, :]).sum(axis=-1)
    wrap = (wrap_x.sum() + wrap_y.sum()) / (wrap_x.size + wrap_y.size)
    inner_x = np.abs(np.diff(pixels, axis=1)).sum(axis=-1)
    inner_y = np.abs(np.diff(pixels, axis=0)).sum(axis=-1)
    inner = (inner_x.sum() + inner_y.sum()) / (inner_x.size + inner_y.size)
    if inner == 0:
        return 1.0 if wrap == 0 else float("inf")
    return float(wrap / inner)
