"""project.assets and project.cache stay inside the project, and no write or delete follows a
symlink out of it."""

from __future__ import annotations

import pytest
from conftest import SMALL, pb

OUTSIDE_CASES = [
    ("cache", "'.'", "not the project folder itself"),
    ("cache", "'..'", "leaves the project folder"),
    ("cache", ".git", "must not be inside .git"),
    ("cache", ".git/objects", "must not be inside .git"),
    ("cache", "/tmp/elsewhere", "is absolute"),
    ("cache", "assets/cache", "must be apart"),
    ("assets", "'..'", "leaves the project folder"),
    ("assets", "'.'", "not the project folder itself"),
    ("assets", "/tmp", "is absolute"),
]


@pytest.mark.parametrize(("field", "value", "message"), OUTSIDE_CASES)
def test_assets_and_cache_are_confined(make_project, field, value, message):
    project = make_project(SMALL.replace("  size: 16\n", f"  size: 16\n  {field}: {value}\n", 1))
    (project.dir / ".git").mkdir()
    sentinel = project.dir.parent / "sentinel.txt"
    sentinel.write_text("keep")
    for command in (("build",), ("clean", "--cache"), ("plan",)):
        r = pb(project, *command)
        assert r.code == 2, (command, r.err)
        assert f"project: {field}:" in r.err and message in r.err
        assert "pixels.yaml:" in r.err and "Traceback" not in r.err
    assert sentinel.read_text() == "keep"
    assert sorted(p.name for p in project.dir.iterdir()) == [".git", "palettes", "pixels.yaml"]


def test_a_symlink_to_the_cache_outside_is_confined_too(make_project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    project = make_project(SMALL.replace("  size: 16\n", "  size: 16\n  cache: c\n", 1))
    (project.dir / "c").symlink_to(outside)
    r = pb(project, "clean", "--cache")
    assert r.code == 2 and "leaves the project folder" in r.err
    assert (outside / "precious.txt").read_text() == "keep"


def test_a_symlinked_folder_inside_assets_is_not_written_through(built, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    sprites = built.assets / "sprites"
    for p in sprites.iterdir():
        p.unlink()
    sprites.rmdir()
    sprites.symlink_to(outside)
    r = pb(built, "build", "--force")
    assert r.code == 1
    assert "symlinked folder leads outside the assets tree" in r.err
    assert "Traceback" not in r.err
    assert list(outside.iterdir()) == []
    assert (built.assets / "animations" / "walk.png").is_file()  # the others are built


def test_clean_does_not_delete_through_a_symlinked_folder(built, tmp_path):
    outside = tmp_path / "outside"
    sprites = built.assets / "sprites"
    sprites.rename(outside)
    sprites.symlink_to(outside)
    r = pb(built, "clean")
    assert r.code == 0, r.err
    assert sorted(p.name for p in outside.iterdir()) == ["hero.png", "slime.png"]
