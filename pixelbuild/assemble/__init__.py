"""The `assemble` step's library: grid sheets, packed atlases, tiles, and their metadata files.

Every writer returns text (deterministic, stable order, trailing newline); the build core decides
where it goes.
"""

from .aseprite import Frame, SheetAnimation, Tag, aseprite_json
from .bevy import atlas_layout_ron, bevy_assets_ron, png_meta_ron
from .grid import GridLayout, default_columns, grid_sheet
from .pack import Placement, atlas_image, pack_rects
from .rust import RustAnimation, RustTexture, rust_module
from .tiles import seam_metric

__all__ = [
    "Frame",
    "GridLayout",
    "Placement",
    "RustAnimation",
    "RustTexture",
    "SheetAnimation",
    "Tag",
    "aseprite_json",
    "atlas_image",
    "atlas_layout_ron",
    "bevy_assets_ron",
    "default_columns",
    "grid_sheet",
    "pack_rects",
    "png_meta_ron",
    "rust_module",
    "seam_metric",
]
