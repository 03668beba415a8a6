"""Kill -9 at a few moments, concurrent builds, a damaged cache: the fast, deterministic part of
bench/faults.py. Each case ends with the assets tree and pixels.lock byte-identical to a clean
build of the same manifest in a fresh folder, `build --locked` passing, and no traceback."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

MANIFEST = (
    "project: {size: 16, generate: {canvas: 64}}\nsprites:\n"
    + "".join(f"  s{i:02d}: {{prompt: creature {i}}}\n" for i in range(16))
    + 'animations:\n  walk: {prompt: "a knight walking, frame {i}", frames: 3}\n'
    + "tilesets:\n  grass: {prompt: grass ground, variants: 2}\n"
    + 'atlases:\n  all: {include: ["s0*", walk], padding: 1}\n'
)
TIMEOUT = 60


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PIXELBUILD_CACHE"}
    return e | {"PYTHONDONTWRITEBYTECODE": "1"}


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["pixelbuild", args[0], "-C", str(project), *args[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )


def pbx(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pixelbuild ARGS -C project` in a subprocess; never a traceback or an internal error."""
    p = subprocess.run(
        ["pixelbuild", args[0], "-C", str(project), *args[1:]],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env(),
        check=False,
    )
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
    return p


def outputs(project: Path) -> dict[str, bytes]:
    """Every file under assets/ (bytes) and pixels.lock."""
    found = {
        "assets/" + str(p.relative_to(project / "assets")): p.read_bytes()
        for p in (project / "assets").rglob("*")
        if p.is_file()
    }
    if (project / "pixels.lock").exists():
        found["pixels.lock"] = (project / "pixels.lock").read_bytes()
    return found


def new_project(root: Path, name: str = "p") -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "pixels.yaml").write_text(MANIFEST)
    return d


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The outputs of a clean build of MANIFEST in a fresh folder."""
    project = new_project(tmp_path_factory.mktemp("clean"))
    assert pbx(project, "build").returncode == 0
    return outputs(project)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    project = new_project(tmp_path)
    p = pbx(project, "build")
    assert p.returncode == 0, p.stderr
    return project


def assert_like_clean(project: Path, clean: dict[str, bytes]) -> None:
    """`build --locked` passes and the tree is byte-identical to the clean build's."""
    locked = pbx(project, "build", "--locked")
    assert locked.returncode == 0, locked.stderr
    got = outputs(project)
    assert sorted(got) == sorted(clean)
    assert [k for k in clean if got[k] != clean[k]] == []


def resume(project: Path, clean: dict[str, bytes]) -> None:
    r = pbx(project, "build")
    assert r.returncode == 0, r.stderr
    assert_like_clean(project, clean)


def count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def kill_when(project: Path, folder: str, at_least: int) -> int | None:
    """Start a build; SIGKILL it once `folder` holds `at_least` files (polled). Its exit code."""
    watched = project / folder
    proc = start(project, "build")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if count(watched) >= at_least:
            break
        time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert "Traceback" not in err, err
    return proc.returncode


# --- kill -9 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "at_least"),
    [(".pixelbuild/blobs", 1), (".pixelbuild/blobs", 20), ("assets", 1), ("assets", 20)],
    ids=["first-blob", "20-blobs", "first-output", "20-outputs"],
)
def test_a_killed_build_resumes_to_the_clean_result(tmp_path, clean, folder, at_least):
    project = new_project(tmp_path)
    kill_when(project, folder, at_least)
    resume(project, clean)


def test_killed_twice_in_a_row_then_resumed(tmp_path, clean):
    project = new_project(tmp_path)
    kill_when(project, ".pixelbuild/blobs", 10)
    kill_when(project, "assets", 10)  # the resumed build, killed too
    resume(project, clean)


def test_killed_while_changing_an_entry(built, clean):
    """A kill in the middle of an incremental build, then the edit undone: back to clean."""
    manifest = built / "pixels.yaml"
    manifest.write_text(MANIFEST.replace("creature 3}", "a changed creature}"))
    kill_when(built, ".pixelbuild/blobs", count(built / ".pixelbuild" / "blobs") + 2)
    manifest.write_text(MANIFEST)
    resume(built, clean)


# --- concurrency -------------------------------------------------------------------------------


def test_two_concurrent_builds_end_well(tmp_path, clean):
    """Both exit 0, or one says another pixelbuild is at work (exit nonzero); never a traceback;
    the tree is then the clean build's."""
    project = new_project(tmp_path)
    procs = [start(project, "build") for _ in range(2)]
    done = [(p, *p.communicate(timeout=TIMEOUT)) for p in procs]
    for p, _, err in done:
        assert "Traceback" not in err and "internal error" not in err, err
        assert p.returncode == 0 or "another pixelbuild" in err, err
    assert any(p.returncode == 0 for p, _, _ in done)
    assert_like_clean(project, clean)


# --- a damaged cache ---------------------------------------------------------------------------


def db(project: Path) -> Path:
    return project / ".pixelbuild" / "state.db"


def drop_snapshot(project: Path) -> None:
    (project / ".pixelbuild" / "snapshot.json").unlink(missing_ok=True)


def remove_an_output(project: Path) -> None:
    (project / "assets" / "sprites" / "s04.png").unlink()


@pytest.mark.parametrize("then", ["as-is", "output-removed"])
def test_garbage_state_db_rebuilds(built, clean, then):
    db(built).write_bytes(os.urandom(3000))
    for side in ("state.db-wal", "state.db-shm"):
        (built / ".pixelbuild" / side).unlink(missing_ok=True)
    if then == "output-removed":
        drop_snapshot(built)
        remove_an_output(built)
    resume(built, clean)


def test_bad_utf8_in_state_db_rebuilds(built, clean):
    """A byte of a stored path flipped to 0xff, in the table and its index alike."""
    data = db(built).read_bytes()
    assert b"/assets/sprites/s01.png" in data
    db(built).write_bytes(data.replace(b"/assets/sprites/s01", b"/\xffssets/sprites/s01"))
    drop_snapshot(built)
    resume(built, clean)


def test_state_db_a_directory_still_verifies(built, clean):
    db(built).unlink()
    (db(built) / "x").mkdir(parents=True)
    resume(built, clean)


@pytest.mark.parametrize("value", ['{"blobs": [', '{"blobs": "abc"}', "[]"])
def test_mangled_records_rebuild(built, clean, value):
    """Every step record unreadable (invalid JSON or a wrong shape), an output to rebuild."""
    with sqlite3.connect(db(built)) as con:
        con.execute("UPDATE records SET value = ?", (value,))
    con.close()
    drop_snapshot(built)
    remove_an_output(built)
    resume(built, clean)


def test_tmp_a_file_before_the_first_build(tmp_path, clean):
    project = new_project(tmp_path)
    (project / ".pixelbuild").mkdir()
    (project / ".pixelbuild" / "tmp").write_text("not a folder")
    resume(project, clean)


def test_tmp_a_file_after_a_build(built, clean):
    shutil.rmtree(built / ".pixelbuild" / "tmp", ignore_errors=True)
    (built / ".pixelbuild" / "tmp").write_text("not a folder")
    remove_an_output(built)
    resume(built, clean)


# --- a mount of its own ------------------------------------------------------------------------


def mount(*args: str) -> None:
    made = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount here (needs root): {made.stderr.strip()}")


def test_killed_build_on_a_bind_mounted_assets_folder(tmp_path, clean):
    """assets/ a bind mount (same filesystem, another mount: rename across it is EXDEV)."""
    project = new_project(tmp_path)
    real = tmp_path / "real-assets"
    real.mkdir()
    (project / "assets").mkdir()
    mount("--bind", str(real), str(project / "assets"))
    try:
        kill_when(project, "assets", 10)
        resume(project, clean)
    finally:
        subprocess.run(["umount", "-l", str(project / "assets")], check=False)
