"""Uniform grid sheets, laid out exactly as Bevy's `TextureAtlasLayout::from_grid` reads them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class GridLayout:
    """Mirror of `TextureAtlasLayout::from_grid(tile_size, columns, rows, padding, offset)`.

    Cells are indexed left to right, top to bottom. `padding` and `offset` are the same on both
    axes (bevy_asset_loader's `padding_x/_y`, `offset_x/_y` are written from them).
    """

    tile_width: int
    tile_height: int
    columns: int
    rows: int
    padding: int = 0
    offset: int = 0

    def __post_init__(self) -> None:
        for name in ("tile_width", "tile_height", "columns", "rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"GridLayout.{name} must be at least 1, not {getattr(self, name)}")
        for name in ("padding", "offset"):
            if getattr(self, name) < 0:
                raise ValueError(f"GridLayout.{name} must not be negative")

    @property
    def count(self) -> int:
        """Number of cells (Bevy's `layout.len()`)."""
        return self.columns * self.rows

    @property
    def image_size(self) -> tuple[int, int]:
        """Bevy's `layout.size`: `(tile + p) * grid - p`, where `p` is the padding on an axis with
        more than one cell and 0 otherwise. The offset is *not* included (see `extent`)."""
        pad_x = self.padding if self.columns > 1 else 0
        pad_y = self.padding if self.rows > 1 else 0
        return (
            (self.tile_width + pad_x) * self.columns - pad_x,
            (self.tile_height + pad_y) * self.rows - pad_y,
        )

    @property
    def extent(self) -> tuple[int, int]:
        """The smallest image that holds every cell: `offset + image_size` on each axis."""
        width, height = self.image_size
        return self.offset + width, self.offset + height

    def rect(self, index: int) -> tuple[int, int, int, int]:
        """`(x, y, w, h)` of cell `index`: `min = (tile + padding) * cell + offset`."""
        if not 0 <= index < self.count:
            raise IndexError(f"cell {index} is outside a {self.columns}x{self.rows} grid")
        row, column = divmod(index, self.columns)
        x = (self.tile_width + self.padding) * column + self.offset
        y = (self.tile_height + self.padding) * row + self.offset
        return x, y, self.tile_width, self.tile_height

    def rects(self) -> list[tuple[int, int, int, int]]:
        """Every cell's `(x, y, w, h)`, in index order."""
        return [self.rect(i) for i in range(self.count)]


def default_columns(count: int, tile_width: int, tile_height: int) -> int:
    """Columns for a near-square sheet image: `ceil(sqrt(count * tile_h / tile_w))`, in 1..count."""
    if count < 1:
        raise ValueError("a grid needs at least one cell")
    return max(1, min(count, math.ceil(math.sqrt(count * tile_height / tile_width) - 1e-9)))


def grid_sheet(
    frames: Sequence[np.ndarray], columns: int | None = None, padding: int = 0
) -> tuple[np.ndarray, GridLayout]:
    """Lay same-sized RGBA frames out on a grid; unused cells and padding stay transparent.

    Returns the sheet (uint8, shape `(h, w, 4)`, exactly `layout.image_size`) and its layout.
    """
    if not frames:
        raise ValueError("grid_sheet needs at least one frame")
    first = np.asarray(frames[0])
    if first.ndim != 3 or first.shape[2] != 4:
        raise ValueError(f"frames must be RGBA arrays of shape (h, w, 4), not {first.shape}")
    height, width = first.shape[:2]
    for i, frame in enumerate(frames):
        if np.shape(frame) != first.shape:
            raise ValueError(f"frame {i} is {np.shape(frame)}, frame 0 is {first.shape}")
    if columns is None:
        columns = default_columns(len(frames), width, height)
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    columns = min(columns, len(frames))
    rows = math.ceil(len(frames) / columns)
    layout = GridLayout(width, height, columns, rows, padding=padding)
    sheet_w, sheet_h = layout.image_size
    sheet = np.zeros((sheet_h, sheet_w, 4), dtype=np.uint8)
    for i, frame in enumerate(frames):
        x, y, w, h = layout.rect(i)
        sheet[y : y + h, x : x + w] = np.asarray(frame, dtype=np.uint8)
    return sheet, layout
