"""Aseprite JSON against a hand-written schema of its `--data` format, and the Rust module."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pixelbuild.assemble import (
    Frame,
    GridLayout,
    RustAnimation,
    RustTexture,
    Tag,
    aseprite_json,
    rust_module,
)
from pixelbuild.assemble.aseprite import SheetAnimation

RECT = {"x": int, "y": int, "w": int, "h": int}
SIZE = {"w": int, "h": int}
FRAME = {
    "frame": RECT,
    "rotated": bool,
    "trimmed": bool,
    "spriteSourceSize": RECT,
    "sourceSize": SIZE,
    "duration": int,
}
TAG = {"name": str, "from": int, "to": int, "direction": str}
META = {
    "app": str,
    "version": str,
    "image": str,
    "format": str,
    "size": SIZE,
    "scale": str,
    "frameTags": [TAG],
}


def conforms(value, schema, where="$") -> None:
    """Assert `value` has every key of `schema` with the right type (lists: each item)."""
    if isinstance(schema, dict):
        assert isinstance(value, dict), f"{where}: expected an object"
        for key, sub in schema.items():
            assert key in value, f"{where}: missing {key!r}"
            conforms(value[key], sub, f"{where}.{key}")
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where}: expected an array"
        for i, item in enumerate(value):
            conforms(item, schema[0], f"{where}[{i}]")
    else:
        ok = isinstance(value, schema) and not (schema is int and isinstance(value, bool))
        assert ok, f"{where}: {value!r} is not {schema.__name__}"


def check_aseprite(document: dict, form: str) -> list[tuple[str, dict]]:
    """Schema-check a parsed document; return `(name, frame)` pairs in order.

    `animations` (TexturePacker's map, for pixi) is there exactly when there are frameTags, and
    lists each tag's frame names, in tag order."""
    tags = document["meta"]["frameTags"]
    keys = ["frames", "animations", "meta"] if tags else ["frames", "meta"]
    assert list(document) == keys
    conforms(document["meta"], META, "$.meta")
    meta = document["meta"]
    assert meta["format"] == "RGBA8888" and meta["scale"] == "1"
    if form == "hash":
        assert isinstance(document["frames"], dict)
        pairs = list(document["frames"].items())
    else:
        assert isinstance(document["frames"], list)
        pairs = [(f["filename"], f) for f in document["frames"]]
    for name, frame in pairs:
        conforms(frame, FRAME, f"$.frames[{name!r}]")
        r = frame["frame"]
        assert frame["rotated"] is False and frame["trimmed"] is False
        assert frame["spriteSourceSize"] == {"x": 0, "y": 0, "w": r["w"], "h": r["h"]}
        assert frame["sourceSize"] == {"w": r["w"], "h": r["h"]}
        assert r["x"] >= 0 and r["y"] >= 0 and r["w"] > 0 and r["h"] > 0
        assert r["x"] + r["w"] <= meta["size"]["w"] and r["y"] + r["h"] <= meta["size"]["h"]
        assert frame["duration"] > 0
    for tag in meta["frameTags"]:
        assert tag["direction"] in ("forward", "reverse", "pingpong", "pingpong_reverse")
        assert 0 <= tag["from"] <= tag["to"] < len(pairs)
    if tags:
        assert list(document["animations"]) == [t["name"] for t in tags]
        for t in tags:
            in_range = [n for n, _ in pairs[t["from"] : t["to"] + 1]]
            assert document["animations"][t["name"]] == in_range, t["name"]
    return pairs


FRAMES = [Frame(f"walk {i}", 16 * i, 0, 16, 24, 80 + i) for i in range(4)] + [
    Frame("idle", 0, 24, 20, 20)
]
TAGS = [Tag("walk", 0, 3, "pingpong"), Tag("idle", 4, 4, "forward")]


@pytest.mark.parametrize("form", ["hash", "array"])
def test_aseprite_json_matches_schema(form) -> None:
    text = aseprite_json("sheet.png", (64, 44), FRAMES, TAGS, form=form)
    assert text.endswith("}\n")
    document = json.loads(text)
    pairs = check_aseprite(document, form)
    assert [name for name, _ in pairs] == [f.name for f in FRAMES]
    assert [p[1]["frame"] for p in pairs] == [
        {"x": f.x, "y": f.y, "w": f.w, "h": f.h} for f in FRAMES
    ]
    assert [p[1]["duration"] for p in pairs] == [80, 81, 82, 83, 100]
    assert document["meta"]["image"] == "sheet.png"
    assert document["meta"]["size"] == {"w": 64, "h": 44}
    assert document["meta"]["frameTags"] == [
        {"name": "walk", "from": 0, "to": 3, "direction": "pingpong"},
        {"name": "idle", "from": 4, "to": 4, "direction": "forward"},
    ]
    assert aseprite_json("sheet.png", (64, 44), FRAMES, TAGS, form=form) == text


def test_grid_sheet_tags_also_fill_the_animations_map() -> None:
    document = json.loads(aseprite_json("sheet.png", (64, 44), FRAMES, TAGS))
    assert document["animations"] == {"walk": [f"walk {i}" for i in range(4)], "idle": ["idle"]}


# An atlas: two sprites around an animation's frames, named "walk/0".. as the plan names them.
ATLAS = [
    Frame("hero", 0, 0, 16, 16),
    Frame("walk/0", 16, 0, 8, 12),
    Frame("walk/1", 24, 0, 8, 12),
    Frame("walk/2", 16, 12, 8, 12),
    Frame("coin", 24, 12, 6, 6),
]
WALK = SheetAnimation("walk", ["walk/0", "walk/1", "walk/2"], "pingpong", [90, 110, 130])


@pytest.mark.parametrize("form", ["hash", "array"])
def test_atlas_animations_become_frame_tags_and_map(form) -> None:
    text = aseprite_json("items.png", (32, 32), ATLAS, form=form, animations=[WALK])
    document = json.loads(text)
    pairs = check_aseprite(document, form)
    assert [n for n, _ in pairs] == [f.name for f in ATLAS]
    assert document["meta"]["frameTags"] == [
        {"name": "walk", "from": 1, "to": 3, "direction": "pingpong"}
    ]
    assert document["animations"] == {"walk": ["walk/0", "walk/1", "walk/2"]}
    assert [f["duration"] for _, f in pairs] == [100, 90, 110, 130, 100]
    again = aseprite_json("items.png", (32, 32), ATLAS, form=form, animations=[WALK])
    assert again == text


def test_atlas_without_animations_keeps_aseprites_shape() -> None:
    document = json.loads(aseprite_json("items.png", (32, 32), ATLAS, animations=()))
    assert list(document) == ["frames", "meta"] and document["meta"]["frameTags"] == []


def test_tags_and_animations_together_keep_their_order() -> None:
    tags = [Tag("hero", 0, 0)]
    document = json.loads(aseprite_json("i.png", (32, 32), ATLAS, tags, animations=[WALK]))
    check_aseprite(document, "hash")
    assert list(document["animations"]) == ["hero", "walk"]
    assert [t["name"] for t in document["meta"]["frameTags"]] == ["hero", "walk"]


def test_animation_without_durations_keeps_the_frames() -> None:
    frames = [Frame("a/0", 0, 0, 8, 8, 40), Frame("a/1", 8, 0, 8, 8, 60)]
    document = json.loads(
        aseprite_json("a.png", (16, 8), frames, animations=[SheetAnimation("a", ["a/0", "a/1"])])
    )
    assert [f["duration"] for f in document["frames"].values()] == [40, 60]
    assert document["meta"]["frameTags"][0]["direction"] == "forward"


@pytest.mark.parametrize(
    ("animations", "tags", "form", "match"),
    [
        ([SheetAnimation("w", ["walk/0", "nope"])], (), "hash", "not in the sheet"),
        ([SheetAnimation("w", ["walk/0", "walk/2"])], (), "hash", "consecutive"),
        ([SheetAnimation("w", ["walk/1", "walk/0"])], (), "hash", "consecutive"),
        ([SheetAnimation("w", [])], (), "hash", "no frames"),
        ([SheetAnimation("w", ["walk/0"], "loop")], (), "hash", "direction"),
        ([SheetAnimation("w", ["walk/0"], durations_ms=[1, 2])], (), "hash", "durations for"),
        ([SheetAnimation("w", ["walk/0"], durations_ms=[0])], (), "hash", "duration 0"),
        ([WALK, SheetAnimation("x", ["walk/0"], durations_ms=[5])], (), "hash", "different"),
        ([WALK], [Tag("walk", 0, 0)], "hash", "used twice"),
        ([WALK, WALK], (), "array", "used twice"),
    ],
)
def test_atlas_animations_refuse_bad_input(animations, tags, form, match) -> None:
    with pytest.raises(ValueError, match=match):
        aseprite_json("i.png", (32, 32), ATLAS, tags, form=form, animations=animations)


def test_array_form_animation_over_a_repeated_name_is_refused() -> None:
    frames = [Frame("a", 0, 0, 8, 8), Frame("a", 8, 0, 8, 8)]
    with pytest.raises(ValueError, match="repeated"):
        aseprite_json(
            "s.png", (16, 8), frames, form="array", animations=[SheetAnimation("t", ["a"])]
        )


def test_schema_check_can_fail() -> None:
    document = json.loads(aseprite_json("s.png", (64, 44), FRAMES))
    del document["frames"]["idle"]["duration"]
    with pytest.raises(AssertionError, match="duration"):
        check_aseprite(document, "hash")


@pytest.mark.parametrize(
    ("frames", "tags", "form", "match"),
    [
        ([Frame("a", 0, 0, 8, 8), Frame("a", 8, 0, 8, 8)], (), "hash", "unique"),
        ([Frame("a", 60, 0, 8, 8)], (), "hash", "outside"),
        ([Frame("a", 0, 0, 8, 8)], [Tag("t", 0, 1, "forward")], "hash", "not in"),
        ([Frame("a", 0, 0, 8, 8)], [Tag("t", 0, 0, "loop")], "hash", "direction"),
        ([Frame("a", 0, 0, 8, 8)], (), "list", "form"),
    ],
)
def test_aseprite_json_refuses_bad_input(frames, tags, form, match) -> None:
    with pytest.raises(ValueError, match=match):
        aseprite_json("s.png", (64, 44), frames, tags, form=form)


def test_aseprite_array_form_allows_repeated_names() -> None:
    frames = [Frame("a", 0, 0, 8, 8), Frame("a", 8, 0, 8, 8)]
    pairs = check_aseprite(
        json.loads(aseprite_json("s.png", (16, 8), frames, form="array")), "array"
    )
    assert [n for n, _ in pairs] == ["a", "a"]


# --- Rust module -------------------------------------------------------------------------------

TEXTURES = [
    RustTexture(
        "hero-walk",
        "sprites/hero-walk.png",
        sections=[f"walk-{i}" for i in range(6)],
        grid=GridLayout(32, 32, 3, 2, padding=1),
        animations=[
            RustAnimation("walk", 0, 3, "loop", [100, 100, 120, 100]),
            RustAnimation("turn", 4, 5, "pingpong"),
        ],
        strings={"assets": "sprites/hero-walk.assets.ron", "json": "sprites/hero-walk.json"},
    ),
    RustTexture(
        "items",
        'atlas/"items".png',
        sections=["potion red", "2 coins", "fn", "sword"],
        strings={"layout": "atlas/items.layout.ron"},
    ),
    RustTexture("type", "tiles/grass.png", grid=GridLayout(16, 16, 2, 2)),
]

MAIN = r"""
mod pixel_assets;
use pixel_assets::*;

fn main() {
    assert_eq!(hero_walk::IMAGE, "sprites/hero-walk.png");
    assert_eq!(hero_walk::ASSETS, "sprites/hero-walk.assets.ron");
    assert_eq!(hero_walk::TILE_SIZE, (32, 32));
    assert_eq!((hero_walk::COLUMNS, hero_walk::ROWS, hero_walk::PADDING), (3, 2, 1));
    assert_eq!(hero_walk::LEN, 6);
    assert_eq!(hero_walk::index::WALK_4, 4);
    assert_eq!(hero_walk::NAMES[5], "walk-5");
    assert_eq!(hero_walk::anim::WALK.indices().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(hero_walk::anim::WALK.frame_ms, &[100, 100, 120, 100]);
    assert_eq!(hero_walk::anim::TURN.playback, Playback::PingPong);
    assert_eq!(hero_walk::anim::TURN.len(), 2);
    assert_eq!(items::IMAGE, "atlas/\"items\".png");
    assert_eq!(items::index::POTION_RED, 0);
    assert_eq!(items::index::_2_COINS, 1);
    assert_eq!(items::index::FN, 2);
    assert_eq!(items::index::SWORD, 3);
    assert_eq!(items::LEN, 4);
    assert_eq!(r#type::LEN, 4);
    println!("ok");
}
"""


def test_rust_module_compiles_and_holds_the_values(tmp_path: Path) -> None:
    source = rust_module(TEXTURES)
    assert source.endswith("}\n")
    assert rust_module(TEXTURES) == source
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("rustc is not installed")
    (tmp_path / "pixel_assets.rs").write_text(source, encoding="utf-8")
    (tmp_path / "main.rs").write_text(MAIN, encoding="utf-8")
    build = subprocess.run(
        [rustc, "--edition", "2021", "-D", "warnings", "-o", str(tmp_path / "main"), "main.rs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr + "\n" + source
    run = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


@pytest.mark.parametrize(
    ("textures", "match"),
    [
        ([RustTexture("a-b", "x.png"), RustTexture("a_b", "y.png")], "both become"),
        ([RustTexture("a", "x.png", sections=["x y", "x-y"])], "both become"),
        ([RustTexture("a", "x.png", strings={"image": "z"})], "both become"),
        ([RustTexture("---", "x.png")], "no letters"),
        ([RustTexture("a", "x.png", ["s"], animations=[RustAnimation("w", 0, 1)])], "not in"),
        (
            [RustTexture("a", "x.png", ["s"], animations=[RustAnimation("w", 0, 0, "boing")])],
            "mode",
        ),
    ],
)
def test_rust_module_refuses_ambiguous_names(textures, match) -> None:
    with pytest.raises(ValueError, match=match):
        rust_module(textures)
