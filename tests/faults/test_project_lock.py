"""One build at a time per project: a second one fails clearly (exit 4) or, with --wait, waits."""

from __future__ import annotations

import subprocess
import sys
import time

from conftest import pb, pb_proc

from pixelbuild.run.exclusive import hold

HOLD = """
import sys, time
from pathlib import Path
from pixelbuild.run.exclusive import hold
with hold(Path(sys.argv[1]), "build", wait=False, say=print):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(cache, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the project's lock for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(cache), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_build_says_who_holds_the_project(built):
    manifest = built.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("a red knight", "a blue knight"))
    holder = _holder(built.dir / ".pixelbuild", 30)
    try:
        r = pb(built, "build")
        assert r.code == 4, r.err
        assert f"another pixelbuild (pid {holder.pid}, build) is working on this project" in r.err
        assert "--wait" in r.err and "Traceback" not in r.err
        assert pb(built, "clean").code == 4
    finally:
        holder.kill()
        holder.wait()
    assert pb(built, "build").code == 0  # a killed holder leaves no stale lock behind


def test_wait_waits_for_the_holder(built):
    manifest = built.dir / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace("a red knight", "a blue knight"))
    holder = _holder(built.dir / ".pixelbuild", 1.5)
    started = time.monotonic()
    r = pb_proc(built, "build", "--wait")
    holder.wait()
    assert r.code == 0, r.err
    assert "waiting for another pixelbuild" in r.err
    assert time.monotonic() - started >= 1.0


def test_locked_check_shares_the_lock_with_other_checks(built):
    with hold(built.dir / ".pixelbuild", "build --locked", wait=False, say=print, shared=True):
        assert pb(built, "build", "--locked").code == 0


def test_concurrent_builds_end_in_one_clean_tree(make_project):
    manifest = "project: {size: 16, generate: {canvas: 64}}\nsprites:\n" + "".join(
        f"  s{i:02d}: {{prompt: thing {i}}}\n" for i in range(30)
    )
    project = make_project(manifest, palette=None)
    procs = [
        subprocess.Popen(
            ["pixelbuild", "build", "--wait", "-C", str(project.dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    assert pb(project, "build", "--locked").code == 0
    assert len(list((project.assets / "sprites").glob("*.png"))) == 30
