"""Manifest edits (pixelbuild/manifest/edit.py): exactly the asked lines change, nothing else.

Run on copies of the example game's manifest and of pixels.yaml.example (with the files they
name), each edit is compared with difflib line by line; an invalid edit leaves the bytes as they
were and reports located errors; mode, CRLF line endings and a byte-order mark survive.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run
from PIL import Image

from pixelbuild.cli import main
from pixelbuild.errors import ManifestError, UsageError
from pixelbuild.manifest.edit import add_entry, edit_entry, remove_entry, set_value

ROOT = Path(__file__).resolve().parents[1]


def changes(before: str, after: str) -> list[str]:
    """The -/+ lines of a diff, in order."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.fixture
def mossgrove(tmp_path) -> Path:
    manifest = tmp_path / "pixels.yaml"
    shutil.copy(ROOT / "examples" / "mossgrove" / "pixels.yaml", manifest)
    return manifest


@pytest.fixture
def example(tmp_path) -> Path:
    """pixels.yaml.example with the palette file and the image it names."""
    manifest = tmp_path / "pixels.yaml"
    shutil.copy(ROOT / "pixels.yaml.example", manifest)
    data = yaml.safe_load(manifest.read_text())
    for palette in data["palettes"].values():
        if "file" in palette:
            (tmp_path / palette["file"]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / palette["file"]).write_text("000000\nffffff\nbe2633\n44891a\n")
    for entry in data["sprites"].values():
        if "image" in entry:
            (tmp_path / entry["image"]).parent.mkdir(parents=True, exist_ok=True)
            art = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(art).save(tmp_path / entry["image"])
    return manifest


def edited(manifest: Path, edit, *args) -> list[str]:
    before = manifest.read_text()
    edit(manifest, *args)
    return changes(before, manifest.read_text())


def test_set_value_changes_one_line_and_keeps_an_aligned_comment(example):
    assert edited(example, set_value, ("sprites", "hero", "seed"), 77) == [
        "-    seed: 1234                # left out: derived from the entry name (stable across machines)",  # noqa: E501
        "+    seed: 77                  # left out: derived from the entry name (stable across machines)",  # noqa: E501
    ]
    assert edited(example, set_value, ("project", "rust_module"), "src/art.rs") == [
        "-  rust_module: null           # e.g. src/pixel_assets.rs: constants for paths, indices, frame ranges",  # noqa: E501
        "+  rust_module: src/art.rs     # e.g. src/pixel_assets.rs: constants for paths, indices, frame ranges",  # noqa: E501
    ]


def test_set_value_adds_a_missing_key_in_a_block_and_in_a_flow_mapping(mossgrove):
    assert edited(mossgrove, set_value, ("sprites", "hero", "seed"), 7) == ["+    seed: 7"]
    text = mossgrove.read_text()
    assert "    prompt: a small knight with a red cape\n    seed: 7\n  slime:" in text
    lines = edited(mossgrove, set_value, ("characters", "knight", "animations", "idle", "fps"), 8)
    assert lines == ["-      idle: {frames: 4, fps: 6}", "+      idle: {frames: 4, fps: 8}"]
    key = ("characters", "knight", "animations", "walk", "prompt")
    lines = edited(mossgrove, set_value, key, "walking, sword drawn")
    assert lines == [
        "-      walk: {frames: 6, fps: 10, prompt: walking}",
        '+      walk: {frames: 6, fps: 10, prompt: "walking, sword drawn"}',
    ]
    key = ("tilesets", "meadow", "terrains", "dirt", "prompt")
    lines = edited(mossgrove, set_value, key, "mud")
    assert lines == [
        '-      dirt: {prompt: "packed dirt path, top-down"}',
        '+      dirt: {prompt: "mud"}',  # its double quotes kept
    ]
    palette = yaml.safe_load(mossgrove.read_text())["palettes"]["moss"]["colors"]
    assert len(palette) == 16  # the flow list written over three lines is untouched


def test_values_that_need_quotes_read_back_as_written(mossgrove):
    for value in ("16", "yes", "a: b", "#hash", "", "it's", "x, y", "tab\there", "ünïcödé"):
        set_value(mossgrove, ("sprites", "hero", "prompt"), value)
        assert yaml.safe_load(mossgrove.read_text())["sprites"]["hero"]["prompt"] == value
        key = ("characters", "knight", "animations", "walk", "prompt")
        set_value(mossgrove, key, value)
        assert yaml.safe_load(mossgrove.read_text())["characters"]["knight"]["animations"][
            "walk"
        ]["prompt"] == value


def test_edit_entry_merges_and_deletes(mossgrove):
    lines = edited(
        mossgrove, edit_entry, "slime", {"size": None, "seed": 4, "pixel": {"outline": "none"}}
    )
    assert lines == ["-    size: 24", "+    seed: 4", "+    pixel:", "+      outline: none"]
    data = yaml.safe_load(mossgrove.read_text())["sprites"]["slime"]
    assert data == {
        "prompt": "a green slime monster",
        "palette": "moss",
        "seed": 4,
        "pixel": {"outline": "none"},
    }
    lines = edited(mossgrove, edit_entry, "knight", {"animations": {"walk": {"frames": 8}}})
    assert lines == [
        "-      idle: {frames: 4, fps: 6}",
        "-      walk: {frames: 6, fps: 10, prompt: walking}",
        "+      walk:",
        "+        frames: 8",
    ]


def test_edit_entry_writes_a_list_of_mappings_as_a_block(example):
    lines = edited(example, edit_entry, "hero", {"loras": [{"name": "pixel-art", "weight": 0.6}]})
    assert lines == ["+    loras:", "+    - name: pixel-art", "+      weight: 0.6"]
    assert yaml.safe_load(example.read_text())["sprites"]["hero"]["loras"] == [
        {"name": "pixel-art", "weight": 0.6}
    ]


def test_add_and_remove_entries(mossgrove):
    lines = edited(mossgrove, add_entry, "sprite", "gem", {"prompt": "a blue gem", "size": 16})
    assert sorted(lines) == sorted(["+  gem:", "+    prompt: a blue gem", "+    size: 16"])
    assert list(yaml.safe_load(mossgrove.read_text())["sprites"])[-1] == "gem"
    before = mossgrove.read_text()
    remove_entry(mossgrove, "meadow")
    removed = changes(before, mossgrove.read_text())
    assert len(removed) == 9 and all(line.startswith("-") for line in removed)
    assert removed[0].startswith("-  meadow:") and removed[-1] == "-    palette: moss"
    assert edited(mossgrove, remove_entry, "items") == [
        "-atlases:",
        "-  items:                               # packed with MaxRects; JSON + RON layout beside it",  # noqa: E501
        "-    include: [potion, coin, slime-bounce]",
        "+atlases: {}",
    ]
    lines = edited(mossgrove, add_entry, "atlas", "loot", {"include": ["coin", "gem"]})
    assert lines == ["-atlases: {}", "+atlases:", "+  loot:", "+    include: [coin, gem]"]


def test_add_entry_makes_its_section(tmp_path):
    manifest = tmp_path / "pixels.yaml"
    manifest.write_text("# art\nsprites:\n  hero: {prompt: a knight}  # the player\n")
    lines = edited(manifest, add_entry, "animation", "walk", {"prompt": "walking", "frames": 4})
    assert lines == ["+", "+animations:", "+  walk:", "+    prompt: walking", "+    frames: 4"]
    assert main(["-C", str(tmp_path), "plan"]) == 0


def test_invalid_edits_write_nothing_and_say_where(mossgrove):
    before = mossgrove.read_bytes()
    with pytest.raises(ManifestError) as err:
        set_value(mossgrove, ("sprites", "hero", "size"), "big")
    (issue,) = err.value.issues
    assert issue.location is not None and issue.location.file == mossgrove.resolve()
    assert (issue.location.line, issue.location.column) == (26, 11)
    assert "sprite 'hero'" in str(issue) and "size" in issue.message
    with pytest.raises(ManifestError) as err:
        edit_entry(mossgrove, "coin", {"palette": "mos", "frames": 3})
    messages = [i.message for i in err.value.issues]
    assert any("unknown palette 'mos' (did you mean 'moss'?)" in m for m in messages)
    assert any("unknown key 'frames'" in m for m in messages)
    with pytest.raises(ManifestError):
        remove_entry(mossgrove, "coin")  # the atlas `items` includes it
    assert mossgrove.read_bytes() == before
    assert not [p for p in mossgrove.parent.iterdir() if p.name.endswith(".tmp")]


def test_usage_errors(mossgrove):
    before = mossgrove.read_bytes()
    with pytest.raises(UsageError, match="did you mean 'slime'"):
        edit_entry(mossgrove, "slme", {"seed": 1})
    with pytest.raises(UsageError, match="sprite 'hero' already exists"):
        add_entry(mossgrove, "sprite", "hero", {"prompt": "x"})
    with pytest.raises(UsageError, match=r"unknown entry kind 'sprit'.*did you mean 'sprite'"):
        add_entry(mossgrove, "sprit", "x", {"prompt": "x"})
    with pytest.raises(UsageError, match="not a mapping"):
        set_value(mossgrove, ("sprites", "hero", "prompt", "x"), 1)
    assert mossgrove.read_bytes() == before


def test_an_alias_is_not_edited_through(tmp_path):
    manifest = tmp_path / "pixels.yaml"
    manifest.write_text("sprites:\n  a: &k {prompt: x}\n  b: *k\n")
    with pytest.raises(UsageError, match=r"sprites\.b is an alias"):
        set_value(manifest, ("sprites", "b", "seed"), 1)


def test_mode_line_endings_and_bom_are_kept(mossgrove):
    text = mossgrove.read_text().replace("\n", "\r\n")
    mossgrove.write_bytes(b"\xef\xbb\xbf" + text.encode())
    os.chmod(mossgrove, 0o640)
    set_value(mossgrove, ("sprites", "coin", "size"), 12)
    raw = mossgrove.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.decode().removeprefix("\ufeff") == text.replace(
        "  coin:\r\n    prompt: a shiny gold coin\r\n    size: 16",
        "  coin:\r\n    prompt: a shiny gold coin\r\n    size: 12",
    )
    assert mossgrove.stat().st_mode & 0o777 == 0o640


def test_an_edited_manifest_builds_only_what_changed(mossgrove):
    """The edit is what a build sees: after editing one sprite, only it rebuilds."""
    project = str(mossgrove.parent)
    assert run(["-C", project, "build", "-q"]).code == 0
    set_value(mossgrove, ("sprites", "hero", "seed"), 99)
    again = run(["-C", project, "build", "--json"])
    assert again.code == 0 and again.json["rebuilt"] == ["hero"], again.err
    assert run(["-C", project, "build", "--locked", "-q"]).code == 0


def test_a_broken_file_is_reported_where_it_breaks(tmp_path):
    manifest = tmp_path / "pixels.yaml"
    manifest.write_text('sprites:\n  hero: {prompt: "unclosed}\n')
    before = manifest.read_bytes()
    with pytest.raises(ManifestError) as err:
        set_value(manifest, ("sprites", "hero", "seed"), 1)
    (issue,) = err.value.issues
    assert issue.message.startswith("invalid YAML") and issue.location.line == 2
    assert manifest.read_bytes() == before


def test_a_name_taken_in_another_section_is_refused(tmp_path):
    manifest = tmp_path / "pixels.yaml"
    manifest.write_text("sprites:\n  hero: {prompt: a knight}\n  slime: {prompt: a slime}\n")
    with pytest.raises(UsageError, match="already exists"):
        add_entry(manifest, "animation", "hero", {"prompt": "x", "frames": 2})


def test_entries_of_included_files_are_edited_there(tmp_path):
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "forest.yaml").write_text("sprites:\n  tree: {prompt: a tree}\n")
    manifest = tmp_path / "pixels.yaml"
    manifest.write_text("include: [art/forest.yaml]\nsprites:\n  hero: {prompt: a knight}\n")
    with pytest.raises(UsageError, match="an entry of an included file is edited there"):
        remove_entry(manifest, "tree")
    edit_entry(manifest, "hero", {"seed": 3})  # validated with the included file as it is
    assert "hero: {prompt: a knight, seed: 3}" in manifest.read_text()


def test_an_item_of_a_list_is_set_in_its_place(example):
    key = ("loras", "house-style", "train", "validation", "prompts", 0)
    lines = edited(example, set_value, key, "{trigger}, a tree")
    assert len(lines) == 2 and lines[1].endswith(
        'validation: {prompts: ["{trigger}, a tree"], every: 250}   # contact sheets in the cache'
    )
