"""`pixelbuild watch` as a user runs it: a real watcher process, real saves, bounded waits."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

MANIFEST = """\
version: 1
project: {{size: 16, generate: {{canvas: 64}}}}
palettes:
  warm: {{colors: [{warm}]}}
  cool: {{colors: ["#102040", "#2060c0", "#80c0ff", "#ffffff"]}}
sprites:
  ember: {{prompt: a red fire imp, palette: warm}}
  frost: {{prompt: a blue ice imp, palette: cool}}
"""
WARM = '"#200808", "#a02010", "#ff8020", "#ffffff"'
WARM2 = '"#301010", "#c03020", "#ffc040", "#ffffff"'


class WatchProcess:
    """`pixelbuild watch --json` in a subprocess, one JSON object per pass on stdout."""

    def __init__(self, directory: Path, *extra: str):
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pixelbuild", "watch", "--json", "-C", str(directory), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.passes: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.passes.put(json.loads(line))

    def next_pass(self, timeout: float = 20.0) -> dict:
        try:
            return self.passes.get(timeout=timeout)
        except queue.Empty:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise AssertionError(f"no rebuild within {timeout}s; stderr: {err}") from None

    def settle(self, quiet: float = 1.5, timeout: float = 30.0) -> list[dict]:
        """All passes until none came for `quiet` seconds."""
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen.append(self.passes.get(timeout=quiet))
            except queue.Empty:
                return seen
        raise AssertionError("the watcher never settled")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pixels.yaml").write_text(MANIFEST.format(warm=WARM))
    return tmp_path


@pytest.fixture
def watcher(project: Path):
    w = WatchProcess(project)
    first = w.next_pass(timeout=60)
    assert sorted(first["rebuilt"]) == ["ember", "frost"], first
    yield w
    w.stop()


def save(path: Path, text: str) -> None:
    """Save like an editor that writes a temp file and renames it over the original."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text)
    os.replace(tmp, path)


def locked(directory: Path) -> int:
    """Exit code of `pixelbuild build --locked`: 0 when outputs and lock match the manifest."""
    cmd = [sys.executable, "-m", "pixelbuild", "build", "--locked", "-C", str(directory)]
    return subprocess.run(cmd, capture_output=True, timeout=60).returncode


def test_palette_edit_rebuilds_only_that_entry(project: Path, watcher: WatchProcess) -> None:
    frost = (project / "assets/sprites/frost.png").stat()
    (project / "pixels.yaml").write_text(MANIFEST.format(warm=WARM2))  # an in-place write
    change = watcher.next_pass()
    assert change["rebuilt"] == ["ember"]
    assert change["changed"] == ["pixels.yaml"]
    after = (project / "assets/sprites/frost.png").stat()
    assert (after.st_mtime_ns, after.st_ino) == (frost.st_mtime_ns, frost.st_ino)
    watcher.settle()
    assert locked(project) == 0


def test_invalid_save_keeps_watcher_and_outputs_then_fix_rebuilds(
    project: Path, watcher: WatchProcess
) -> None:
    ember = project / "assets/sprites/ember.png"
    before = ember.read_bytes()
    save(project / "pixels.yaml", MANIFEST.format(warm=WARM) + "  broken: {prompt: [\n")
    bad = watcher.next_pass()
    assert bad["rebuilt"] == [] and bad["errors"], bad
    assert "pixels.yaml:" in bad["errors"][0]
    assert ember.read_bytes() == before  # the last good output stays
    assert watcher.proc.poll() is None  # and the watcher lives on
    save(project / "pixels.yaml", MANIFEST.format(warm=WARM2))
    fixed = watcher.next_pass()
    assert fixed["rebuilt"] == ["ember"] and not fixed["errors"]
    assert ember.read_bytes() != before


def test_rename_style_save_of_a_palette_file_is_seen(tmp_path: Path) -> None:
    (tmp_path / "palettes").mkdir()
    (tmp_path / "palettes/imp.hex").write_text("200808\na02010\nff8020\nffffff\n")
    (tmp_path / "pixels.yaml").write_text(
        "project: {size: 16, generate: {canvas: 64}}\n"
        "palettes: {imp: {file: palettes/imp.hex}}\n"
        "sprites:\n  ember: {prompt: a fire imp, palette: imp}\n  other: {prompt: a rock}\n"
    )
    w = WatchProcess(tmp_path)
    try:
        assert sorted(w.next_pass(timeout=60)["rebuilt"]) == ["ember", "other"]
        save(tmp_path / "palettes/imp.hex", "301010\nc03020\nffc040\nffffff\n")
        change = w.next_pass()
        assert change["rebuilt"] == ["ember"]
        assert change["changed"] == ["palettes/imp.hex"]
    finally:
        assert w.stop() == 0


def test_two_quick_saves_end_in_the_state_of_the_second(
    project: Path, watcher: WatchProcess
) -> None:
    manifest = project / "pixels.yaml"
    save(manifest, MANIFEST.format(warm=WARM2))
    time.sleep(0.02)
    save(manifest, MANIFEST.format(warm=WARM).replace("a blue ice imp", "a blue ice golem"))
    passes = watcher.settle()
    rebuilt = {name for p in passes for name in p["rebuilt"]}
    assert "frost" in rebuilt  # the second save was not lost
    assert locked(project) == 0  # outputs and lock match the last save exactly


def test_ctrl_c_exits_cleanly_with_a_consistent_lock(project: Path) -> None:
    w = WatchProcess(project)
    w.next_pass(timeout=60)
    (project / "pixels.yaml").write_text(MANIFEST.format(warm=WARM2))
    time.sleep(0.3)  # likely mid-rebuild
    assert w.stop() == 0
    assert not list((project / "assets").rglob(".tmp-*"))
    # Whatever was finished is consistent; a normal build completes the rest.
    subprocess.run(
        [sys.executable, "-m", "pixelbuild", "build", "-q", "-C", str(project)],
        check=True,
        timeout=60,
    )
    assert locked(project) == 0


def test_polling_mode_sees_changes(project: Path) -> None:
    w = WatchProcess(project, "--poll")
    try:
        w.next_pass(timeout=60)
        (project / "pixels.yaml").write_text(MANIFEST.format(warm=WARM2))
        assert w.next_pass()["rebuilt"] == ["ember"]
    finally:
        w.stop()
