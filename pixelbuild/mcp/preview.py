"""Images an assistant can look at: an entry's output enlarged nearest-neighbour (pixel art stays
crisp), one frame of a sheet, or a contact sheet that sets a sheet's frames apart.

Only files a build wrote are read: the entry's image output and the Aseprite JSON beside it
(which names every frame's rectangle), both under the assets root; sizes are bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelbuild import limits
from pixelbuild.errors import UsageError
from pixelbuild.images import encode_png, read_image
from pixelbuild.inputs import regular_file_problem

PREVIEW_SIDE = 512  # default scale: the largest that keeps the longest side within this
MAX_SIDE = 4096  # an explicit scale is held to this
MAX_SCALE = 32
GAP = 1  # source pixels between frames of a contact sheet
SHEET_COLUMNS = 8


@dataclass(frozen=True, slots=True)
class Preview:
    png: bytes
    width: int
    height: int
    scale: int
    frames: int


def frame_rects(layout: Path) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of every frame in an Aseprite JSON (hash or array form); [] without one."""
    if regular_file_problem(layout, limits.MANIFEST_BYTES) is not None:
        return []
    try:
        frames = json.loads(layout.read_text(encoding="utf-8")).get("frames", [])
        items = frames.values() if isinstance(frames, dict) else frames
        return [(f["frame"]["x"], f["frame"]["y"], f["frame"]["w"], f["frame"]["h"]) for f in items]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def render(image: Path, layout: Path | None, frame: int | None, scale: int | None) -> Preview:
    """The preview of `image`: frame `frame` of its sheet, else the whole image (a sheet as a
    contact sheet of its frames), enlarged `scale` times (default: to about PREVIEW_SIDE)."""
    pixels = read_image(image)
    rects = frame_rects(layout) if layout is not None else []
    if frame is not None:
        if not rects:
            raise UsageError(f"{image.name} is a single image: it has no frames (leave out frame)")
        if not 0 <= frame < len(rects):
            raise UsageError(f"frame {frame} is out of range: this sheet has {len(rects)} frames")
        x, y, w, h = rects[frame]
        pixels = pixels[y : y + h, x : x + w]
    elif len(rects) > 1:
        pixels = contact_sheet([pixels[y : y + h, x : x + w] for x, y, w, h in rects])
    height, width = pixels.shape[:2]
    longest = max(width, height, 1)
    if scale is None:
        scale = max(1, min(MAX_SCALE, PREVIEW_SIDE // longest))
    elif not 1 <= scale <= MAX_SCALE or longest * scale > MAX_SIDE:
        top = max(1, min(MAX_SCALE, MAX_SIDE // longest))
        raise UsageError(f"scale must be 1..{top} for this image ({width}x{height})")
    big = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    return Preview(encode_png(big), width * scale, height * scale, scale, max(1, len(rects)))


def contact_sheet(frames: list[np.ndarray], columns: int = SHEET_COLUMNS) -> np.ndarray:
    """Frames in rows of `columns`, GAP transparent pixels apart, each cell as large as the
    largest frame (a packed atlas has frames of many sizes)."""
    cell_h = max(f.shape[0] for f in frames)
    cell_w = max(f.shape[1] for f in frames)
    columns = max(1, min(columns, len(frames)))
    rows = -(-len(frames) // columns)
    sheet = np.zeros(
        (rows * cell_h + (rows - 1) * GAP, columns * cell_w + (columns - 1) * GAP, 4), np.uint8
    )
    for i, f in enumerate(frames):
        top, left = (i // columns) * (cell_h + GAP), (i % columns) * (cell_w + GAP)
        sheet[top : top + f.shape[0], left : left + f.shape[1]] = f
    return sheet


def swatch(colors: list[str], cell: int = 16) -> bytes:
    """A palette as a row of squares (rows of 16 colours), PNG."""
    rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colors] or [(0, 0, 0)]
    columns = min(16, len(rgb))
    rows = -(-len(rgb) // columns)
    sheet = np.zeros((rows * cell, columns * cell, 4), np.uint8)
    for i, (r, g, b) in enumerate(rgb):
        top, left = (i // columns) * cell, (i % columns) * cell
        sheet[top : top + cell, left : left + cell] = (r, g, b, 255)
    return encode_png(sheet)
