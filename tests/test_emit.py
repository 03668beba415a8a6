"""Writing into the assets tree: ownership, --force, clean, atomic staging, the stat cache."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from unittest import mock

from conftest import pb, pb_proc, tree

from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.cache.state import State


def test_hand_edited_output_is_never_overwritten_without_force(built):
    out = built.assets / "sprites" / "hero.png"
    edited = out.read_bytes() + b"my edit"
    out.write_bytes(edited)
    built.edit("a red knight", "a blue knight")  # the entry must be rebuilt now
    r = pb_proc(built, "build")
    assert r.code == 1, r.err
    assert str(out) in r.err and "edited" in r.err and "--force" in r.err, r.err
    assert out.read_bytes() == edited
    j = pb(built, "build", "--json")
    assert j.code == 1 and j.json["failed"] == ["hero"]
    assert out.read_bytes() == edited
    forced = pb(built, "build", "--json", "--force")
    assert forced.code == 0 and forced.json["rebuilt"] == ["hero"]
    assert out.read_bytes() != edited
    info = built.lock["entries"]["hero"]["outputs"]["sprites/hero.png"]
    assert digest_bytes(out.read_bytes()) == info["digest"]


def test_hand_edited_output_alone_is_reported_not_overwritten(built):
    ron = built.assets / "tiles" / "grass.assets.ron"
    ron.write_text("// tuned by hand\n" + ron.read_text())
    plan = pb(built, "plan", "--json")
    assert plan.json["stale"] == [
        {"entry": "grass", "reasons": ["output edited by hand: tiles/grass.assets.ron"]}
    ]
    r = pb(built, "build", "--json")
    assert r.code == 1 and r.json["failed"] == ["grass"]
    assert str(ron) in r.json["errors"]["grass"]
    assert ron.read_text().startswith("// tuned by hand")


def test_foreign_file_at_an_output_path_is_refused(proj):
    foreign = proj.assets / "sprites" / "slime.png"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"somebody's art")
    r = pb_proc(proj, "build")
    assert r.code == 1
    assert str(foreign) in r.err and "not written by pixelbuild" in r.err, r.err
    assert foreign.read_bytes() == b"somebody's art"
    assert (proj.assets / "sprites" / "hero.png").exists()  # the others were built
    assert "slime" not in proj.lock["entries"]
    r = pb(proj, "build", "--json", "--force")
    assert r.code == 0 and r.json["rebuilt"] == ["slime"]
    assert foreign.read_bytes().startswith(b"\x89PNG")


def test_rebuild_after_deleting_lock_and_cache_adopts_identical_outputs(built):
    """The lock error says "delete the file and rebuild": doing so must not refuse every output
    that already has exactly the bytes the build produces."""
    import shutil

    before = tree(built.assets)
    (built.dir / "pixels.lock").unlink()
    shutil.rmtree(built.dir / ".pixelbuild")
    r = pb(built, "build", "--json")
    assert r.code == 0, r.json["errors"]
    assert sorted(r.json["rebuilt"]) == ["grass", "hero", "slime", "walk"]
    assert r.json["files_written"] == 0
    assert tree(built.assets) == before


def test_clean_deletes_unchanged_outputs_only(built):
    edited = built.assets / "sprites" / "slime.png"
    edited.write_bytes(b"edited")
    r = pb_proc(built, "clean")
    assert r.code == 0, r.err
    assert "kept sprites/slime.png" in r.err
    remaining = [p for p in built.assets.rglob("*") if p.is_file()]
    assert remaining == [edited]
    assert built.lock["entries"] == {}
    assert (built.dir / ".pixelbuild").is_dir()
    r = pb(built, "clean", "--cache", "--json")
    assert r.code == 0 and r.json["cache_removed"] is True
    assert not (built.dir / ".pixelbuild").exists()
    assert edited.read_bytes() == b"edited"


def test_clean_one_entry(built):
    r = pb(built, "clean", "walk", "--json")
    assert r.code == 0 and r.json["deleted"] == 3
    assert not (built.assets / "animations").exists()  # emptied folders are pruned
    assert sorted(built.lock["entries"]) == ["grass", "hero", "slime"]
    b = pb(built, "build", "--json")
    assert b.json["rebuilt"] == ["walk"]
    assert b.json.get("steps_run", {}) == {}  # from the cache


def test_outputs_are_staged_outside_the_assets_tree(proj):
    """Every os.replace into the assets tree comes from .pixelbuild/tmp (same filesystem)."""
    moves: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src, dst, *a, **kw):
        moves.append((Path(src), Path(dst)))
        return real_replace(src, dst, *a, **kw)

    with mock.patch("os.replace", spy):
        r = pb(proj, "build", "--json")
    assert r.code == 0
    into_assets = [(s, d) for s, d in moves if d.is_relative_to(proj.assets)]
    assert len(into_assets) == r.json["files_written"] == 1 + 1 + 3 + 3
    staging = proj.dir / ".pixelbuild" / "tmp"
    for src, _ in into_assets:
        assert src.parent == staging, src
        assert not src.is_relative_to(proj.assets)
    assert list(staging.iterdir()) == []  # nothing left behind


def test_input_file_touched_but_unchanged_rebuilds_nothing(built):
    os.utime(built.dir / "palettes" / "x.hex")
    r = pb(built, "build", "--json")
    assert r.code == 0 and r.json["rebuilt"] == []
    assert r.json.get("steps_run", {}) == {}


# --- the stat cache ---------------------------------------------------------------------------


def test_stat_cache_does_not_reread_an_unchanged_file(tmp_path):
    big = tmp_path / "model.safetensors"
    big.write_bytes(os.urandom(1 << 20) * 8)  # 8 MiB
    db = tmp_path / "state.db"
    state = State(db)
    first = state.digest(big)
    assert first == digest_bytes(big.read_bytes())
    state.close()

    # What the stat cache holds is what it answers while the signature holds: plant a marker.
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE stats SET digest = 'planted' WHERE path = ?", (str(big),))
    state = State(db)  # a new process would open it like this
    assert state.digest(big) == "planted"  # from the stat cache: the file was not read
    state.close()


def test_stat_cache_notices_an_edit_that_restores_the_mtime(tmp_path):
    """Size, inode and mtime kept (`touch -r`, os.utime): ctime still moves. Failed before:
    the edit was taken for the file pixelbuild wrote, overwritten without --force."""
    big = tmp_path / "hero.png"
    big.write_bytes(os.urandom(1 << 16))
    db = tmp_path / "state.db"
    state = State(db)
    first = state.digest(big)
    state.close()
    st = big.stat()
    time.sleep(0.01)
    with open(big, "r+b") as f:
        f.seek(12345)
        f.write(b"\xff" * 64)
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert big.stat().st_ino == st.st_ino and big.stat().st_size == st.st_size
    assert big.stat().st_mtime_ns == st.st_mtime_ns
    truth = digest_bytes(big.read_bytes())
    assert truth != first
    assert State(db).digest(big) == truth


def test_stat_cache_notices_a_replaced_file(tmp_path):
    f = tmp_path / "palette.hex"
    f.write_text("000000\n")
    state = State(tmp_path / "state.db")
    first = state.digest(f)
    st = f.stat()
    g = tmp_path / "new.hex"
    g.write_text("ffffff\n")  # same size
    os.utime(g, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(g, f)  # a new inode, as editors' atomic saves make
    assert state.digest(f) == digest_bytes(b"ffffff\n") != first
    state.close()


def test_readonly_state_writes_nothing(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("a")
    db = tmp_path / "cache" / "state.db"
    state = State(db, readonly=True)
    state.digest(f)
    state.put_record("k", "generate", {"x": 1})
    state.close()
    assert not (tmp_path / "cache").exists()
    before = tree(tmp_path)
    assert before  # a.txt


def test_a_killed_builds_temp_file_in_the_staging_folder_is_swept(built):
    """A build killed while writing through assets/.pixelbuild-staging (a bind-mounted assets
    tree) leaves its temp file there; the next build removes it and the folder."""
    staging = built.assets / ".pixelbuild-staging"
    staging.mkdir()
    (staging / ".tmp-k1ll3d.png").write_bytes(b"half a png")
    built.edit("a red knight", "a blue knight")
    r = pb(built, "build", "--json")
    assert r.code == 0 and r.json["rebuilt"] == ["hero"], r.err
    assert not staging.exists()
