"""Aseprite `--data` style sprite-sheet JSON (TexturePacker compatible), hash or array form."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pixelbuild import __version__

#: Aseprite's tag directions ("pingpong_reverse" is Aseprite 1.3's fourth one).
DIRECTIONS = ("forward", "reverse", "pingpong", "pingpong_reverse")


@dataclass(frozen=True, slots=True)
class Frame:
    """One sprite or animation frame in the texture."""

    name: str
    x: int
    y: int
    w: int
    h: int
    duration_ms: int = 100


@dataclass(frozen=True, slots=True)
class Tag:
    """An animation over frames `start..=end` (indices into the frame list)."""

    name: str
    start: int
    end: int
    direction: str = "forward"


def aseprite_json(
    image: str,
    size: tuple[int, int],
    frames: Sequence[Frame],
    tags: Sequence[Tag] = (),
    form: str = "hash",
) -> str:
    """Sprite-sheet JSON as `aseprite --data` writes it.

    `form="hash"`: `frames` is an object keyed by frame name (names must be unique);
    `form="array"`: a list whose items carry the name as `"filename"`. Each frame has
    `frame{x,y,w,h}`, `rotated: false`, `trimmed: false`, `spriteSourceSize`, `sourceSize` and
    `duration` (ms). `meta` has app, version, image, `format: "RGBA8888"`, `size{w,h}`,
    `scale: "1"`, `frameTags[{name,from,to,direction}]`, and empty `layers` and `slices`.
    Keys keep this order; output ends with a newline.
    """
    if form not in ("hash", "array"):
        raise ValueError(f"form must be 'hash' or 'array', not {form!r}")
    width, height = size
    entries = []
    for f in frames:
        if f.w < 1 or f.h < 1 or f.x < 0 or f.y < 0 or f.x + f.w > width or f.y + f.h > height:
            raise ValueError(f"frame {f.name!r} {(f.x, f.y, f.w, f.h)} lies outside {size}")
        if f.duration_ms < 1:
            raise ValueError(f"frame {f.name!r} has duration {f.duration_ms} ms")
        entries.append(
            {
                "frame": {"x": f.x, "y": f.y, "w": f.w, "h": f.h},
                "rotated": False,
                "trimmed": False,
                "spriteSourceSize": {"x": 0, "y": 0, "w": f.w, "h": f.h},
                "sourceSize": {"w": f.w, "h": f.h},
                "duration": int(f.duration_ms),
            }
        )
    names = [f.name for f in frames]
    if form == "hash":
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"hash form needs unique frame names; repeated: {dupes}")
        frames_out: object = dict(zip(names, entries, strict=True))
    else:
        frames_out = [{"filename": n, **e} for n, e in zip(names, entries, strict=True)]
    tags_out = []
    for t in tags:
        if t.direction not in DIRECTIONS:
            raise ValueError(
                f"tag {t.name!r}: direction {t.direction!r} is not one of {DIRECTIONS}"
            )
        if not 0 <= t.start <= t.end < len(frames):
            raise ValueError(f"tag {t.name!r}: frames {t.start}..{t.end} not in 0..{len(frames)}")
        tags_out.append({"name": t.name, "from": t.start, "to": t.end, "direction": t.direction})
    document = {
        "frames": frames_out,
        "meta": {
            "app": "pixelbuild",
            "version": __version__,
            "image": image,
            "format": "RGBA8888",
            "size": {"w": int(width), "h": int(height)},
            "scale": "1",
            "frameTags": tags_out,
            "layers": [],
            "slices": [],
        },
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
