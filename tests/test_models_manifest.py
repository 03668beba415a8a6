"""Models and LoRAs as the manifest declares them, resolved before any engine loads.

A hub model (`repo:`) is looked up in a Hugging Face cache laid out as huggingface_hub lays it out
(HF_HUB_CACHE/models--owner--name/refs/main + snapshots/<commit>/); mistakes in models, LoRAs and
palette files are manifest errors: located, exit 2, found by `plan` too, and torch is not
imported to find them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import fake_hub as _fake_hub
from conftest import pb

REPO = "stabilityai/stable-diffusion-xl-base-1.0"
COMMIT = "462165984030d82259a11f4367a4eed129e94a7b"


def fake_hub(root: Path, repo: str, folder: Path | None = None) -> Path:
    return _fake_hub(root, repo, folder, COMMIT)


HUB_MANIFEST = f"""\
project:
  size: 16
  generate: {{engine: diffusers, model: sdxl, steps: 2, canvas: 64, scheduler: euler}}
models:
  sdxl: {{repo: {REPO}}}
sprites:
  hero: {{prompt: a small knight, seed: 3}}
"""


def test_plan_resolves_a_hub_model_from_the_local_cache(make_project, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(fake_hub(tmp_path / "hub", REPO)))
    p = make_project(HUB_MANIFEST, palette=None)
    r = pb(p, "plan")
    assert r.code == 0, r.err
    assert "hero" in r.out and "new entry" in r.out


def test_a_hub_model_absent_from_the_cache_is_located_at_build(make_project, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    p = make_project(HUB_MANIFEST, palette=None)
    assert pb(p, "plan").code == 0  # planning needs no weights
    r = pb(p, "build")
    assert r.code == 2, r.err
    assert "pixels.yaml:5:" in r.err and REPO in r.err and "--allow-download" in r.err
    assert not (p.dir / "assets").exists()


def test_hub_commit_is_the_model_digest(make_project, tmp_path, monkeypatch):
    """Another commit of the same repository is another model: the entry is stale."""
    hub = fake_hub(tmp_path / "hub", REPO)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    p = make_project(HUB_MANIFEST, palette=None)
    from pixelbuild.run.project import open_project

    first = open_project(p.dir, readonly=True)
    key = first.plan().entries[0].final.key
    first.close()
    ref = hub / f"models--{REPO.replace('/', '--')}" / "refs" / "main"
    (ref.parent.parent / "snapshots" / ("0" * 40)).mkdir()
    ref.write_text("0" * 40)
    second = open_project(p.dir, readonly=True)
    assert second.plan().entries[0].final.key != key
    second.close()


# Models, LoRAs and palette files that are not there (its expected errors: expected.txt there).
MISTAKES = (Path(__file__).parent / "errors" / "model-mistakes" / "pixels.yaml").read_text()


def test_finding_model_mistakes_imports_no_torch(make_project):
    p = make_project(MISTAKES, palette=None)
    code = textwrap.dedent(
        f"""
        import sys
        from pixelbuild.cli import main
        rc = main(["build", "-C", {str(p.dir)!r}])
        heavy = sorted(m for m in ("torch", "diffusers") if m in sys.modules)
        print(rc, heavy)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PIXELBUILD_CACHE"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr


def test_locked_accepts_a_model_file_ci_does_not_have(make_project, tmp_path):
    """CI has no 7 GB checkpoint: --locked checks the model's digest from the lock instead."""
    p = make_project(
        """\
        models:
          big: {file: models/big.safetensors}
        sprites:
          hero: {prompt: a knight, engine: procedural}
          face: {prompt: a face, engine: diffusers, model: big}
        """,
        palette=None,
    )
    (p.dir / "models").mkdir()
    (p.dir / "models" / "big.safetensors").write_bytes(b"weights")
    r = pb(p, "build", "hero")
    assert r.code == 0, r.err
    lock = p.lock
    assert "models/big.safetensors" in lock["files"]
    (p.dir / "models" / "big.safetensors").unlink()
    r = pb(p, "plan")
    assert r.code == 0, r.err
    assert "face" in r.out and "new entry" in r.out
