"""An engine whose libraries are missing fails with the install line, never with a traceback.

Each test runs the real CLI (`python -m pixelbuild build -C PROJECT`) in a subprocess in which
some modules cannot be imported: a `sitecustomize.py` on PYTHONPATH puts None into `sys.modules`
for them. The import system documents that entry as "not importable": `import torch` raises
ModuleNotFoundError and `importlib.util.find_spec("torch")` returns None, as on a machine where
torch was never installed. (A `sys.meta_path` finder that raises from `find_spec` would not do:
`importlib.util.find_spec` lets the exception through instead of returning None.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SDXL_PROJECT = """\
project:
  generate: {engine: diffusers, model: m}
models:
  m: {path: models/m}
sprites:
  hero: {prompt: a red knight, seed: 7}
"""


def hide(tmp_path: Path, *modules: str) -> dict[str, str]:
    """The environment of a Python process in which `modules` are not importable."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        f"for _name in {modules!r}:\n"
        "    sys.modules[_name] = None  # import raises ModuleNotFoundError; find_spec is None\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PIXELBUILD_CACHE"}
    path = [str(site), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env.update(PYTHONPATH=os.pathsep.join(path), PYTHONDONTWRITEBYTECODE="1")
    return env


def sdxl_project(tmp_path: Path, manifest: str = SDXL_PROJECT) -> Path:
    """A project whose one sprite needs the SDXL model `m` (an empty diffusers folder)."""
    project = tmp_path / "game"
    (project / "models" / "m").mkdir(parents=True)
    (project / "models" / "m" / "model_index.json").write_text("{}")
    (project / "pixels.yaml").write_text(textwrap.dedent(manifest))
    return project


def build(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixelbuild", "build", "-C", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_hidden_modules_look_uninstalled(tmp_path: Path):
    code = (
        "import importlib.util\n"
        "assert importlib.util.find_spec('torch') is None\n"
        "try:\n"
        "    import torch\n"
        "except ModuleNotFoundError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('torch imported')\n"
        "import numpy  # everything else still imports\n"
    )
    subprocess.run([sys.executable, "-c", code], env=hide(tmp_path, "torch"), check=True)


def test_diffusers_without_torch_names_the_extra_and_both_install_lines(tmp_path: Path):
    out = build(sdxl_project(tmp_path), hide(tmp_path, "torch"))
    assert out.returncode != 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    err = out.stderr
    assert "torch" in err and "[sdxl]" in err, err
    installs = [line for line in err.splitlines() if "pip install" in line]
    assert len(installs) >= 2, err  # one for a GPU machine, one for a CPU-only one
    assert any("cpu" in line.lower() for line in installs), err
    assert not (tmp_path / "game" / "assets").exists() or not any(
        (tmp_path / "game" / "assets").rglob("*.png")
    )


def test_compiled_engine_without_torch_fails_the_same_way(tmp_path: Path):
    manifest = SDXL_PROJECT.replace("engine: diffusers", "engine: inductor")
    out = build(sdxl_project(tmp_path, manifest), hide(tmp_path, "torch"))
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "[sdxl]" in out.stderr and "pip install" in out.stderr, out.stderr


def test_tensorrt_engine_points_at_the_gb10_guide(tmp_path: Path):
    manifest = SDXL_PROJECT.replace("engine: diffusers", "engine: tensorrt")
    out = build(sdxl_project(tmp_path, manifest), hide(tmp_path, "torch_tensorrt"))
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "[tensorrt]" in out.stderr and "docs/gb10.md" in out.stderr, out.stderr


def test_the_procedural_engine_needs_no_torch(tmp_path: Path):
    project = tmp_path / "game"
    project.mkdir()
    (project / "pixels.yaml").write_text("sprites:\n  hero: {prompt: a red knight, seed: 7}\n")
    out = build(project, hide(tmp_path, "torch", "diffusers", "transformers"))
    assert out.returncode == 0, out.stderr
    assert any((project / "assets").rglob("*.png"))
