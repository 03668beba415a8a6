"""What a page shows of a built entry: its image and how to play it, read from its own files.

A view is the written PNG plus the frame rectangles of its Aseprite JSON (the file the game
reads, so the page shows exactly what the game gets): a sprite is one frame, an animation plays
its frames at their durations, a tile repeats 3x3 so seams show, an atlas shows its frame boxes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pixelbuild.assemble.aseprite import Frame
from pixelbuild.targets import AtlasTarget, Target, TilesetTarget
from pixelbuild.targets.autotile import AutotileTarget
from pixelbuild.targets.base import IMAGE, JSON

REPEAT = 3  # a tile is shown 3x3


@dataclass(frozen=True)
class View:
    """One picture on a page: an image and the frames it plays (none: the whole image)."""

    title: str
    png: bytes
    width: int
    height: int
    frames: tuple[Frame, ...] = ()
    repeat: int = 1
    boxes: bool = False  # an atlas or autotile sheet: every frame's box, named on hover
    tags: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": [[f.x, f.y, f.w, f.h, f.duration_ms] for f in self.frames],
            "names": [f.name for f in self.frames],
            "repeat": self.repeat,
        }


def views_of(target: Target, files: dict[str, bytes]) -> list[View]:
    """The views of an entry, from its files by assets-relative path (missing files: none)."""
    outputs = target.outputs()
    png = files.get(outputs[IMAGE])
    if png is None:
        return []
    width, height = png_size(png)
    sheet = files.get(outputs.get(JSON, ""))
    frames, tags = _frames(sheet) if sheet else ((), {})
    whole = View(target.name, png, width, height)
    if isinstance(target, AtlasTarget | AutotileTarget):  # a whole sheet, its tiles on hover
        return [View(target.name, png, width, height, frames, boxes=True)]
    if not frames:
        return [whole]
    repeat = REPEAT if isinstance(target, TilesetTarget) else 1
    if len(tags) > 1:  # a character: one player per animation and direction
        views = [whole]
        for tag, (start, end) in list(tags.items())[:16]:
            views.append(View(tag, png, width, height, frames[start : end + 1]))
        return views
    return [View(target.name, png, width, height, frames, repeat=repeat)]


def _frames(data: bytes) -> tuple[tuple[Frame, ...], dict[str, tuple[int, int]]]:
    """Frames and tags of an Aseprite `--data` JSON (hash or array form)."""
    try:
        doc = json.loads(data)
        raw = doc["frames"]
        items = raw.items() if isinstance(raw, dict) else ((f["filename"], f) for f in raw)
        frames = tuple(
            Frame(name, *_rect(f["frame"]), int(f.get("duration", 100))) for name, f in items
        )
        tags = {
            t["name"]: (int(t["from"]), int(t["to"]))
            for t in doc.get("meta", {}).get("frameTags", [])
        }
    except (ValueError, KeyError, TypeError):
        return (), {}
    return frames, tags


def _rect(box: dict[str, Any]) -> tuple[int, int, int, int]:
    return int(box["x"]), int(box["y"]), int(box["w"]), int(box["h"])


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (no decoding)."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
