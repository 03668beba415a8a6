"""Every default of the manifest, in one place.

The schema's field descriptions, the resolver that fills in what an entry leaves out, the pixel
step's parameters and the engines' request type all read their defaults here, so a default is
changed by editing one line. Standard library only (the no-op fast path may import it).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

SIZE = 32  # target size of an entry in pixels, when neither it nor the project sets one
PALETTE = "db32"
FPS = 10.0  # animations without `fps` or `durations`
STRENGTH = 0.5  # img2img strength of animation frames derived from their base frame
VARIANTS = 4  # tiles per tileset
ATLAS_PADDING = 1
ATLAS_MAX_SIZE = 4096
# The seam metric is ~1 for tiles that meet without a seam; above this, a seam shows.
SEAM_WARNING = 1.5

# How the pixelize step turns a generated image into pixel art.
PIXEL: MappingProxyType[str, Any] = MappingProxyType(
    {
        "method": "majority",
        "phase_search": True,
        "dither": "none",
        "dither_strength": 0.5,
        "background": "auto",
        "tolerance": 0.08,
        "remove_orphans": True,
        "outline": "none",
        "upscale": 1,
    }
)
# Tiles cover their whole cell: no background to remove unless an entry asks for it.
TILE_BACKGROUND = "none"
# An `image:` is art someone made: its transparency (if any) is the truth, a background is
# removed only when it is a key colour (none of the palette's: a flat panel or sky of the art's
# own colours stays), single pixels are detail, and its cells are flat, so `fit` reads them
# (every pixel of a cell counts, blurred borders too). Generated images take PIXEL: flood-fill
# background removal and orphan clean-up suit diffusion output, which is not flat cells.
IMPORT_PIXEL: MappingProxyType[str, Any] = MappingProxyType(
    {"method": "fit", "background": "key", "remove_orphans": False}
)

# Generation settings (`generate:` in the project, or on an entry).
GENERATION: MappingProxyType[str, Any] = MappingProxyType(
    {
        "engine": "procedural",
        "fallback": "error",
        "model": None,
        "loras": (),
        "negative": "",
        "steps": 30,
        "guidance": 7.0,
        "scheduler": "euler_a",
        "scale": 8,
        "canvas": None,
        "reference": (),
        "reference_scale": 0.6,
        "ip_adapter": None,
    }
)


def shown(table: MappingProxyType[str, Any], key: str) -> str:
    """'(default X)' for a field description."""
    value = table[key]
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    return f"(default {text})"
