"""The pieces every page is made of: one self-contained HTML file (images inline as data URIs,
the script and style inline) that opens from disk with no server, no network and nothing
external. A page served by `watch --serve` also reloads itself after each rebuild.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable

from pixelbuild.pages.views import View

STYLE = """
:root { color-scheme: dark; --bg: #16161d; --card: #22222c; --line: #3a3a48; --dim: #9a9aab; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px; background: var(--bg); color: #e8e8f0;
       font: 13px/1.45 system-ui, sans-serif; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 24px 0 8px; }
.dim { color: var(--dim); } code { font: 12px ui-monospace, monospace; }
canvas, img.px { image-rendering: pixelated; image-rendering: crisp-edges;
                 background: repeating-conic-gradient(#585868 0 25%, #4a4a58 0 50%) 0 0 / 16px; }
.bar { display: flex; gap: 16px; align-items: center; margin: 8px 0 16px; flex-wrap: wrap; }
.grid { border-collapse: collapse; margin-bottom: 16px; }
.grid th { color: var(--dim); font-weight: 500; padding: 4px 8px; text-align: center; }
.grid td { vertical-align: top; padding: 4px; }
.cell, .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
               padding: 8px; }
.cell { text-align: center; min-width: 140px; }
.cell .figures, .card .figures { color: var(--dim); font-size: 11px; text-align: left; }
.cell .raw { display: none; max-width: 256px; }
body.show-raw .cell .raw { display: inline-block; }
body.show-raw .cell canvas { display: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.views { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; margin: 6px 0; }
.views figure { margin: 0; } .views figcaption { color: var(--dim); font-size: 11px; }
.boxed { position: relative; display: inline-block; }
.boxed .box { position: absolute; border: 1px solid transparent; }
.boxed .box:hover { border-color: #ffd34d; background: rgba(255, 211, 77, 0.15); }
.swatches { display: flex; flex-wrap: wrap; gap: 2px; margin: 4px 0; }
.swatches span { width: 12px; height: 12px; border-radius: 2px; outline: 1px solid #0006; }
.swatches span.unused { opacity: 0.25; }
button { background: #34344a; color: inherit; border: 1px solid var(--line); border-radius: 4px;
         padding: 2px 8px; cursor: pointer; }
#command { font: 12px ui-monospace, monospace; width: 32em; background: #111; color: #cfe;
           border: 1px solid var(--line); padding: 3px 6px; }
table.report td { padding: 1px 8px 1px 0; vertical-align: top; }
.warn { color: #ffcf5a; } .fail { color: #ff7a7a; }
"""

# Plays every <canvas data-view> from its inline sheet: frames at their durations, a tile
# repeated, the current frame in `data-frame` (what the browser tests watch advance).
SCRIPT = """
(function () {
  const scale = (c) => Number(c.dataset.scale || 1);
  function start(canvas) {
    const view = JSON.parse(canvas.dataset.view);
    const sheet = document.getElementById(canvas.dataset.sheet);
    const frames = view.frames.length ? view.frames : [[0, 0, sheet.naturalWidth,
                                                       sheet.naturalHeight, 0]];
    const s = scale(canvas), r = view.repeat;
    const [, , fw, fh] = frames[0];
    canvas.width = fw * s * r; canvas.height = fh * s * r;
    const g = canvas.getContext("2d");
    g.imageSmoothingEnabled = false;
    let i = 0;
    function draw() {
      const [x, y, w, h, ms] = frames[i];
      g.clearRect(0, 0, canvas.width, canvas.height);
      for (let ty = 0; ty < r; ty++)
        for (let tx = 0; tx < r; tx++)
          g.drawImage(sheet, x, y, w, h, tx * w * s, ty * h * s, w * s, h * s);
      canvas.dataset.frame = String(i);
      if (frames.length > 1) {
        i = (i + 1) % frames.length;
        setTimeout(draw, Math.max(ms || 100, 16) * (r > 1 ? 8 : 1));
      }
    }
    draw();
  }
  function ready(img) {
    return img.complete && img.naturalWidth ? Promise.resolve() : img.decode();
  }
  window.addEventListener("DOMContentLoaded", () => {
    for (const canvas of document.querySelectorAll("canvas[data-view]")) {
      ready(document.getElementById(canvas.dataset.sheet)).then(() => start(canvas));
    }
    const toggle = document.getElementById("toggle-raw");
    if (toggle) toggle.addEventListener("change", () =>
      document.body.classList.toggle("show-raw", toggle.checked));
    for (const button of document.querySelectorAll("button[data-command]")) {
      button.addEventListener("click", () => {
        const field = document.getElementById("command");
        field.value = button.dataset.command;
        field.select();
        if (navigator.clipboard && window.isSecureContext)
          navigator.clipboard.writeText(field.value).catch(() => {});
      });
    }
    if (location.protocol.startsWith("http") && window.EventSource) {
      const events = new EventSource("/events");
      events.addEventListener("rebuilt", () => { events.close(); location.reload(); });
    }
  });
})();
"""


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'><link rel=icon href='data:,'>"
        f"<title>{esc(title)}</title>"
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n"
        "</body></html>\n"
    )


class Sheets:
    """The inline images of a page, each once (many views share one sheet)."""

    def __init__(self) -> None:
        self._ids: dict[bytes, str] = {}

    def id(self, png: bytes) -> str:
        if png not in self._ids:
            self._ids[png] = f"s{len(self._ids)}"
        return self._ids[png]

    def html(self) -> str:
        return (
            "<div hidden>"
            + "".join(f"<img id={i} src='{data_uri(png)}' alt=''>" for png, i in self._ids.items())
            + "</div>"
        )


def view_html(view: View, sheets: Sheets, *, target_side: int = 128) -> str:
    """A view as a canvas that plays it (an atlas: the image with hoverable frame boxes)."""
    w, h = (view.frames[0].w, view.frames[0].h) if view.frames else (view.width, view.height)
    if view.boxes:
        s = max(1, min(4, 512 // max(view.width, view.height, 1)))
        boxes = "".join(
            f"<span class=box title='{esc(f.name)}' style='left:{f.x * s}px;top:{f.y * s}px;"
            f"width:{f.w * s}px;height:{f.h * s}px'></span>"
            for f in view.frames
        )
        return (
            f"<div class=boxed><img class=px src='{data_uri(view.png)}' alt='{esc(view.title)}'"
            f" width={view.width * s} height={view.height * s}>{boxes}</div>"
        )
    s = max(1, target_side // max(w * view.repeat, h * view.repeat, 1))
    return (
        f"<canvas data-sheet={sheets.id(view.png)} data-scale={s} "
        f"data-view='{esc(json.dumps(view.to_json()))}' title='{esc(view.title)}'></canvas>"
    )


def swatches(colors: Iterable[str], used: set[str] | None = None) -> str:
    spans = "".join(
        f"<span style='background:{c}' title='{c}'"
        + (" class=unused" if used is not None and c not in used else "")
        + "></span>"
        for c in colors
    )
    return f"<div class=swatches>{spans}</div>"
