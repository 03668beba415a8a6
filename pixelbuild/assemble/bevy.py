"""RON files Bevy and bevy_asset_loader read: dynamic assets, atlas layouts, image `.meta`.

Formats checked against the upstream sources:

* bevy_asset_loader 0.22+ (Bevy 0.15+) `StandardDynamicAsset`: `Image { path, sampler, .. }` and
  `TextureAtlasLayout { tile_size_x, tile_size_y, columns, rows, padding_x, padding_y, offset_x,
  offset_y }`; the optional fields take bare numbers (not `Some(..)`), and the file is the
  newtype `StandardDynamicAssetCollection`, hence `({ .. })`. 0.21 (Bevy 0.14) reads the same.
* bevy_image `TextureAtlasLayout { size: UVec2, textures: Vec<URect> }` with the `serialize`
  feature (Bevy 0.15+; in 0.14 it is not serde); glam writes `UVec2` as a 2-tuple, `URect` is
  `(min: UVec2, max: UVec2)`. Bevy registers no loader for it: read it with e.g.
  bevy_common_assets' `RonAssetPlugin::<TextureAtlasLayout>`.
* `AssetMeta` for `ImageLoader`: `ImageSampler` has only `Default` and `Descriptor(..)` (there is
  no `Nearest` variant), so a Nearest sampler is a full `ImageSamplerDescriptor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .grid import GridLayout
from .pack import Placement
from .ron import HEADER, comment_text, ron_string, uint

Rect = tuple[int, int, int, int]


def bevy_assets_ron(assets: Mapping[str, tuple[str, GridLayout]]) -> str:
    """A bevy_asset_loader `*.assets.ron` (features `2d` and `standard_dynamic_assets`).

    For each key `K` mapping to `(image_path, layout)`: `"K.image"` is an `Image` with a Nearest
    sampler and `"K.layout"` a grid `TextureAtlasLayout`. Keys are written sorted.
    """
    lines = [HEADER, "({\n"]
    for key in sorted(assets):
        if not key:
            raise ValueError("an asset key must not be empty")
        path, layout = assets[key]
        lines.append(
            f"    {ron_string(key + '.image')}: Image(\n"
            f"        path: {ron_string(path)},\n"
            f"        sampler: Nearest,\n"
            f"    ),\n"
        )
        fields = {
            "tile_size_x": layout.tile_width,
            "tile_size_y": layout.tile_height,
            "columns": layout.columns,
            "rows": layout.rows,
            "padding_x": layout.padding,
            "padding_y": layout.padding,
            "offset_x": layout.offset,
            "offset_y": layout.offset,
        }
        body = "".join(f"        {name}: {uint(v, name)},\n" for name, v in fields.items())
        lines.append(f"    {ron_string(key + '.layout')}: TextureAtlasLayout(\n{body}    ),\n")
    lines.append("})\n")
    return "".join(lines)


def _xywh(rect: Rect | Placement) -> Rect:
    if isinstance(rect, Placement):
        return rect.x, rect.y, rect.width, rect.height
    x, y, w, h = rect
    return x, y, w, h


def atlas_layout_ron(
    size: tuple[int, int],
    rects: Sequence[Rect | Placement],
    names: Sequence[str] | None = None,
) -> str:
    """A serde `TextureAtlasLayout` (Bevy 0.15+): `(size: (w, h), textures: [(min: (x, y),
    max: (x + w, y + h)), ..])`. `rects` are `(x, y, w, h)` or `Placement`s, in index order;
    `names`, if given, are written as a comment after each rect."""
    if names is not None and len(names) != len(rects):
        raise ValueError(f"{len(rects)} rects but {len(names)} names")
    width, height = uint(size[0], "atlas width"), uint(size[1], "atlas height")
    lines = [HEADER, "(\n", f"    size: ({width}, {height}),\n", "    textures: [\n"]
    for i, rect in enumerate(rects):
        x, y, w, h = (uint(v, f"rect {i}") for v in _xywh(rect))
        if x + w > width or y + h > height:
            raise ValueError(f"rect {i} {(x, y, w, h)} lies outside {width}x{height}")
        note = f" // {comment_text(names[i])}" if names is not None else ""
        lines.append(f"        (min: ({x}, {y}), max: ({x + w}, {y + h})),{note}\n")
    lines.append("    ],\n)\n")
    return "".join(lines)


#: `ImageLoader`'s type path: Bevy 0.15 moved images from bevy_render to the bevy_image crate.
IMAGE_LOADER = "bevy_image::image_loader::ImageLoader"
IMAGE_LOADER_0_14 = "bevy_render::texture::image_loader::ImageLoader"


def png_meta_ron(bevy: tuple[int, int] = (0, 15)) -> str:
    """A `foo.png.meta` that loads the PNG with a Nearest sampler (clamped, no mipmap blending).

    Bevy 0.15 through 0.19 read the same text (0.17+ add `texture_format`, 0.18+ `array_layout`,
    both optional). For Bevy 0.14 pass `bevy=(0, 14)`: the settings are identical, only the loader
    path differs (`bevy_render::texture::image_loader::ImageLoader`).
    """
    loader = IMAGE_LOADER_0_14 if tuple(bevy) < (0, 15) else IMAGE_LOADER
    return (
        f"{HEADER}"
        "(\n"
        '    meta_format_version: "1.0",\n'
        "    asset: Load(\n"
        f"        loader: {ron_string(loader)},\n"
        "        settings: (\n"
        "            format: FromExtension,\n"
        "            is_srgb: true,\n"
        "            sampler: Descriptor(ImageSamplerDescriptor(\n"
        "                label: None,\n"
        "                address_mode_u: ClampToEdge,\n"
        "                address_mode_v: ClampToEdge,\n"
        "                address_mode_w: ClampToEdge,\n"
        "                mag_filter: Nearest,\n"
        "                min_filter: Nearest,\n"
        "                mipmap_filter: Nearest,\n"
        "                lod_min_clamp: 0.0,\n"
        "                lod_max_clamp: 32.0,\n"
        "                compare: None,\n"
        "                anisotropy_clamp: 1,\n"
        "                border_color: None,\n"
        "            )),\n"
        '            asset_usage: RenderAssetUsages("RENDER_WORLD | MAIN_WORLD"),\n'
        "        ),\n"
        "    ),\n"
        ")\n"
    )
