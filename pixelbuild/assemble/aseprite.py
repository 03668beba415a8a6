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


@dataclass(frozen=True, slots=True)
class SheetAnimation:
    """An animation over named frames, in play order (e.g. an animation packed into an atlas).

    `frames` must be consecutive, in order, in the sheet's frame list (so Aseprite's
    `frameTags{from,to}` can say it too). `durations_ms`, one per frame, replaces those frames'
    `duration`; None keeps each `Frame.duration_ms`.
    """

    name: str
    frames: Sequence[str]
    direction: str = "forward"
    durations_ms: Sequence[int] | None = None


def aseprite_json(
    image: str,
    size: tuple[int, int],
    frames: Sequence[Frame],
    tags: Sequence[Tag] = (),
    form: str = "hash",
    *,
    animations: Sequence[SheetAnimation] = (),
) -> str:
    """Sprite-sheet JSON as `aseprite --data` writes it, plus TexturePacker's `animations` map.

    `form="hash"`: `frames` is an object keyed by frame name (names must be unique);
    `form="array"`: a list whose items carry the name as `"filename"`. Each frame has
    `frame{x,y,w,h}`, `rotated: false`, `trimmed: false`, `spriteSourceSize`, `sourceSize` and
    `duration` (ms). `meta` has app, version, image, `format: "RGBA8888"`, `size{w,h}`,
    `scale: "1"`, `frameTags[{name,from,to,direction}]`, and empty `layers` and `slices`.

    Animations come as index ranges (`tags`, e.g. a grid sheet of one animation) or as frame
    names (`animations`, e.g. an atlas's "walk/0", "walk/1", ...). Each becomes a frameTag (tags
    first, then animations, in the order given) and an entry of the top-level
    `animations: {name: [frame names in order]}` that pixi.js's `Spritesheet` reads (its
    AnimatedSprite plays that list forward whatever the direction; it looks frames up by key,
    so it needs the hash form). `animations` is left out when there are none, so a sheet
    without animations is exactly Aseprite's shape. Animation names must be unique.
    Keys keep this order (frames, animations, meta); output ends with a newline.
    """
    if form not in ("hash", "array"):
        raise ValueError(f"form must be 'hash' or 'array', not {form!r}")
    width, height = size
    for f in frames:
        if f.w < 1 or f.h < 1 or f.x < 0 or f.y < 0 or f.x + f.w > width or f.y + f.h > height:
            raise ValueError(f"frame {f.name!r} {(f.x, f.y, f.w, f.h)} lies outside {size}")
        if f.duration_ms < 1:
            raise ValueError(f"frame {f.name!r} has duration {f.duration_ms} ms")
    names = [f.name for f in frames]
    if form == "hash" and len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"hash form needs unique frame names; repeated: {dupes}")
    durations = [int(f.duration_ms) for f in frames]
    ranges = [(t.name, t.start, t.end, t.direction) for t in tags]
    for t in tags:
        if not 0 <= t.start <= t.end < len(frames):
            raise ValueError(f"tag {t.name!r}: frames {t.start}..{t.end} not in 0..{len(frames)}")
    ranges += _animation_ranges(names, durations, animations)
    tags_out = []
    animations_out: dict[str, list[str]] = {}
    for name, start, end, direction in ranges:
        if direction not in DIRECTIONS:
            raise ValueError(f"tag {name!r}: direction {direction!r} is not one of {DIRECTIONS}")
        if name in animations_out:
            raise ValueError(f"animation name {name!r} is used twice")
        tags_out.append({"name": name, "from": start, "to": end, "direction": direction})
        animations_out[name] = names[start : end + 1]
    entries = [
        {
            "frame": {"x": f.x, "y": f.y, "w": f.w, "h": f.h},
            "rotated": False,
            "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": f.w, "h": f.h},
            "sourceSize": {"w": f.w, "h": f.h},
            "duration": ms,
        }
        for f, ms in zip(frames, durations, strict=True)
    ]
    if form == "hash":
        frames_out: object = dict(zip(names, entries, strict=True))
    else:
        frames_out = [{"filename": n, **e} for n, e in zip(names, entries, strict=True)]
    document: dict[str, object] = {"frames": frames_out}
    if animations_out:
        document["animations"] = animations_out
    document["meta"] = {
        "app": "pixelbuild",
        "version": __version__,
        "image": image,
        "format": "RGBA8888",
        "size": {"w": int(width), "h": int(height)},
        "scale": "1",
        "frameTags": tags_out,
        "layers": [],
        "slices": [],
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _animation_ranges(
    names: list[str], durations: list[int], animations: Sequence[SheetAnimation]
) -> list[tuple[str, int, int, str]]:
    """Each named-frame animation as `(name, from, to, direction)`; applies its durations."""
    where: dict[str, int] = {}
    repeated: set[str] = set()
    for i, n in enumerate(names):
        if n in where:
            repeated.add(n)
        where.setdefault(n, i)
    set_by: dict[int, str] = {}
    out = []
    for a in animations:
        if not a.frames:
            raise ValueError(f"animation {a.name!r} has no frames")
        for n in a.frames:
            if n not in where:
                raise ValueError(f"animation {a.name!r}: frame {n!r} is not in the sheet")
            if n in repeated:
                raise ValueError(f"animation {a.name!r}: frame name {n!r} is repeated")
        index = [where[n] for n in a.frames]
        if index != list(range(index[0], index[0] + len(index))):
            raise ValueError(
                f"animation {a.name!r}: frames must be consecutive, in order, in the frame list"
            )
        if a.durations_ms is not None:
            if len(a.durations_ms) != len(index):
                raise ValueError(
                    f"animation {a.name!r}: {len(a.durations_ms)} durations for {len(index)} frames"
                )
            for i, ms in zip(index, a.durations_ms, strict=True):
                if int(ms) < 1:
                    raise ValueError(f"animation {a.name!r}: duration {ms} ms")
                if i in set_by and durations[i] != int(ms):
                    raise ValueError(
                        f"frame {names[i]!r}: animations {set_by[i]!r} and {a.name!r} give "
                        "it different durations"
                    )
                durations[i], set_by[i] = int(ms), a.name
        out.append((a.name, index[0], index[-1], a.direction))
    return out
