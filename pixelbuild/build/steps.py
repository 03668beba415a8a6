"""What each step kind does, given its inputs' results: source, palette, pixelize, assemble.

(`generate` steps run in batches through an engine; see execute.py.) Every function here takes
decoded inputs and returns the step's result: images as RGBA arrays, files as bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixelbuild.build.plan import Step
from pixelbuild.images import encode_png, read_image
from pixelbuild.manifest.resolve import Target
from pixelbuild.manifest.schema import parse_color
from pixelbuild.pixel import PixelParams, auto_palette, pixelize, upscale
from pixelbuild.pixel.palettes import builtin_palette, load_palette_file


@dataclass
class Result:
    """A finished step: its images (generate/source/pixelize), files (assemble), or meta."""

    images: list[np.ndarray] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def run_source(step: Step) -> Result:
    return Result(images=[read_image(Path(step.payload["path"]))])


def run_palette(step: Step, inputs: list[Result]) -> Result:
    images = [img for r in inputs for img in r.images]
    colors = auto_palette(images, int(step.params["auto"]))
    return Result(meta={"colors": _hex(colors)})


def resolve_palette(spec: dict[str, Any], file: Path | None, auto: Result | None) -> np.ndarray:
    """The (K, 3) colours of a palette spec."""
    if auto is not None:
        return _rgb(auto.meta["colors"])
    if "builtin" in spec:
        return builtin_palette(spec["builtin"])
    if "colors" in spec:
        return _rgb(spec["colors"])
    assert file is not None
    return load_palette_file(file)


def run_pixelize(step: Step, inputs: list[Result]) -> Result:
    raw, *rest = inputs
    palette = resolve_palette(
        step.params.get("palette", {}), step.payload.get("palette_file"), rest[0] if rest else None
    )
    settings = dict(step.params["pixel"])
    factor = int(settings.pop("upscale", 1))
    params = PixelParams(**settings, tileable=bool(step.params["tileable"]))
    w, h = step.params["size"]
    image = pixelize(raw.images[0], (w, h), palette, params)
    return Result(images=[upscale(image, factor) if factor > 1 else image])


def run_assemble(step: Step, inputs: list[Result]) -> Result:
    """Lay a target's pixelized images out as its output files."""
    from pixelbuild import assemble

    target: Target = step.payload["target"]
    outputs: list[str] = step.params["outputs"]
    frames = [img for r in inputs for img in r.images]
    if target.kind == "sprite":
        result = Result(files={target.out: encode_png(frames[0])})
    elif target.kind == "atlas":
        result = _atlas(target, outputs, step.params["names"], frames)
    else:
        result = _sheet(target, outputs, frames)
    if f"{target.out}.meta" in outputs:
        result.files[f"{target.out}.meta"] = assemble.png_meta_ron().encode()
    return result


# Aseprite's frameTags directions; "once" differs from "loop" only in the Rust module's Playback.
DIRECTIONS = {"loop": "forward", "once": "forward", "pingpong": "pingpong"}


def _sheet(target: Target, outputs: list[str], frames: list[np.ndarray]) -> Result:
    """An animation or tileset: a grid sheet, its bevy_asset_loader RON and Aseprite JSON."""
    from pixelbuild import assemble

    layout = target.layout
    sheet, grid = assemble.grid_sheet(frames, layout.get("columns"), layout.get("padding", 0))
    durations = layout.get("durations") or [100] * len(frames)
    frame_list = [
        assemble.Frame(f"{target.name}/{i}", *grid.rect(i), duration_ms=durations[i])
        for i in range(len(frames))
    ]
    tags, meta = [], {}
    if target.kind == "animation":
        direction = DIRECTIONS[layout["mode"]]
        tags.append(assemble.Tag(target.name, 0, len(frames) - 1, direction))
    else:
        meta["seams"] = [round(float(assemble.seam_metric(f)), 3) for f in frames]
    image = Path(target.out).name
    files = {
        target.out: encode_png(sheet),
        outputs[1]: assemble.bevy_assets_ron({target.name: (target.out, grid)}).encode(),
        outputs[2]: assemble.aseprite_json(image, grid.image_size, frame_list, tags).encode(),
    }
    return Result(files=files, meta=meta)


def _atlas(
    target: Target, outputs: list[str], names: list[str], frames: list[np.ndarray]
) -> Result:
    """Packed images: the atlas PNG, Aseprite/TexturePacker JSON and a Bevy layout RON."""
    from pixelbuild import assemble

    layout = target.layout
    size, places = assemble.pack_rects(
        [(f.shape[1], f.shape[0]) for f in frames],
        padding=layout["padding"],
        extrude=layout["extrude"],
        power_of_two=layout["power_of_two"],
        max_size=layout["max_size"],
    )
    frame_list = [
        assemble.Frame(name, p.x, p.y, p.width, p.height)
        for name, p in zip(names, places, strict=True)
    ]
    image = Path(target.out).name
    form = layout["json_format"]
    files = {
        target.out: encode_png(assemble.atlas_image(frames, size, places, layout["extrude"])),
        outputs[1]: assemble.aseprite_json(image, size, frame_list, form=form).encode(),
        outputs[2]: assemble.atlas_layout_ron(size, places).encode(),
    }
    return Result(files=files, meta={"index": {name: i for i, name in enumerate(names)}})


def _rgb(colors: list[str]) -> np.ndarray:
    return np.array([parse_color(c) for c in colors], dtype=np.uint8).reshape(-1, 3)


def _hex(colors: np.ndarray) -> list[str]:
    return ["#{:02x}{:02x}{:02x}".format(*map(int, c)) for c in colors]
