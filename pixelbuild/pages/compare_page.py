"""A comparison as a page (grids of cells with a toggle to the raw images and a "keep" that
shows the `pixelbuild pick` command) and as a PNG contact sheet."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

import numpy as np

from pixelbuild.cache import layout
from pixelbuild.cache.store import write_atomic
from pixelbuild.compare.pick import CELLS
from pixelbuild.compare.run import CellResult, Comparison
from pixelbuild.pages.html import Sheets, data_uri, esc, page, view_html
from pixelbuild.pages.views import View

CELL_SIDE = 128  # a cell's picture, nearest-upscaled to about this
BACKDROP = (88, 88, 104, 255)  # behind a picture: dark outlines must show
DOT = " \u00b7 "


def compare_html(c: Comparison, command: str = "pixelbuild") -> str:
    sheets = Sheets()
    axes = " \u00d7 ".join(f"{esc(a.title)} ({len(a.values)})" for a in c.axes)
    head = (
        f"<h1>compare {esc(c.entry)}</h1><div class=dim>{axes}: {len(c.results)} cells; "
        f"{c.generated} images generated, the rest from the cache; {c.seconds:.1f}s</div>"
        "<div class=bar><label><input type=checkbox id=toggle-raw> raw generated images</label>"
        "<input id=command readonly placeholder='keep a cell: its command appears here'></div>"
    )
    grids = []
    for group, members in groupby(c.results, key=lambda r: r.cell.group):
        cells = list(members)
        caption = ", ".join(
            c.axes[2 + i].label(c.axes[2 + i].values[v]) for i, v in enumerate(group)
        )
        grids.append(
            (f"<h2>{esc(caption)}</h2>" if caption else "") + _grid(c, cells, sheets, command)
        )
    return page(f"compare {c.entry}", head + "".join(grids) + sheets.html())


def _grid(c: Comparison, cells: list[CellResult], sheets: Sheets, command: str) -> str:
    columns = sorted({r.cell.column for r in cells})
    rows = sorted({r.cell.row for r in cells})
    by_place = {(r.cell.row, r.cell.column): r for r in cells}
    top = "".join(
        f"<th>{esc(c.axes[0].label(c.axes[0].values[i]))}</th>" if c.axes else "<th></th>"
        for i in columns
    )
    body = []
    for row in rows:
        side = esc(c.axes[1].label(c.axes[1].values[row])) if len(c.axes) > 1 else ""
        tds = "".join(
            f"<td>{_cell(c, by_place[(row, col)], sheets, command)}</td>" for col in columns
        )
        body.append(f"<tr><th>{side}</th>{tds}</tr>")
    return f"<table class=grid><tr><th></th>{top}</tr>{''.join(body)}</table>"


def _cell(c: Comparison, r: CellResult, sheets: Sheets, command: str) -> str:
    views = "".join(view_html(v, sheets, target_side=CELL_SIDE) for v in r.views[:1])
    raw = (
        f"<img class=raw src='{data_uri(r.raw, 'image/jpeg')}' alt='raw #{r.cell.number}'>"
        if r.raw
        else ""
    )
    return (
        f"<div class=cell id=cell-{r.cell.number}>{views}{raw}"
        f"<div><b>#{r.cell.number}</b> {esc(', '.join(r.cell.labels))}</div>"
        f"<div class=figures>{esc(DOT.join(figures(r)))}<br>"
        f"<code>{r.key[:16]}</code></div>"
        f"<button data-command='{esc(f'{command} pick {c.entry} {r.cell.number}')}'>keep</button>"
        "</div>"
    )


def figures(r: CellResult) -> list[str]:
    """The numbers under a cell."""
    found = [f"{r.colors} colours"]
    if r.palette_distance is not None:
        found.append(f"palette dist {r.palette_distance:.3f}")
    if r.seam is not None:
        found.append(f"seam {r.seam:.2f}")
    if r.seconds is not None:
        found.append(f"{r.seconds:.2f}s to generate" + ("" if r.generated else " (cached)"))
    return found


def contact_sheet(c: Comparison) -> bytes:
    """The comparison as one PNG: each grid's cells at about CELL_SIDE, labelled line by line."""
    from PIL import Image, ImageDraw, ImageFont

    from pixelbuild.images import encode_png

    font = ImageFont.load_default()
    pad, line = 8, 12
    tiles = [_first_frame(r.views[0]) for r in c.results]
    cw = max(CELL_SIDE + 48, *(t.shape[1] for t in tiles)) + 2 * pad
    lines = 2 + len(c.axes)  # the number, one per axis, the figures
    ch = max(t.shape[0] for t in tiles) + lines * line + 3 * pad
    columns = max(r.cell.column for r in c.results) + 1
    rows = max(r.cell.row for r in c.results) + 1
    groups = sorted({r.cell.group for r in c.results})
    header = 18 if len(c.axes) > 2 else 0
    block = rows * ch + header
    canvas = Image.new("RGBA", (columns * cw, len(groups) * block), (22, 22, 29, 255))
    draw = ImageDraw.Draw(canvas)
    chars = (cw - 2 * pad) // 6
    for r, tile in zip(c.results, tiles, strict=True):
        top = groups.index(r.cell.group) * block
        x, y = r.cell.column * cw + pad, top + header + r.cell.row * ch + pad
        if header and r.cell.column == 0 and r.cell.row == 0:
            outer = ", ".join(r.cell.labels[2:])
            draw.text((pad, top + 3), outer, fill=(200, 200, 215, 255), font=font)
        h, w = tile.shape[:2]
        draw.rectangle((x - 2, y - 2, x + w + 1, y + h + 1), fill=BACKDROP)
        canvas.alpha_composite(Image.fromarray(tile, "RGBA"), (x, y))
        texts = [f"#{r.cell.number}", *r.cell.labels, DOT.join(figures(r)[:2])]
        for i, text in enumerate(texts):
            colour = (154, 154, 171, 255) if i == len(texts) - 1 else (232, 232, 240, 255)
            at = (x, y + tile.shape[0] + 4 + i * line)
            draw.text(at, text[:chars], fill=colour, font=font)
    return encode_png(np.asarray(canvas))


def _first_frame(view: View) -> np.ndarray:
    """A view's first frame (a tile 3x3), nearest-upscaled to about CELL_SIDE."""
    from pixelbuild.images import decode_png

    sheet = decode_png(view.png)
    f = view.frames[0] if view.frames else None
    frame = sheet[f.y : f.y + f.h, f.x : f.x + f.w] if f else sheet
    if view.repeat > 1:
        frame = np.tile(frame, (view.repeat, view.repeat, 1))
    s = max(1, CELL_SIDE // max(frame.shape[:2]))
    return np.repeat(np.repeat(frame, s, axis=0), s, axis=1)


def write_comparison(c: Comparison, cache: Path, output: Path | None = None) -> dict[str, Path]:
    """The page and the sheet into `output` (default: the cache's compare/ENTRY), and the cells
    `pick` reads into the cache (always there)."""
    import json

    home = cache / layout.COMPARE / c.entry
    where = output or home
    for folder in {home, where}:
        folder.mkdir(parents=True, exist_ok=True)
    staging = where if output else cache / layout.TMP  # a temp file on the same filesystem
    paths = {"page": where / "index.html", "sheet": where / "sheet.png", "cells": home / CELLS}
    write_atomic(paths["page"], compare_html(c).encode(), staging)
    write_atomic(paths["sheet"], contact_sheet(c), staging)
    cells = (json.dumps(c.cells_json(), indent=1) + "\n").encode()
    write_atomic(paths["cells"], cells, cache / layout.TMP)
    return paths
