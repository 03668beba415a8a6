"""`pixelbuild compare` on the diffusers engine (tiny offline SDXL): a LoRA x weight axis with its
no-LoRA baseline and a model axis, then `pick` builds the winner with no generation."""

from __future__ import annotations

import json
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

pytestmark = [pytest.mark.sdxl, pytest.mark.slow]

MANIFEST = """\
project:
  size: 16
  palette: db32
  generate: {engine: diffusers, model: tiny, loras: [px], steps: 2, canvas: 64}
models:
  tiny: {path: models/tiny}
  tiny-file: {file: models/tiny.safetensors, config: models/tiny-config}
loras:
  px: {file: loras/px.safetensors, weight: 0.8}
sprites:
  hero: {prompt: a red knight, seed: 7}   # the hero
"""


def test_compare_lora_weights_and_models_then_pick(tiny_sdxl: TinyAssets, tmp_path):
    project = tmp_path / "game"
    (project / "models").mkdir(parents=True)
    (project / "loras").mkdir()
    shutil.copytree(tiny_sdxl.folder, project / "models" / "tiny")
    shutil.copytree(tiny_sdxl.config, project / "models" / "tiny-config")
    shutil.copy(tiny_sdxl.single_file, project / "models" / "tiny.safetensors")
    shutil.copy(tiny_sdxl.lora_a, project / "loras" / "px.safetensors")
    (project / "pixels.yaml").write_text(MANIFEST)
    args = ["compare", "-C", str(project), "hero", "--device", "cpu", "--json"]
    axes = ["--lora", "px=0,0.8,1.5", "--model", "tiny-file"]
    r = run([*args, *axes])
    assert r.code == 0, r.err
    assert r.json["cells"] == 6 and r.json["generated"] == 6
    cells = json.loads(Path(r.json["cells_file"]).read_text())["cells"]
    labels = [c["labels"] for c in cells]
    assert labels[:3] == [
        ["no px", "model tiny (current)"],
        ["px \u00d70.8", "model tiny (current)"],
        ["px \u00d71.5", "model tiny (current)"],
    ]
    assert len({c["key"] for c in cells}) == 6  # every weight and model paints differently
    assert cells[0]["changes"] == [[["loras"], []]]
    again = run([*args, *axes])
    assert again.code == 0 and again.json["generated"] == 0

    picked = run(["pick", "-C", str(project), "hero", "6", "--json"])  # px x1.5 on tiny-file
    assert picked.code == 0, picked.err
    assert picked.json["rebuilt"] == ["hero"] and "generate" not in picked.json["steps_run"]
    text = (project / "pixels.yaml").read_text()
    assert "hero: {prompt: a red knight, seed: 7, " in text and "# the hero" in text
    lock = json.loads((project / "pixels.lock").read_text())
    assert lock["entries"]["hero"]["key"] == cells[5]["key"]
