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


def _hand_edit(png) -> bytes:
    from PIL import Image

    with Image.open(png) as im:
        im = im.convert("RGBA")
        im.putpixel((0, 0), (255, 0, 255, 255))
        im.save(png)
    return png.read_bytes()


def test_adopt_keeps_a_hand_finished_output(built):
    hero = built.assets / "sprites" / "hero.png"
    mine = _hand_edit(hero)
    assert pb(built, "build", "--locked").code == 3  # a hand edit is stale until adopted
    r = pb(built, "adopt", "hero")
    assert r.code == 0, r.err
    assert "adopted sprites/hero.png" in r.err
    assert json.loads((built.dir / "pixels.lock").read_text())["entries"]["hero"]["hand_finished"]
    assert pb(built, "build", "--locked").code == 0
    assert pb(built, "build").code == 0 and hero.read_bytes() == mine

    manifest = built.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("a red knight", "a blue knight"))
    r = pb(built, "build")
    assert r.code == 1
    assert "was finished by hand (pixelbuild adopt) and its inputs changed" in r.err
    assert "input" in r.err and hero.read_bytes() == mine
    assert pb(built, "adopt", "hero").code == 0  # keep it for the new inputs
    assert pb(built, "build", "--locked").code == 0 and hero.read_bytes() == mine

    manifest.write_text(manifest.read_text().replace("a blue knight", "a green knight"))
    r = pb(built, "build", "--force", "--json")
    assert r.code == 0 and r.json["rebuilt"] == ["hero"]
    assert hero.read_bytes() != mine
    assert (
        "hand_finished"
        not in json.loads((built.dir / "pixels.lock").read_text())["entries"]["hero"]
    )


def test_removing_an_adopted_entry_keeps_its_file(built):
    hero = built.assets / "sprites" / "hero.png"
    mine = _hand_edit(hero)
    assert pb(built, "adopt", "hero").code == 0
    manifest = built.dir / "pixels.yaml"
    manifest.write_text(
        manifest.read_text().replace("  hero: {prompt: a red knight, seed: 7}\n", "")
    )
    r = pb(built, "build", "--json")
    assert r.code == 0, r.err
    assert hero.read_bytes() == mine


def test_adopt_needs_the_file(built):
    (built.assets / "sprites" / "hero.png").unlink()
    r = pb(built, "adopt", "hero")
    assert r.code == 2 and "is not there to adopt" in r.err
    assert pb(built, "adopt", "nobody").code == 2
