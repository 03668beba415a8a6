"""Hostile filesystems: assets on another device, a full disk, a read-only tree, a folder where
an output goes. Each is a clear message, and every previous output stays intact."""

from __future__ import annotations

import os

from conftest import SMALL, pb, tree
from mounts import mounted


def _recolour(project) -> None:
    manifest = project.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("a red knight", "a blue knight"))


def _clean_result(r) -> None:
    assert "Traceback" not in r.err and "internal error" not in r.err


def test_assets_on_a_mount_of_their_own(make_project):
    """A Docker bind mount or tmpfs as assets/: the temp files must share its filesystem.
    Failed before: 'Invalid cross-device link'."""
    project = make_project(SMALL)
    with mounted("tmpfs", project.assets):
        assert os.stat(project.assets).st_dev != os.stat(project.dir).st_dev
        r = pb(project, "build")
        assert r.code == 0, r.err
        _clean_result(r)
        assert (project.assets / "sprites" / "hero.png").is_file()
        assert not (project.assets / ".pixelbuild-staging").exists()  # removed once empty
        assert pb(project, "build", "--locked").code == 0


def test_a_full_disk_stops_cleanly_and_keeps_previous_outputs(make_project):
    manifest = SMALL.replace("  size: 16\n", "  size: 128\n  cache: cache\n", 1).replace(
        "canvas: 64", "canvas: 256"
    )
    project = make_project(manifest)
    with mounted("tmpfs", project.dir / "cache", size="40k"):
        r = pb(project, "build")
        assert r.code == 1, r.err
        _clean_result(r)
        assert "no space left on the device" in r.err and "MB free" in r.err
        assert "previous outputs are intact" in r.err
    assert (project.dir / "pixels.yaml").is_file()


def test_a_full_assets_disk_keeps_what_was_there(built):
    before = {p: p.read_bytes() for p in built.assets.rglob("*.png")}
    _recolour(built)
    saved = {str(p.relative_to(built.assets)): b for p, b in before.items()}
    import shutil

    shutil.rmtree(built.assets)
    with mounted("tmpfs", built.assets, size="64k"):
        for rel, data in saved.items():  # the previous build's files, filling the disk
            (built.assets / rel).parent.mkdir(parents=True, exist_ok=True)
            (built.assets / rel).write_bytes(data)
        filler = built.assets / "filler.bin"
        try:
            with open(filler, "wb") as f:
                f.write(b"\0" * 1_000_000)
        except OSError:
            pass
        r = pb(built, "build")
        _clean_result(r)
        assert r.code == 1, r.err
        assert "no space left" in r.err
        for rel, data in saved.items():
            on_disk = (built.assets / rel).read_bytes()
            assert on_disk == data or rel == "sprites/hero.png", rel


def test_a_read_only_assets_tree_is_a_clear_error(built):
    before = tree(built.assets)
    _recolour(built)
    with mounted("readonly", built.assets):
        r = pb(built, "build")
    assert r.code == 1, r.err
    _clean_result(r)
    assert "cannot write" in r.err and "Read-only file system" in r.err
    assert tree(built.assets) == before


def test_a_folder_where_an_output_goes(built):
    hero = built.assets / "sprites" / "hero.png"
    hero.unlink()
    hero.mkdir()
    (hero / "keep.txt").write_text("mine")
    _recolour(built)
    r = pb(built, "build")
    assert r.code == 1
    _clean_result(r)
    assert "hero" in r.err
    assert (hero / "keep.txt").read_text() == "mine"
    assert (built.assets / "sprites" / "slime.png").is_file()
