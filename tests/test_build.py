"""Incremental builds end to end through the CLI: what rebuilds, what re-runs, what is reused."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
from conftest import PALETTE, pb, pb_proc, tree
from PIL import Image

from pixelbuild.cache.hashing import digest_bytes


def test_second_build_rebuilds_nothing(built):
    r = pb(built, "build", "--json")
    assert r.code == 0
    assert r.json["rebuilt"] == []
    assert sorted(r.json["up_to_date"]) == ["grass", "hero", "slime", "walk"]
    # also through the full path (no snapshot): still nothing
    (built.dir / ".pixelbuild" / "snapshot.json").unlink()
    r = pb(built, "build", "--json")
    assert r.code == 0 and r.json["rebuilt"] == []
    assert r.json.get("steps_run", {}) == {}


def test_edited_prompt_rebuilds_exactly_that_entry(built):
    built.edit("a green slime", "a purple slime")
    plan = pb(built, "plan")
    assert plan.code == 0
    marked = [line for line in plan.out.splitlines() if line.startswith("*")]
    assert len(marked) == 1 and "slime" in marked[0] and "prompt changed" in marked[0], plan.out
    r = pb(built, "build", "--json")
    assert r.code == 0
    assert r.json["rebuilt"] == ["slime"]
    assert r.json["steps_run"] == {"generate": 1, "pixelize": 1, "assemble": 1}


def test_edited_palette_file_reruns_no_generation(built):
    before = set()
    for png in built.pngs():
        px = np.asarray(Image.open(png).convert("RGBA")).reshape(-1, 4)
        before |= {tuple(map(int, p[:3])) for p in px[px[:, 3] == 255]}
    built.write("palettes/x.hex", PALETTE.replace("31a2f2", "3060f0"))
    plan = pb(built, "plan", "--json")
    stale = {s["entry"]: s["reasons"] for s in plan.json["stale"]}
    assert set(stale) == {"grass", "hero", "slime", "walk"}
    assert all("input file changed: palettes/x.hex" in r for r in stale.values()), stale
    r = pb(built, "build", "--json")
    assert r.code == 0, r.err
    assert sorted(r.json["rebuilt"]) == ["grass", "hero", "slime", "walk"]
    assert r.json["steps_run"].get("generate", 0) == 0, r.json["steps_run"]
    assert r.json["steps_run"]["pixelize"] == 1 + 1 + 3 + 2

    # the new palette really was applied: the old blue is gone, the new one took its place
    def colours():
        found = set()
        for png in built.pngs():
            px = np.asarray(Image.open(png).convert("RGBA")).reshape(-1, 4)
            found |= {tuple(map(int, p[:3])) for p in px[px[:, 3] == 255]}
        return found

    after = colours()
    assert (0x31, 0xA2, 0xF2) not in after
    if (0x31, 0xA2, 0xF2) in before:
        assert (0x30, 0x60, 0xF0) in after


def test_size_change_with_same_canvas_reruns_no_generation(built):
    built.edit("size: 16", "size: 24")
    plan = pb(built, "plan", "--json")
    for s in plan.json["stale"]:
        assert s["reasons"] == ["size changed"], s
    r = pb(built, "build", "--json")
    assert r.code == 0
    assert r.json["steps_run"].get("generate", 0) == 0
    with Image.open(built.assets / "sprites" / "hero.png") as im:
        assert im.size == (24, 24)


def test_seed_change_reruns_generation_of_that_entry_only(built):
    built.edit("seed: 7", "seed: 8")
    r = pb(built, "build", "--json")
    assert r.json["rebuilt"] == ["hero"]
    assert r.json["steps_run"]["generate"] == 1


def test_build_selected_entry_only(built):
    built.edit("a green slime", "a blue slime")
    built.edit("a red knight", "a gold knight")
    r = pb(built, "build", "--json", "slime")
    assert r.code == 0 and r.json["rebuilt"] == ["slime"]
    plan = pb(built, "plan", "--json")
    assert [s["entry"] for s in plan.json["stale"]] == ["hero"]


def test_unknown_entry_on_the_command_line(built):
    for command in ("build", "plan", "clean"):
        r = pb(built, command, "nosuch")
        assert r.code != 0, command
        assert "no such entry: 'nosuch'" in r.err and r.code == 2, (command, r.err)


def test_corrupt_cache_blob_counts_as_a_miss(built):
    out = built.assets / "sprites" / "hero.png"
    good = out.read_bytes()
    blobs = [p for p in (built.dir / ".pixelbuild" / "blobs").rglob("*") if p.is_file()]
    assert blobs
    for b in blobs:  # every cached result is garbage now
        b.write_bytes(b"garbage" + b.read_bytes()[:10])
    out.unlink()
    r = pb(built, "build", "--json")
    assert r.code == 0, r.json
    assert r.json["rebuilt"] == ["hero"]
    assert out.read_bytes() == good
    assert r.json["steps_run"]["generate"] == 1  # the garbage was not reused


def test_missing_output_is_rebuilt_from_cache(built):
    (built.assets / "tiles" / "grass.json").unlink()
    plan = pb(built, "plan", "--json")
    assert plan.json["stale"] == [
        {"entry": "grass", "reasons": ["output missing: tiles/grass.json"]}
    ]
    r = pb(built, "build", "--json")
    assert r.json["rebuilt"] == ["grass"]
    assert r.json.get("steps_run", {}) == {}  # everything came from the cache
    assert (built.assets / "tiles" / "grass.json").exists()


def test_byte_identical_output_is_not_rewritten(built):
    """Changing `fps` changes the animation's key and its metadata, not its sheet's bytes."""
    sheet = built.assets / "animations" / "walk.png"
    ron = built.assets / "animations" / "walk.assets.ron"
    js = built.assets / "animations" / "walk.json"
    before = {p: p.stat() for p in (sheet, ron, js)}
    key_before = built.lock["entries"]["walk"]["key"]
    time.sleep(0.02)
    built.edit("frames: 3}", "frames: 3, fps: 4}")
    r = pb(built, "build", "--json")
    assert r.json["rebuilt"] == ["walk"]
    assert built.lock["entries"]["walk"]["key"] != key_before
    after = {p: p.stat() for p in (sheet, ron, js)}
    assert (after[sheet].st_mtime_ns, after[sheet].st_ino) == (
        before[sheet].st_mtime_ns,
        before[sheet].st_ino,
    )
    assert after[ron].st_mtime_ns == before[ron].st_mtime_ns  # grid layout unchanged too
    assert after[js].st_mtime_ns != before[js].st_mtime_ns  # durations are in the JSON
    assert r.json["files_written"] == 1


def test_touched_manifest_rewrites_nothing(built):
    snapshot = tree(built.assets)
    lock_stat = (built.dir / "pixels.lock").stat()
    os.utime(built.manifest)
    r = pb(built, "build", "--json")
    assert r.code == 0 and r.json["rebuilt"] == []
    assert tree(built.assets) == snapshot
    assert (built.dir / "pixels.lock").stat().st_mtime_ns == lock_stat.st_mtime_ns


def test_removed_entry_deletes_unchanged_outputs(built):
    built.edit("  slime: {prompt: a green slime}\n", "")
    r = pb(built, "build", "--json")
    assert r.code == 0
    assert r.json["removed"] == ["slime"]
    assert not (built.assets / "sprites" / "slime.png").exists()
    assert "slime" not in built.lock["entries"]


def test_removed_entry_keeps_an_edited_output_with_a_warning(built):
    out = built.assets / "sprites" / "slime.png"
    out.write_bytes(out.read_bytes() + b"edited")
    built.edit("  slime: {prompt: a green slime}\n", "")
    r = pb_proc(built, "build")
    assert r.code == 0, r.err
    assert out.exists() and out.read_bytes().endswith(b"edited")
    assert "warning" in r.err and "slime" in r.err and "kept" in r.err, r.err
    assert "slime" not in built.lock["entries"]


def test_outputs_only_contain_palette_colours_and_binary_alpha(built):
    palette = {tuple(int(h[i : i + 2], 16) for i in (0, 2, 4)) for h in PALETTE.split()}
    for png in built.pngs():
        with Image.open(png) as im:
            px = np.asarray(im.convert("RGBA")).reshape(-1, 4)
        assert set(np.unique(px[:, 3])) <= {0, 255}, png
        opaque = {tuple(map(int, p[:3])) for p in px[px[:, 3] == 255]}
        assert opaque and opaque <= palette, (png, opaque - palette)


def test_seeds_left_out_are_derived_from_the_name(make_project):
    text = """\
    project: {size: 16, generate: {canvas: 64}}
    sprites:
      one: {prompt: same prompt}
      two: {prompt: same prompt}
    """
    a = make_project(text, name="a")
    b = make_project(text, name="b")
    assert pb(a, "build").code == 0 and pb(b, "build").code == 0
    seeds_a = {n: e["seed"] for n, e in a.lock["entries"].items()}
    seeds_b = {n: e["seed"] for n, e in b.lock["entries"].items()}
    assert seeds_a == seeds_b  # same across runs (and directories)
    assert seeds_a["one"] != seeds_a["two"]  # different across names
    one, two = (a.assets / "sprites" / f"{n}.png" for n in ("one", "two"))
    assert one.read_bytes() != two.read_bytes()
    assert one.read_bytes() == (b.assets / "sprites" / "one.png").read_bytes()


def test_same_manifest_same_bytes_in_a_fresh_project(built, make_project):
    other = make_project(built.manifest.read_text(), name="other")
    assert pb(other, "build").code == 0
    for png in built.assets.rglob("*"):
        if png.is_file():
            twin = other.assets / png.relative_to(built.assets)
            assert twin.read_bytes() == png.read_bytes(), png
    assert (other.dir / "pixels.lock").read_text() == (built.dir / "pixels.lock").read_text()


def test_outputs_have_normal_file_permissions(built):
    """Outputs and the lock are files users commit and games read: they get the umask's mode,
    not the 0600 of a private temp file."""
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    for path in [built.dir / "pixels.lock", *built.pngs()]:
        assert path.stat().st_mode & 0o777 == expected, (path, oct(path.stat().st_mode))


# --- kill -9 in the middle of a build --------------------------------------------------------

N_BIG = 70  # more than one generate batch (64) of the procedural engine
BIG = "project: {size: 16, generate: {canvas: 64}}\nsprites:\n" + "".join(
    f"  s{i:03d}: {{prompt: creature number {i} with {['red', 'blue', 'green'][i % 3]} spots}}\n"
    for i in range(N_BIG)
)


def _build_until(project, ready, timeout=120.0) -> list[str]:
    """Start `pixelbuild build`, SIGKILL it once `ready()` holds; returns temp-looking names
    seen in the assets tree while it ran (polled as tightly as Python allows)."""
    env = {k: v for k, v in os.environ.items() if k != "PIXELBUILD_CACHE"}
    proc = subprocess.Popen(
        ["pixelbuild", "build", "-C", str(project.dir), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    seen_tmp: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if project.assets.is_dir():
                for _, _, names in os.walk(project.assets):
                    seen_tmp += [n for n in names if n.startswith(".tmp") or n.endswith(".tmp")]
            if ready():
                break
        assert proc.poll() is None, "the build finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return seen_tmp


def _assets_intact(project) -> int:
    """No temp files in the assets tree; every PNG there decodes fully. Returns the PNG count."""
    count = 0
    for path in project.assets.rglob("*") if project.assets.exists() else []:
        assert not path.name.startswith(".tmp"), path
        if path.suffix == ".png":
            with Image.open(path) as im:
                im.load()  # raises on a truncated file
            count += 1
    return count


def _generate_records(project) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{project.dir / '.pixelbuild' / 'state.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM records WHERE kind = 'generate'").fetchone()[0]
    finally:
        db.close()


def _lock_consistent(project) -> None:
    lock = project.lock
    assert sorted(lock["entries"]) == [f"s{i:03d}" for i in range(N_BIG)]
    for name, entry in lock["entries"].items():
        for rel, info in entry["outputs"].items():
            data = (project.assets / rel).read_bytes()
            assert digest_bytes(data) == info["digest"] and len(data) == info["size"], name


def test_kill_9_while_generating_resumes_from_finished_steps(make_project):
    project = make_project(BIG, palette=None)
    blobs = project.dir / ".pixelbuild" / "blobs"

    def some_steps_done() -> bool:
        return blobs.is_dir() and sum(1 for _ in blobs.rglob("*")) >= 20

    seen_tmp = _build_until(project, some_steps_done)
    assert seen_tmp == []
    _assets_intact(project)
    finished = _generate_records(project)
    assert 0 < finished < N_BIG
    r = pb(project, "build", "--json")
    assert r.code == 0, r.json
    assert r.json["steps_run"]["generate"] == N_BIG - finished  # nothing finished ran twice
    _lock_consistent(project)


def test_kill_9_after_first_outputs_leaves_no_partial_file(make_project):
    project = make_project(BIG, palette=None)
    sprites = project.assets / "sprites"

    def outputs_appear() -> bool:
        return sprites.is_dir() and len(os.listdir(sprites)) >= 3

    seen_tmp = _build_until(project, outputs_appear)
    assert seen_tmp == [], "a temp file appeared inside the assets tree"
    written = _assets_intact(project)
    assert 3 <= written < N_BIG
    r = pb(project, "build", "--json")
    assert r.code == 0, r.json
    full = 3 * N_BIG  # generate + pixelize + assemble per sprite
    assert sum(r.json["steps_run"].values()) < full, r.json["steps_run"]
    assert len(r.json["rebuilt"]) == N_BIG  # the killed build never wrote its lock
    _lock_consistent(project)
    again = pb(project, "build", "--json")
    assert again.json["rebuilt"] == []
