"""`pixels.lock` and `build --locked`: the CI check changes nothing and needs no cache."""

from __future__ import annotations

import json
import shutil

from conftest import PALETTE, pb, pb_proc, tree


def test_locked_passes_on_a_fresh_build(built):
    before = tree(built.dir, cache=False)
    r = pb_proc(built, "build", "--locked")
    assert r.code == 0, r.err
    assert "up to date" in r.err
    assert tree(built.dir, cache=False) == before


def test_locked_and_plan_leave_the_cache_folder_untouched(built):
    """Read-only commands must not even create sqlite's -wal/-shm side files."""
    built.edit("a green slime", "a blue slime")
    before = tree(built.dir)
    assert pb(built, "build", "--locked").code == 3
    assert pb(built, "plan").code == 0
    assert tree(built.dir) == before


def test_locked_fails_on_a_stale_manifest_and_changes_nothing(built):
    built.edit("a green slime", "a blue slime")
    built.write("palettes/x.hex", PALETTE.replace("f7e26b", "f0e060"))
    (built.assets / "tiles" / "grass.json").unlink()
    before = tree(built.dir, cache=False)
    r = pb_proc(built, "build", "--locked")
    assert r.code == 3, (r.code, r.err)
    assert "slime" in r.err and "prompt changed" in r.err
    assert "input file changed: palettes/x.hex" in r.err
    assert "output missing: tiles/grass.json" in r.err
    assert tree(built.dir, cache=False) == before
    j = pb(built, "build", "--locked", "--json")
    assert j.code == 3
    stale = {s["entry"]: s["reasons"] for s in j.json["stale"]}
    assert set(stale) == {"grass", "hero", "slime", "walk"}
    assert "prompt changed" in stale["slime"]
    assert "output missing: tiles/grass.json" in stale["grass"]
    assert tree(built.dir, cache=False) == before


def test_locked_reports_removed_entries(built):
    built.edit("  slime: {prompt: a green slime}\n", "")
    r = pb(built, "build", "--locked", "--json")
    assert r.code == 3
    assert r.json["stale"] == [{"entry": "slime", "reasons": ["entry removed from the manifest"]}]
    assert (built.assets / "sprites" / "slime.png").exists()


def test_locked_reports_hand_edited_output(built):
    out = built.assets / "sprites" / "hero.png"
    out.write_bytes(out.read_bytes() + b"x")
    r = pb(built, "build", "--locked", "--json")
    assert r.code == 3
    assert r.json["stale"] == [
        {"entry": "hero", "reasons": ["output edited by hand: sprites/hero.png"]}
    ]


def test_locked_creates_no_cache_folder(built, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(built.dir, clone, ignore=shutil.ignore_patterns(".pixelbuild"))
    before = tree(clone)
    assert not (clone / ".pixelbuild").exists()
    r = pb_proc(type(built)(clone), "build", "--locked")
    assert r.code == 0, r.err  # the lock alone suffices, no cache needed
    assert not (clone / ".pixelbuild").exists()
    assert tree(clone) == before
    # and a stale manifest is still caught without a cache
    (clone / "pixels.yaml").write_text((clone / "pixels.yaml").read_text().replace("seed: 7", ""))
    before = tree(clone)
    r = pb_proc(type(built)(clone), "build", "--locked")
    assert r.code == 3
    assert "hero" in r.err and "seed changed" in r.err, r.err
    assert not (clone / ".pixelbuild").exists()
    assert tree(clone) == before


def test_locked_on_a_never_built_project_lists_new_entries(proj):
    before = tree(proj.dir)
    r = pb(proj, "build", "--locked", "--json")
    assert r.code == 3
    assert {s["entry"] for s in r.json["stale"]} == {"grass", "hero", "slime", "walk"}
    assert all(s["reasons"] == ["new entry"] for s in r.json["stale"])
    assert tree(proj.dir) == before


def test_plan_writes_nothing(built):
    built.edit("a green slime", "a blue slime")
    before = tree(built.dir, cache=False)
    r = pb(built, "plan", "-a")
    assert r.code == 0
    assert tree(built.dir, cache=False) == before


def test_lock_is_sorted_stable_and_complete(built):
    text = (built.dir / "pixels.lock").read_text()
    lock = json.loads(text)
    assert list(lock["entries"]) == sorted(lock["entries"])  # sorted, so diffs are readable
    for entry in lock["entries"].values():
        assert list(entry) == sorted(entry)
        assert list(entry["outputs"]) == sorted(entry["outputs"])
    assert list(lock["files"]) == sorted(lock["files"])
    assert text.endswith("}\n") and "\t" not in text
    assert lock["version"] == 1
    hero = lock["entries"]["hero"]
    assert hero["seed"] == 7 and hero["engine"] == "procedural"
    assert len(hero["key"]) == 32
    assert hero["outputs"]["sprites/hero.png"]["size"] == (
        (built.assets / "sprites" / "hero.png").stat().st_size
    )
    assert set(lock["entries"]["walk"]["outputs"]) == {
        "animations/walk.png",
        "animations/walk.assets.ron",
        "animations/walk.json",
    }
    assert "palettes/x.hex" in lock["files"]
    # a rebuild elsewhere from the same manifest writes the same text
    built.edit("a green slime", "a blue slime")
    pb(built, "build")
    built.edit("a blue slime", "a green slime")
    pb(built, "build")
    assert (built.dir / "pixels.lock").read_text() == text


def test_corrupt_lock_is_a_located_error(built):
    (built.dir / "pixels.lock").write_text('{\n  "entries": {\n<<<<<<< HEAD\n')
    r = pb(built, "plan")
    assert r.code == 2
    assert "pixels.lock:3:" in r.err, r.err


def test_locked_names_twenty_stale_entries_and_counts_the_rest_by_reason(make_project):
    sprites = "".join(f"  s{i:02d}: {{prompt: thing {i}}}\n" for i in range(30))
    p = make_project("project: {size: 8, generate: {canvas: 32}}\nsprites:\n" + sprites)
    assert pb(p, "build").code == 0
    p.write("pixels.yaml", p.manifest.read_text().replace("size: 8", "size: 12"))
    r = pb(p, "build", "--locked")
    assert r.code == 3
    listed = [line for line in r.err.splitlines() if line.startswith("  s")]
    assert len(listed) == 20 and listed[0].startswith("  s00: size changed")
    assert "  ... and 10 more (`--json` lists every one):" in r.err
    assert "    10 x size changed" in r.err
    assert len(pb(p, "build", "--locked", "--json").json["stale"]) == 30
