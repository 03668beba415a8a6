"""Tiled tilesets (`.tsx`, Tiled 1.5+ format) with a Wang set, so Tiled can paint with a sheet.

The tileset names its image relative to the `.tsx` (they are written side by side), with
`spacing` for the grid's padding and `margin` for its offset. A Wang set holds one colour per
terrain (Tiled counts them from 1) and one `<wangtile>` per tile it may paint with, its Wang ID
the colours at top, top-right, right, bottom-right, bottom, bottom-left, left, top-left (0: that
place has no colour, e.g. the edges of a corner set). Tiles sharing a Wang ID are alternatives
Tiled picks between at random (variants).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from .grid import GridLayout

TILED_VERSION = "1.8"  # the format version written; Tiled 1.5 and later read it


@dataclass(frozen=True, slots=True)
class WangColor:
    """A terrain of a Wang set: its name, a display colour ('#rrggbb') and a tile showing it."""

    name: str
    color: str
    tile: int


@dataclass(frozen=True, slots=True)
class WangSet:
    """A Wang set: `kind` is 'corner', 'edge' or 'mixed'; `tiles` are (tile id, Wang ID)."""

    name: str
    kind: str
    colors: Sequence[WangColor]
    tiles: Sequence[tuple[int, Sequence[int]]]
    tile: int = -1  # the tile that shows the set in Tiled's list


def tileset_tsx(
    name: str, image: str, grid: GridLayout, count: int, wang_sets: Sequence[WangSet] = ()
) -> str:
    """The `.tsx` text of a grid sheet of `count` tiles whose image (relative to it) is `image`."""
    width, height = grid.extent
    head = _attrs(
        version=TILED_VERSION,
        name=name,
        tilewidth=grid.tile_width,
        tileheight=grid.tile_height,
        spacing=grid.padding,
        margin=grid.offset,
        tilecount=count,
        columns=grid.columns,
    )
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<tileset {head}>",
        f" <image {_attrs(source=image, width=width, height=height)}/>",
    ]
    if wang_sets:
        lines.append(" <wangsets>")
        for ws in wang_sets:
            lines.append(f"  <wangset {_attrs(name=ws.name, type=ws.kind, tile=ws.tile)}>")
            for c in ws.colors:
                attrs = _attrs(name=c.name, color=c.color, tile=c.tile, probability=1)
                lines.append(f"   <wangcolor {attrs}/>")
            for tile, wang_id in ws.tiles:
                ids = ",".join(str(int(v)) for v in wang_id)
                lines.append(f"   <wangtile {_attrs(tileid=tile, wangid=ids)}/>")
            lines.append("  </wangset>")
        lines.append(" </wangsets>")
    lines.append("</tileset>")
    return "\n".join(lines) + "\n"


def _attrs(**values: object) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in values.items())
