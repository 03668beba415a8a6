"""Every manifest the docs show is valid and builds, exactly as written.

The YAML blocks of README.md and docs/*.md are extracted: each is a manifest (validated, and the
README's main example built end to end on the tiny SDXL from a Hugging Face cache layout, as a
user's `repo:` model would be found) or one of the other YAML documents the docs show (an engine
profile, a CI step list), which are checked as what they are. `pixels.yaml.example` is built on the
procedural engine it names. So the docs cannot rot.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import fake_hub, pb, run
from PIL import Image

from pixelbuild.manifest.schema import Manifest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


def yaml_blocks() -> list[tuple[str, str]]:
    """(file:line, text) of every ```yaml block in the docs."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 2
            found.append((f"{doc.name}:{line}", m.group(1)))
    return found


def is_manifest(data: object) -> bool:
    return isinstance(data, dict) and bool(data) and set(data) <= set(Manifest.model_fields)


def manifests() -> list[tuple[str, str]]:
    return [(where, text) for where, text in yaml_blocks() if is_manifest(yaml.safe_load(text))]


def readme_manifest() -> str:
    found = [text for where, text in manifests() if where.startswith("README.md")]
    assert found, "README.md shows no manifest"
    return found[0]


@pytest.mark.parametrize(("where", "text"), yaml_blocks(), ids=[w for w, _ in yaml_blocks()])
def test_every_yaml_block_is_a_known_kind_of_document(where, text):
    data = yaml.safe_load(text)
    if is_manifest(data):
        return  # validated (and built) below
    if isinstance(data, list):  # a CI workflow's steps
        assert all(isinstance(s, dict) and ("run" in s or "uses" in s) for s in data), where
        return
    from pixelbuild.engines.compiled.profile import Profile

    assert isinstance(data, dict), f"{where}: neither a manifest, a profile nor CI steps"
    Profile.model_validate(data)  # an engine profile


def _user_files(project: Path, manifest: str) -> None:
    """The files a documented manifest points at, as a user would have them."""
    data = yaml.safe_load(manifest)
    for i, item in enumerate(data.get("include") or []):  # one sprite per included file
        path = project / item.replace("*", f"part{i}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"sprites:\n  included-{i}: {{prompt: an included sprite}}\n")
    for palette in (data.get("palettes") or {}).values():
        if "file" in palette:
            path = project / palette["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("1a1c2c\n5d275d\nb13e53\nef7d57\nffcd75\na7f070\n38b764\n257179\n")
    for section in ("sprites", "animations", "tilesets"):
        for entry in (data.get(section) or {}).values():
            if "image" in entry:
                path = project / entry["image"]
                path.parent.mkdir(parents=True, exist_ok=True)
                rng = np.random.default_rng(5)
                art = rng.integers(0, 255, (16, 64, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
                Image.fromarray(art).save(path)


def trains(text: str) -> bool:
    """Whether a manifest trains a LoRA (built in test_train_build.py, training shortened)."""
    loras = yaml.safe_load(text).get("loras") or {}
    return any(isinstance(d, dict) and "train" in d for d in loras.values())


OTHER_MANIFESTS = [(w, t) for w, t in manifests() if t != readme_manifest() and not trains(t)]


@pytest.mark.parametrize(("where", "text"), OTHER_MANIFESTS, ids=[w for w, _ in OTHER_MANIFESTS])
def test_every_other_docs_manifest_builds(make_project, where, text):
    """The smaller manifests of the docs (the main one is built on SDXL below), as written."""
    p = make_project(text, palette=None)
    _user_files(p.dir, text)
    r = pb(p, "build", "--json")
    assert r.code == 0, f"{where}: {r.err}"
    assert pb(p, "build", "--locked").code == 0


def test_pixels_yaml_example_builds(make_project):
    text = (ROOT / "pixels.yaml.example").read_text(encoding="utf-8")
    p = make_project(text, palette=None)
    _user_files(p.dir, text)
    first = pb(p, "build", "--json")
    assert first.code == 0, first.err
    assert sorted(first.json["rebuilt"]) == sorted(
        n for s in ("sprites", "animations", "tilesets", "characters", "atlases")
        for n in yaml.safe_load(text)[s]
    )  # fmt: skip
    again = pb(p, "build", "--locked")
    assert again.code == 0, again.err


def test_readme_manifest_is_valid_as_written(make_project, tmp_path, monkeypatch):
    """Validation and planning need neither torch nor the weights: only the cache's refs."""
    text = readme_manifest()
    monkeypatch.setenv(
        "HF_HUB_CACHE", str(fake_hub(tmp_path / "hub", "stabilityai/stable-diffusion-xl-base-1.0"))
    )
    p = make_project(text, palette=None)
    (p.dir / "loras").mkdir()
    (p.dir / "loras" / "pixel-art-xl.safetensors").write_bytes(b"not read by plan")
    r = pb(p, "plan")
    assert r.code == 0, r.err
    assert "0 up to date" in r.out


@pytest.mark.sdxl
@pytest.mark.slow
def test_readme_manifest_builds_on_sdxl_from_the_hub_cache(tiny_sdxl, make_project, tmp_path,
                                                          monkeypatch):  # fmt: skip
    """README's main example, unchanged: the hub model found in HF_HUB_CACHE, the LoRA file at
    the path it names, generated on the diffusers engine through the CLI.

    One entry is built (one image at the documented 30 steps on a 512 px canvas, about 30 s of
    CPU); the others are validated and planned. Their SDXL paths (img2img from a base sprite,
    seamless tiles, atlases of generated sprites) are built in test_sdxl_build.py.
    """
    text = readme_manifest()
    hub = fake_hub(tmp_path / "hub", "stabilityai/stable-diffusion-xl-base-1.0", tiny_sdxl.folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    p = make_project(text, palette=None)
    (p.dir / "loras").mkdir()
    shutil.copy(tiny_sdxl.lora_a, p.dir / "loras" / "pixel-art-xl.safetensors")
    first = pb(p, "build", "hero", "--device", "cpu", "--json")
    assert first.code == 0, first.err + first.out
    data = yaml.safe_load(text)
    assert first.json["rebuilt"] == ["hero"]
    assert first.json["steps_run"]["generate"] == 1
    lock = p.lock
    assert lock["files"]["hub:stabilityai/stable-diffusion-xl-base-1.0"] == "0" * 40
    assert lock["entries"]["hero"]["engine"] == "diffusers"
    assert lock["entries"]["hero"]["provenance"]["diffusers"]  # the engine really ran
    sprite = Image.open(p.assets / "sprites" / "hero.png")
    assert sprite.size == (32, 32) and sprite.mode == "RGBA"
    assert set(np.asarray(sprite)[..., 3].ravel()) <= {0, 255}
    again = pb(p, "build", "hero", "--json")
    assert again.code == 0 and again.json["rebuilt"] == [], again.err
    plan = pb(p, "plan")
    assert plan.code == 0, plan.err
    sections = ("sprites", "animations", "tilesets", "atlases")
    unbuilt = [n for section in sections for n in data[section] if n != "hero"]
    assert all(f"* {n}" in plan.out for n in unbuilt), plan.out


def test_readme_error_example_matches_what_pixelbuild_prints(make_project):
    """The README's error listing is the real output for the manifest it describes."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```\n(error: \d+ errors in the manifest:\n.*?)```", readme, re.S)
    assert shown, "README.md shows no error listing"
    p = make_project(BROKEN, palette=None)
    r = pb(p, "plan")
    assert r.code == 2
    printed = r.err.replace(str(p.dir / "pixels.yaml"), "pixels.yaml")
    assert printed == shown.group(1), printed


# The manifest behind README's error listing (misspellings a user makes).
BROKEN = textwrap.dedent(
    """\
    palettes:
      mine: {colors: ["#000", "#fff"]}
    sprites:
      hero:
        prompt: a small knight
        seed: 1
        size: big
        palete: mine
    animations:
      walk:
        prompt: "a knight walking, frame {i}"
        frames: 4
        palette: db23
    atlases:
      items:
        include: [potion]
    """
)


def test_the_example_game_is_built_and_current(tmp_path):
    """examples/mossgrove as committed: its assets and Rust module match its manifest (CI's
    `--locked`), and a fresh build of a clone writes the same bytes."""
    game = tmp_path / "mossgrove"
    shutil.copytree(
        ROOT / "examples" / "mossgrove",
        game,
        ignore=shutil.ignore_patterns(".pixelbuild", "target"),
    )
    locked = run(["build", "-C", str(game), "--locked"])
    assert locked.code == 0, locked.err
    committed = {p.relative_to(game): p.read_bytes() for p in (game / "assets").rglob("*.png")}
    shutil.rmtree(game / "assets")
    fresh = run(["build", "-C", str(game)])
    assert fresh.code == 0, fresh.err
    rebuilt = {p.relative_to(game): p.read_bytes() for p in (game / "assets").rglob("*.png")}
    assert rebuilt == committed
    assert (game / "assets" / "characters" / "knight.png").is_file()
