"""Pixel-art post-processing: known-grid reduction, palettes, dithering, clean alpha.

Plain numpy + pillow. The build's `pixelize` step calls `pixelize(image, size, palette, params)`.
"""

from .palettes import BUILTIN_PALETTES, auto_palette, builtin_palette, load_palette_file
from .pipeline import PixelParams, palette_colors, pixelize, upscale

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
