"""Rectangle packing for atlases: MaxRects (best short side fit), no rotation, deterministic.

Padding and extrusion are handled by inflating every rect to a *cell* of
`(w + 2*extrude + padding, h + 2*extrude + padding)` and packing cells into a bin that is `padding`
larger than the texture; the sprite sits `extrude` pixels inside its cell. So two sprites' extruded
borders are at least `padding` apart, and every extruded border lies inside the texture.

Free rects contained in others, and ones too small for any rect still to come, are dropped after
every placement. Two implementations give identical placements: plain Python below 1,200 cells
(short free lists, where numpy's per-call overhead dominates) and numpy arrays above (scoring,
splitting and pruning vectorised). Small inputs try several sort orders per probed size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one sprite went: its own pixels, without extrusion."""

    x: int
    y: int
    width: int
    height: int


Cells = Sequence[tuple[int, int]]
#: A packer for the size search: `(cells, bin_w, bin_h) -> [(x, y), ...]` in input order, or None.
BinPacker = Callable[[Cells, int, int], "list[tuple[int, int]] | None"]

_BIG = np.int64(1 << 40)
_MAX = np.iinfo(np.int64).max
#: Below this many cells the free list stays short and plain Python beats numpy's call overhead.
_PY_BELOW = 1200


#: Orders to place cells in, as sort keys of `(w, h)` (all decreasing; ties by input index).
SORTS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]] = {
    "height": lambda w, h: (-w, -h),
    "long-side": lambda w, h: (-np.minimum(w, h), -np.maximum(w, h)),
    "area": lambda w, h: (-h, -w * h),
    "perimeter": lambda w, h: (-h, -(w + h)),
    "width": lambda w, h: (-h, -w),
}


def _maxrects(
    cells: Cells, bin_w: int, bin_h: int, sort: str = "height"
) -> list[tuple[int, int]] | None:
    """Pack `cells` into one `bin_w` x `bin_h` bin; positions in input order, or None if one fails.

    Cells go in the order `SORTS[sort]` gives (np.lexsort: last key first), then input index.
    """
    n = len(cells)
    ws = np.fromiter((c[0] for c in cells), dtype=np.int64, count=n)
    hs = np.fromiter((c[1] for c in cells), dtype=np.int64, count=n)
    order = np.lexsort((np.arange(n), *SORTS[sort](ws, hs)))
    # Smallest width / height among the cells still to place after step k (suffix minima).
    min_w_after = [*np.minimum.accumulate(ws[order][::-1])[::-1].tolist()[1:], 1 << 40]
    min_h_after = [*np.minimum.accumulate(hs[order][::-1])[::-1].tolist()[1:], 1 << 40]

    # Free rects as left, top, right, bottom.
    fl = np.array([0], dtype=np.int64)
    ft = np.array([0], dtype=np.int64)
    fr = np.array([bin_w], dtype=np.int64)
    fb = np.array([bin_h], dtype=np.int64)
    out: list[tuple[int, int]] = [(0, 0)] * n
    prev_need = (0, 0)
    for step, k in enumerate(order.tolist()):
        w, h = cells[k]
        slack_w = fr - fl - w
        slack_h = fb - ft - h
        fits = (slack_w >= 0) & (slack_h >= 0)
        if not fits.any():
            return None
        short = np.minimum(slack_w, slack_h)
        score = np.where(fits, short * _BIG + np.maximum(slack_w, slack_h), _MAX)
        best = int(score.argmin())
        x, y = int(fl[best]), int(ft[best])
        out[k] = (x, y)
        r, b = x + w, y + h

        hit = (fl < r) & (fr > x) & (ft < b) & (fb > y)
        hl, ht, hr, hb = fl[hit], ft[hit], fr[hit], fb[hit]
        keep = ~hit
        fl, ft, fr, fb = fl[keep], ft[keep], fr[keep], fb[keep]
        # The up-to-four maximal pieces of each hit free rect around the placed one.
        pl = np.concatenate((hl, np.maximum(hl, r), hl, hl))
        pt = np.concatenate((ht, ht, ht, np.maximum(ht, b)))
        pr = np.concatenate((np.minimum(hr, x), hr, hr, hr))
        pb = np.concatenate((hb, hb, np.minimum(hb, y), hb))
        need_w, need_h = min_w_after[step], min_h_after[step]
        useful = (pr - pl >= need_w) & (pb - pt >= need_h)
        if (need_w, need_h) != prev_need:
            prev_need = (need_w, need_h)
            big = (fr - fl >= need_w) & (fb - ft >= need_h)
            fl, ft, fr, fb = fl[big], ft[big], fr[big], fb[big]
        pl, pt, pr, pb = pl[useful], pt[useful], pr[useful], pb[useful]
        if pl.size:
            # Drop pieces inside a kept free rect (kept ones are never inside a piece).
            inside = (
                (pl[:, None] >= fl)
                & (pt[:, None] >= ft)
                & (pr[:, None] <= fr)
                & (pb[:, None] <= fb)
            ).any(axis=1)
            pl, pt, pr, pb = pl[~inside], pt[~inside], pr[~inside], pb[~inside]
        if pl.size > 1:
            # Drop pieces inside another piece; of equal pieces keep the first.
            within = (
                (pl[:, None] >= pl)
                & (pt[:, None] >= pt)
                & (pr[:, None] <= pr)
                & (pb[:, None] <= pb)
            )
            same = (
                (pl[:, None] == pl)
                & (pt[:, None] == pt)
                & (pr[:, None] == pr)
                & (pb[:, None] == pb)
            )
            idx = np.arange(pl.size)
            drop = (within & ~same).any(axis=1) | (same & (idx[None, :] < idx[:, None])).any(axis=1)
            pl, pt, pr, pb = pl[~drop], pt[~drop], pr[~drop], pb[~drop]
        fl = np.concatenate((fl, pl))
        ft = np.concatenate((ft, pt))
        fr = np.concatenate((fr, pr))
        fb = np.concatenate((fb, pb))
    return out


def _order(cells: Cells, sort: str) -> list[int]:
    n = len(cells)
    ws = np.fromiter((c[0] for c in cells), dtype=np.int64, count=n)
    hs = np.fromiter((c[1] for c in cells), dtype=np.int64, count=n)
    return np.lexsort((np.arange(n), *SORTS[sort](ws, hs))).tolist()


def _maxrects_py(
    cells: Cells, bin_w: int, bin_h: int, sort: str = "height"
) -> list[tuple[int, int]] | None:
    """`_maxrects` in plain Python: the same steps in the same order, so the same placements."""
    order = _order(cells, sort)
    n = len(cells)
    min_w_after = [0] * n
    min_h_after = [0] * n
    low_w = low_h = 1 << 40
    for step in range(n - 1, -1, -1):
        min_w_after[step], min_h_after[step] = low_w, low_h
        w, h = cells[order[step]]
        low_w, low_h = min(low_w, w), min(low_h, h)
    free = [(0, 0, bin_w, bin_h)]
    out: list[tuple[int, int]] = [(0, 0)] * n
    prev_need = (0, 0)
    for step, k in enumerate(order):
        w, h = cells[k]
        best = -1
        best_score = (0, 0)
        for i, (left, top, right, bottom) in enumerate(free):
            slack_w, slack_h = right - left - w, bottom - top - h
            if slack_w >= 0 and slack_h >= 0:
                score = (slack_w, slack_h) if slack_w < slack_h else (slack_h, slack_w)
                if best < 0 or score < best_score:
                    best, best_score = i, score
        if best < 0:
            return None
        x, y = free[best][0], free[best][1]
        out[k] = (x, y)
        r, b = x + w, y + h
        kept: list[tuple[int, int, int, int]] = []
        hits: list[tuple[int, int, int, int]] = []
        for f in free:
            (hits if f[0] < r and f[2] > x and f[1] < b and f[3] > y else kept).append(f)
        need_w, need_h = min_w_after[step], min_h_after[step]
        pieces = [
            p
            for p in (
                [(hl, ht, min(hr, x), hb) for hl, ht, hr, hb in hits]
                + [(max(hl, r), ht, hr, hb) for hl, ht, hr, hb in hits]
                + [(hl, ht, hr, min(hb, y)) for hl, ht, hr, hb in hits]
                + [(hl, max(ht, b), hr, hb) for hl, ht, hr, hb in hits]
            )
            if p[2] - p[0] >= need_w and p[3] - p[1] >= need_h
        ]
        if (need_w, need_h) != prev_need:
            prev_need = (need_w, need_h)
            kept = [f for f in kept if f[2] - f[0] >= need_w and f[3] - f[1] >= need_h]
        pieces = [
            p
            for p in pieces
            if not any(
                p[0] >= f[0] and p[1] >= f[1] and p[2] <= f[2] and p[3] <= f[3] for f in kept
            )
        ]
        if len(pieces) > 1:
            pieces = [
                p
                for i, p in enumerate(pieces)
                if not any(
                    (q == p and j < i)
                    or (q != p and p[0] >= q[0] and p[1] >= q[1] and p[2] <= q[2] and p[3] <= q[3])
                    for j, q in enumerate(pieces)
                )
            ]
        free = kept + pieces
    return out


def _sorts_for(count: int) -> tuple[str, ...]:
    """Sort orders worth trying for `count` cells: all when small, fewer as a pack gets costly."""
    if count <= 300:
        return tuple(SORTS)
    if count <= 2000:
        return ("height", "long-side", "area")
    return ("height",)


def _maxrects_any(cells: Cells, bin_w: int, bin_h: int) -> list[tuple[int, int]] | None:
    """The first of `_sorts_for(len(cells))` orders that packs everything, or None."""
    pack = _maxrects_py if len(cells) < _PY_BELOW else _maxrects
    for sort in _sorts_for(len(cells)):
        positions = pack(cells, bin_w, bin_h, sort)
        if positions is not None:
            return positions
    return None


def _used_extent(cells: Cells, positions: Sequence[tuple[int, int]]) -> tuple[int, int]:
    right = max((x + c[0] for c, (x, _) in zip(cells, positions, strict=True)), default=0)
    bottom = max((y + c[1] for c, (_, y) in zip(cells, positions, strict=True)), default=0)
    return right, bottom


def search_size(
    cells: Cells,
    packer: BinPacker = _maxrects_any,
    *,
    padding: int = 0,
    power_of_two: bool = False,
    max_size: int = 4096,
) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
    """Find a small texture for `cells` (already inflated by `padding`); the bin is `padding`
    larger than the texture. Returns `((w, h), positions)` or None when nothing up to
    `max_size` fits. Any `packer` with the `BinPacker` signature can be searched the same way
    (the bench runs rectpack through it).

    Power of two: sizes in increasing area (then squarer, then wider first); the first that packs
    wins. Otherwise, for five widths (three above 2,000 cells) around the square root of the cell
    area: the smallest height that packs (grown by 3% steps from the area bound, then bisected to
    0.5%), the result cropped to the used extent; after the first width, a width is only probed
    at the height that would beat the best texture so far. The smallest area wins (ties: squarer,
    then narrower).
    """
    if not cells:
        return (1, 1), []
    area = sum(w * h for w, h in cells)
    most_w = max(w for w, _ in cells) - padding
    most_h = max(h for _, h in cells) - padding
    if most_w > max_size or most_h > max_size:
        return None
    if power_of_two:
        sides = [1 << k for k in range(max_size.bit_length()) if (1 << k) <= max_size]
        options = sorted(
            ((w, h) for w in sides for h in sides if w >= most_w and h >= most_h),
            key=lambda s: (s[0] * s[1], abs(s[0].bit_length() - s[1].bit_length()), -s[0]),
        )
        for w, h in options:
            if (w + padding) * (h + padding) < area:
                continue
            positions = packer(cells, w + padding, h + padding)
            if positions is not None:
                return (w, h), positions
        return None

    limit = max_size + padding
    side = math.sqrt(area)
    widths = []
    factors = (1.0, 0.9, 1.12, 0.8, 1.25) if len(cells) <= 2000 else (1.0, 0.9, 1.12)
    for factor in factors:
        bin_w = min(limit, max(most_w + padding, round(side * factor)))
        if bin_w not in widths:
            widths.append(bin_w)
    best: tuple[tuple[int, int, int], tuple[int, int], list[tuple[int, int]]] | None = None
    for bin_w in widths:
        low = max(most_h + padding, -(-area // bin_w))
        start = None
        if best is not None:
            # Only a height that beats the best texture so far is worth a probe.
            best_area = best[0][0]
            start = (best_area - 1) // (bin_w - padding) + padding
            if start < low:
                continue
        positions = _smallest_height(cells, packer, bin_w, low, limit, start)
        if positions is None:
            continue
        right, bottom = _used_extent(cells, positions)
        size = (right - padding, bottom - padding)
        key = (size[0] * size[1], max(size), size[0])
        if best is None or key < best[0]:
            best = (key, size, positions)
    return None if best is None else (best[1], best[2])


def _smallest_height(
    cells: Cells, packer: BinPacker, bin_w: int, low: int, limit: int, start: int | None = None
) -> list[tuple[int, int]] | None:
    """Positions for the smallest bin height (to 0.5%) at width `bin_w`, or None up to `limit`.

    Without `start`, heights grow by 3% from `low` until one packs; with it, `start` is the only
    height tried upwards (None if it fails). Then bisect between the last failure and success.
    """
    failed = low - 1
    height = low if start is None else min(start, limit)
    while True:
        positions = packer(cells, bin_w, height)
        if positions is not None:
            break
        if start is not None or height >= limit:
            return None
        failed = height
        height = min(limit, max(height + 1, math.ceil(height * 1.03)))
    good, good_positions = height, positions
    while good - failed > max(1, good // 200):
        mid = (good + failed) // 2
        positions = packer(cells, bin_w, mid)
        if positions is None:
            failed = mid
        else:
            good, good_positions = mid, positions
    return good_positions


def pack_rects(
    sizes: Sequence[tuple[int, int]],
    *,
    padding: int = 1,
    extrude: int = 0,
    power_of_two: bool = False,
    max_size: int = 4096,
) -> tuple[tuple[int, int], list[Placement]]:
    """Pack `(w, h)` sizes into one texture; returns `((tex_w, tex_h), placements)` in input order.

    MaxRects with best short side fit, no rotation; deterministic (depends only on the sequence of
    sizes). `padding` transparent pixels separate neighbouring sprites' extruded borders;
    `extrude` pixels around each sprite are reserved for `atlas_image` to repeat edge pixels into.
    Raises ValueError naming the sizes when they do not fit in `max_size` x `max_size`.
    An empty `sizes` gives `((1, 1), [])`.
    """
    if padding < 0 or extrude < 0:
        raise ValueError("padding and extrude must not be negative")
    for w, h in sizes:
        if w < 1 or h < 1:
            raise ValueError(f"cannot pack a {w}x{h} rect: sizes must be at least 1x1")
    grow = 2 * extrude + padding
    cells = [(int(w) + grow, int(h) + grow) for w, h in sizes]
    found = search_size(cells, padding=padding, power_of_two=power_of_two, max_size=max_size)
    if found is None:
        too_big = [s for s in sizes if max(s[0], s[1]) + 2 * extrude > max_size]
        named = too_big or list(sizes)
        listed = ", ".join(f"{w}x{h}" for w, h in named[:20])
        more = f" and {len(named) - 20} more" if len(named) > 20 else ""
        why = "larger than" if too_big else "do not fit together in"
        raise ValueError(
            f"{len(named)} sprite sizes {why} {max_size}x{max_size} "
            f"(padding {padding}, extrude {extrude}): {listed}{more}"
        )
    size, positions = found
    placements = [
        Placement(x + extrude, y + extrude, int(w), int(h))
        for (x, y), (w, h) in zip(positions, sizes, strict=True)
    ]
    return size, placements


def atlas_image(
    images: Sequence[np.ndarray],
    size: tuple[int, int],
    placements: Sequence[Placement],
    extrude: int = 0,
) -> np.ndarray:
    """Compose RGBA `images` at `placements` on a transparent `size` texture (uint8 `(h, w, 4)`),
    repeating each image's edge pixels `extrude` pixels outwards (against sampling bleed)."""
    tex_w, tex_h = size
    atlas = np.zeros((tex_h, tex_w, 4), dtype=np.uint8)
    if len(images) != len(placements):
        raise ValueError(f"{len(images)} images but {len(placements)} placements")
    for i, (image, place) in enumerate(zip(images, placements, strict=True)):
        pixels = np.asarray(image, dtype=np.uint8)
        if pixels.shape != (place.height, place.width, 4):
            raise ValueError(
                f"image {i} is {pixels.shape}, its placement is {place.width}x{place.height} RGBA"
            )
        x0, y0 = place.x - extrude, place.y - extrude
        x1, y1 = place.x + place.width + extrude, place.y + place.height + extrude
        if x0 < 0 or y0 < 0 or x1 > tex_w or y1 > tex_h:
            raise ValueError(f"image {i} with extrusion {extrude} lies outside {tex_w}x{tex_h}")
        if extrude:
            pixels = np.pad(pixels, ((extrude, extrude), (extrude, extrude), (0, 0)), mode="edge")
        atlas[y0:y1, x0:x1] = pixels
    return atlas
