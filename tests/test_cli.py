"""The command line as a user runs it: imports, the no-op fast path, exit codes, init, --json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import pb, run, run_proc, tree
from PIL import Image

from pixelbuild.run import snapshot

HEAVY = ("torch", "diffusers", "transformers")
NOT_ON_FAST_PATH = ("pydantic", "numpy", "yaml", "PIL", "rich", *HEAVY)


def imported(args: list[str], cwd: Path | None = None, console_script: bool = False):
    """(exit code, stderr, top-level modules imported) of a pixelbuild process."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    env.pop("PIXELBUILD_CACHE", None)
    cmd = ["pixelbuild", *args] if console_script else [sys.executable, "-m", "pixelbuild", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    modules = set()
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "package":
                modules.add(name.split(".")[0])
    assert "pixelbuild" in modules, p.stderr[-2000:]  # the profile really was recorded
    text = "\n".join(line for line in p.stderr.splitlines() if not line.startswith("import time:"))
    return p.returncode, text, modules


@pytest.mark.parametrize("console_script", [False, True], ids=["python -m", "console script"])
def test_help_imports_neither_torch_nor_diffusers(console_script):
    code, _, modules = imported(["--help"], console_script=console_script)
    assert code == 0
    assert not modules & set(HEAVY), modules & set(HEAVY)
    code, _, modules = imported(["build", "--help"], console_script=console_script)
    assert code == 0 and not modules & set(HEAVY)


def test_help_documents_commands_and_exit_codes():
    r = run_proc(["--help"])
    assert r.code == 0
    for word in ("build", "plan", "clean", "schema", "init", "watch", "--locked"):
        assert word in r.out
    for code in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert f"\n  {code}" in r.out, code


def test_noop_fast_path_imports_nothing_heavy(built):
    code, err, modules = imported(["build", "-C", str(built.dir)])
    assert code == 0
    assert "up to date: 4 entries" in err
    assert not modules & set(NOT_ON_FAST_PATH), modules & set(NOT_ON_FAST_PATH)


def test_any_edit_falls_back_to_the_full_path(built):
    """Touching the manifest, editing it, an input, an output or the lock, deleting an output:
    each must make `build` load the manifest again (and do the right thing)."""
    out = built.assets / "sprites" / "hero.png"
    palette = built.dir / "palettes" / "x.hex"
    lock = built.dir / "pixels.lock"

    def touch_manifest():
        os.utime(built.manifest, ns=(time.time_ns(), time.time_ns() + 10**9))

    def edit_manifest():
        built.edit("a green slime", "a red slime")

    def edit_input():
        palette.write_text(palette.read_text().replace("ffffff", "fefefe"))

    def edit_output():
        out.write_bytes(out.read_bytes() + b"!")

    def delete_output():
        (built.assets / "tiles" / "grass.json").unlink()

    def edit_lock():
        lock.write_text(lock.read_text().replace('"seed": 7', '"seed": 8'))

    expect = {
        touch_manifest: "up to date",
        edit_manifest: "built 1,",
        edit_input: "built 4,",
        edit_output: "edited since pixelbuild wrote it",
        delete_output: "built 1,",
        edit_lock: "",
    }
    cache = built.dir / ".pixelbuild"
    for edit, message in expect.items():
        assert snapshot.check(cache, built.manifest) is not None  # the fast path would answer
        edit()
        code, err, modules = imported(["build", "-C", str(built.dir)])
        assert "pydantic" in modules, f"{edit.__name__}: the fast path answered"
        assert message in err, (edit.__name__, err)
        if edit is edit_output:
            assert code == 1
            assert pb(built, "build", "--force").code == 0
        else:
            assert code == 0, (edit.__name__, err)
    assert "pydantic" not in imported(["build", "-C", str(built.dir)])[2]


def test_exit_codes(built, make_project):
    assert run([]).code == 2  # no command: help, exit 2
    assert run(["build", "--no-such-flag"]).code == 2
    assert pb(built, "build").code == 0
    bad = make_project("sprites: {hero: {prompt: a, sise: 3}}\n", palette=None, name="bad")
    assert pb(bad, "build").code == 2
    built.edit("a green slime", "a red slime")
    assert pb(built, "build", "--locked").code == 3
    out = built.assets / "sprites" / "slime.png"
    out.write_bytes(b"mine")
    assert pb(built, "build").code == 1


def test_version():
    r = run_proc(["--version"])
    assert r.code == 0 and r.out.startswith("pixelbuild ")


def test_build_json_shape(proj):
    r = pb(proj, "build", "--json")
    body = json.loads(r.out)  # exactly one JSON object on stdout
    for key in ("rebuilt", "up_to_date", "failed"):
        assert isinstance(body[key], list)
    assert body["failed"] == [] and body["up_to_date"] == []
    r2 = pb(proj, "build", "--json")  # the no-op fast path answers in the same shape
    noop = json.loads(r2.out)
    assert set(noop) == set(body)
    assert noop["rebuilt"] == [] and noop["failed"] == [] and noop["errors"] == {}
    assert noop["up_to_date"] == ["grass", "hero", "slime", "walk"]
    plan = pb(proj, "plan", "--json")
    assert json.loads(plan.out) == {
        "stale": [],
        "removed": [],
        "up_to_date": ["grass", "hero", "slime", "walk"],
    }


def test_plan_text_names_entry_and_reason(built):
    built.edit("a green slime", "a red slime")
    r = pb(built, "plan", "-a")
    lines = r.out.splitlines()
    assert any(line.startswith("* slime") and "prompt changed" in line for line in lines)
    assert any(line.strip().startswith("hero") and "up to date" in line for line in lines)
    assert lines[-1] == "1 to build, 3 up to date, 0 to remove"


def test_manifest_option_and_cache_env(tmp_path):
    project = tmp_path / "game"
    project.mkdir()
    manifest = project / "art.yaml"
    manifest.write_text("project: {size: 16, generate: {canvas: 64}}\nsprites:\n  a: {prompt: x}\n")
    cache = tmp_path / "elsewhere"
    env = {**os.environ, "PIXELBUILD_CACHE": str(cache)}
    p = subprocess.run(
        ["pixelbuild", "build", "-C", str(project), "-f", str(manifest), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rebuilt"] == ["a"]
    assert (cache / "state.db").exists()
    assert not (project / ".pixelbuild").exists()
    assert (project / "assets" / "sprites" / "a.png").exists()
    assert (project / "pixels.lock").exists()


def test_init_writes_a_project_that_builds_and_refuses_to_overwrite(tmp_path):
    d = tmp_path / "new"
    r = run(["init", "-C", str(d)])
    assert r.code == 0, r.err
    manifest = d / "pixels.yaml"
    text = manifest.read_text()
    assert text.startswith("# yaml-language-server: $schema=pixels.schema.json")
    schema = json.loads((d / "pixels.schema.json").read_text())
    assert schema == json.loads(run(["schema"]).out)
    assert ".pixelbuild/" in (d / ".gitignore").read_text().splitlines()
    before = tree(d)
    again = run(["init", "-C", str(d)])
    assert again.code != 0 and "already exists" in again.err
    assert tree(d) == before
    # the starter manifest builds (on a small canvas, so the test stays quick)
    assert "    engine: procedural" in text
    manifest.write_text(
        text.replace("    engine: procedural", "    engine: procedural\n    canvas: 64")
    )
    r = run(["build", "-C", str(d), "--json"])
    assert r.code == 0, r.err
    assert json.loads(r.out)["failed"] == []


def test_init_keeps_an_existing_gitignore(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    (d / ".gitignore").write_text("target/\n.pixelbuild\n")
    assert run(["init", "-C", str(d)]).code == 0
    assert (d / ".gitignore").read_text() == "target/\n.pixelbuild\n"
    e = tmp_path / "h"
    e.mkdir()
    (e / ".gitignore").write_text("target/")  # no final newline
    assert run(["init", "-C", str(e), "--assets", "game/assets"]).code == 0
    lines = (e / ".gitignore").read_text().splitlines()
    assert lines[0] == "target/" and ".pixelbuild/" in lines
    assert "assets: game/assets" in (e / "pixels.yaml").read_text()


def test_sigint_exits_130_and_keeps_finished_work(make_project):
    manifest = "project: {size: 16, generate: {canvas: 64}}\nsprites:\n" + "".join(
        f"  s{i:03d}: {{prompt: thing {i}}}\n" for i in range(70)
    )
    project = make_project(manifest, palette=None)
    blobs = project.dir / ".pixelbuild" / "blobs"
    proc = subprocess.Popen(
        ["pixelbuild", "build", "-C", str(project.dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if blobs.is_dir() and sum(1 for _ in blobs.rglob("*")) >= 10:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    for png in project.assets.rglob("*.png") if project.assets.exists() else []:
        with Image.open(png) as im:
            im.load()
    r = pb(project, "build", "--json")
    assert r.code == 0
    assert r.json["steps_run"].get("generate", 0) < 70


def test_unchanged_small_build_is_fast_in_process(built):
    """The no-op through the CLI entry point, full path included, stays well under a second."""
    (built.dir / ".pixelbuild" / "snapshot.json").unlink()
    t = time.perf_counter()
    assert pb(built, "build").code == 0
    assert time.perf_counter() - t < 2.0


def test_an_internal_error_is_one_line_and_a_report_file_unless_debug(capsys):
    from pixelbuild import cli

    try:
        raise RuntimeError("a bug")
    except RuntimeError as exc:
        assert cli._internal_error(exc) == 1
        quiet = capsys.readouterr().err
        assert cli._internal_error(exc, debug=True) == 1
        loud = capsys.readouterr().err
    assert "internal error: RuntimeError: a bug" in quiet and "Traceback" not in quiet
    report = quiet.split("the details are in ")[1].split(".")[0] + ".txt"
    assert "Traceback" in Path(report).read_text()
    assert "Traceback (most recent call last)" in loud


def test_debug_is_taken_before_and_after_the_command(tmp_path):
    for argv in (
        ["--debug", "plan", "-C", str(tmp_path)],
        ["plan", "--debug", "-C", str(tmp_path)],
    ):
        assert run(argv).code == 2  # no manifest: a usage error, and the flag parsed
