"""Autotile sets through the CLI on the procedural engine: the masks and bitmask tables against the
published Wang 2-corner and blob definitions, a random terrain map autotiled with the generated
lookup, the Tiled tileset as Tiled itself reads it (tmxrasterizer renders a map that uses it;
`tiled --export-tileset` shows its Wang set), the Rust `tile_for` compiled by rustc, located
manifest errors, and the seam check of every pair of tiles that may meet."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import pb, run_rust_main, tool_unavailable
from PIL import Image

from pixelbuild.assemble.autotile import (
    BLOB_MASKS,
    CORNER_BITS,
    NEIGHBOUR_BITS,
    RIM,
    THRESHOLD,
    allowed_seams,
    autotile_set,
    paint_set,
    periodic_noise,
    reduce_blob,
    rim_colour,
)
from pixelbuild.assemble.inpaint import RING, band, labels_of, transitions
from pixelbuild.pixel.palettes import builtin_palette

# The 47 tiles of the blob set (cr31, "Wang tiles: blob"), by their reduced 8-neighbour mask.
PUBLISHED_BLOB = [
    0, 1, 4, 5, 7, 16, 17, 20, 21, 23, 28, 29, 31, 64, 65, 68, 69, 71, 80, 81, 84, 85, 87, 92,
    93, 95, 112, 113, 116, 117, 119, 124, 125, 127, 193, 197, 199, 209, 213, 215, 221, 223, 241,
    245, 247, 253, 255,
]  # fmt: skip
MANIFEST = """\
project: {palette: db32, rust_module: src/pixel_assets.rs, generate: {canvas: 64}}
tilesets:
  meadow:
    autotile: wang16
    terrains:
      grass: {prompt: "lush grass, top-down"}
      dirt: {prompt: "packed dirt path, top-down"}
    size: 16
    variants: 2
  paths:
    autotile: blob47
    terrains:
      grass: {prompt: "lush grass, top-down"}
      water: {prompt: "blue water, top-down"}
    size: 12
    padding: 1
"""
SIZES = {"meadow": 16, "paths": 12}
STEPS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]  # N, NE, ... NW


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from conftest import Proj

    d = tmp_path_factory.mktemp("autotile")
    (d / "pixels.yaml").write_text(MANIFEST)
    (d / "src").mkdir()
    project = Proj(d)
    r = pb(project, "build", "--json")
    assert r.code == 0, r.err
    assert sorted(r.json["rebuilt"]) == ["meadow", "paths"]
    assert r.json["steps_run"]["generate"] == 2 * 2 + 2  # one image per terrain tile, no more
    return project, r


# -- the definitions ---------------------------------------------------------------------------


def test_wang16_holds_every_corner_configuration_once():
    s = autotile_set("wang16")
    assert len(s) == 16
    found = []
    for ne, se, sw, nw in itertools.product((0, 1), repeat=4):
        mask = ne * CORNER_BITS["NE"] | se * CORNER_BITS["SE"] | sw * CORNER_BITS["SW"]
        mask |= nw * CORNER_BITS["NW"]
        wang_id = [0, 1 + ne, 0, 1 + se, 0, 1 + sw, 0, 1 + nw]  # Tiled's corner order
        tiles = [i for i in range(16) if s.wang_id(i) == wang_id]
        assert tiles == [s.lookup[mask]]
        found.append(tiles[0])
    assert sorted(found) == list(range(16))  # each tile once
    assert s.fill == (0, 15)


def test_blob47_is_the_256_masks_reduced():
    reduced = {reduce_blob(m) for m in range(256)}
    assert len(reduced) == 47
    assert sorted(reduced) == PUBLISHED_BLOB == list(BLOB_MASKS)
    n = NEIGHBOUR_BITS
    for m in range(256):
        r = reduce_blob(m)
        for corner in ("NE", "SE", "SW", "NW"):
            edges = [n[corner[0]], n[corner[1]]]
            both = all(m & e for e in edges)
            assert bool(r & n[corner]) == bool(m & n[corner] and both)
        assert r & 0b01010101 == m & 0b01010101  # edges are kept as they are
    s = autotile_set("blob47")
    assert len(s) == 48 and s.masks[47] is None  # 47 tiles, then the ground's fill
    assert [s.masks[s.lookup[m]] for m in range(256)] == [reduce_blob(m) for m in range(256)]
    assert sorted(s.lookup[m] for m in PUBLISHED_BLOB) == list(range(47))  # each tile once
    ids = [tuple(s.wang_id(i)) for i in range(48) if s.in_wang_set(i)]
    assert len(ids) == len(set(ids)) == 47  # the island shares the fill's colours: left out


@pytest.mark.parametrize(("layout", "size", "count"), [("wang16", 16, 14), ("blob47", 16, 46)])
def test_the_inpainted_band_follows_the_border_and_spares_the_ring(layout, size, count):
    """What SDXL repaints of a transition: near its terrain border, never its outer ring; the
    full tiles are never inpainted; the canvas mask is the band enlarged."""
    from pixelbuild.assemble.inpaint import inpaint_inputs

    aset = autotile_set(layout)
    tiles = transitions(aset, size, size, 7)
    assert len(tiles) == count and not set(aset.fill) & set(tiles)
    first, second = np.zeros((64, 64, 4), np.uint8), np.full((64, 64, 4), 255, np.uint8)
    for tile in tiles:
        labels = labels_of(aset, tile, size, size, 7)
        inside = band(labels)
        ring = np.ones_like(inside)
        ring[RING:-RING, RING:-RING] = False
        assert inside.any() and not (inside & ring).any()
        near = np.zeros_like(inside)  # within 2 pixels of a pixel of the other terrain
        for dy, dx in itertools.product(range(-2, 3), repeat=2):
            shifted = np.roll(labels > 0, (dy, dx), axis=(0, 1))
            near |= shifted != (labels > 0)
        assert not (inside & ~near).any()
        init, mask = inpaint_inputs(aset, tile, (size, size), 7, [first, second])
        scale = 64 // size
        assert (mask[::scale, ::scale] == inside * 255).all()
        assert (init[::scale, ::scale, 0] == (labels > 0) * 255).all()


# -- the build ---------------------------------------------------------------------------------


def sheet_tiles(project, name: str) -> tuple[list[np.ndarray], dict]:
    table = json.loads((project.assets / "tiles" / f"{name}.autotile.json").read_text())
    sheet = np.asarray(Image.open(project.assets / "tiles" / f"{name}.png").convert("RGBA"))
    w, h = table["tile_size"]
    count = len(table["mask_of_tile"]) + sum(len(v) - 1 for v in table["full_tiles"].values())
    pad = int(ET.parse(project.assets / "tiles" / f"{name}.tsx").getroot().get("spacing"))
    tiles = []
    for i in range(count):
        r, c = divmod(i, table["columns"])
        x, y = c * (w + pad), r * (h + pad)
        tiles.append(sheet[y : y + h, x : x + w])
    return tiles, table


def test_outputs_and_one_palette(built):
    project, _ = built
    out = sorted(p.name for p in (project.assets / "tiles").iterdir())
    assert out == sorted(
        f"{n}{ext}"
        for n in SIZES
        for ext in (".png", ".json", ".assets.ron", ".tsx", ".autotile.json")
    )
    db32 = {(*map(int, c), 255) for c in builtin_palette("db32")}
    for name in SIZES:
        tiles, table = sheet_tiles(project, name)
        assert table["terrains"] == (["grass", "dirt"] if name == "meadow" else ["grass", "water"])
        colours = {tuple(px) for t in tiles for px in t.reshape(-1, 4)}
        assert colours <= db32
    tiles, table = sheet_tiles(project, "meadow")
    assert len(tiles) == 16 + 2
    assert table["full_tiles"] == {"grass": [0, 16], "dirt": [15, 17]}
    assert not np.array_equal(tiles[0], tiles[16])  # an alternative, not a copy
    tiles, table = sheet_tiles(project, "paths")
    assert len(tiles) == 48 and table["full_tiles"] == {"grass": [47], "water": [46]}
    assert len(table["tile_for_mask"]) == 256


def _terrain_map(rng: np.random.Generator, layout: str, h: int, w: int) -> np.ndarray:
    """Random terrain: on the (h+1, w+1) vertices for wang16, on the (h, w) cells for blob47."""
    shape = (h + 1, w + 1) if layout == "wang16" else (h, w)
    return (rng.random(shape) < 0.5).astype(int)


def _autotile(terrain: np.ndarray, table: dict) -> np.ndarray:
    """The tile of every cell, by the table's lookup (as a game would do it)."""
    lookup, bits = table["tile_for_mask"], table["bits"]
    if table["autotile"] == "wang16":
        t = terrain
        masks = (t[:-1, 1:] * bits["NE"] + t[1:, 1:] * bits["SE"] + t[1:, :-1] * bits["SW"]) + t[
            :-1, :-1
        ] * bits["NW"]
        return np.vectorize(lambda m: lookup[m])(masks)
    padded = np.pad(terrain, 1)
    out = np.zeros_like(terrain)
    fill = table["full_tiles"][table["terrains"][0]][0]
    for y, x in np.ndindex(terrain.shape):
        if not terrain[y, x]:
            out[y, x] = fill
            continue
        mask = sum(
            bit
            for bit, (dy, dx) in zip(bits.values(), STEPS, strict=True)
            if padded[y + 1 + dy, x + 1 + dx]
        )
        out[y, x] = lookup[mask]
    return out


def _compose(tiles: list[np.ndarray], indices: np.ndarray) -> np.ndarray:
    return np.concatenate([np.concatenate([tiles[i] for i in row], axis=1) for row in indices])


def _whole_map(terrain: np.ndarray, tiles, table, seed: int) -> np.ndarray:
    """The map painted at once, without tiles: one control grid over the whole map (wang16: the
    vertices; blob47: vertices, edge midpoints and cells at half-cell steps), bilinear at every
    pixel, plus the noise repeated per cell; each pixel from the terrain tiles."""
    layout = table["autotile"]
    w, h = table["tile_size"]
    if layout == "wang16":
        grid, step = terrain.astype(float), 1
    else:
        t = np.pad(terrain, 1)
        grid = np.zeros((2 * terrain.shape[0] + 1, 2 * terrain.shape[1] + 1))
        for gy, gx in np.ndindex(grid.shape):
            cells = {(y, x) for y in {(gy - 1) // 2, gy // 2} for x in {(gx - 1) // 2, gx // 2}}
            grid[gy, gx] = all(t[y + 1, x + 1] for y, x in cells)  # every cell touching the point
        step = 2
    rows, cols = (grid.shape[0] - 1) // step, (grid.shape[1] - 1) // step
    ys = (np.arange(rows * h) + 0.5) / h * step
    xs = (np.arange(cols * w) + 0.5) / w * step
    y0 = np.minimum(ys.astype(int), grid.shape[0] - 2)
    x0 = np.minimum(xs.astype(int), grid.shape[1] - 2)
    ty, tx = (ys - y0)[:, None], (xs - x0)[None, :]
    field = (grid[y0][:, x0] * (1 - tx) + grid[y0][:, x0 + 1] * tx) * (1 - ty) + (
        grid[y0 + 1][:, x0] * (1 - tx) + grid[y0 + 1][:, x0 + 1] * tx
    ) * ty
    field += np.tile(periodic_noise(w, h, seed), (rows, cols))
    first, second = (tiles[table["full_tiles"][t][0]] for t in table["terrains"])
    out = np.where((field > THRESHOLD[layout])[..., None], np.tile(second, (rows, cols, 1)),
                   np.tile(first, (rows, cols, 1)))  # fmt: skip
    out[(field > THRESHOLD[layout]) & (field <= THRESHOLD[layout] + RIM)] = rim_colour(second)
    return out


@pytest.mark.parametrize("name", list(SIZES))
def test_a_random_map_autotiled_with_the_lookup_has_no_mismatched_edge(built, name):
    project, _ = built
    tiles, table = sheet_tiles(project, name)
    wang = {int(t.get("tileid")): [int(v) for v in t.get("wangid").split(",")]
            for t in _wangset(project, name).iter("wangtile")}  # fmt: skip
    ground = table["full_tiles"][table["terrains"][0]][0]
    for island in set(range(len(tiles))) - set(wang):  # blob47's: ground on all its borders
        assert table["mask_of_tile"][island] == 0
        wang[island] = wang[ground]
    seed = project.lock["entries"][name]["seed"]
    rng = np.random.default_rng(5)
    for _ in range(3):
        terrain = _terrain_map(rng, table["autotile"], 9, 11)
        indices = _autotile(terrain, table)
        for (y, x), i in np.ndenumerate(indices):  # Tiled's colours agree across every edge
            if x + 1 < indices.shape[1]:
                a, b = wang[i], wang[indices[y, x + 1]]
                assert a[1:4] == b[7:4:-1], (i, indices[y, x + 1])
            if y + 1 < indices.shape[0]:
                a, b = wang[i], wang[indices[y + 1, x]]
                assert a[3:6] == [b[1], b[0], b[7]], (i, indices[y + 1, x])
        composed = _compose(tiles, indices)
        assert np.array_equal(composed, _whole_map(terrain, tiles, table, seed))


def _wangset(project, name: str) -> ET.Element:
    root = ET.parse(project.assets / "tiles" / f"{name}.tsx").getroot()
    sets = root.findall("./wangsets/wangset")
    assert len(sets) == 1
    return sets[0]


def test_the_tsx_wang_set_has_the_terrains_colours(built):
    project, _ = built
    for name, kind in (("meadow", "corner"), ("paths", "mixed")):
        tiles, table = sheet_tiles(project, name)
        root = ET.parse(project.assets / "tiles" / f"{name}.tsx").getroot()
        assert root.get("tilewidth") == str(SIZES[name]) and root.get("columns") == str(
            table["columns"]
        )
        assert root.find("image").get("source") == f"{name}.png"
        assert root.get("spacing") == ("1" if name == "paths" else "0")  # the sheet's padding
        ws = _wangset(project, name)
        assert ws.get("type") == kind
        colours = ws.findall("wangcolor")
        assert [c.get("name") for c in colours] == table["terrains"]
        for c, terrain in zip(colours, table["terrains"], strict=True):
            fill = table["full_tiles"][terrain][0]
            assert int(c.get("tile")) == fill
            px, counts = np.unique(tiles[fill][..., :3].reshape(-1, 3), axis=0, return_counts=True)
            r, g, b = px[int(np.argmax(counts))]
            assert c.get("color") == f"#{r:02x}{g:02x}{b:02x}"  # the terrain's main colour
        ids = [t.get("wangid") for t in ws.iter("wangtile")]
        expected = len(tiles) - (1 if name == "paths" else 0)  # the blob island is left out
        assert len(ids) == expected


# -- Tiled itself ------------------------------------------------------------------------------


def _tiled(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        tool_unavailable("Tiled", "PIXELBUILD_REQUIRE_TILED", f"no {program} (apt tiled)")
    return found


def _qt(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", list(SIZES))
def test_tiled_renders_a_map_that_uses_the_tileset(built, name, tmp_path):
    project, _ = built
    rasterizer = _tiled("tmxrasterizer")
    tiles, table = sheet_tiles(project, name)
    terrain = _terrain_map(np.random.default_rng(11), table["autotile"], 5, 7)
    indices = _autotile(terrain, table)
    w, h = table["tile_size"]
    csv = ",\n".join(",".join(str(i + 1) for i in row) for row in indices)  # first gid 1
    tsx = (project.assets / "tiles" / f"{name}.tsx").resolve()
    (tmp_path / "map.tmx").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<map version="1.8" orientation="orthogonal" renderorder="right-down" '
        f'width="{indices.shape[1]}" height="{indices.shape[0]}" tilewidth="{w}" '
        f'tileheight="{h}" infinite="0" nextlayerid="2" nextobjectid="1">\n'
        f' <tileset firstgid="1" source="{tsx}"/>\n'
        f' <layer id="1" name="ground" width="{indices.shape[1]}" height="{indices.shape[0]}">\n'
        f'  <data encoding="csv">\n{csv}\n</data>\n </layer>\n</map>\n'
    )
    done = _qt([rasterizer, "map.tmx", "map.png"], tmp_path)
    assert done.returncode == 0, done.stderr
    rendered = np.asarray(Image.open(tmp_path / "map.png").convert("RGBA"))
    assert np.array_equal(rendered, _compose(tiles, indices))


def test_tiled_reads_the_wang_set(built, tmp_path):
    project, _ = built
    tiled = _tiled("tiled")
    for name in SIZES:
        tsx = project.assets / "tiles" / f"{name}.tsx"
        done = _qt([tiled, "--export-tileset", "json", str(tsx), f"{name}.tsj"], tmp_path)
        assert done.returncode == 0, done.stderr
        read = json.loads((tmp_path / f"{name}.tsj").read_text())
        (ws,) = read["wangsets"]
        mine = _wangset(project, name)
        assert ws["type"] == mine.get("type")
        assert [(c["name"], c["color"], c["tile"]) for c in ws["colors"]] == [
            (c.get("name"), c.get("color"), int(c.get("tile"))) for c in mine.iter("wangcolor")
        ]
        assert {t["tileid"]: t["wangid"] for t in ws["wangtiles"]} == {
            int(t.get("tileid")): [int(v) for v in t.get("wangid").split(",")]
            for t in mine.iter("wangtile")
        }


# -- the Rust module ---------------------------------------------------------------------------


def test_the_rust_module_has_tile_for(built, tmp_path):
    project, _ = built
    source = (project.dir / "src" / "pixel_assets.rs").read_text()
    assert "pub const fn tile_for(mask: u8) -> usize" in source
    _, blob = sheet_tiles(project, "paths")
    checks = "\n".join(
        f"    assert_eq!(paths::tile_for({m}), {blob['tile_for_mask'][m]});" for m in range(256)
    )
    main = (
        "mod pixel_assets;\nuse pixel_assets::{meadow, paths};\nfn main() {\n"
        "    assert_eq!(meadow::tile_for(meadow::bit::NE | meadow::bit::SW), 5);\n"
        "    assert_eq!(meadow::FULL, [&[0, 16][..], &[15, 17][..]]);\n"
        '    assert_eq!(paths::TERRAINS, ["grass", "water"]);\n'
        "    assert_eq!(paths::tile_for(paths::bit::N | paths::bit::NE), paths::tile_for(1));\n"
        f"{checks}\n"
        '    println!("ok");\n}\n'
    )
    run_rust_main(tmp_path, source, main)


# -- seams, rebuilds, errors -------------------------------------------------------------------


def test_every_allowed_pair_is_scored_and_seams_are_named(make_project):
    project = make_project(MANIFEST.replace("rust_module: src/pixel_assets.rs, ", ""), None)
    r = pb(project, "build")
    assert r.code == 0, r.err
    report = project.lock["entries"]["meadow"]["report"]["seams"]
    # each of the 16 has 4 east and 4 south neighbours; an alternative full tile fits where its
    # terrain's full tile does (4 tiles after it, 4 before it, and itself), on both axes
    assert report["pairs"] == 2 * (16 * 4 + 2 * (4 + 4 + 1))
    assert report["max"] >= report["mean"] > 0
    if report["over_warning"]:
        assert f"{report['over_warning']} of the {report['pairs']} tile pairs" in r.err
        assert report["worst"][0] in r.err  # e.g. "meadow/3 west of meadow/12 (1.7)"
    assert project.lock["entries"]["paths"]["report"]["seams"]["pairs"] > 47 * 2


def test_the_seam_score_sees_a_terrain_that_does_not_wrap():
    ramp = np.zeros((8, 8, 4), np.uint8)
    ramp[..., 0] = np.arange(8)[None, :] * 8  # steps of 8 inside, a jump of 56 across the wrap
    ramp[..., 3] = 255
    flat = np.full((8, 8, 4), 255, np.uint8)
    s = autotile_set("wang16")
    tiles = paint_set(s, ramp, flat, 3)
    scores = {(p.first, p.second, p.axis): p.score for p in allowed_seams(
        [s.control(i) for i in range(16)], tiles)}  # fmt: skip
    assert len(scores) == 128
    assert scores[0, 0, 1] == 7.0  # ground beside ground: the jump over the mean step
    assert scores[0, 0, 0] == 1.0  # no change down the columns: no seam either way
    assert scores[15, 15, 1] == 1.0  # the flat terrain meets itself without a seam


def test_changing_one_terrain_regenerates_only_its_tiles(make_project):
    project = make_project(MANIFEST.replace("rust_module: src/pixel_assets.rs, ", ""), None)
    assert pb(project, "build").code == 0
    text = project.manifest.read_text().replace("packed dirt path", "dry dirt path")
    project.manifest.write_text(text)
    r = pb(project, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["rebuilt"] == ["meadow"]
    assert r.json["steps_run"]["generate"] == 2  # the dirt's two tiles; the grass is cached


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{prompt: grass, autotile: wang16}", "'autotile' needs 'terrains'"),
        ("{terrains: {a: {prompt: x}, b: {prompt: y}}}", "add 'autotile: wang16' or 'blob47'"),
        (
            "{prompt: grass, autotile: blob47, terrains: {a: {prompt: x}, b: {prompt: y}}}",
            "painted from its 'terrains', not 'prompt'",
        ),
        ("{autotile: wang16, terrains: {a: {prompt: x}}}", "exactly two terrains"),
        ("{size: 16}", "missing required key 'prompt' (or 'autotile' with 'terrains')"),
        ("{autotile: wang47, terrains: {a: {prompt: x}, b: {prompt: y}}}", "wang16"),
        ("{autotile: wang16, terrains: {dirt: {prompt: x}, Dirt: {prompt: y}}}", "tiles alike"),
        ("{autotile: wang16, terrains: {dirt: {prompt: x}, dirt-2: {prompt: y}}}", "tiles alike"),
        ("{autotile: wang16, terrains: {2d: {prompt: x}, b: {prompt: y}}}", "start with a letter"),
    ],
)
def test_manifest_errors_are_located(make_project, entry, message):
    project = make_project(f"tilesets:\n  meadow: {entry}\n", None)
    r = pb(project, "build")
    assert r.code == 2
    assert "pixels.yaml:2:" in r.err and "tileset 'meadow'" in r.err and message in r.err, r.err
    assert not project.assets.exists()


@pytest.mark.sdxl
@pytest.mark.slow
def test_an_autotile_set_on_the_tiny_sdxl_inpaints_each_transition(tiny_sdxl, make_project):
    """On SDXL each terrain is painted as a seamless tile, then every transition tile is inpainted
    from both (one generate step each): its band around the terrain border differs from the pure
    blend, its outer ring is the blend's, so the set keeps the blend's shared borders. Cached on
    a second build; `inpaint: false` blends only, from the same terrain images, and the Tiled
    tileset and bitmask table are the same."""
    text = (
        "project: {palette: db32, generate: {engine: diffusers, model: tiny, steps: 2, "
        "canvas: 64}}\nmodels:\n  tiny: {path: models/tiny}\n"
        + MANIFEST.split("\n", 1)[1].split("  paths:")[0].replace("variants: 2", "variants: 1")
        + "    seed: 13\n"
    )
    project = make_project(text, None)
    shutil.copytree(tiny_sdxl.folder, project.dir / "models" / "tiny")
    r = pb(project, "build", "--json", "--device", "cpu")
    assert r.code == 0, r.err
    assert r.json["steps_run"]["generate"] == 2 + 14  # the terrains, then each transition
    assert r.json["steps_run"]["pixelize"] == 2 + 14
    tiles, table = sheet_tiles(project, "meadow")
    assert len(tiles) == 16 and table["full_tiles"] == {"grass": [0], "dirt": [15]}
    entry = project.lock["entries"]["meadow"]
    assert entry["engine"] == "diffusers" and entry["report"]["seams"]["pairs"] == 128
    aset = autotile_set("wang16")
    blended = paint_set(aset, tiles[0], tiles[15], 13)
    assert transitions(aset, 16, 16, 13) == list(range(1, 15))
    changed = 0
    for mask in range(1, 15):
        t, pure = tiles[mask], blended[mask]
        inside = band(labels_of(aset, mask, 16, 16, 13))
        assert inside.any() and not inside[:RING].any() and not inside[:, -RING:].any()
        assert (t[~inside] == pure[~inside]).all(), mask  # the ring and the rest: the blend's
        changed += int((t[inside] != pure[inside]).any(axis=-1).sum())
    assert changed > 100  # the bands are repainted (random weights: noise, but not the blend)
    tsx = (project.assets / "tiles" / "meadow.tsx").read_bytes()
    json_table = (project.assets / "tiles" / "meadow.autotile.json").read_bytes()

    again = pb(project, "build", "--json", "--device", "cpu")
    assert again.code == 0 and again.json["steps_run"].get("generate", 0) == 0, again.err

    project.edit("    seed: 13\n", "    seed: 13\n    inpaint: false\n")
    r = pb(project, "build", "--json", "--device", "cpu")
    assert r.code == 0 and r.json["steps_run"].get("generate", 0) == 0, r.err  # terrains cached
    plain, _ = sheet_tiles(project, "meadow")
    assert all((a == b).all() for a, b in zip(plain, blended, strict=True))
    assert (project.assets / "tiles" / "meadow.tsx").read_bytes() == tsx
    assert (project.assets / "tiles" / "meadow.autotile.json").read_bytes() == json_table


def test_inpaint_is_for_autotile_sets(make_project):
    project = make_project("tilesets:\n  grass: {prompt: grass, inpaint: true}\n", None)
    r = pb(project, "build")
    assert r.code == 2 and "pixels.yaml:2:" in r.err and "'inpaint' is for autotile" in r.err
