"""A LoRA trained from `loras: NAME: {train: ...}` as a node of the build graph (tiny SDXL, CPU).

The train step is cached (a second build trains nothing); changing one image retrains and
rebuilds only the entries that use the LoRA; the LoRA changes the generated pixels; `--locked`
names the changed image without training; a dataset that is not native pixel art is a clear error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run
from PIL import Image

pytestmark = pytest.mark.sdxl  # the tiny_sdxl fixture skips without torch, diffusers and peft

MANIFEST = """\
project:
  size: 16
  palette: db32
  generate: {engine: diffusers, model: tiny, steps: 2, canvas: 64}
models:
  tiny: {path: models/tiny}
loras:
  style:
    train:
      images: art/style
      trigger: mossgrove style
      base: tiny
      rank: 4
      steps: 3
      batch_size: 1
      resolution: 64
      checkpoint_every: 2
sprites:
  hero: {prompt: a knight, seed: 3, loras: [style]}
  chest: {prompt: a chest, seed: 3, loras: [style]}
  plain: {prompt: a knight, seed: 3}
"""


def _sprite(rng: np.random.Generator, n: int = 8) -> np.ndarray:
    pal = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    art = pal[rng.integers(0, 4, (n, n))]
    return np.concatenate([art, np.full((n, n, 1), 255, np.uint8)], -1)


@pytest.fixture
def game(tiny_sdxl, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    project = tmp_path / "game"
    (project / "models").mkdir(parents=True)
    shutil.copytree(tiny_sdxl.folder, project / "models" / "tiny")
    style = project / "art" / "style"
    style.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in ("knight", "tree", "coin"):
        Image.fromarray(_sprite(rng)).save(style / f"{name}.png")
    (project / "pixels.yaml").write_text(MANIFEST)
    return project


def build(project: Path, *args: str):
    return run(["build", "-C", str(project), "--device", "cpu", "--json", *args])


def test_a_trained_lora_is_a_cached_locked_build_step(game):
    first = build(game)
    assert first.code == 0, first.err + first.out
    assert first.json["steps_run"]["train"] == 1
    assert sorted(first.json["rebuilt"]) == ["chest", "hero", "plain"]
    trained = list((game / ".pixelbuild" / "loras").glob("style-*.safetensors"))
    assert len(trained) == 1
    hero = (game / "assets" / "sprites" / "hero.png").read_bytes()
    plain = (game / "assets" / "sprites" / "plain.png").read_bytes()
    assert hero != plain  # same prompt and seed: the LoRA (and its trigger) changed the pixels

    again = build(game)
    assert (
        again.code == 0
        and again.json["rebuilt"] == []
        and "train" not in again.json.get("steps_run", {})
    )

    # One image changes: --locked names it without training; the build retrains, and only the
    # entries that use the LoRA rebuild.
    rng = np.random.default_rng(9)
    Image.fromarray(_sprite(rng)).save(game / "art" / "style" / "tree.png")
    locked = run(["build", "-C", str(game), "--locked"])
    assert locked.code == 3
    assert "input file changed: art/style/tree.png" in locked.err
    assert "plain" not in locked.err
    second = build(game)
    assert second.code == 0, second.err
    assert second.json["steps_run"]["train"] == 1
    assert sorted(second.json["rebuilt"]) == ["chest", "hero"]
    assert run(["build", "-C", str(game), "--locked"]).code == 0
    lock = json.loads((game / "pixels.lock").read_text())
    assert "art/style/tree.png" in lock["files"]


def test_a_dataset_that_is_not_native_pixel_art_is_a_clear_error(game):
    rng = np.random.default_rng(2)
    big = np.kron(_sprite(rng), np.ones((4, 4, 1), np.uint8))  # already enlarged x4
    Image.fromarray(big).save(game / "art" / "style" / "big.png")
    r = build(game, "hero")
    assert r.code == 1
    error = r.json["errors"]["hero"]
    assert "big.png" in error and "size: auto" in error, error
    assert "Traceback" not in r.err + r.out


def test_pixelbuild_train_runs_just_that_node(game):
    trial = run(["train", "style", "-C", str(game), "--device", "cpu", "--steps", "2", "--json"])
    assert trial.code == 0, trial.err
    assert trial.json["trained"] and Path(trial.json["lora"]).is_file()
    assert not (game / "pixels.lock").exists()  # a trial is not a build

    first = run(["train", "style", "-C", str(game), "--device", "cpu", "--json"])
    assert first.code == 0 and first.json["trained"], first.err
    built = build(game)
    assert built.code == 0 and "train" not in built.json["steps_run"]  # trained already
    again = run(["train", "style", "-C", str(game), "--device", "cpu"])
    assert again.code == 0 and "up to date: " in again.err

    unknown = run(["train", "nope", "-C", str(game)])
    assert unknown.code == 2 and "trained here: style" in unknown.err


def test_an_exported_lora_lets_a_fresh_clone_build_without_training(game, tmp_path):
    manifest = game / "pixels.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "      checkpoint_every: 2\n",
            "      checkpoint_every: 2\n    export: loras/style.safetensors\n",
        )
    )
    first = build(game)
    assert first.code == 0, first.err
    exported = game / "loras" / "style.safetensors"
    assert exported.is_file()
    lock = json.loads((game / "pixels.lock").read_text())
    assert lock["trained_loras"]["style"]["export"] == "loras/style.safetensors"
    from pixelbuild.train import read_metadata

    assert read_metadata(exported)["pixelbuild.trigger"] == "mossgrove style"

    clone = tmp_path / "clone"  # what git would hold: no cache
    shutil.copytree(game, clone, ignore=shutil.ignore_patterns(".pixelbuild"))
    assert run(["build", "-C", str(clone), "--locked"]).code == 0
    for png in (clone / "assets").rglob("*.png"):
        png.unlink()
    again = build(clone)
    assert again.code == 0, again.err
    assert "train" not in again.json["steps_run"]  # the exported file stood in for training
    for name in ("hero", "chest"):
        rel = f"assets/sprites/{name}.png"
        assert (clone / rel).read_bytes() == (game / rel).read_bytes()


def test_the_build_report_says_where_the_validation_sheet_is(game):
    manifest = game / "pixels.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "      checkpoint_every: 2\n",
            "      checkpoint_every: 2\n      validation: {prompts: ['{trigger}, a knight']}\n",
        )
    )
    r = run(["build", "-C", str(game), "--device", "cpu"])
    assert r.code == 0, r.err
    line = next(x for x in r.err.splitlines() if x.startswith("trained LoRA style: 3 steps"))
    sheet = Path(line.split("validation sheet ")[1])
    assert sheet.is_file() and sheet.suffix == ".png"


def test_the_training_docs_manifest_builds(tiny_sdxl, tmp_path, monkeypatch):
    """docs/training.md's manifest as written, on the tiny SDXL from a hub cache layout, with
    only the training shortened (steps, resolution, batch) to fit a CPU test."""
    import yaml
    from conftest import fake_hub
    from test_docs_manifests import manifests

    text = next(t for where, t in manifests() if where.startswith("training.md"))
    data = yaml.safe_load(text)
    train = data["loras"]["mossgrove-style"]["train"]
    train.update(steps=2, resolution=64, batch_size=1)
    train["validation"]["every"] = 1
    hub = fake_hub(tmp_path / "hub", data["models"]["sdxl"]["repo"], tiny_sdxl.folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    project = tmp_path / "docs-game"
    style = project / train["images"]
    style.mkdir(parents=True)
    rng = np.random.default_rng(4)
    for name in ("knight", "chest"):
        Image.fromarray(_sprite(rng)).save(style / f"{name}.png")
    (project / "pixels.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    r = build(project)
    assert r.code == 0, r.err + r.out
    assert sorted(r.json["rebuilt"]) == ["chest", "knight"]
    assert (project / "loras" / "mossgrove-style.safetensors").is_file()
    assert list((project / ".pixelbuild" / "loras").glob("*.validation.png"))
