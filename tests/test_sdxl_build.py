"""A full `pixelbuild build` of a small manifest on the diffusers engine (tiny offline SDXL)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs torch (the [sdxl] extra)")
pytest.importorskip("diffusers", reason="needs diffusers (the [sdxl] extra)")
pytest.importorskip("peft", reason="needs peft (the [sdxl] extra)")

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run
from sdxl_tiny import TinyAssets

pytestmark = pytest.mark.sdxl

MANIFEST = """\
project:
  size: 16
  palette: db32
  generate:
    engine: diffusers
    model: tiny
    loras: [px]
    steps: 3
    guidance: 5.0
    scheduler: euler
    canvas: 64
models:
  tiny: {path: models/tiny}
  tiny-file: {file: models/tiny.safetensors, config: models/tiny-config}
loras:
  px: {file: loras/px.safetensors, weight: 0.8, triggers: [pixel art]}
sprites:
  hero: {prompt: a red knight, seed: 7}
  slime: {prompt: a green slime, seed: 8, model: tiny-file, loras: []}
animations:
  walk: {prompt: "a knight walking, frame {i}", frames: 2, base: hero, strength: 0.7}
tilesets:
  grass: {prompt: grass ground, variants: 2}
"""


@pytest.fixture(scope="module")
def tiny(tiny_sdxl) -> TinyAssets:
    return tiny_sdxl


def test_pixelbuild_build_on_the_diffusers_engine(tiny, tmp_path, monkeypatch):
    project = tmp_path / "game"
    (project / "models").mkdir(parents=True)
    (project / "loras").mkdir()
    shutil.copytree(tiny.folder, project / "models" / "tiny")
    shutil.copytree(tiny.config, project / "models" / "tiny-config")
    shutil.copy(tiny.single_file, project / "models" / "tiny.safetensors")
    shutil.copy(tiny.lora_a, project / "loras" / "px.safetensors")
    (project / "pixels.yaml").write_text(MANIFEST)
    monkeypatch.chdir(project)

    first = run(["build", "-C", str(project), "--device", "cpu", "--json"])
    assert first.code == 0, first.err + first.out
    assert first.json["failed"] == [] and first.json["steps_run"]["generate"] == 6
    pngs = sorted(p.relative_to(project / "assets").as_posix() for p in project.rglob("*.png"))
    assert any("hero" in p for p in pngs) and any("slime" in p for p in pngs)
    assert any("walk" in p for p in pngs) and any("grass" in p for p in pngs)
    lock = (project / "pixels.lock").read_text()
    assert "diffusers" in lock and "torch" in lock  # provenance from the engine

    before = {p: (project / "assets" / p).read_bytes() for p in pngs}
    second = run(["build", "-C", str(project), "--device", "cpu", "--json"])
    assert second.code == 0, second.err + second.out
    assert second.json["rebuilt"] == []
    assert sorted(second.json["up_to_date"]) == ["grass", "hero", "slime", "walk"]
    after = {p: (project / "assets" / p).read_bytes() for p in pngs}
    assert before == after


def test_a_failed_batch_is_one_error_naming_its_entries(tiny, tmp_path):
    """An engine failure stops a whole batch: it is reported once, under every entry it stopped,
    and the entries' names are not repeated inside the message."""
    project = tmp_path / "game"
    (project / "loras").mkdir(parents=True)
    shutil.copytree(tiny.folder, project / "models" / "tiny")
    (project / "loras" / "broken.safetensors").write_bytes(b"not a safetensors file")
    (project / "pixels.yaml").write_text(
        "project:\n"
        "  size: 16\n"
        "  generate: {engine: diffusers, model: tiny, loras: [broken], steps: 2, canvas: 64}\n"
        "models:\n  tiny: {path: models/tiny}\n"
        "loras:\n  broken: {file: loras/broken.safetensors}\n"
        "sprites:\n  hero: {prompt: a knight}\n  slime: {prompt: a slime}\n"
    )
    r = run(["build", "-C", str(project), "--device", "cpu"])
    assert r.code == 1
    assert "Traceback" not in r.err
    errors = [line for line in r.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.err
    assert errors[0].startswith("error: hero, slime: LoRA 'broken'"), errors
    assert "hero, slime: hero" not in errors[0] and "internal error" not in r.err
    assert not (project / "assets").exists()


def test_a_local_vae_folder_is_found_from_any_working_directory(tiny, tmp_path):
    """`vae:` names a project folder: it is found with -C from elsewhere, like every path."""
    project = tmp_path / "game"
    shutil.copytree(tiny.folder, project / "models" / "tiny")
    (project / "pixels.yaml").write_text(
        "project:\n"
        "  size: 16\n"
        "  generate: {engine: diffusers, model: tiny, steps: 2, canvas: 64}\n"
        "models:\n  tiny: {path: models/tiny, vae: models/tiny/vae}\n"
        "sprites:\n  hero: {prompt: a knight}\n"
    )
    r = run(["build", "-C", str(project), "--device", "cpu"])
    assert r.code == 0, r.err
    assert (project / "assets" / "sprites" / "hero.png").is_file()
