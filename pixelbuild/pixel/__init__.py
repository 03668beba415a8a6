"""Pixel-art post-processing: known-grid reduction, palettes, dithering, clean alpha.

Plain numpy + pillow. The build's `pixelize` step calls `pixelize(image, size, palette, params)`.
Names are imported on first use, so `pixelbuild.pixel.builtin` (palette names, pure data) can be
read by a no-op build without importing numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .palettes import BUILTIN_PALETTES, auto_palette, builtin_palette, load_palette_file
    from .pipeline import PixelParams, palette_colors, pixelize, upscale

_EXPORTS = {
    "BUILTIN_PALETTES": ".builtin",
    "auto_palette": ".palettes",
    "builtin_palette": ".palettes",
    "load_palette_file": ".palettes",
    "PixelParams": ".pipeline",
    "palette_colors": ".pipeline",
    "pixelize": ".pipeline",
    "upscale": ".pipeline",
}

__all__ = [
    "BUILTIN_PALETTES",
    "PixelParams",
    "auto_palette",
    "builtin_palette",
    "load_palette_file",
    "palette_colors",
    "pixelize",
    "upscale",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
