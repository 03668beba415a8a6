"""All metadata writers in one place (they live in aseprite.py, bevy.py and rust.py)."""

from .aseprite import Frame, Tag, aseprite_json
from .bevy import atlas_layout_ron, bevy_assets_ron, png_meta_ron
from .rust import RustAnimation, RustTexture, rust_module

__all__ = [
    "Frame",
    "RustAnimation",
    "RustTexture",
    "Tag",
    "aseprite_json",
    "atlas_layout_ron",
    "bevy_assets_ron",
    "png_meta_ron",
    "rust_module",
]
