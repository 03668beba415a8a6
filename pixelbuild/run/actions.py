"""What each step kind does, given its inputs' results: source, palette, pixelize, assemble.

(`generate` steps run in batches through an engine; see builder.py.) Every action takes the step
and its decoded inputs and returns the step's result: images as RGBA arrays, files as bytes.
The step kinds name these functions in `plan/steps.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixelbuild.colors import format_color, parse_color
from pixelbuild.errors import Issue
from pixelbuild.images import read_image
from pixelbuild.pixel import PixelParams, auto_palette, pixelize, upscale
from pixelbuild.pixel.palettes import builtin_palette, load_palette_file
from pixelbuild.plan.steps import Step
from pixelbuild.targets import ImageTarget


@dataclass
class Result:
    """A finished step: its images (generate/source/pixelize), files (assemble), or meta."""

    images: list[np.ndarray] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def run_source(step: Step, inputs: list[Result]) -> Result:
    target = step.target
    assert isinstance(target, ImageTarget) and target.image is not None
    return Result(images=[read_image(Path(target.image.absolute))])


def run_palette(step: Step, inputs: list[Result]) -> Result:
    images = [img for r in inputs for img in r.images]
    colors = auto_palette(images, int(step.params["auto"]))
    return Result(meta={"colors": [format_color((int(r), int(g), int(b))) for r, g, b in colors]})


def palette_colors(spec: dict[str, Any], file: Path | None, auto: Result | None) -> np.ndarray:
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
    target = step.target
    assert isinstance(target, ImageTarget)
    file = target.palette.file.absolute if target.palette.file else None
    palette = palette_colors(step.params.get("palette", {}), file, rest[0] if rest else None)
    settings = dict(step.params["pixel"])
    factor = int(settings.pop("upscale", 1))
    params = PixelParams(**settings, tileable=bool(step.params["tileable"]))
    notes: list[str] = []
    size = step.params["size"]
    if size == "auto":
        size = found_size(raw.images[0], target, notes)
    image = pixelize(raw.images[0], (size[0], size[1]), palette, params, notes)
    meta = {"notes": notes} if notes else {}
    return Result(images=[upscale(image, factor) if factor > 1 else image], meta=meta)


def found_size(image: np.ndarray, target: ImageTarget, notes: list[str]) -> tuple[int, int]:
    """`size: auto`: the art's own grid, read from the image, and a note saying what was found."""
    from pixelbuild.pixel.gridfind import NoGridError, find_grid

    try:
        grid = find_grid(image)
    except NoGridError as exc:
        shown = target.image.path if target.image else "the image"
        raise Issue(f"{shown}: {exc}", entry=target.name) from None
    sx, sy = grid.scale
    scale = f"x{sx:.3g}" if abs(sx - sy) < 1e-6 else f"x{sx:.3g} by x{sy:.3g}"
    notes.append(
        f"size auto: {grid.size[0]}x{grid.size[1]} art pixels, enlarged {scale} "
        f"(confidence {grid.confidence:.2f})"
    )
    return grid.size


def run_assemble(step: Step, inputs: list[Result]) -> Result:
    """Lay a target's pixelized images out as its output files."""
    frames = [img for r in inputs for img in r.images]
    assembled = step.target.assemble(frames, step.params)
    meta: dict[str, Any] = {"seams": list(assembled.seams)} if assembled.seams else {}
    if assembled.notes:
        meta["notes"] = list(assembled.notes)
    if assembled.report:
        meta["report"] = assembled.report
    return Result(files=assembled.files, meta=meta)


def _rgb(colors: list[str]) -> np.ndarray:
    return np.array([parse_color(c) for c in colors], dtype=np.uint8).reshape(-1, 3)
