"""Contact sheets of validation images: one row of images with their prompts, and a title."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MIN_CELL = 128  # small validation images are enlarged (nearest) to at least this width
PAD = 8
LINE = 12  # height of a caption line in Pillow's default font
CAPTION_LINES = 3


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str], title: str) -> Image.Image:
    """A white RGB sheet: `title` on top, then each (H, W, 3|4) uint8 image with its caption."""
    font = ImageFont.load_default()
    cells = [Image.fromarray(np.ascontiguousarray(a[..., :3]), "RGB") for a in images]
    if cells:
        factor = max(1, -(-MIN_CELL // max(c.width for c in cells)))
        cells = [
            c.resize((c.width * factor, c.height * factor), Image.Resampling.NEAREST) for c in cells
        ]
    cell_w = max((c.width for c in cells), default=MIN_CELL)
    cell_h = max((c.height for c in cells), default=0)
    chars = max(8, cell_w // 6)
    top = PAD + LINE + PAD
    width = PAD + len(cells) * (cell_w + PAD) if cells else 2 * PAD + MIN_CELL
    height = top + cell_h + PAD + CAPTION_LINES * LINE + PAD
    sheet = Image.new("RGB", (max(width, PAD + 6 * len(title) + PAD), height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, PAD), title, fill="black", font=font)
    for i, (cell, caption) in enumerate(zip(cells, captions, strict=True)):
        x = PAD + i * (cell_w + PAD)
        sheet.paste(cell, (x, top))
        lines = textwrap.wrap(caption, chars)[:CAPTION_LINES]
        for j, line in enumerate(lines):
            draw.text((x, top + cell_h + PAD + j * LINE), line, fill="black", font=font)
    return sheet
