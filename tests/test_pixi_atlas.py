"""Atlas JSON read by the real peer: pixi.js's `Spritesheet`, in node (tests/pixi_check).

pixi.js (the version pinned in tests/pixi_check/package.json) is installed once into a cache
folder, `$PIXELBUILD_PIXI_CACHE` or `~/.cache/pixelbuild/pixi-check-<version>`, by
`npm install`; later runs use it without the network. Without node or npm, or when the install
fails (offline), the tests skip, unless PIXELBUILD_REQUIRE_PIXI=1 makes that a failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest
from conftest import tool_unavailable

from pixelbuild.assemble import Frame, SheetAnimation, Tag, aseprite_json

CHECK = Path(__file__).resolve().parent / "pixi_check"
PACKAGE = json.loads((CHECK / "package.json").read_text(encoding="utf-8"))
PIXI_VERSION = PACKAGE["dependencies"]["pixi.js"]


def _installed(folder: Path) -> bool:
    manifest = folder / "node_modules" / "pixi.js" / "package.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(manifest.read_text(encoding="utf-8"))["version"] == PIXI_VERSION
    return False


@pytest.fixture(scope="session")
def pixi_modules() -> Path:
    """A folder whose node_modules holds the pinned pixi.js (installed on first use)."""

    def unavailable(reason: str) -> NoReturn:
        tool_unavailable("the pixi.js check", "PIXELBUILD_REQUIRE_PIXI", reason)

    if shutil.which("node") is None:
        unavailable("node is not installed")
    cache = os.environ.get("PIXELBUILD_PIXI_CACHE")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pixelbuild"
    folder = Path(cache) if cache else base / f"pixi-check-{PIXI_VERSION}"
    if _installed(folder):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        unavailable(f"npm is not installed and {folder} has no pixi.js {PIXI_VERSION}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        unavailable(f"cannot make the cache folder {folder}: {e}")
    with open(folder / ".lock", "w") as lock:  # one installer at a time (pytest-xdist)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(folder):
            shutil.copyfile(CHECK / "package.json", folder / "package.json")
            command = [npm, "install", "--no-audit", "--no-fund", "--no-package-lock"]
            command += ["--fetch-retries=1", "--fetch-timeout=30000"]
            try:
                run = subprocess.run(
                    command, cwd=folder, capture_output=True, text=True, timeout=300
                )
            except subprocess.TimeoutExpired:
                unavailable("npm install took over 300 s")
            if run.returncode != 0 or not _installed(folder):
                unavailable(f"npm install exited {run.returncode}: {run.stderr.strip()[-1500:]}")
    return folder


def pixi_view(modules: Path, text: str, tmp_path: Path) -> dict:
    """What pixi's Spritesheet made of a sheet JSON (see tests/pixi_check/check.mjs)."""
    path = tmp_path / "sheet.json"
    path.write_text(text, encoding="utf-8")
    run = subprocess.run(
        ["node", str(CHECK / "check.mjs"), str(modules), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, f"pixi rejected the sheet:\n{text}\n{run.stderr}"
    return json.loads(run.stdout)


# Two sprites and a 3-frame animation, named the way the plan names an atlas's frames.
FRAMES = [
    Frame("hero", 0, 0, 16, 16),
    Frame("walk/0", 16, 0, 8, 12),
    Frame("walk/1", 24, 0, 8, 12),
    Frame("walk/2", 16, 12, 8, 12),
    Frame("coin", 24, 12, 6, 6),
]
WALK = SheetAnimation("walk", ["walk/0", "walk/1", "walk/2"], "forward", [80, 80, 120])
RECTS = {f.name: {"x": f.x, "y": f.y, "w": f.w, "h": f.h} for f in FRAMES}


def test_pixi_reads_hash_atlas_frames_and_animation(pixi_modules: Path, tmp_path: Path) -> None:
    text = aseprite_json("items.png", (32, 32), FRAMES, form="hash", animations=[WALK])
    seen = pixi_view(pixi_modules, text, tmp_path)
    assert seen["pixi"] == PIXI_VERSION and seen["resolution"] == 1
    assert seen["keys"] == [f.name for f in FRAMES]
    assert seen["rects"] == RECTS
    assert seen["orig"] == {f.name: [f.w, f.h] for f in FRAMES}
    assert seen["animations"] == {"walk": ["walk/0", "walk/1", "walk/2"]}


def test_pixi_reads_array_atlas_by_index_only(pixi_modules: Path, tmp_path: Path) -> None:
    """pixi keys textures by `Object.keys(frames)`: for the array form that is "0", "1", ...,
    never `filename`; so rects are right but the name-based animation finds no textures.
    The array form is for bevy_asepritesheet/Phaser; pixi needs `json_format: hash`."""
    text = aseprite_json("items.png", (32, 32), FRAMES, form="array", animations=[WALK])
    document = json.loads(text)
    assert document["animations"] == {"walk": ["walk/0", "walk/1", "walk/2"]}
    seen = pixi_view(pixi_modules, text, tmp_path)
    assert seen["keys"] == [str(i) for i in range(len(FRAMES))]
    assert seen["rects"] == {str(i): RECTS[f.name] for i, f in enumerate(FRAMES)}
    assert seen["animations"] == {"walk": [None, None, None]}


def test_pixi_reads_a_grid_sheets_tag_as_an_animation(pixi_modules: Path, tmp_path: Path) -> None:
    frames = [Frame(f"run/{i}", 8 * i, 0, 8, 8) for i in range(4)]
    text = aseprite_json("run.png", (32, 8), frames, [Tag("run", 0, 3, "pingpong")])
    seen = pixi_view(pixi_modules, text, tmp_path)
    assert seen["animations"] == {"run": [f"run/{i}" for i in range(4)]}
