"""The build's pixel and assemble stages through the real CLI: palettes, sheets, atlases, tiles."""

from __future__ import annotations

import json

import numpy as np
from conftest import pb
from PIL import Image

from pixelbuild.assemble import seam_metric
from pixelbuild.pixel.palettes import builtin_palette


def rgba(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA"))


def opaque_colors(pixels: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in c) for c in pixels[pixels[..., 3] == 255][:, :3]}


def test_broken_palette_file_fails_with_file_and_line_and_writes_nothing(make_project):
    project = make_project(palette="000000\nffffff\nnot-a-colour\n")
    r = pb(project, "build")
    assert r.code == 2
    assert "palettes/x.hex:3:" in r.err, r.err
    assert not project.assets.exists()
    assert not (project.dir / "pixels.lock").exists()


def test_animation_frames_share_one_auto_palette(make_project):
    project = make_project(
        """\
        project: {size: 16, generate: {canvas: 64}}
        animations:
          blink: {prompt: "a slime blinking, frame {i}", frames: 4, palette: {auto: 6}}
        """,
        palette=None,
    )
    r = pb(project, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["steps_run"]["palette"] == 1  # one palette, computed from every frame
    sheet = rgba(project.assets / "animations/blink.png")
    meta = json.loads((project.assets / "animations/blink.json").read_text())
    used: set[tuple[int, int, int]] = set()
    for frame in meta["frames"].values():
        f = frame["frame"]
        used |= opaque_colors(sheet[f["y"] : f["y"] + f["h"], f["x"] : f["x"] + f["w"]])
    assert 2 <= len(used) <= 6  # all frames draw from the same six colours


def test_sprites_hold_only_palette_colours_and_binary_alpha(make_project):
    project = make_project(
        """\
        project: {size: 24, palette: db32, generate: {canvas: 128}}
        sprites:
          imp: {prompt: a red fire imp}
          golem: {prompt: a stone golem, pixel: {outline: auto}}
        """,
        palette=None,
    )
    assert pb(project, "build").code == 0
    allowed = {tuple(int(v) for v in c) for c in builtin_palette("db32")}
    for png in project.pngs():
        pixels = rgba(png)
        assert pixels.shape[:2] == (24, 24)
        assert set(np.unique(pixels[..., 3])) <= {0, 255}
        assert opaque_colors(pixels) <= allowed
        assert (pixels[..., 3] == 0).any()  # the background was removed


def test_editing_one_atlas_member_rebuilds_it_and_the_atlas_only(make_project):
    project = make_project(
        """\
        project: {size: 16, palette: db32, generate: {canvas: 64}}
        sprites:
          sword: {prompt: a steel sword}
          shield: {prompt: a wooden shield}
          potion: {prompt: a red potion}
        atlases:
          items: {include: [sword, shield, potion]}
        """,
        palette=None,
    )
    assert pb(project, "build").code == 0
    project.edit("a wooden shield", "an iron shield")
    plan = pb(project, "plan", "--json").json
    reasons = {s["entry"]: s["reasons"] for s in plan["stale"]}
    assert reasons == {"shield": ["prompt changed"], "items": ["atlas member changed: shield"]}
    r = pb(project, "build", "--json")
    assert sorted(r.json["rebuilt"]) == ["items", "shield"]
    assert r.json["steps_run"]["generate"] == 1  # only the shield is painted again
    layout = json.loads((project.assets / "atlases/items.json").read_text())
    assert set(layout["frames"]) == {"sword", "shield", "potion"}


def test_tiles_wrap_without_a_seam(make_project):
    project = make_project(
        """\
        project: {palette: db32}
        tilesets:
          grass: {prompt: mossy grass ground, size: 16, variants: 4, columns: 2}
        """,
        palette=None,
    )
    assert pb(project, "build").code == 0
    sheet = rgba(project.assets / "tiles/grass.png")
    tiles = [sheet[y : y + 16, x : x + 16] for y in (0, 16) for x in (0, 16)]
    seams = [seam_metric(t) for t in tiles]
    assert max(seams) < 1.6, seams
    # The metric can tell: cutting a tile off-centre makes a seam.
    shifted = np.concatenate([tiles[0][:, 5:], tiles[1][:, :5]], axis=1)
    assert seam_metric(shifted) > max(seams)


def test_meta_files_and_rust_module(make_project):
    project = make_project(
        """\
        project: {size: 16, palette: db32, generate: {canvas: 64}, meta_files: true,
                  rust_module: src/pixel_assets.rs}
        sprites:
          coin: {prompt: a gold coin}
        animations:
          spin: {prompt: "a gold coin spinning {i}", frames: 4, mode: pingpong}
        """,
        palette=None,
    )
    assert pb(project, "build").code == 0
    assert "Nearest" in (project.assets / "sprites/coin.png.meta").read_text()
    rust = (project.dir / "src/pixel_assets.rs").read_text()
    assert 'pub const IMAGE: &str = "animations/spin.png";' in rust
    assert "Playback::PingPong" in rust
    before = (project.dir / "src/pixel_assets.rs").stat().st_mtime_ns
    project.edit("a gold coin}", "a silver coin}")
    assert pb(project, "build").code == 0
    assert (project.dir / "src/pixel_assets.rs").stat().st_mtime_ns == before  # text unchanged


def test_hand_written_rust_module_is_not_overwritten(make_project):
    project = make_project(
        """\
        project: {size: 16, palette: db32, generate: {canvas: 64}, rust_module: src/assets.rs}
        sprites:
          coin: {prompt: a gold coin}
        """,
        palette=None,
    )
    project.write("src/assets.rs", "pub const MINE: u32 = 1;\n")
    r = pb(project, "build", "--json")
    assert r.code == 1
    assert "rust_module" in r.json["failed"]
    assert (project.dir / "src/assets.rs").read_text() == "pub const MINE: u32 = 1;\n"


def test_an_image_import_keeps_its_background_and_single_pixel_details(make_project):
    """`image:` art is someone's drawing: an opaque scene keeps every cell, a lone highlight
    pixel stays; only generated images get background removal and orphan clean-up."""
    p = make_project(
        """\
        sprites:
          scene: {image: art/scene.png, size: 8, palette: [ "#1d2b53", "#29adff", "#fff1e8"]}
        """,
        palette=None,
    )
    art = np.zeros((8, 8, 3), np.uint8)
    art[:] = (0x1D, 0x2B, 0x53)  # night sky all round the border, like a background would be
    art[5:, :] = (0x29, 0xAD, 0xFF)
    art[2, 3] = (0xFF, 0xF1, 0xE8)  # one star: a single pixel, no neighbour of its colour
    (p.dir / "art").mkdir()
    Image.fromarray(art.repeat(8, 0).repeat(8, 1)).save(p.dir / "art" / "scene.png")
    r = pb(p, "build")
    assert r.code == 0, r.err
    out = np.asarray(Image.open(p.assets / "sprites" / "scene.png").convert("RGBA"))
    assert (out[..., 3] == 255).all()
    assert np.array_equal(out[..., :3], art)
