"""`reference:` images through the manifest and the CLI, on the tiny SDXL with a tiny IP-Adapter
(both built offline): references change the pixels, scale 0 is a no-op, a changed reference
image rebuilds the entry and `plan` names it, and a missing `ip_adapter:` is a located error."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run
from PIL import Image

pytest.importorskip("torch", reason="needs torch (the [sdxl] extra)")
from ipadapter_tiny import WEIGHTS, build_tiny_ip_adapter

pytestmark = pytest.mark.sdxl

MANIFEST = """\
project:
  size: 16
  palette: db32
  generate: {engine: diffusers, model: tiny, steps: 2, canvas: 64, ip_adapter: ipa}
models:
  tiny: {path: models/tiny}
  ipa: {path: models/ipa}
sprites:
  hero: {prompt: a knight, seed: 3, reference: [art/concept.png]}
  faint: {prompt: a knight, seed: 3, reference: [art/concept.png], reference_scale: 0}
  plain: {prompt: a knight, seed: 3}
"""


@pytest.fixture
def game(tiny_sdxl, tmp_path) -> Path:
    project = tmp_path / "game"
    (project / "models").mkdir(parents=True)
    shutil.copytree(tiny_sdxl.folder, project / "models" / "tiny")
    build_tiny_ip_adapter(project / "models" / "ipa")
    assert (project / "models" / "ipa" / WEIGHTS).is_file()
    (project / "art").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
        project / "art" / "concept.png"
    )
    (project / "pixels.yaml").write_text(MANIFEST)
    return project


def build(project: Path, *args: str):
    return run(["build", "-C", str(project), "--device", "cpu", "--json", *args])


def test_references_steer_the_image_and_scale_zero_is_a_no_op(game):
    first = build(game)
    assert first.code == 0, first.err + first.out
    sprite = {
        n: (game / "assets" / "sprites" / f"{n}.png").read_bytes()
        for n in ("hero", "faint", "plain")
    }
    assert sprite["faint"] == sprite["plain"]
    assert sprite["hero"] != sprite["plain"]

    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
        game / "art" / "concept.png"
    )
    plan = run(["plan", "-C", str(game)])
    stale = [line.split()[1] for line in plan.out.splitlines() if line.startswith("* ")]
    assert stale == ["hero"] and "input file changed: art/concept.png" in plan.out
    again = build(game)
    assert again.code == 0 and again.json["rebuilt"] == ["hero"], again.err


def test_a_reference_without_an_ip_adapter_is_located(game):
    manifest = game / "pixels.yaml"
    manifest.write_text(manifest.read_text().replace(", ip_adapter: ipa", ""))
    r = build(game)
    assert r.code == 2
    assert "pixels.yaml:9:" in r.err and "needs `ip_adapter:`" in r.err
