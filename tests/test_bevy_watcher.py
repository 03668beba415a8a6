"""Bevy's asset file watcher sees every file `pixelbuild build` rewrites, and nothing else.

tests/notify_check replays, on the real `notify` crate, what Bevy's `file_watcher` feature does:
notify's recursive inotify watch, notify-debouncer-full's 300 ms debouncing, and the event
classification of bevy_asset/src/io/file/file_watcher.rs. It prints the `AssetSourceEvent`s
Bevy's AssetServer would receive. Here it watches a project's assets/ while the real CLI
rebuilds it, and the events are compared with the files whose bytes changed:

- every output whose bytes changed is reported for its final path as `AddedAsset`/`AddedMeta`
  (a file renamed in from outside the watched tree), then `ModifiedAsset`/`ModifiedMeta` (the
  close-write of pixelbuild.run.emit._close_write), so that the AssetServer of Bevy 0.14-0.16,
  which reloads on `Modified*` only, reloads it, and so does 0.17+ (also on `AddedAsset`, never
  on `AddedMeta`); the checker's `reload` field names the versions that reload on each event;
- on inotify, the final path never sees an in-place write (no partial file is ever visible):
  its raw events are the rename-in and the close-write of an open that writes nothing;
- no event names a temp file or anything outside assets/, and no unchanged file gets one;
- a no-op rebuild produces no event at all, not even a raw one;
- removing entries reports `RemovedAsset`/`RemovedMeta` for their files and `RemovedFolder`
  for a folder left empty;
- a `.meta` file rewritten on its own is reloaded by every Bevy version.

The checker is built by scripts/build-rust-check.sh notify (offline, Debian's librust-notify-dev).
Without cargo or apt the tests skip, unless PIXELBUILD_REQUIRE_NOTIFY_CHECK=1 makes that a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import SMALL, Proj, pb, pb_proc, rust_checker

from pixelbuild.run import emit

ROOT = Path(__file__).resolve().parent.parent

MANIFEST = SMALL.replace("  size: 16\n", "  size: 16\n  meta_files: true\n", 1).replace(
    "  x: {file: palettes/x.hex}\n", "  x: {file: palettes/x.hex}\n  y: {file: palettes/y.hex}\n", 1
)
ADDED = {"AddedAsset", "AddedMeta"}
CHANGED = ADDED | {"ModifiedAsset", "ModifiedMeta"}
# the checker's version ranges: Bevy 0.14-0.16 reload on Modified* only, 0.17+ on AddedAsset too
BEVY_VERSIONS = {"0.14-0.16", "0.17+"}
# raw inotify events of a rewrite: the rename-in (notify 5; Modify(Name(To)) on notify 6+), the
# close-write, and on notify 7+ the open before it (Bevy ignores that one)
REWRITE_RAW = {"Create(File)", "Access(Close(Write))"}


@pytest.fixture(scope="module")
def notify_check() -> Path:
    """Path of the built watcher (built once per module; a rebuild is a no-op when unchanged)."""
    return rust_checker("notify")


class Watcher:
    """The checker running on one folder; `sync()` returns the lines printed since the last one."""

    def __init__(self, binary: Path, root: Path) -> None:
        self.proc = subprocess.Popen(
            [str(binary), "--trace", "--max-secs", "120", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._next(10)
        assert ready.get("ready"), f"watcher did not start: {ready} {self._stderr()}"
        self.kind = ready["watcher"]
        self.labels = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def _stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def _next(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"watcher silent for {timeout} s") from None
        assert line is not None, f"watcher exited: {self.proc.wait(5)} {self._stderr()}"
        return line

    def sync(self, timeout: float = 15) -> list[dict]:
        """Everything printed until every event before this call has been debounced."""
        self.labels += 1
        label = str(self.labels)
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"sync {label}\n")
        self.proc.stdin.flush()
        got = []
        deadline = time.monotonic() + timeout
        while (line := self._next(max(0.1, deadline - time.monotonic()))).get("synced") != label:
            got.append(line)
        return got

    def close(self) -> list[dict]:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        got = []
        try:
            while (line := self.lines.get(timeout=5)) is not None:
                got.append(line)
        except queue.Empty:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        return got


def files(assets: Path) -> dict[str, str]:
    """Every file under assets -> sha256 of its bytes."""
    return {
        p.relative_to(assets).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in assets.rglob("*")
        if p.is_file()
    }


def folders(assets: Path) -> set[str]:
    return {p.relative_to(assets).as_posix() for p in assets.rglob("*") if p.is_dir()}


def build(project: Proj) -> dict:
    r = pb_proc(project, "build", "--json")
    assert r.code == 0, r.err
    return r.json


def check(watcher: Watcher, assets: Path, before: tuple, lines: list[dict]) -> tuple[set, set]:
    """Compare the events of one rebuild with what changed on disk; (changed, removed) files."""
    (old_files, old_folders) = before
    new_files, new_folders = files(assets), folders(assets)
    changed = {p for p, d in new_files.items() if old_files.get(p) != d}
    removed = set(old_files) - set(new_files)
    folders_changed = (new_folders - old_folders) | (old_folders - new_folders)
    trace = "event trace:\n" + "\n".join(json.dumps(line, sort_keys=True) for line in lines)

    assert not [line for line in lines if "error" in line], trace
    events = [line for line in lines if "kind" in line]
    raw = [line for line in lines if "raw" in line]
    ignored = [line for line in lines if "ignored" in line]  # e.g. a modified folder (polling)

    # nothing outside assets/, no temp file (pixelbuild stages under .pixelbuild/tmp)
    seen = [p for line in raw + ignored for p in line["paths"]]
    seen += [line[k] for line in events for k in ("path", "old") if k in line]
    for path in seen:
        assert not path.startswith("/") and ".." not in Path(path).parts, f"{path}\n{trace}"
        assert ".pixelbuild" not in path and "tmp" not in Path(path).name.lower(), (
            f"temp file {path} seen in assets/\n{trace}"
        )

    kinds: dict[str, set[str]] = defaultdict(set)
    for e in events:
        kinds[e["path"]].add(e["kind"])
        if e["kind"] not in ("AddedFolder", "RemovedFolder"):
            expected = e["path"][: -len(".meta")] if e["path"].endswith(".meta") else e["path"]
            assert e["asset"] == expected, trace

    for path in sorted(changed):
        meta = path.endswith(".meta")
        # moved in from outside the watched tree: Create(File) on notify 5's inotify,
        # Modify(Name(To)) on notify 6+, and AddedAsset for Bevy either way; then the
        # close-write, ModifiedAsset for Bevy
        if watcher.kind == "inotify":
            writes = {r["raw"] for r in raw if r["paths"] == [path]} - {"Access(Open(Any))"}
            assert writes == REWRITE_RAW, f"{path} written in place: {writes}\n{trace}"
            told = {"AddedMeta", "ModifiedMeta"} if meta else {"AddedAsset", "ModifiedAsset"}
            assert kinds[path] >= told, f"{path} rewritten but Bevy was not told\n{trace}"
            # a game on any Bevy version hot-reloads it (the poll fallback, which Bevy never
            # uses, reports a rename-in over a missing file as Create(Any) only)
            reloads = {v for e in events if e["path"] == path for v in e["reload"]}
            assert reloads == BEVY_VERSIONS, f"{path}: reloaded by Bevy {reloads} only\n{trace}"
        else:
            assert kinds[path] & CHANGED, f"{path} rewritten but Bevy was not told\n{trace}"
    for path in sorted(removed):
        want = "RemovedMeta" if path.endswith(".meta") else "RemovedAsset"
        # the debouncer drops the events under a removed folder: its RemovedFolder covers them
        gone = [a for a in Path(path).parents if "RemovedFolder" in kinds.get(str(a), ())]
        assert want in kinds[path] or gone, f"{path} removed but Bevy was not told\n{trace}"
    for path in sorted(folders_changed):
        want = "AddedFolder" if path in new_folders else "RemovedFolder"
        assert want in kinds[path], f"folder {path}: no {want}\n{trace}"

    unexpected = set(kinds) - changed - removed - folders_changed
    assert not unexpected, f"events for files that did not change: {sorted(unexpected)}\n{trace}"
    return changed, removed


def test_bevy_watcher_sees_every_rewrite_and_nothing_else(notify_check: Path, make_project) -> None:
    project = make_project(MANIFEST)
    project.write("palettes/y.hex", "000000\n222034\n45283c\n663931\n8f563b\ndf7126\n")
    build(project)
    assets = project.assets
    assert (assets / "sprites" / "hero.png.meta").is_file()

    watcher = Watcher(notify_check, assets)
    try:
        # (a) one sprite's prompt and one animation's palette change
        before = files(assets), folders(assets)
        project.edit("a red knight", "a blue knight")
        project.edit("frames: 3}", "frames: 3, palette: y}")
        report = build(project)
        assert sorted(report["rebuilt"]) == ["hero", "walk"], report
        changed, _ = check(watcher, assets, before, watcher.sync())
        assert {"sprites/hero.png", "animations/walk.png"} <= changed, changed
        # the untouched entries and the byte-identical .meta files were not rewritten
        assert not {p for p in changed if p.endswith(".meta") or "grass" in p or "slime" in p}

        # (b) a no-op rebuild: not a single filesystem event under assets/
        before = files(assets), folders(assets)
        report = build(project)
        assert report["rebuilt"] == [], report
        lines = watcher.sync()
        assert lines == [], f"no-op rebuild touched assets/: {lines}"
        check(watcher, assets, before, lines)

        # (c) removing entries: a sprite beside one that stays, and a tileset whose folder empties
        before = files(assets), folders(assets)
        project.edit("  slime: {prompt: a green slime}\n", "")
        project.edit("tilesets:\n  grass: {prompt: grass ground, variants: 2}\n", "")
        report = build(project)
        assert sorted(report["removed"]) == ["grass", "slime"], report
        _, removed = check(watcher, assets, before, watcher.sync())
        assert {"sprites/slime.png", "sprites/slime.png.meta", "tiles/grass.png"} <= removed
        assert not (assets / "tiles").exists()

        # (d) a .meta rewritten alone (deleted by hand, restored by the build): AddedMeta, which
        # no Bevy reloads on, and ModifiedMeta, which they all do
        (assets / "sprites" / "hero.png.meta").unlink()
        watcher.sync()
        before = files(assets), folders(assets)
        report = build(project)
        assert report["rebuilt"] == ["hero"], report
        changed, _ = check(watcher, assets, before, watcher.sync())
        assert changed == {"sprites/hero.png.meta"}, changed
    finally:
        rest = watcher.close()
    assert rest[-1:] == [{"done": "eof"}], rest


def test_close_write_changes_nothing_and_never_fails(tmp_path, monkeypatch, make_project) -> None:
    """A close-write keeps a file's bytes and stat, and one that fails never fails a build."""
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG not really")
    os.utime(path, ns=(1_000_000_000, 2_000_000_000))
    before = os.stat(path)
    emit._close_write(path)
    after = os.stat(path)
    assert path.read_bytes() == b"\x89PNG not really"
    assert (after.st_size, after.st_mtime_ns, after.st_ino, after.st_mode) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
        before.st_mode,
    )
    emit._close_write(tmp_path / "missing.png")  # gone already: ignored
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.png")
        emit._close_write(tmp_path / "fifo.png")  # no reader: ENXIO at once, not a hang

    # an output we may not open for writing (say a read-only file, even as root) is left alone
    real_open = os.open
    refused = []

    def open_(file, flags, *args, **kw):
        if flags & os.O_ACCMODE == os.O_WRONLY and not flags & os.O_CREAT:
            refused.append(file)
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args, **kw)

    monkeypatch.setattr(os, "open", open_)
    project = make_project()
    r = pb(project, "build", "--json")
    assert r.code == 0, r.err
    assert sorted(r.json["rebuilt"]) == ["grass", "hero", "slime", "walk"]
    assert (project.assets / "sprites" / "hero.png").is_file()
    assert any(Path(f).name == "hero.png" for f in refused), refused
