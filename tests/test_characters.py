"""Characters through the CLI on the procedural engine: the whole graph, exact mirroring, one
palette, rebuilds per animation, the sheet's metadata, and the Rust module compiled by rustc."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import pb, run_rust_main
from PIL import Image

from pixelbuild.pixel.palettes import builtin_palette

MANIFEST = """\
project: {palette: db32, rust_module: src/pixel_assets.rs, generate: {canvas: 64}}
characters:
  hero:
    prompt: a small knight with a red cape
    size: 16
    directions: 4
    mirror: true
    animations:
      idle: {frames: 4, fps: 6}
      walk: {frames: 6, fps: 10}
      attack: {frames: 5, fps: 12, mode: once}
"""
ROWS = [(d, a) for d in ("s", "w", "n", "e") for a in ("idle", "walk", "attack")]
FRAMES = {"idle": 4, "walk": 6, "attack": 5}


@pytest.fixture
def hero(make_project):
    project = make_project(MANIFEST, palette=None)
    (project.dir / "src").mkdir()
    r = pb(project, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["rebuilt"] == ["hero"]
    # generated: 3 painted directions (e is mirrored) x 15 frames; views are SDXL-only anchors
    assert r.json["steps_run"]["generate"] == 3 * 15
    return project


def cells(project) -> dict[tuple[str, str], list[np.ndarray]]:
    sheet = np.asarray(Image.open(project.assets / "characters" / "hero.png").convert("RGBA"))
    assert sheet.shape == (len(ROWS) * 16, 6 * 16, 4)
    out = {}
    for r, (d, a) in enumerate(ROWS):
        row = sheet[r * 16 : (r + 1) * 16]
        out[d, a] = [row[:, i * 16 : (i + 1) * 16] for i in range(FRAMES[a])]
        blank = row[:, FRAMES[a] * 16 :]
        assert (blank[..., 3] == 0).all()  # the rest of a short row is empty
    return out


def test_a_character_sheet_with_mirrored_directions_and_one_palette(hero):
    c = cells(hero)
    for a in FRAMES:
        for w, e in zip(c["w", a], c["e", a], strict=True):
            assert np.array_equal(e, w[:, ::-1])  # mirrored exactly, not regenerated
        assert not np.array_equal(c["s", a][0], c["w", a][0])  # the views differ
    colours = {tuple(px) for f in c.values() for img in f for px in img.reshape(-1, 4) if px[3]}
    db32 = {(*map(int, c), 255) for c in builtin_palette("db32")}
    assert colours <= db32


def test_aseprite_tags_per_animation_and_direction(hero):
    data = json.loads((hero.assets / "characters" / "hero.json").read_text())
    tags = {t["name"]: (t["from"], t["to"], t["direction"]) for t in data["meta"]["frameTags"]}
    assert tags["walk_s"] == (6, 11, "forward")
    assert tags["attack_e"] == (11 * 6, 11 * 6 + 4, "forward")
    assert len(tags) == 12
    ron = (hero.assets / "characters" / "hero.assets.ron").read_text()
    assert "columns: 6" in ron and "rows: 12" in ron


def test_changing_one_animation_regenerates_only_its_frames(hero):
    manifest = hero.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("walk: {frames: 6", "walk: {frames: 8"))
    r = pb(hero, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["steps_run"]["generate"] == 3 * 8  # the walk frames of s, w, n
    manifest.write_text(manifest.read_text().replace("a small knight", "a tall knight"))
    r = pb(hero, "build", "--json")
    assert r.json["steps_run"]["generate"] == 3 * (4 + 8 + 5)  # a new prompt: everything


def test_the_rust_module_has_a_range_per_animation_and_direction(hero, tmp_path):
    source = (hero.dir / "src" / "pixel_assets.rs").read_text()
    assert "WALK_S" in source and "ATTACK_E" in source
    main = (
        "mod pixel_assets;\nuse pixel_assets::hero::{walk, Direction};\nfn main() {\n"
        "    assert_eq!(walk(Direction::W).first, 3 * 6 + 6);\n"
        "    assert_eq!(walk(Direction::E), pixel_assets::hero::anim::WALK_E);\n"
        '    println!("ok");\n}\n'
    )
    run_rust_main(tmp_path, source, main)


def test_the_lock_keeps_what_alignment_measured(hero):
    lock = json.loads((hero.dir / "pixels.lock").read_text())
    report = lock["entries"]["hero"]["report"]["alignment"]
    assert set(report) == {f"{a}_{d}" for d, a in ROWS if d != "e"}
    for row in report.values():
        before, after = row["feet_jitter_px"]
        assert after <= before and 0 <= row["area_variation"] < 1
