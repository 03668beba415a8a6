"""The remote cache through the CLI, on a shared folder (file://): what a fresh clone fetches,
what it never fetches, corrupt blobs, an unreachable remote, read-only use, two writers, and
URLs that cannot work. tests/test_remote_servers.py runs the same paths on WebDAV and S3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Proj, pb
from remote_servers import free_port

from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.remote.cache import RemoteCache, parse_record
from pixelbuild.remote.url import remote_spec
from pixelbuild.run.project import open_project

pytest.importorskip("obstore", reason="needs obstore (the [remote] extra)")


def clone(project: Proj, name: str) -> Proj:
    """A fresh checkout of the project's sources: no assets, no lock, no cache."""
    d = project.dir.parent / name
    d.mkdir()
    shutil.copy(project.manifest, d / "pixels.yaml")
    shutil.copytree(project.dir / "palettes", d / "palettes")
    return Proj(d)


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def warm(proj, tmp_path) -> tuple[Proj, str]:
    """The small project built once with a shared folder as its remote (which it fills)."""
    url = (tmp_path / "remote").as_uri()
    r = pb(proj, "build", "--json", "--remote", url)
    assert r.code == 0, r.err
    assert r.json["remote"]["records_pushed"] > 0 and r.json["remote"]["hits"] == 0
    return proj, url


def test_fresh_clone_runs_nothing_and_matches_a_local_build(warm):
    first, url = warm
    second = clone(first, "clone")
    r = pb(second, "build", "--json", "--remote", url)
    assert r.code == 0, r.err
    assert r.json["steps_run"] == {}
    assert sorted(r.json["rebuilt"]) == ["grass", "hero", "slime", "walk"]
    assert (second.dir / "pixels.lock").read_bytes() == (first.dir / "pixels.lock").read_bytes()
    assert files(second.assets) == files(first.assets)
    assert pb(second, "build", "--locked").code == 0


def test_walk_fetches_the_final_outputs_only(warm):
    first, url = warm
    remote = Path(url.removeprefix("file://"))
    second = clone(first, "clone")
    r = pb(second, "build", "--json", "--remote", url)
    moved = r.json["remote"]
    finals = len(first.lock["entries"])
    outputs = sum(len(e["outputs"]) for e in first.lock["entries"].values())
    assert moved["hits"] == finals and moved["misses"] == 0
    assert moved["fetched"] == finals + outputs  # one record and its files per entry
    assert (
        moved["fetched_bytes"] < sum(p.stat().st_size for p in remote.rglob("*") if p.is_file()) / 3
    )
    kinds = open_project(second.dir, readonly=True).state.db.execute(
        "SELECT DISTINCT kind FROM records"
    )
    assert {k for (k,) in kinds} == {"assemble"}  # no raw image came down


def _blob_of(project: Proj, remote: Path, entry: str) -> Path:
    """The remote blob of an entry's image output."""
    locked = project.lock["entries"][entry]
    body = json.loads((remote / "ac" / locked["key"]).read_bytes())
    image = next(p for p in locked["outputs"] if p.endswith(".png"))
    return remote / "cas" / body["record"]["files"][image]


def test_corrupt_remote_blob_is_a_miss_reported_once(warm):
    first, url = warm
    remote = Path(url.removeprefix("file://"))
    bad = _blob_of(first, remote, "hero")
    good = bad.read_bytes()
    bad.write_bytes(good[:-8] + b"flipped!")
    second = clone(first, "clone")
    r = pb(second, "build", "--remote", url)  # plain output: warnings show (not with --json)
    assert r.code == 0, r.err
    assert r.err.count(f"cas/{bad.name}") == 1, r.err
    assert r.err.count("warning: remote cache") == 1, r.err
    assert files(second.assets) == files(first.assets)
    state = open_project(second.dir, readonly=True).state
    kinds = {k for (k,) in state.db.execute("SELECT DISTINCT kind FROM records")}
    assert "generate" in kinds  # the walk went below the bad blob (and stopped at a hit)
    assert bad.read_bytes() == good  # the rebuilt blob replaced the bad copy


def test_unreachable_remote_builds_locally_with_one_warning(proj):
    url = f"http://127.0.0.1:{free_port()}/cache"  # nothing listens there
    r = pb(proj, "build", "--remote", url)
    assert r.code == 0, r.err
    assert "built 4, up to date 0, failed 0" in r.err
    assert r.err.count("warning: remote cache") == 1 and "is unreachable" in r.err, r.err


def test_read_only_never_writes(warm, tmp_path):
    first, url = warm
    remote = Path(url.removeprefix("file://"))
    before = {p: p.stat().st_mtime_ns for p in remote.rglob("*")}
    second = clone(first, "clone")
    second.edit("a green slime", "a purple slime")
    r = pb(second, "build", "--json", "--remote", url, "--remote-read-only")
    assert r.code == 0, r.err
    assert r.json["steps_run"] == {"generate": 1, "pixelize": 1, "assemble": 1}
    assert r.json["remote"]["pushed"] == 0
    assert {p: p.stat().st_mtime_ns for p in remote.rglob("*")} == before
    empty = tmp_path / "never-made"
    r = pb(clone(first, "third"), "build", "--remote", empty.as_uri(), "--remote-read-only")
    assert r.code == 0, r.err
    assert not empty.exists()


def test_two_writers_first_wins_and_the_second_adopts(warm):
    """B built the same steps on its own, then pushes one with another producer's record: the
    remote keeps A's (create-only), and B's state takes A's record."""
    first, url = warm
    second = clone(first, "clone")
    assert pb(second, "build").code == 0  # no remote: B's own results
    remote = Path(url.removeprefix("file://"))
    project = open_project(second.dir)
    try:
        step = next(e.final for e in project.plan().entries if e.name == "hero")
        winner = (remote / "ac" / step.key).read_bytes()
        ours = json.loads(json.dumps(project.state.record(step.key)))
        ours["meta"]["provenance"] = {"pixelbuild": "another build"}
        session = RemoteCache(remote_spec(url)).session(project.state, project.store, print)
        session.push(step, ours)
        done = session.finish()
        assert done["adopted"] == 1
        assert (remote / "ac" / step.key).read_bytes() == winner
        assert project.state.record(step.key) == parse_record(winner, "assemble")
    finally:
        project.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "unknown kind of URL"),
        ("s3://key:secret@bucket/x", "holds credentials"),
        ("file://relative/path", "file:///absolute/path"),
        ("https:///nohost", "no bucket or host"),
    ],
)
def test_unusable_urls_are_refused_before_building(proj, url, message):
    r = pb(proj, "build", "--remote", url)
    assert r.code == 2 and message in r.err, r.err
    assert not proj.assets.exists()


def test_environment_names_the_remote(proj, tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELBUILD_REMOTE", (tmp_path / "shared").as_uri())
    r = pb(proj, "build", "--json")
    assert r.code == 0 and r.json["remote"]["records_pushed"] > 0
    assert r.json["remote"]["url"] == (tmp_path / "shared").as_uri()
    assert digest_bytes((proj.dir / "pixels.lock").read_bytes())  # nothing of it in the lock
    assert "shared" not in (proj.dir / "pixels.lock").read_text()


def test_two_builds_at_once_agree_with_the_remote(proj, tmp_path):
    """Two clones build at the same time against one empty remote: both succeed with the same
    tree and lock, and each record on the remote is the one both local states now hold."""
    import subprocess
    import sys

    url = (tmp_path / "remote").as_uri()
    clones = [clone(proj, f"writer{i}") for i in range(2)]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pixelbuild", "build", "-C", str(c.dir), "--remote", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in clones
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    a, b = clones
    assert (a.dir / "pixels.lock").read_bytes() == (b.dir / "pixels.lock").read_bytes()
    assert files(a.assets) == files(b.assets)
    remote = tmp_path / "remote" / "ac"
    for c in clones:
        project = open_project(c.dir, readonly=True)
        for path in remote.iterdir():
            assert project.state.record(path.name) == parse_record(path.read_bytes(), None)
        project.close()


def test_a_bad_url_is_refused_on_an_up_to_date_project_too(built):
    r = pb(built, "build", "--remote", "ftp://host/x")
    assert r.code == 2 and "unknown kind of URL" in r.err, r.err
    assert pb(built, "build", "--remote-read-only").code == 2  # read-only, but of no remote
