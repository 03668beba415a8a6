"""Every RON writer's output, parsed by the real `ron` crate (tests/ron_check) and compared.

The checker is built by scripts/build-rust-check.sh ron (offline, Debian's librust-ron-dev). Without
cargo or apt the tests skip, unless PIXELBUILD_REQUIRE_RON_CHECK=1 makes that a failure.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import rust_checker

from pixelbuild.assemble import GridLayout, Placement, atlas_layout_ron, bevy_assets_ron
from pixelbuild.assemble.bevy import IMAGE_LOADER, IMAGE_LOADER_0_14, png_meta_ron

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def ron_check() -> Path:
    """Path of the built checker (built once per session; a rebuild is a no-op when unchanged)."""
    return rust_checker("ron")


def parse(checker: Path, text: str, tmp_path: Path, kind: str = "value") -> object:
    path = tmp_path / f"input-{kind}.ron"
    path.write_text(text, encoding="utf-8")
    run = subprocess.run(
        [str(checker), "--type", kind, str(path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, f"ron rejected {kind}:\n{text}\n{run.stderr}"
    return json.loads(run.stdout)


def test_checker_rejects_broken_ron(ron_check: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.ron"
    path.write_text("(size: (1, 2), textures: [(min: (0, 0), max: (1, 1)),\n", encoding="utf-8")
    run = subprocess.run([str(ron_check), str(path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "bad.ron:2:" in run.stderr


def test_checker_typed_mode_rejects_wrong_shape(ron_check: Path, tmp_path: Path) -> None:
    # `Some(1)` is not how bevy_asset_loader reads an optional padding, and `sampler: Linearr`
    # is no variant: both must fail the typed check though `ron::Value` accepts them.
    for text in (
        '({"a": TextureAtlasLayout(tile_size_x: 1, tile_size_y: 1, columns: 1, rows: 1, '
        "padding_x: Some(1))})",
        '({"a": Image(path: "a.png", sampler: Linearr)})',
        '({"a": Image(path: "a.png", sampler: Nearest, extra: 1)})',
    ):
        path = tmp_path / "wrong.ron"
        path.write_text(text, encoding="utf-8")
        assert subprocess.run([str(ron_check), str(path)], capture_output=True).returncode == 0
        typed = [str(ron_check), "--type", "dynamic-assets", str(path)]
        assert subprocess.run(typed, capture_output=True).returncode == 1, text


def test_bevy_assets_ron_parses_to_expected(ron_check: Path, tmp_path: Path) -> None:
    assets = {
        "hero-walk": ("sprites/hero walk.png", GridLayout(32, 24, 8, 4, padding=1)),
        "grass": ("tiles/grass.png", GridLayout(16, 16, 2, 2, padding=0, offset=3)),
    }
    text = bevy_assets_ron(assets)
    assert text.endswith(")\n")

    def image(path: str) -> dict:
        return {
            "Image": {
                "path": path,
                "sampler": "Nearest",
                "wrap": "ClampToEdge",
                "array_texture_layers": None,
            }
        }

    def layout(tw: int, th: int, c: int, r: int, p: int, o: int) -> dict:
        return {
            "TextureAtlasLayout": {
                "tile_size_x": tw,
                "tile_size_y": th,
                "columns": c,
                "rows": r,
                "padding_x": p,
                "padding_y": p,
                "offset_x": o,
                "offset_y": o,
            }
        }

    assert parse(ron_check, text, tmp_path, "dynamic-assets") == {
        "hero-walk.image": image("sprites/hero walk.png"),
        "hero-walk.layout": layout(32, 24, 8, 4, 1, 0),
        "grass.image": image("tiles/grass.png"),
        "grass.layout": layout(16, 16, 2, 2, 0, 3),
    }
    # Untyped: the top level is a 1-tuple holding the map, keys written sorted.
    (mapping,) = parse(ron_check, text, tmp_path, "value")
    assert list(mapping) == sorted(mapping)
    assert text.index('"grass.image"') < text.index('"hero-walk.image"')


def test_bevy_assets_ron_escapes_strings(ron_check: Path, tmp_path: Path) -> None:
    tricky = 'we"ird\\päth\tx.png'
    text = bevy_assets_ron({'k"ey': (tricky, GridLayout(8, 8, 1, 1))})
    parsed = parse(ron_check, text, tmp_path, "dynamic-assets")
    assert parsed['k"ey.image']["Image"]["path"] == tricky


def test_atlas_layout_ron_parses_to_expected(ron_check: Path, tmp_path: Path) -> None:
    rects = [(0, 0, 16, 16), (17, 0, 8, 30), Placement(26, 1, 5, 7)]
    text = atlas_layout_ron((40, 31), rects, names=["potion", "sword // long", "a\nb"])
    expected = {
        "size": [40, 31],
        "textures": [
            {"min": [0, 0], "max": [16, 16]},
            {"min": [17, 0], "max": [25, 30]},
            {"min": [26, 1], "max": [31, 8]},
        ],
    }
    assert parse(ron_check, text, tmp_path, "atlas-layout") == expected
    assert parse(ron_check, text, tmp_path, "value") == expected


def test_atlas_layout_ron_from_grid_matches_layout_rects(ron_check: Path, tmp_path: Path) -> None:
    layout = GridLayout(10, 6, 3, 2, padding=2, offset=1)
    text = atlas_layout_ron(layout.extent, layout.rects())
    parsed = parse(ron_check, text, tmp_path, "atlas-layout")
    got = [
        (*t["min"], t["max"][0] - t["min"][0], t["max"][1] - t["min"][1])
        for t in parsed["textures"]
    ]
    assert got == layout.rects()


def test_atlas_layout_ron_refuses_rect_outside() -> None:
    with pytest.raises(ValueError, match="outside"):
        atlas_layout_ron((16, 16), [(8, 8, 9, 8)])


@pytest.mark.parametrize(
    ("bevy", "loader"), [((0, 15), IMAGE_LOADER), ((0, 14), IMAGE_LOADER_0_14)]
)
def test_png_meta_parses_to_expected(ron_check: Path, tmp_path: Path, bevy, loader) -> None:
    text = png_meta_ron(bevy)
    assert text.endswith(")\n")
    parsed = parse(ron_check, text, tmp_path, "image-meta")
    assert parsed == {
        "meta_format_version": "1.0",
        "asset": {
            "Load": {
                "loader": loader,
                "settings": {
                    "format": "FromExtension",
                    "is_srgb": True,
                    "sampler": {
                        "Descriptor": {
                            "label": None,
                            "address_mode_u": "ClampToEdge",
                            "address_mode_v": "ClampToEdge",
                            "address_mode_w": "ClampToEdge",
                            "mag_filter": "Nearest",
                            "min_filter": "Nearest",
                            "mipmap_filter": "Nearest",
                            "lod_min_clamp": 0.0,
                            "lod_max_clamp": 32.0,
                            "compare": None,
                            "anisotropy_clamp": 1,
                            "border_color": None,
                        }
                    },
                    "asset_usage": "RENDER_WORLD | MAIN_WORLD",
                },
            }
        },
    }


def test_writers_are_deterministic() -> None:
    a = {"b": ("b.png", GridLayout(8, 8, 2, 1)), "a": ("a.png", GridLayout(4, 4, 1, 3))}
    b = dict(reversed(list(a.items())))
    assert bevy_assets_ron(a) == bevy_assets_ron(b)
    assert png_meta_ron() == png_meta_ron()
    assert atlas_layout_ron((8, 8), [(0, 0, 8, 8)]) == atlas_layout_ron((8, 8), [(0, 0, 8, 8)])
