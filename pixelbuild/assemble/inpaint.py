"""Regenerating the border region of autotile transitions by inpainting (the SDXL engines).

For each transition tile (one whose control grid holds both terrains, and whose band is not
empty: in a small blob47 tile the ground may show only within the ring) the engine repaints, at
canvas size, the tile's *band*: the art pixels within `BAND` of the terrain border of its
pixel-level blend (`assemble/autotile.py`, the same labels), minus the outer ring of `RING`
pixels along the tile's edges. The init image is the two raw terrain images composed by those
labels, the mask the band enlarged to the canvas, the prompt both terrains'.

The shared-border guarantee: after pixelizing onto the set's palette, only the band is taken
from the inpainted image (`compose`); every other pixel, the whole outer ring included, is the
blend's. A tile's ring depends only on its border's control points (as the blend's does), so two
tiles the rules allow side by side still meet as the pure blend does: inpainting changes no
pixel on or next to any edge, and the seam scores of allowed pairs are measured as before.
Numpy only; the engine work is a generate step (targets/autotile.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pixelbuild.assemble.autotile import THRESHOLD, periodic_noise, terrain_labels, upsample

if TYPE_CHECKING:
    from pixelbuild.assemble.autotile import AutotileSet

BAND = 2  # art pixels either side of the terrain border that are repainted
RING = 2  # art pixels along the tile's edges always kept from the blend
STRENGTH = 0.75  # inpaint strength: regenerates the texture, keeps which terrain is where
INPAINT_VERSION = "1"  # part of the inpaint and assemble keys: bump when the band would change


def transitions(aset: AutotileSet, width: int, height: int, seed: int) -> list[int]:
    """The tiles of `aset` inpainted at this art size and blend seed, in sheet order: those that
    show both terrains with a band that is not empty."""
    return [
        i
        for i in range(len(aset))
        if np.ptp(aset.control(i)) > 0 and band(labels_of(aset, i, width, height, seed)).any()
    ]


def labels_of(aset: AutotileSet, tile: int, width: int, height: int, seed: int) -> np.ndarray:
    """The blend's per-pixel terrain labels of `tile` (0 first, 1 second, 2 second's rim)."""
    field = upsample(aset.control(tile), width, height) + periodic_noise(width, height, seed)
    return terrain_labels(field, THRESHOLD[aset.layout])


def band(labels: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels within `BAND` (8-neighbour steps) of a change of terrain, not in the
    outer `RING` pixels."""
    second = labels > 0
    edge = np.zeros_like(second)
    edge[:, 1:] |= second[:, 1:] != second[:, :-1]
    edge[:, :-1] |= second[:, 1:] != second[:, :-1]
    edge[1:, :] |= second[1:, :] != second[:-1, :]
    edge[:-1, :] |= second[1:, :] != second[:-1, :]
    grown = edge.copy()
    for _ in range(BAND - 1):
        padded = np.pad(grown, 1)
        grown = np.zeros_like(grown)
        for dy in range(3):
            for dx in range(3):
                grown |= padded[dy : dy + edge.shape[0], dx : dx + edge.shape[1]]
    grown[:RING, :] = grown[-RING:, :] = False
    grown[:, :RING] = grown[:, -RING:] = False
    return grown


def _enlarge(art: np.ndarray, width: int, height: int) -> np.ndarray:
    """An (h, w, ...) array at art resolution, nearest-sampled to (height, width)."""
    h, w = art.shape[:2]
    rows = np.arange(height) * h // height
    cols = np.arange(width) * w // width
    return np.asarray(art[rows][:, cols])


def inpaint_inputs(
    aset: AutotileSet, tile: int, art: tuple[int, int], seed: int, terrains: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The init image and mask (uint8, 255: repaint) of transition `tile` at the raw terrain
    images' canvas size, for an art tile of `art` = (width, height) pixels."""
    first, second = terrains
    if first.shape != second.shape:
        raise ValueError(f"terrain images differ in shape: {first.shape} and {second.shape}")
    height, width = first.shape[:2]
    labels = labels_of(aset, tile, art[0], art[1], seed)
    where = _enlarge(labels > 0, width, height)
    init = np.ascontiguousarray(np.where(where[..., None], second, first))
    mask = _enlarge(band(labels), width, height).astype(np.uint8) * 255
    return init, mask


def compose(
    aset: AutotileSet, tile: int, blended: np.ndarray, inpainted: np.ndarray, seed: int
) -> np.ndarray:
    """Transition `tile`: the inpainted (pixelized) tile inside its band, the blend elsewhere."""
    h, w = blended.shape[:2]
    inside = band(labels_of(aset, tile, w, h, seed))
    return np.ascontiguousarray(np.where(inside[..., None], inpainted, blended))
