"""The committed JSON schema and the documented example manifest stay in step with the models."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml
from conftest import run
from PIL import Image
from pydantic import BaseModel

from pixelbuild.manifest import schema as models
from pixelbuild.manifest.load import load_manifest
from pixelbuild.manifest.schema import Manifest

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "schemas" / "pixels.schema.json"
EXAMPLE = ROOT / "pixels.yaml.example"


def test_committed_schema_is_current():
    r = run(["schema"])
    assert r.code == 0
    assert COMMITTED.exists(), "run `pixelbuild schema -o schemas/pixels.schema.json`"
    assert COMMITTED.read_text() == r.out, (
        "schemas/pixels.schema.json is stale: run `pixelbuild schema -o schemas/pixels.schema.json`"
    )


def test_schema_output_option_writes_the_same_text(tmp_path):
    out = tmp_path / "s.json"
    assert run(["schema", "-o", str(out)]).code == 0
    assert out.read_text() == run(["schema"]).out
    body = json.loads(out.read_text())
    assert body["$schema"].startswith("https://json-schema.org/")
    assert body["additionalProperties"] is False  # unknown keys are errors for editors too
    assert {"project", "sprites", "animations", "tilesets", "atlases", "palettes"} <= set(
        body["properties"]
    )


def test_example_has_the_modeline_and_validates(tmp_path):
    text = EXAMPLE.read_text()
    first = text.splitlines()[0]
    assert re.fullmatch(r"# yaml-language-server: \$schema=\S+", first), first
    target = first.split("$schema=", 1)[1]
    assert (EXAMPLE.parent / target).resolve() == COMMITTED.resolve()
    Manifest.model_validate(yaml.safe_load(text))  # the models accept it as written
    # and the full loader (references, files) accepts it once its files exist
    d = tmp_path / "ex"
    d.mkdir()
    shutil.copy(EXAMPLE, d / "pixels.yaml")
    (d / "palettes").mkdir()
    (d / "palettes" / "custom.hex").write_text("000000\nffffff\n")
    (d / "art").mkdir()
    Image.new("RGBA", (8, 8)).save(d / "art" / "logo.png")
    manifest, _ = load_manifest(d / "pixels.yaml")
    assert manifest.sprites and manifest.animations and manifest.tilesets and manifest.atlases


def _all_fields() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for obj in vars(models).values():
        if (
            isinstance(obj, type)
            and issubclass(obj, BaseModel)
            and obj.__module__ == models.__name__
        ):
            found[obj.__name__] = set(obj.model_fields)
    return found


def test_example_documents_every_field():
    keys: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            keys.update(str(k) for k in node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    text = EXAMPLE.read_text()
    walk(yaml.safe_load(text))
    # fields shown in comments (alternatives, e.g. `# or durations: [...]`) count as documented
    for line in text.splitlines():
        if "#" in line:
            keys |= set(re.findall(r"\b([a-z_]+):", line.split("#", 1)[1]))
    missing = {
        model: sorted(fields - keys) for model, fields in _all_fields().items() if fields - keys
    }
    assert not missing, f"fields not shown in pixels.yaml.example: {missing}"
