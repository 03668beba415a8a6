"""Grid sheets against Bevy's `TextureAtlasLayout::from_grid` (bevy_image/src/texture_atlas.rs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelbuild.assemble import GridLayout, default_columns, grid_sheet


def bevy_from_grid(tile, columns, rows, padding, offset):
    """A line-by-line transcription of Bevy's loop (0.14 through 0.19 are identical), including
    its `current_padding` that stays 0 on an axis with a single cell."""
    textures = []
    current_padding = [0, 0]
    for y in range(rows):
        if y > 0:
            current_padding[1] = padding[1]
        for x in range(columns):
            if x > 0:
                current_padding[0] = padding[0]
            min_x = (tile[0] + current_padding[0]) * x + offset[0]
            min_y = (tile[1] + current_padding[1]) * y + offset[1]
            textures.append((min_x, min_y, min_x + tile[0], min_y + tile[1]))
    size = (
        (tile[0] + current_padding[0]) * columns - current_padding[0],
        (tile[1] + current_padding[1]) * rows - current_padding[1],
    )
    return size, textures


@given(
    tw=st.integers(1, 64),
    th=st.integers(1, 64),
    columns=st.integers(1, 9),
    rows=st.integers(1, 9),
    padding=st.integers(0, 5),
    offset=st.integers(0, 7),
)
def test_layout_matches_bevy_from_grid(tw, th, columns, rows, padding, offset) -> None:
    layout = GridLayout(tw, th, columns, rows, padding, offset)
    size, textures = bevy_from_grid((tw, th), columns, rows, (padding, padding), (offset, offset))
    assert layout.image_size == size
    assert layout.count == len(textures)
    assert [(x, y, x + w, y + h) for x, y, w, h in layout.rects()] == textures
    assert layout.extent == (size[0] + offset, size[1] + offset)


def test_layout_known_values() -> None:
    # Checked by hand: 3 columns of 10 px with 2 px padding from x=1: 1, 13, 25; width 34.
    layout = GridLayout(10, 6, 3, 2, padding=2, offset=1)
    assert layout.image_size == (34, 14)
    assert layout.rect(0) == (1, 1, 10, 6)
    assert layout.rect(2) == (25, 1, 10, 6)
    assert layout.rect(3) == (1, 9, 10, 6)  # second row starts left: left to right, top to bottom
    with pytest.raises(IndexError):
        layout.rect(6)
    # A single column: Bevy leaves that axis' padding out of the size.
    assert GridLayout(10, 6, 1, 3, padding=4).image_size == (10, 26)


def test_layout_validation() -> None:
    with pytest.raises(ValueError, match="columns"):
        GridLayout(8, 8, 0, 1)
    with pytest.raises(ValueError, match="padding"):
        GridLayout(8, 8, 1, 1, padding=-1)


def frames(n: int, w: int, h: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n * 1000 + w * 10 + h)
    out = []
    for _ in range(n):
        frame = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        frame[..., 3] = 255
        out.append(frame)
    return out


@pytest.mark.parametrize(("n", "columns", "padding"), [(1, None, 0), (8, None, 1), (5, 2, 3)])
def test_grid_sheet_places_each_frame_at_its_rect(n, columns, padding) -> None:
    images = frames(n, 12, 7)
    sheet, layout = grid_sheet(images, columns=columns, padding=padding)
    assert sheet.dtype == np.uint8
    assert (sheet.shape[1], sheet.shape[0]) == layout.image_size
    covered = np.zeros(sheet.shape[:2], dtype=bool)
    for i, image in enumerate(images):
        x, y, w, h = layout.rect(i)
        np.testing.assert_array_equal(sheet[y : y + h, x : x + w], image)
        covered[y : y + h, x : x + w] = True
    # Padding and unused cells are transparent.
    assert not sheet[~covered].any()


def test_grid_sheet_default_is_near_square() -> None:
    _, layout = grid_sheet(frames(8, 16, 16))
    assert (layout.columns, layout.rows) == (3, 3)
    _, layout = grid_sheet(frames(8, 32, 8))  # wide frames: fewer columns make a squarer sheet
    assert (layout.columns, layout.rows) == (2, 4)
    assert default_columns(4, 16, 16) == 2
    assert default_columns(1, 16, 16) == 1
    # More columns than frames shrink to one row.
    _, layout = grid_sheet(frames(3, 8, 8), columns=8)
    assert (layout.columns, layout.rows) == (3, 1)


def test_grid_sheet_rejects_mixed_sizes() -> None:
    with pytest.raises(ValueError, match="frame 1"):
        grid_sheet([np.zeros((8, 8, 4), np.uint8), np.zeros((8, 9, 4), np.uint8)])
    with pytest.raises(ValueError, match="RGBA"):
        grid_sheet([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ValueError):
        grid_sheet([])
