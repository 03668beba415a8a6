"""Large projects: `include:` (a manifest split into files), the lock sharded along them, git
merges of neighbouring edits, merge conflicts in the lock, and the lock's owner index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Proj, pb, pb_proc

from pixelbuild.cache.lock import Lock, LockedOutput, LockEntry, read_lock
from pixelbuild.cache.lockshards import SHARDS_DIR

ROOT = """\
project: {size: 16, generate: {canvas: 32}}
include: [art/forest.yaml, "art/caves/*.yaml"]
sprites:
  hero: {prompt: a red knight}
"""
FOREST = """\
sprites:
  oak: {prompt: an oak tree}
  pine: {prompt: a pine tree}
"""
CAVES = """\
sprites:
  bat: {prompt: a bat}
tilesets:
  rock: {prompt: cave rock, variants: 2}
"""


@pytest.fixture
def split(make_project) -> Proj:
    p = make_project(ROOT, palette=None)
    p.write("art/forest.yaml", FOREST)
    p.write("art/caves/cave.yaml", CAVES)
    return p


def shard(p: Proj, rel: str) -> dict:
    return json.loads((p.dir / SHARDS_DIR / f"{rel}.lock").read_text())


def test_included_entries_build_into_one_lock_shard_per_file(split):
    r = pb(split, "build", "--json")
    assert r.code == 0, r.err
    assert sorted(r.json["rebuilt"]) == ["bat", "hero", "oak", "pine", "rock"]
    assert set(split.lock["entries"]) == {"hero"}
    assert set(shard(split, "art/forest.yaml")["entries"]) == {"oak", "pine"}
    assert set(shard(split, "art/caves/cave.yaml")["entries"]) == {"bat", "rock"}
    assert (split.assets / "sprites" / "oak.png").is_file()
    assert pb(split, "build", "--locked").code == 0
    # the fast path watches the included files and the shards too
    split.write("art/forest.yaml", FOREST.replace("an oak tree", "a birch tree"))
    r = pb_proc(split, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["rebuilt"] == ["oak"]
    assert shard(split, "art/forest.yaml")["entries"]["oak"]["fields"]["prompt"]


def test_an_edit_rewrites_only_its_shard(split):
    assert pb(split, "build").code == 0
    files = [split.dir / "pixels.lock", *sorted((split.dir / SHARDS_DIR).rglob("*.lock"))]
    before = {f: f.stat().st_mtime_ns for f in files}
    split.write("art/caves/cave.yaml", CAVES.replace("a bat", "a vampire bat"))
    assert pb(split, "build").code == 0
    changed = {
        f.relative_to(split.dir).as_posix() for f in files if f.stat().st_mtime_ns != before[f]
    }
    assert changed == {f"{SHARDS_DIR}/art/caves/cave.yaml.lock"}


def test_moving_an_entry_between_files_moves_it_between_shards(split):
    assert pb(split, "build").code == 0
    split.write("art/forest.yaml", "sprites:\n  oak: {prompt: an oak tree}\n")
    split.edit(
        "  hero: {prompt: a red knight}\n",
        "  hero: {prompt: a red knight}\n  pine: {prompt: a pine tree}\n",
    )
    r = pb(split, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["rebuilt"] == []  # same key: nothing to rebuild
    assert set(split.lock["entries"]) == {"hero", "pine"}
    assert set(shard(split, "art/forest.yaml")["entries"]) == {"oak"}
    # an included file that is dropped takes its shard (and its folder) along
    split.edit('include: [art/forest.yaml, "art/caves/*.yaml"]\n', "include: [art/forest.yaml]\n")
    assert pb(split, "build").code == 0
    assert not (split.dir / SHARDS_DIR / "art" / "caves").exists()


def test_errors_in_an_included_file_point_into_it(split):
    split.write("art/forest.yaml", FOREST + "  elm: {prompt: an elm, sise: 16}\n")
    r = pb(split, "build")
    assert r.code == 2
    assert "art/forest.yaml:4:25: sprite 'elm': unknown key 'sise' (did you mean 'size'?)" in r.err
    assert "nothing was built or written" in r.err
    assert not (split.dir / "pixels.lock").exists()


def test_a_name_defined_in_two_files_is_located_in_both(split):
    split.write("art/caves/cave.yaml", CAVES.replace("bat}\n", "bat}\n  oak: {prompt: stone}\n"))
    r = pb(split, "build")
    assert r.code == 2
    assert "art/caves/cave.yaml:3:3: sprite 'oak' is already defined in art/forest.yaml:2" in r.err


def test_a_name_used_in_another_section_of_another_file_is_refused(split):
    split.write("art/caves/cave.yaml", CAVES.replace("rock:", "oak:"))
    r = pb(split, "build")
    assert r.code == 2
    assert "art/caves/cave.yaml:4:3" in r.err and "already used by sprite 'oak'" in r.err


def test_a_missing_included_file_is_located_at_its_include(split):
    split.edit("[art/forest.yaml,", "[art/forst.yaml,")
    r = pb(split, "build")
    assert r.code == 2
    assert "pixels.yaml:2:11: included file not found: art/forst.yaml" in r.err
    split.edit('"art/caves/*.yaml"', '"art/cavez/*.yaml"')
    r = pb(split, "build")
    assert "pixels.yaml:2:27: include: 'art/cavez/*.yaml' matches no file" in r.err


def test_include_cycles_and_settings_in_included_files_are_errors(split):
    split.write("art/forest.yaml", FOREST + "include: [art/more.yaml]\n")
    split.write("art/more.yaml", "include: [art/forest.yaml]\nproject: {size: 8}\n")
    r = pb(split, "build")
    assert r.code == 2
    assert (
        "art/more.yaml:1:11: include cycle: art/forest.yaml -> art/more.yaml -> art/forest.yaml"
        in r.err
    )
    assert "art/more.yaml:2:1: 'project' cannot be in an included file" in r.err
    split.write("art/more.yaml", "sprites: {}\n")
    split.edit("include: [art/forest.yaml,", "include: [../outside.yaml, art/forest.yaml,")
    r = pb(split, "build")
    assert "pixels.yaml:2:11: include: '../outside.yaml' leaves the project folder" in r.err


def test_an_old_single_file_lock_reads_and_stays_as_it_was(built):
    """A project without includes keeps exactly one pixels.lock in the old format."""
    text = (built.dir / "pixels.lock").read_text()
    built.edit("a green slime", "a blue slime")
    assert pb(built, "build").code == 0
    assert not (built.dir / SHARDS_DIR).exists()
    after = (built.dir / "pixels.lock").read_text()
    assert after != text and after.startswith('{\n  "version": 1,')


# --- git ---------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
    }  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )


# one key per line: edits of two neighbouring entries leave a line between them in the manifest
MANY = "project: {size: 16, generate: {canvas: 32}}\nsprites:\n" + "".join(
    f"  s{i}:\n    prompt: creature {i}\n" for i in range(6)
)


@pytest.fixture
def repo(make_project) -> Proj:
    if shutil.which("git") is None:
        pytest.fail("git is needed (CI has it)")
    p = make_project(MANY, palette=None)
    (p.dir / ".gitignore").write_text(".pixelbuild/\n")
    assert pb(p, "build").code == 0
    assert git(p.dir, "init", "-q", "-b", "main").returncode == 0
    git(p.dir, "add", "-A")
    assert git(p.dir, "commit", "-qm", "base").returncode == 0
    return p


def branch_edit(p: Proj, branch: str, old: str, new: str) -> None:
    assert git(p.dir, "checkout", "-q", "-b", branch, "main").returncode == 0
    p.edit(old, new)
    assert pb(p, "build").code == 0
    git(p.dir, "add", "-A")
    assert git(p.dir, "commit", "-qm", branch).returncode == 0


def test_git_merges_neighbouring_edits_of_the_lock_cleanly(repo):
    branch_edit(repo, "a", "creature 2\n", "creature two\n")
    git(repo.dir, "checkout", "-q", "main")
    branch_edit(repo, "b", "creature 3\n", "creature three\n")
    merged = git(repo.dir, "merge", "-q", "--no-edit", "a")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "<<<<<<<" not in (repo.dir / "pixels.lock").read_text()
    # the merged tree is up to date as committed: CI's check passes with no build
    r = pb(repo, "build", "--locked")
    assert r.code == 0, r.err


def test_a_conflicted_lock_is_read_from_both_sides_and_rebuilt_clean(repo):
    branch_edit(repo, "a", "creature 2\n", "creature two\n")
    git(repo.dir, "checkout", "-q", "main")
    branch_edit(repo, "b", "creature 2\n", "creature deux\n")
    assert git(repo.dir, "merge", "-q", "--no-edit", "a").returncode != 0  # a real conflict
    lock = (repo.dir / "pixels.lock").read_text()
    assert "<<<<<<<" in lock
    repo.write("pixels.yaml", MANY.replace("creature 2\n", "creature deux\n"))  # keep ours
    git(repo.dir, "checkout", "--ours", "--", "assets")
    r = pb(repo, "build", "--locked")
    assert r.code == 3 and "merge conflict" in r.err
    r = pb(repo, "build", "--json")
    assert r.code == 0, r.err
    assert "unresolved merge conflict" in r.err
    assert r.json["rebuilt"] == []  # ours matches the manifest: nothing to regenerate
    assert "<<<<<<<" not in (repo.dir / "pixels.lock").read_text()
    assert pb(repo, "build", "--locked").code == 0


# --- the owner index ---------------------------------------------------------------------------


def entry(*outputs: str) -> LockEntry:
    return LockEntry("sprite", "k", {}, {o: LockedOutput("d", 1) for o in outputs})


def test_owner_of_follows_every_change_of_the_entries(tmp_path):
    lock = Lock(entries={"a": entry("a.png", "a.json"), "b": entry("b.png")})
    assert lock.owner_of("a.json") == "a" and lock.owner_of("b.png") == "b"
    lock.entries["a"] = entry("a2.png")
    assert lock.owner_of("a.json") is None and lock.owner_of("a2.png") == "a"
    del lock.entries["b"]
    assert lock.owner_of("b.png") is None
    lock.entries.pop("a")
    assert lock.owner_of("a2.png") is None and lock.owner_of("nothing.png") is None
    lock.entries.update({"c": entry("c.png")})
    assert lock.owner_of("c.png") == "c"
    assert lock.entries.changed == {"a", "b", "c"}
    (tmp_path / "pixels.lock").write_text(Lock(entries={"z": entry("z.png")}).to_json())
    read = read_lock(tmp_path / "pixels.lock")
    assert read.owner_of("z.png") == "z" and read.entries.changed == set()
