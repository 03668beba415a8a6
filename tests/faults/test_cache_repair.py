"""A broken cache is reported once and rebuilt, never a traceback; outputs stay as built."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import pb, tree
from mounts import mounted

CACHE = ".pixelbuild"


def _outputs(project) -> dict[str, bytes]:
    return {str(p.relative_to(project.dir)): p.read_bytes() for p in project.assets.rglob("*.png")}


def _rebuilds_cleanly(project, before: dict[str, bytes]) -> str:
    r = pb(project, "build", "--json")
    assert r.code == 0, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err
    assert _outputs(project) == before
    assert pb(project, "build", "--locked").code == 0
    return r.err


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda db: db.write_bytes(b"not a database at all" * 100), id="garbage"),
        pytest.param(lambda db: db.write_bytes(db.read_bytes()[:1000]), id="truncated"),
        pytest.param(
            lambda db: db.write_bytes(
                db.read_bytes()[:100] + b"\xff" * 4000 + db.read_bytes()[4100:]
            ),
            id="flipped-pages",
        ),
        pytest.param(lambda db: db.write_bytes(b""), id="emptied"),
    ],
)
def test_a_corrupt_state_db_is_moved_aside_and_rebuilt(built, damage):
    before = _outputs(built)
    db = built.dir / CACHE / "state.db"
    for side in ("state.db-wal", "state.db-shm"):
        (built.dir / CACHE / side).unlink(missing_ok=True)
    damage(db)
    (built.dir / CACHE / "snapshot.json").unlink()
    err = _rebuilds_cleanly(built, before)
    if "corrupt" in err:  # an empty file is a valid empty database: nothing to report
        assert "moved it to corrupt/" in err


@pytest.mark.parametrize("value", ["{not json", "[1, 2]", '{"blobs": 7}', '{"files": [1]}'])
def test_a_mangled_step_record_runs_the_step_again(built, value):
    before = _outputs(built)
    with sqlite3.connect(built.dir / CACHE / "state.db") as db:
        db.execute("UPDATE records SET value = ?", (value,))
    (built.dir / CACHE / "snapshot.json").unlink()
    (built.assets / "sprites" / "hero.png").unlink()  # so a step must be read back
    _rebuilds_cleanly_after = pb(built, "build", "--json")
    assert _rebuilds_cleanly_after.code == 0, _rebuilds_cleanly_after.err
    assert "Traceback" not in _rebuilds_cleanly_after.err
    assert _outputs(built) == before


def test_the_cache_as_a_file_is_moved_aside(built):
    before = _outputs(built)
    cache = built.dir / CACHE
    import shutil

    shutil.rmtree(cache)
    cache.write_text("oops")
    err = _rebuilds_cleanly(built, before)
    assert "was not a folder" in err
    assert [p.name for p in built.dir.glob(".pixelbuild.corrupt-*")]


@pytest.mark.parametrize("name", ["tmp", "blobs"])
def test_a_file_where_a_cache_folder_belongs(built, name):
    before = _outputs(built)
    import shutil

    shutil.rmtree(built.dir / CACHE / name)
    (built.dir / CACHE / name).write_text("oops")
    (built.dir / CACHE / "snapshot.json").unlink()
    (built.assets / "sprites" / "hero.png").unlink()
    r = pb(built, "build")
    assert r.code == 0, r.err
    assert "was not a folder" in r.err and "Traceback" not in r.err
    assert _outputs(built) == before


def test_a_folder_where_a_blob_belongs(built):
    before = _outputs(built)
    blobs = sorted(p for p in (built.dir / CACHE / "blobs").rglob("*") if p.is_file())
    for blob in blobs:
        blob.unlink()
        blob.mkdir()
    (built.dir / CACHE / "snapshot.json").unlink()
    (built.assets / "sprites" / "hero.png").unlink()
    r = pb(built, "build")
    assert r.code == 0, r.err
    assert "Traceback" not in r.err
    assert _outputs(built) == before


def test_a_garbage_snapshot_falls_back_to_a_full_plan(built):
    for text in ("[]", '{"context": 1}', '{"stats": 5, "context": null}', "\x00\x01"):
        (built.dir / CACHE / "snapshot.json").write_text(text)
        r = pb(built, "build")
        assert r.code == 0, r.err
        assert "Traceback" not in r.err


def test_clean_cache_deletes_only_the_cache_layout(built):
    cache = built.dir / CACHE
    (cache / "mine.txt").write_text("not pixelbuild's")
    r = pb(built, "clean", "--cache")
    assert r.code == 0, r.err
    assert sorted(p.name for p in cache.iterdir()) == ["mine.txt"]
    assert "kept in" in r.err and "mine.txt" in r.err


def test_an_unwritable_cache_is_a_clear_error(built):
    """Read-only (a bind mount: permissions do not stop root): a message naming the cache, the
    outputs untouched."""
    before = tree(built.assets)
    manifest = built.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("a red knight", "a blue knight"))
    with mounted("readonly", built.dir / CACHE):
        r = pb(built, "build")
    assert r.code == 1, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err
    assert "cannot use the cache database" in r.err and CACHE in r.err
    assert tree(built.assets) == before


def test_a_record_naming_a_path_outside_the_cache_touches_nothing(built, tmp_path):
    """A blob 'digest' of ../../ must not be read, let alone deleted as corrupt."""
    victim = built.dir / "victim.txt"
    victim.write_text("keep me")
    with sqlite3.connect(built.dir / CACHE / "state.db") as db:
        db.execute("UPDATE records SET value = ?", ('{"blobs": ["../../victim.txt"]}',))
    (built.dir / CACHE / "snapshot.json").unlink()
    (built.assets / "sprites" / "hero.png").unlink()
    r = pb(built, "build")
    assert r.code == 0, r.err
    assert victim.read_text() == "keep me"
