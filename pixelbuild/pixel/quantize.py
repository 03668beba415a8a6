"""Snapping colours to a palette (nearest in OKLab) and deterministic k-means in OKLab."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .oklab import srgb_to_oklab

_CHUNK = 1 << 16


def nearest_index(lab: np.ndarray, palette_lab: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour (squared OKLab distance) for each row of `lab` (N, 3).

    Exact and deterministic: element-wise float32 arithmetic (no BLAS); ties take the lowest index.
    """
    lab = np.asarray(lab, dtype=np.float32).reshape(-1, 3)
    pal = np.asarray(palette_lab, dtype=np.float32)
    out = np.empty(len(lab), dtype=np.intp)
    step = max(1, (_CHUNK * 16) // max(1, len(pal)))
    for i in range(0, len(lab), step):
        x = lab[i : i + step]
        d = (x[:, None, 0] - pal[None, :, 0]) ** 2
        d += (x[:, None, 1] - pal[None, :, 1]) ** 2
        d += (x[:, None, 2] - pal[None, :, 2]) ** 2
        out[i : i + step] = np.argmin(d, axis=1)
    return out


def cells6(rgb: np.ndarray) -> np.ndarray:
    """The 6-bit-per-channel cell number (0..2^18-1, int32) of each uint8 colour (..., 3)."""
    q = np.asarray(rgb, dtype=np.uint8) >> np.uint8(2)
    c = q[..., 0].astype(np.int32)
    c <<= 6
    c |= q[..., 1]
    c <<= 6
    c |= q[..., 2]
    return c


class PaletteMap:
    """Maps sRGB colours to palette indices by OKLab distance, fast.

    A table over the top 6 bits of each channel answers most colours at once. A 6-bit cell whose
    8 corners do not all agree (or that holds a palette colour) gets its own exact 4x4x4 table,
    filled the first time the cell is met.
    Palette colours always map to themselves; other colours to their nearest palette colour except
    within a sliver of a decision boundary that passes between a cell's corners without reaching
    one. Lookup is branch-free: table[base[cell] + low bits].
    """

    def __init__(self, palette: np.ndarray):
        pal = np.ascontiguousarray(palette, dtype=np.uint8).reshape(-1, 3)
        if len(pal) == 0:
            raise ValueError("empty palette")
        self.palette = pal
        self.lab = srgb_to_oklab(pal)
        k = len(pal)
        grid = np.minimum(np.arange(65) * 4, 255).astype(np.uint8)
        g = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3)
        corner = nearest_index(srgb_to_oklab(g), self.lab).reshape(65, 65, 65)
        c0 = corner[:-1, :-1, :-1]
        special = np.zeros((64, 64, 64), dtype=bool)
        corners = []
        for dr in (0, 1):
            for dg in (0, 1):
                for db in (0, 1):
                    c = corner[dr : dr + 64, dg : dg + 64, db : db + 64]
                    special |= c != c0
                    corners.append(c)
        p6 = (pal >> 2).astype(np.intp)
        special[p6[:, 0], p6[:, 1], p6[:, 2]] = True
        sp = np.flatnonzero(special.ravel()).astype(np.int32)
        blocks = c0.ravel().astype(np.int32)
        blocks[sp] = -1 - (k + np.arange(len(sp), dtype=np.int32))  # negative: not filled yet
        # 6-bit cell -> block: k constant blocks, then one per special cell (-1 - block until
        # its table is filled)
        self._blocks = blocks
        self._cells = sp
        self._table = np.concatenate(
            [np.repeat(np.arange(k, dtype=np.int32), 64), np.zeros(64 * len(sp), np.int32)]
        ).astype(np.uint8)

    def _fill(self, slots: np.ndarray) -> None:
        """Fill the exact 4x4x4 tables of the given special cells (by slot number)."""
        cells = self._cells[slots]
        base = np.stack([(cells >> 12) & 63, (cells >> 6) & 63, cells & 63], axis=-1) * 4
        off = np.stack(np.meshgrid(*(np.arange(4),) * 3, indexing="ij"), axis=-1).reshape(64, 3)
        rgb = (base[:, None, :] + off[None, :, :]).astype(np.uint8)
        idx = nearest_index(srgb_to_oklab(rgb), self.lab).reshape(len(slots), 64)
        k = len(self.palette)
        rows = (k + slots)[:, None] * 64 + np.arange(64)[None, :]
        self._table[rows] = idx
        self._blocks[cells] = k + slots

    def index(self, rgb: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        """Palette index (uint8) of each colour of a uint8 array (..., 3).

        `cells` may pass `cells6(rgb)` when the caller already has it. Special cells met for the
        first time are filled here (exact), so the first images on a palette pay a little more.
        """
        rgb = np.asarray(rgb, dtype=np.uint8)
        c6 = cells6(rgb) if cells is None else cells
        blk = self._blocks.take(c6)  # take: about twice as fast as indexing, for big arrays
        if blk.min() < 0:
            self._fill(np.unique(-1 - blk[blk < 0]) - len(self.palette))
            blk = self._blocks.take(c6)
        lo = rgb & np.uint8(3)
        sub = lo[..., 0] << np.uint8(4)
        sub |= lo[..., 1] << np.uint8(2)
        sub |= lo[..., 2]
        blk <<= 6
        blk |= sub
        return self._table.take(blk)

    def snap_lab(self, lab: np.ndarray) -> np.ndarray:
        """Exact nearest palette index for OKLab colours (..., 3)."""
        lab = np.asarray(lab, dtype=np.float32)
        return nearest_index(lab.reshape(-1, 3), self.lab).reshape(lab.shape[:-1])


@lru_cache(maxsize=16)
def _palette_map(key: bytes) -> PaletteMap:
    return PaletteMap(np.frombuffer(key, dtype=np.uint8).reshape(-1, 3))


def palette_map(palette: np.ndarray) -> PaletteMap:
    """The (cached) PaletteMap of a palette."""
    return _palette_map(np.ascontiguousarray(palette, dtype=np.uint8).reshape(-1, 3).tobytes())


def kmeans_lab(points: np.ndarray, n: int, iterations: int = 24) -> np.ndarray:
    """Deterministic k-means of OKLab points (N, 3) into at most `n` centres (M, 3), M <= n.

    Initialisation without randomness: the first centre is the most populated OKLab bin's mean, then
    each next one is the bin farthest from the centres so far, weighted by its size (a deterministic
    k-means++). Empty clusters are reseeded the same way.
    """
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    if len(pts) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    # Collapse near-duplicates into weighted bins (quantised OKLab) for speed and the init.
    q = np.round(pts * np.float32(64.0)).astype(np.int32)
    _, inv, counts = np.unique(q, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    w = counts.astype(np.float64)
    sums = np.zeros((len(counts), 3))
    np.add.at(sums, inv, pts)
    bins = (sums / w[:, None]).astype(np.float32)
    n = min(n, len(bins))
    centres = [bins[int(np.argmax(w))]]
    dmin = ((bins - centres[0]) ** 2).sum(1)
    for _ in range(1, n):
        j = int(np.argmax(dmin * w))
        centres.append(bins[j])
        dmin = np.minimum(dmin, ((bins - bins[j]) ** 2).sum(1))
    c = np.array(centres, dtype=np.float32)
    for _ in range(iterations):
        a = nearest_index(bins, c)
        tot = np.bincount(a, weights=w, minlength=n)
        new = np.stack([np.bincount(a, weights=w * bins[:, k], minlength=n) for k in range(3)], 1)
        empty = tot == 0
        new[~empty] /= tot[~empty, None]
        if empty.any():
            d = ((bins - c[a]) ** 2).sum(1) * w
            for e in np.flatnonzero(empty):
                j = int(np.argmax(d))
                new[e] = bins[j]
                d[j] = 0
        moved = new.astype(np.float32)
        if np.allclose(moved, c, atol=1e-6):
            c = moved
            break
        c = moved
    return c
