"""Alpha clean-up at the output resolution: flood fill, orphan pixels, 1-px outline.

Images here are index maps (h, w) of int: a palette index, or TRANSPARENT.
"""

from __future__ import annotations

import numpy as np

TRANSPARENT = -1


def _propagate_runs(reach: np.ndarray, passable: np.ndarray) -> np.ndarray:
    """Spread `reach` along each row's runs of passable cells (a whole run is reached or not)."""
    h, w = passable.shape
    start = passable & ~np.concatenate([np.zeros((h, 1), bool), passable[:, :-1]], axis=1)
    run = np.cumsum(start.ravel()).reshape(h, w) - 1
    ids = run[passable]
    hit = np.bincount(ids, weights=reach[passable], minlength=int(start.sum())) > 0
    out = np.zeros_like(reach)
    out[passable] = hit[ids]
    return out


def flood_from_border(passable: np.ndarray, wrap: bool = False) -> np.ndarray:
    """Cells of `passable` 4-connected to the image border through passable cells.

    With `wrap` (tiles) there is no border: nothing is reached from outside.
    """
    if wrap or passable.size == 0:
        return np.zeros_like(passable)
    seed = np.zeros_like(passable)
    seed[0, :] = seed[-1, :] = True
    seed[:, 0] = seed[:, -1] = True
    reach = seed & passable
    while True:
        nxt = _propagate_runs(reach, passable)
        nxt = _propagate_runs(nxt.T, passable.T).T
        if np.array_equal(nxt, reach):
            return reach
        reach = nxt


def _neighbours(a: np.ndarray, wrap: bool, fill: int) -> dict[tuple[int, int], np.ndarray]:
    """The 8 neighbour maps of `a` (h, w) by (dy, dx); outside the image -> `fill` (or wrapped)."""
    out = {}
    if wrap:
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    out[(dy, dx)] = np.roll(a, (-dy, -dx), axis=(0, 1))
        return out
    p = np.pad(a, 1, constant_values=fill)
    h, w = a.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                out[(dy, dx)] = p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
    return out


def remove_orphans(idx: np.ndarray, wrap: bool = False) -> np.ndarray:
    """Replace island pixels: no 8-neighbour shares the pixel's value (transparency counts as one),
    and every 4-neighbour inside the image holds one same other value, which the pixel takes.
    """
    outside = -2
    nb = _neighbours(idx, wrap, outside)
    lonely = np.ones(idx.shape, dtype=bool)
    for v in nb.values():
        lonely &= v != idx
    four = [nb[(-1, 0)], nb[(1, 0)], nb[(0, -1)], nb[(0, 1)]]
    ref = np.full(idx.shape, outside, dtype=idx.dtype)
    for v in four:
        ref = np.where(ref == outside, v, ref)
    uniform = ref != outside
    for v in four:
        uniform &= (v == ref) | (v == outside)
    orphan = lonely & uniform
    out = idx.copy()
    out[orphan] = ref[orphan]
    return out


def add_outline(idx: np.ndarray, color: int, wrap: bool = False) -> np.ndarray:
    """Turn transparent pixels 4-adjacent to an opaque one into `color` (a 1-px outline)."""
    opaque = idx != TRANSPARENT
    nb = _neighbours(opaque, wrap, False)
    near = nb[(-1, 0)] | nb[(1, 0)] | nb[(0, -1)] | nb[(0, 1)]
    out = idx.copy()
    out[~opaque & near] = color
    return out


def dilate8(mask: np.ndarray) -> np.ndarray:
    """Mask grown by one cell in all 8 directions (no wrap)."""
    out = mask.copy()
    for v in _neighbours(mask, False, False).values():
        out |= v
    return out
