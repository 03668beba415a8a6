"""Autotile sets of two terrains: which tiles a set holds, how each is blended from the terrain
tiles, the bitmask -> tile lookup, and the seam score of every pair the rules allow side by side.

Two layouts, after the published definitions (cr31's "Wang tiles" pages: 2-corner and blob):

* `wang16`, the 2-corner Wang set (a "dual grid"): terrain lives on the corners of the map's
  cells; a cell's mask has a bit for each corner that shows the second terrain (NE=1, SE=2, SW=4,
  NW=8) and tile i is the tile of mask i: tile 0 is all first terrain, tile 15 all second.
* `blob47`: terrain lives on the cells; a cell of the second terrain takes the 8-neighbour mask
  of its like neighbours (N=1, NE=2, E=4, SE=8, S=16, SW=32, W=64, NW=128: clockwise from north)
  with each corner bit cleared unless both edges beside it are set. The 256 masks reduce to 47
  tiles, laid out in ascending order of their reduced mask; a cell of the first terrain is the
  fill tile after them (index 47).

How a tile is drawn. Each tile has a control grid of terrain values (0: first, 1: second) over
its square: 2x2 for wang16 (its corners), 3x3 for blob47 (a corner: all four cells around it are
the second terrain; an edge's midpoint: both cells beside it; the centre: the cell). A value on
a tile's border depends only on that border's control points, which the tile across the border
shares (this equality is what "allowed side by side" means, as for Tiled's Wang colours). The
field, bilinear between control points plus noise periodic in the tile size, is then continuous
over a whole map of tiles placed by the rules; a pixel shows the second terrain where the field
passes a threshold, with a rim of that terrain's dark colour just inside, and the first terrain
elsewhere. Both terrain tiles wrap, so such a map is seamless by construction, and every pixel is
a colour of the two pixelized terrain tiles: the set stays on their one palette. An alternative
full tile of a terrain keeps its base tile's border (`vary`), so it fits wherever that one does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pixelbuild.manifest.schema import AutotileLayout as Layout

CORNER_BITS = {"NE": 1, "SE": 2, "SW": 4, "NW": 8}
NEIGHBOUR_BITS = {"N": 1, "NE": 2, "E": 4, "SE": 8, "S": 16, "SW": 32, "W": 64, "NW": 128}
_CORNER_EDGES = {"NE": ("N", "E"), "SE": ("S", "E"), "SW": ("S", "W"), "NW": ("N", "W")}
NOISE = 0.18  # amplitude of the boundary's wobble (below each threshold: a full tile stays one)
RIM = 0.12  # how far above the threshold the second terrain shows its rim colour
# Where the field turns to the second terrain. Lower for blob47, whose 3x3 control grid falls
# off within half a tile (at 0.5 its paths would be thin and its island a speck).
THRESHOLD: dict[Layout, float] = {"wang16": 0.5, "blob47": 0.3}
BORDER = 0.4  # an alternative full tile shows its base tile this far in (a fraction of half a side)
BLEND_VERSION = "1"  # part of the assemble key: bump when a tile's pixels would change


def reduce_blob(mask: int) -> int:
    """An 8-neighbour mask with each corner bit cleared unless both edges beside it are set."""
    n = NEIGHBOUR_BITS
    kept = mask & (n["N"] | n["E"] | n["S"] | n["W"])
    for corner, (a, b) in _CORNER_EDGES.items():
        if mask & n[corner] and mask & n[a] and mask & n[b]:
            kept |= n[corner]
    return kept


BLOB_MASKS: tuple[int, ...] = tuple(sorted({reduce_blob(m) for m in range(256)}))


@dataclass(frozen=True, slots=True)
class AutotileSet:
    """The tiles of one layout: a control grid per tile, in sheet order, and the lookup.

    `masks[i]` is the mask tile i is drawn for (None: the blob set's first-terrain fill);
    `lookup[mask]` the tile of a mask (16 entries for wang16, 256 for blob47); `fill[t]` the tile
    that is all terrain t.
    """

    layout: Layout
    masks: tuple[int | None, ...]
    lookup: tuple[int, ...]
    fill: tuple[int, int]

    def __len__(self) -> int:
        return len(self.masks)

    def control(self, tile: int) -> np.ndarray:
        """The (2, 2) or (3, 3) terrain values of tile `tile`, rows north to south."""
        return _control(self.layout, self.masks[tile])

    def wang_id(self, tile: int) -> list[int]:
        """Tiled's Wang ID of the tile: colours (1: first terrain, 2: second) at top, top-right,
        right, bottom-right, bottom, bottom-left, left, top-left; 0 where a corner set has none."""
        c: list[list[int]] = (self.control(tile).astype(int) + 1).tolist()
        if len(c) == 2:
            return [0, c[0][1], 0, c[1][1], 0, c[1][0], 0, c[0][0]]
        return [c[0][1], c[0][2], c[1][2], c[2][2], c[2][1], c[2][0], c[1][0], c[0][0]]

    def in_wang_set(self, tile: int) -> bool:
        """Whether Tiled may paint with it: the blob island (mask 0) has the fill's Wang ID
        (Tiled's colours cannot say "second terrain in the middle only"), so it is left out."""
        return not (self.layout == "blob47" and self.masks[tile] == 0)


@cache
def autotile_set(layout: Layout) -> AutotileSet:
    """The set of `layout` (see the module docstring for the order)."""
    if layout == "wang16":
        return AutotileSet(layout, tuple(range(16)), tuple(range(16)), (0, 15))
    masks: tuple[int | None, ...] = (*BLOB_MASKS, None)
    lookup = tuple(BLOB_MASKS.index(reduce_blob(m)) for m in range(256))
    return AutotileSet(layout, masks, lookup, (len(BLOB_MASKS), lookup[255]))


def _control(layout: Layout, mask: int | None) -> np.ndarray:
    if layout == "wang16":
        assert mask is not None
        bit = {k: float(bool(mask & v)) for k, v in CORNER_BITS.items()}
        return np.array([[bit["NW"], bit["NE"]], [bit["SW"], bit["SE"]]])
    if mask is None:
        return np.zeros((3, 3))
    b = {k: float(bool(mask & v)) for k, v in NEIGHBOUR_BITS.items()}
    return np.array([[b["NW"], b["N"], b["NE"]], [b["W"], 1.0, b["E"]], [b["SW"], b["S"], b["SE"]]])


def _borders(control: np.ndarray, axis: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The control points on a tile's far and near border along `axis` (1: east and west,
    0: south and north). A tile may sit east of (south of) another when its near border equals
    the other's far border."""
    return tuple(np.take(control, -1, axis=axis)), tuple(np.take(control, 0, axis=axis))


# --- drawing ---------------------------------------------------------------------------------


def periodic_noise(width: int, height: int, seed: int) -> np.ndarray:
    """(height, width) noise in [-NOISE, NOISE] that wraps at the tile's size: a random lattice
    of about one point per 4 pixels, bilinear between points, read around the edges."""
    rng = np.random.default_rng(seed)
    gx, gy = max(2, round(width / 4)), max(2, round(height / 4))
    lattice = rng.uniform(-1.0, 1.0, (gy, gx))
    u = (np.arange(width) + 0.5) * gx / width
    v = (np.arange(height) + 0.5) * gy / height
    x0, y0 = np.floor(u).astype(int), np.floor(v).astype(int)
    tx, ty = (u - x0)[None, :], (v - y0)[:, None]
    x0, y0 = x0 % gx, y0 % gy
    x1, y1 = (x0 + 1) % gx, (y0 + 1) % gy
    top = lattice[y0][:, x0] * (1 - tx) + lattice[y0][:, x1] * tx
    bottom = lattice[y1][:, x0] * (1 - tx) + lattice[y1][:, x1] * tx
    return NOISE * (top * (1 - ty) + bottom * ty)


def upsample(control: np.ndarray, width: int, height: int) -> np.ndarray:
    """The control grid, bilinear, at the centres of a (height, width) tile's pixels."""
    k_y, k_x = control.shape

    def axis(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        s = (np.arange(n) + 0.5) / n * (k - 1)
        i = np.minimum(np.floor(s).astype(int), k - 2)
        return i, s - i

    ix, tx = axis(width, k_x)
    iy, ty = axis(height, k_y)
    c = control
    top = c[iy][:, ix] * (1 - tx) + c[iy][:, ix + 1] * tx
    bottom = c[iy + 1][:, ix] * (1 - tx) + c[iy + 1][:, ix + 1] * tx
    return np.asarray(top * (1 - ty[:, None]) + bottom * ty[:, None])


def terrain_labels(field: np.ndarray, threshold: float) -> np.ndarray:
    """Per pixel of a field (values plus noise): 0 first terrain, 1 second, 2 second's rim."""
    labels = (field > threshold).astype(np.uint8)
    labels[(field > threshold) & (field <= threshold + RIM)] = 2
    return labels


def rim_colour(tile: np.ndarray) -> np.ndarray:
    """The dark colour a terrain's boundary is drawn in: the darkest of the tile's colours that
    cover at least a tenth of it (its most common colour when none does)."""
    colours, counts = np.unique(tile.reshape(-1, tile.shape[-1]), axis=0, return_counts=True)
    common = colours[counts * 10 >= counts.sum()]
    if not len(common):
        common = colours[[int(np.argmax(counts))]]
    luma = common[:, :3].astype(float) @ np.array([0.299, 0.587, 0.114])
    return np.asarray(common[int(np.argmin(luma))])


def blend(first: np.ndarray, second: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A tile of `first` where `labels` is 0, `second` where 1, `second`'s rim colour where 2."""
    out = np.where((labels == 1)[..., None], second, first)
    out[labels == 2] = rim_colour(second)
    return np.ascontiguousarray(out)


def paint_set(
    aset: AutotileSet, first: np.ndarray, second: np.ndarray, seed: int
) -> list[np.ndarray]:
    """Every tile of `aset`, blended from two (h, w, 4) terrain tiles of one size."""
    if first.shape != second.shape:
        raise ValueError(f"terrain tiles differ in shape: {first.shape} and {second.shape}")
    h, w = first.shape[:2]
    noise = periodic_noise(w, h, seed)
    threshold = THRESHOLD[aset.layout]
    return [
        blend(first, second, terrain_labels(upsample(aset.control(i), w, h) + noise, threshold))
        for i in range(len(aset))
    ]


def vary(base: np.ndarray, alternative: np.ndarray, seed: int) -> np.ndarray:
    """An alternative full tile of a terrain that meets every neighbour as `base` does: its own
    pixels inside, `base`'s in a wobbly band along the border (the transitions were blended
    from `base`, so this border is the one they match)."""
    h, w = base.shape[:2]
    x = np.minimum(np.arange(w) + 0.5, w - 0.5 - np.arange(w)) / (w / 2)
    y = np.minimum(np.arange(h) + 0.5, h - 0.5 - np.arange(h)) / (h / 2)
    inside = np.minimum(y[:, None], x[None, :]) + periodic_noise(w, h, seed + 1) > BORDER
    return np.ascontiguousarray(np.where(inside[..., None], alternative, base))


# --- seams -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairSeam:
    """The seam score of tile `second` placed east of (axis 1) or south of (axis 0) `first`."""

    first: int
    second: int
    axis: int
    score: float


def allowed_seams(controls: Sequence[np.ndarray], tiles: Sequence[np.ndarray]) -> list[PairSeam]:
    """The seam score of every ordered pair the rules allow side by side, east then south.

    Like `seam_metric` for one border: the mean colour difference of the pixel pairs across the
    border over that of the pairs in the same direction inside both tiles (about 1: no seam).
    One direction only, as textures are often streaked along one axis."""
    rgb = [np.asarray(t, dtype=np.float64)[..., :3] for t in tiles]
    found = []
    for axis in (1, 0):
        inner = [np.abs(np.diff(t, axis=axis)).sum(axis=-1) for t in rgb]
        sums = np.array([d.sum() for d in inner])
        counts = np.array([d.size for d in inner])
        far = np.stack([np.take(t, -1, axis=axis) for t in rgb])
        near = np.stack([np.take(t, 0, axis=axis) for t in rgb])
        borders = [_borders(c, axis) for c in controls]
        pairs = [
            (i, j) for i, a in enumerate(borders) for j, b in enumerate(borders) if a[0] == b[1]
        ]
        i, j = (np.array(side, dtype=int) for side in zip(*pairs, strict=True))
        across = np.abs(far[i] - near[j]).sum(axis=-1).mean(axis=-1)
        within = (sums[i] + sums[j]) / (counts[i] + counts[j])
        flat = np.where(across == 0, 1.0, np.inf)  # no difference inside: a seam is any at all
        scores = np.where(within > 0, across / np.where(within > 0, within, 1.0), flat)
        found += [
            PairSeam(int(a), int(b), axis, round(float(v), 3))
            for a, b, v in zip(i, j, scores, strict=True)
        ]
    return found


# --- the Rust lookup -------------------------------------------------------------------------


def rust_items(
    aset: AutotileSet, terrains: Sequence[str], full: Sequence[Sequence[int]]
) -> list[str]:
    """The lines of a texture's Rust module that autotile with it: the bits, `TERRAINS`, `FULL`
    (each terrain's full tiles: its fill, then its alternatives) and `tile_for(mask)`."""
    from .rust import rust_string

    wang = aset.layout == "wang16"
    bits = CORNER_BITS if wang else NEIGHBOUR_BITS
    what = "corners" if wang else "like neighbours (corners count only beside two edges)"
    names = ", ".join(rust_string(t) for t in terrains)
    alternatives = ", ".join("&[" + ", ".join(str(i) for i in tiles) + "]" for tiles in full)
    table = ", ".join(str(i) for i in aset.lookup)
    index = "(mask & 0x0f) as usize" if wang else "mask as usize"
    return [
        f"    /// Autotile ({aset.layout}): the mask of a cell's {what} that are",
        "    /// `TERRAINS[1]`, one `bit` per place, -> its tile in this sheet.",
        "    pub mod bit {",
        *(f"        pub const {name}: u8 = {value};" for name, value in bits.items()),
        "    }",
        f"    pub const TERRAINS: [&str; 2] = [{names}];",
        "    /// Each terrain's full tiles: the one the transitions match, then its alternatives.",
        f"    pub const FULL: [&[usize]; 2] = [{alternatives}];",
        f"    pub const TILES: [u8; {len(aset.lookup)}] = [{table}];",
        "    /// The tile of a mask of `bit`s.",
        f"    pub const fn tile_for(mask: u8) -> usize {{ TILES[{index}] as usize }}",
    ]
