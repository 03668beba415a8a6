"""Shared fixtures for the build-core tests: a small project on disk and ways to run the CLI.

`pb` runs the real CLI entry point in this process (fast); `pb_proc` runs the `pixelbuild`
console script as a subprocess (for exit paths, imports, signals, and the reporter's stderr).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from pixelbuild.cli import main as cli_main

# A test run started in the background of a script (`pytest &`) inherits SIGINT ignored, and so
# would every build the tests start: the tests that interrupt one need Ctrl-C delivered.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SMALL = """\
project:
  size: 16
  palette: x
  generate: {canvas: 64}
palettes:
  x: {file: palettes/x.hex}
sprites:
  hero: {prompt: a red knight, seed: 7}
  slime: {prompt: a green slime}
animations:
  walk: {prompt: "a knight walking, frame {i}", frames: 3}
tilesets:
  grass: {prompt: grass ground, variants: 2}
"""
PALETTE = "000000\nffffff\nbe2633\n44891a\n31a2f2\nf7e26b\n"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:
        return json.loads(self.out)


@dataclass
class Proj:
    dir: Path

    @property
    def manifest(self) -> Path:
        return self.dir / "pixels.yaml"

    @property
    def assets(self) -> Path:
        return self.dir / "assets"

    @property
    def lock(self) -> dict:
        return json.loads((self.dir / "pixels.lock").read_text())

    def write(self, rel: str, text: str) -> Path:
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def edit(self, old: str, new: str) -> None:
        text = self.manifest.read_text()
        assert old in text, f"{old!r} not in the manifest"
        self.manifest.write_text(text.replace(old, new, 1))

    def pngs(self) -> list[Path]:
        return sorted(self.assets.rglob("*.png"))


def run(args: list[str]) -> Result:
    """The real CLI `main`, in process, with stdout/stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(args)
        except SystemExit as exc:  # argparse errors and --help
            code = exc.code if isinstance(exc.code, int) else 2
    return Result(code, out.getvalue(), err.getvalue())


def run_proc(args: list[str], cwd: Path | None = None, timeout: float = 120, **kw) -> Result:
    """The `pixelbuild` console script as a subprocess (no TTY: plain output)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PIXELBUILD_CACHE", None)
    p = subprocess.run(
        ["pixelbuild", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        **kw,
    )
    return Result(p.returncode, p.stdout, p.stderr)


@pytest.fixture(autouse=True)
def _no_cache_env(monkeypatch):
    monkeypatch.delenv("PIXELBUILD_CACHE", raising=False)


@pytest.fixture
def make_project(tmp_path):
    """make_project(manifest_text=SMALL, palette=PALETTE, name="p") -> Proj."""

    def make(manifest: str = SMALL, palette: str | None = PALETTE, name: str = "p") -> Proj:
        d = tmp_path / name
        d.mkdir()
        (d / "pixels.yaml").write_text(textwrap.dedent(manifest))
        if palette is not None:
            (d / "palettes").mkdir()
            (d / "palettes" / "x.hex").write_text(palette)
        return Proj(d)

    return make


@pytest.fixture
def proj(make_project) -> Proj:
    return make_project()


@pytest.fixture
def built(proj) -> Proj:
    """The small project, built once."""
    r = pb(proj, "build", "--json")
    assert r.code == 0, r.err
    assert sorted(r.json["rebuilt"]) == ["grass", "hero", "slime", "walk"]
    return proj


def pb(project: Proj, *args: str) -> Result:
    """`pixelbuild <command> -C <project> args...` in process."""
    command, *rest = args
    return run([command, "-C", str(project.dir), *rest])


def pb_proc(project: Proj, *args: str, **kw) -> Result:
    command, *rest = args
    return run_proc([command, "-C", str(project.dir), *rest], **kw)


def tree(root: Path, *, cache: bool = True) -> dict[str, tuple[int, int, int]]:
    """Every path under root (dirs too) -> (size, mtime_ns, inode); dirs have size 0.
    `cache=False` leaves out the .pixelbuild folder."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if not cache and Path(dirpath) == root and ".pixelbuild" in dirnames:
            dirnames.remove(".pixelbuild")
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = p.stat()
            found[str(p.relative_to(root))] = (
                0 if p.is_dir() else st.st_size,
                st.st_mtime_ns,
                st.st_ino,
            )
    return found


PYTHON = sys.executable


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory):
    """A tiny random-weight SDXL (folder, single file, LoRAs), built once per test session."""
    pytest.importorskip("torch", reason="needs torch (the [sdxl] extra)")
    pytest.importorskip("diffusers", reason="needs diffusers (the [sdxl] extra)")
    pytest.importorskip("peft", reason="needs peft (the [sdxl] extra)")
    from sdxl_tiny import build_tiny_assets

    return build_tiny_assets(tmp_path_factory.mktemp("tiny-sdxl-session"))


def fake_hub(root: Path, repo: str, folder: Path | None = None, commit: str = "0" * 40) -> Path:
    """A Hugging Face hub cache (HF_HUB_CACHE layout) holding `repo` at `commit`: a copy of a
    diffusers `folder`, or a stub model_index.json. Returns `root`."""
    import shutil

    base = root / f"models--{repo.replace('/', '--')}"
    snapshot = base / "snapshots" / commit
    if folder is not None:
        shutil.copytree(folder, snapshot)
    else:
        snapshot.mkdir(parents=True)
        (snapshot / "model_index.json").write_text("{}")
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(commit)
    return root


def rust_checker(name: str) -> Path:
    """Path of a Rust checker built by scripts/build-rust-check.sh NAME (`ron`, `notify`).

    Skips with the reason when it cannot be built here (no cargo, no apt); fails instead when
    PIXELBUILD_REQUIRE_<NAME>_CHECK=1, as CI sets it, so a missing checker never passes silently.
    """
    import shutil

    def unavailable(reason: str) -> NoReturn:
        tool_unavailable(f"the {name} checker", f"PIXELBUILD_REQUIRE_{name.upper()}_CHECK", reason)

    if shutil.which("cargo") is None:
        unavailable("cargo is not installed")
    if shutil.which("dpkg") is None:
        unavailable(f"no dpkg/apt to get Debian's librust-{name}-dev")
    script = Path(__file__).resolve().parent.parent / "scripts" / "build-rust-check.sh"
    built = subprocess.run(
        ["bash", str(script), name], capture_output=True, text=True, timeout=600, check=False
    )
    if built.returncode != 0:
        unavailable(f"{script.name} {name} exited {built.returncode}: {built.stderr[-2000:]}")
    return Path(built.stdout.strip().splitlines()[-1])


def run_rust_main(folder: Path, module: str, main: str) -> None:
    """Compile `main` (a main.rs with `mod pixel_assets;`) beside `module` with rustc, deny
    warnings, run it, and require it to print "ok" (skips without rustc)."""
    import shutil

    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("rustc is not installed")
    (folder / "pixel_assets.rs").write_text(module)
    (folder / "main.rs").write_text(main)
    build = subprocess.run(
        [rustc, "--edition", "2021", "-D", "warnings", "-o", str(folder / "m"), "main.rs"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    ran = subprocess.run([str(folder / "m")], capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", ran.stderr


def tool_unavailable(what: str, require_env: str, reason: str) -> NoReturn:
    """Skip a test whose outside tool cannot be had here, or fail it when `require_env`=1 (CI)."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{what} is required but unavailable: {reason}")
    pytest.skip(f"{what} is unavailable: {reason}")
