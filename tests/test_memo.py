"""plan/memo.py: a whole build leaves out the included files the last complete build recorded as
unchanged, and plans exactly what a full plan would.

Each edit below is made to a built project; the plan of a project opened with `settle` (the
skipped files' entries settled) must equal the plan of the same project opened in full, and
the build that follows must rebuild what the full plan says."""

from __future__ import annotations

import json
import re

import pytest
from conftest import PALETTE, Proj, pb

from pixelbuild.cache.lockshards import SHARDS_DIR
from pixelbuild.plan import memo
from pixelbuild.run.project import open_project

ROOT = """\
project: {size: 16, palette: x, generate: {canvas: 32}}
include: ["art/*.yaml"]
palettes:
  x: {file: palettes/x.hex}
sprites:
  hero: {prompt: a red knight}
"""
FILES = {
    "art/forest.yaml": "sprites:\n  oak: {prompt: an oak tree}\n  pine: {prompt: a pine tree}\n",
    "art/caves.yaml": "sprites:\n  bat: {prompt: a bat}\ntilesets:\n"
    "  rock: {prompt: cave rock, variants: 2}\n",
    "art/town.yaml": 'animations:\n  flag: {prompt: "a flag, frame {i}", frames: 2}\n',
}


@pytest.fixture
def split(make_project) -> Proj:
    p = make_project(ROOT)
    for rel, text in FILES.items():
        p.write(rel, text)
    r = pb(p, "build", "--json")
    assert r.code == 0, r.err
    return p


def plans(p: Proj) -> tuple[dict, set[str]]:
    """The plan with settled files and the full plan, checked equal; (the plan, settled files)."""
    settled = open_project(p.dir, settle=True)
    try:
        quick = settled.plan()
        files = set(settled.settled.files)
    finally:
        settled.close()
    full = open_project(p.dir, readonly=True)
    try:
        whole = full.plan()
    finally:
        full.close()
    seen = {
        "stale": {e.name: e.reasons for e in quick.stale},
        "removed": quick.removed,
        "up_to_date": quick.up_to_date,
    }
    assert seen == {
        "stale": {e.name: e.reasons for e in whole.stale},
        "removed": whole.removed,
        "up_to_date": whole.up_to_date,
    }
    return seen, files


def edit(p: Proj, rel: str, old: str, new: str) -> None:
    path = p.dir / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def build(p: Proj) -> dict:
    r = pb(p, "build", "--json")
    assert r.code == 0, r.err
    return r.json


def test_an_edit_plans_only_its_file_and_rebuilds_only_its_entry(split):
    assert set(json.loads((split.dir / ".pixelbuild" / "memo.json").read_text())["files"]) == set(
        FILES
    )
    edit(split, "art/forest.yaml", "an oak tree", "a birch tree")
    seen, files = plans(split)
    assert files == {"art/caves.yaml", "art/town.yaml"}  # forest is parsed, the others are not
    assert seen["stale"] == {"oak": ["prompt changed"]}
    project = open_project(split.dir, settle=True)
    try:
        assert sorted(t.name for t in project.targets) == ["hero", "oak", "pine"]
    finally:
        project.close()
    assert build(split)["rebuilt"] == ["oak"]
    assert pb(split, "build", "--locked").code == 0
    # the next edit skips forest again: the build recorded it anew
    edit(split, "art/town.yaml", "a flag", "a banner")
    assert plans(split)[1] == {"art/caves.yaml", "art/forest.yaml"}
    assert build(split)["rebuilt"] == ["flag"]


@pytest.mark.parametrize(
    ("rel", "old", "new", "expect"),
    [
        ("art/caves.yaml", "  bat: {prompt: a bat}\n", "", {"removed": ["bat"]}),
        ("art/caves.yaml", "  bat:", "  mole: {prompt: a mole}\n  bat:", {"rebuilt": ["mole"]}),
        ("pixels.yaml", "a red knight", "a blue knight", {"rebuilt": ["hero"]}),
        ("pixels.yaml", "size: 16", "size: 24", {"all": True}),
        ("palettes/x.hex", "ffffff", "fefefe", {"all": True}),
        ("art/caves.yaml", "variants: 2", "variants: 3", {"rebuilt": ["rock"]}),
    ],
)
def test_every_kind_of_edit_plans_as_a_full_plan_does(split, rel, old, new, expect):
    edit(split, rel, old, new)
    seen, _ = plans(split)
    result = build(split)
    if expect.get("all"):
        assert len(result["rebuilt"]) == 6 and not seen["up_to_date"]
    elif "removed" in expect:
        assert result["removed"] == expect["removed"] and not result["rebuilt"]
    else:
        assert result["rebuilt"] == expect["rebuilt"]
    plans(split)
    assert pb(split, "build", "--locked").code == 0


def test_an_entry_moved_between_files_keeps_its_outputs_and_moves_shard(split):
    edit(split, "art/forest.yaml", "  pine: {prompt: a pine tree}\n", "")
    edit(split, "art/caves.yaml", "  bat:", "  pine: {prompt: a pine tree}\n  bat:")
    seen, files = plans(split)
    assert files == {"art/town.yaml"} and not seen["stale"] and not seen["removed"]
    assert build(split)["rebuilt"] == []
    caves = json.loads((split.dir / SHARDS_DIR / "art/caves.yaml.lock").read_text())
    assert "pine" in caves["entries"]


def test_an_output_of_a_skipped_file_deleted_or_edited_is_rebuilt(split):
    edit(split, "art/forest.yaml", "an oak tree", "a birch tree")
    (split.assets / "sprites" / "bat.png").unlink()
    seen, files = plans(split)
    assert "art/caves.yaml" not in files
    assert seen["stale"] == {"oak": ["prompt changed"], "bat": ["output missing: sprites/bat.png"]}
    assert sorted(build(split)["rebuilt"]) == ["bat", "oak"]


def test_a_lock_shard_edited_by_hand_is_checked_again(split):
    shard = split.dir / SHARDS_DIR / "art/caves.yaml.lock"
    body = json.loads(shard.read_text())
    body["entries"]["bat"]["key"] = "0" * 32
    shard.write_text(json.dumps(body, indent=2))
    seen, files = plans(split)
    assert "art/caves.yaml" not in files and "bat" in seen["stale"]
    assert build(split)["rebuilt"] == ["bat"]


def test_names_and_patterns_that_reach_into_a_skipped_file_plan_in_full(split):
    # an atlas in pixels.yaml whose pattern matches entries of skipped files
    edit(split, "pixels.yaml", "sprites:\n", "atlases:\n  world: {include: ['*']}\nsprites:\n")
    seen, files = plans(split)
    assert files == set() and seen["stale"] == {"world": ["new entry"]}
    assert build(split)["rebuilt"] == ["world"]
    # its members are read by another entry now: no file is recorded as standing alone
    assert json.loads((split.dir / ".pixelbuild" / "memo.json").read_text())["files"] == {}


def test_an_animation_based_on_a_sprite_of_a_skipped_file(split):
    # On an SDXL engine an animation's frames derive from its base sprite's image: planning it
    # asks for the sprite's steps, which a skipped file does not have: the plan is made in full.
    # (Planned only, not built: the model is a stub folder.)
    edit(split, "pixels.yaml", "palettes:", "models:\n  stub: {path: models/stub}\npalettes:")
    split.write("models/stub/model_index.json", "{}")
    assert build(split)["rebuilt"] == []  # a model no entry uses yet
    edit(split, "art/town.yaml", "frames: 2}", "frames: 2, base: bat, engine: diffusers, "
         "model: stub}")  # fmt: skip
    seen, files = plans(split)
    assert files == set()
    assert {"base added", "engine changed"} <= set(seen["stale"]["flag"])


def test_a_name_taken_from_a_skipped_file_is_the_full_plans_located_error(split):
    edit(split, "pixels.yaml", "  hero:", "  bat: {prompt: another bat}\n  hero:")
    r = pb(split, "build")
    assert r.code != 0
    assert "art/caves.yaml:2:3: sprite 'bat' is already defined in pixels.yaml:6" in r.err
    assert "Traceback" not in r.err


def test_a_damaged_memo_is_ignored(split):
    (split.dir / ".pixelbuild" / "memo.json").write_text("{not json")
    edit(split, "art/forest.yaml", "an oak tree", "a birch tree")
    assert plans(split)[1] == set()
    assert build(split)["rebuilt"] == ["oak"]
    assert memo.MEMO_NAME in {p.name for p in (split.dir / ".pixelbuild").iterdir()}


def test_an_input_file_changed_under_a_skipped_file_is_seen(make_project):
    p = make_project(ROOT.replace("include", "#"))
    p.write("pixels.yaml", ROOT)
    p.write("art/cards.yaml", "sprites:\n  card: {image: art/card.png, size: 4}\n")
    p.write("art/forest.yaml", FILES["art/forest.yaml"])
    from PIL import Image

    Image.new("RGB", (4, 4), "#be2633").save(p.dir / "art" / "card.png")
    assert sorted(build(p)["rebuilt"]) == ["card", "hero", "oak", "pine"]
    edit(p, "art/forest.yaml", "an oak tree", "a birch tree")
    Image.new("RGB", (4, 4), "#44891a").save(p.dir / "art" / "card.png")
    seen, files = plans(p)
    assert files == set() and sorted(seen["stale"]) == ["card", "oak"]
    assert PALETTE  # the palette file the fixture wrote is the project's


def test_a_new_hub_revision_of_a_model_is_seen_by_the_no_op_and_the_memo(
    tiny_sdxl, make_project, tmp_path, monkeypatch
):
    """`hf download` moving a model's ref changes its digest: the fast no-op and a memo must
    not answer from before (the ref is one of the project's inputs)."""
    from conftest import fake_hub

    repo = "acme/tiny-xl"
    hub = fake_hub(tmp_path / "hub", repo, tiny_sdxl.folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    p = make_project(
        ROOT.replace("palettes:", f"models:\n  tiny: {{repo: {repo}}}\npalettes:").replace(
            "hero: {prompt: a red knight}",
            "hero: {prompt: a red knight, engine: diffusers, model: tiny, steps: 2, canvas: 64}",
        )
    )
    p.write("art/forest.yaml", FILES["art/forest.yaml"])
    first = pb(p, "build", "--device", "cpu", "--json")
    assert first.code == 0, first.err
    assert sorted(first.json["rebuilt"]) == ["hero", "oak", "pine"]
    snapshots = hub / f"models--{repo.replace('/', '--')}" / "snapshots"

    def download(commit: str) -> None:
        current = next(snapshots.iterdir())
        current.rename(snapshots / commit)
        (snapshots.parent / "refs" / "main").write_text(commit)

    download("1" * 40)  # nothing else changed: the fast no-op must not answer
    again = pb(p, "build", "--device", "cpu", "--json")
    assert again.code == 0, again.err
    assert again.json["rebuilt"] == ["hero"]
    download("2" * 40)  # and an edit elsewhere: the memo must not skip what reads it
    edit(p, "art/forest.yaml", "an oak tree", "a birch tree")
    seen, _ = plans(p)
    assert sorted(seen["stale"]) == ["hero", "oak"]
    assert seen["stale"]["hero"] == ["model changed"]


def test_random_edits_plan_as_full_plans_do(split):
    """Thirty random edits, each planned both ways and built: never a difference."""
    import random

    rng = random.Random(11)
    names = iter(f"n{i}" for i in range(1000))
    files = ["art/forest.yaml", "art/caves.yaml", "art/town.yaml"]

    def entries(rel: str) -> list[str]:
        return [
            line.split(":")[0].strip()
            for line in (split.dir / rel).read_text().splitlines()
            if line.startswith("  ") and "prompt" in line
        ]

    def sprite_lines(rel: str) -> list[str]:
        return [ln for ln in (split.dir / rel).read_text().splitlines() if "prompt: " in ln]

    for step in range(30):
        rel = rng.choice(files)
        text = (split.dir / rel).read_text()
        lines = sprite_lines(rel)
        action = rng.choice(["prompt", "seed", "add", "remove", "move", "touch", "atlas", "out"])
        if action == "prompt" and lines:
            line = rng.choice(lines)
            quote = '"' if 'prompt: "' in line else ""
            edited = line.replace(f"prompt: {quote}", f"prompt: {quote}{step} ")
            text = text.replace(line, edited, 1)
        elif action == "seed" and lines and "frames" not in (line := rng.choice(lines)):
            edited = re.sub(r", seed: \d+", "", line).replace("}", f", seed: {step}}}")
            text = text.replace(line, edited, 1)
        elif action == "add":
            section = "sprites:\n" if "sprites:" in text else None
            if section:
                text = text.replace(section, f"{section}  {next(names)}: {{prompt: new {step}}}\n")
        elif action == "remove" and len(lines) > 1:
            text = text.replace(rng.choice(lines) + "\n", "", 1)
        elif action == "move" and lines and "frames" not in (line := rng.choice(lines)):
            other = rng.choice([f for f in files if f != rel])
            other_text = (split.dir / other).read_text()
            if "sprites:\n" in other_text and "tilesets" not in line:
                text = text.replace(line + "\n", "", 1)
                split.write(other, other_text.replace("sprites:\n", f"sprites:\n{line}\n", 1))
        elif action == "touch":
            (split.dir / rel).write_text(text)  # same text, new mtime
        elif action == "atlas" and "atlases:" not in text and entries(rel):
            text += f"atlases:\n  sheet{step}: {{include: [{entries(rel)[0]}]}}\n"
        elif action == "out" and lines and "frames" not in (line := rng.choice(lines)):
            name = line.split(":")[0].strip()
            if "out:" not in line:
                text = text.replace(line, line.replace("}", f", out: moved/{name}.png}}"), 1)
        split.write(rel, text)
        seen, _ = plans(split)
        result = build(split)
        assert sorted(result["rebuilt"]) == sorted(seen["stale"]), (step, action)
        assert sorted(result["removed"]) == sorted(seen["removed"]), (step, action)
        assert pb(split, "build", "--locked").code == 0, (step, action)
