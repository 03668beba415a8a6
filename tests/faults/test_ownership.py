"""A stopped build never makes our own files look hand-edited, and the lock depends only on the
manifest and the stored results (not on which engine this process happened to load)."""

from __future__ import annotations

import json

from conftest import pb


def test_a_build_stopped_before_the_lock_keeps_its_files_ours(built):
    """The state a kill -9 leaves between replacing an output and writing the lock: the journal
    knows the new file, the lock still has the old digest. Failed before: 'edited since'."""
    lock = built.dir / "pixels.lock"
    old_lock = lock.read_text()
    manifest = built.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("a red knight", "a blue knight"))
    assert pb(built, "build").code == 0
    lock.write_text(old_lock)  # as if killed before the lock was written
    r = pb(built, "build", "--json")
    assert r.code == 0, r.err
    assert "edited" not in r.err
    assert pb(built, "build", "--locked").code == 0


def test_the_lock_rebuilt_from_the_cache_is_the_same_lock(built):
    """Lock lost (a kill before it was written, a bad merge): rebuilt from cached results alone,
    it is byte-identical. Failed before: provenance became {'pixelbuild': ...} when no engine
    ran in this process, and `--locked` on the other machine failed."""
    lock = built.dir / "pixels.lock"
    before = lock.read_text()
    assert json.loads(before)["entries"]["hero"]["provenance"]["engine"].startswith("procedural")
    lock.unlink()
    r = pb(built, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["steps_run"].get("generate", 0) == 0  # every image came from the cache
    assert lock.read_text() == before


def test_an_edit_that_keeps_size_and_mtime_is_still_a_hand_edit(built):
    """Failed before: overwritten without --force, and `--locked` passed over it."""
    import os

    hero = built.assets / "sprites" / "hero.png"
    st = hero.stat()
    data = bytearray(hero.read_bytes())
    data[-20] ^= 0xFF  # inside the IEND region: same size
    with open(hero, "r+b") as f:
        f.write(bytes(data))
    os.utime(hero, ns=(st.st_atime_ns, st.st_mtime_ns))
    locked = pb(built, "build", "--locked")
    assert locked.code == 3 and "output edited by hand: sprites/hero.png" in locked.err
    manifest = built.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("a red knight", "a blue knight"))
    r = pb(built, "build")
    assert r.code == 1 and "was edited since pixelbuild wrote it" in r.err
    assert hero.read_bytes() == bytes(data)
