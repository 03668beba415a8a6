"""The procedural engine's characters: one design from every side, mirrored views, fixed feet."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pixelbuild.assemble.alignment import measure
from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.engines import get_engine
from pixelbuild.engines.base import GenerateRequest
from pixelbuild.engines.procedural import (
    MIRRORED_VIEWS,
    VIEW_ANGLES,
    VIEWS,
    character_design,
    character_feet_row,
    character_layers,
    design_prompt,
    paint_character,
)
from pixelbuild.pixel import builtin_palette, pixelize

PHRASE = {"s": "seen from the front", "n": "seen from the back", "w": "facing left"}


def req(view, frame=0, frames=1, prompt="a red knight", seed=3, size=64, **kw):
    w, h = (size, size) if isinstance(size, int) else size
    words = f"{prompt}, {PHRASE.get(view, f'facing {view}')}"
    if frames > 1:
        words += f", walk frame {frame + 1} of {frames}"
    return GenerateRequest(
        entry="e", prompt=words, seed=seed, width=w, height=h, view=view, frame=frame,
        frames=frames, **kw,
    )  # fmt: skip


# Digests of images painted before views existed (view None): they must never change.
UNCHANGED = [
    ("ef83297b1af67f57b4c314ad13b96592", dict(prompt="a red slime", seed=1, width=64, height=64)),
    ("72cb7a19d587757cb3cac3e3ae30ecde",
     dict(prompt="a knight walking, frame 2", seed=3, width=64, height=64, frame=2, frames=4)),
    ("88dc55a1039a4864058ec3697ae42859", dict(prompt="a stone golem", seed=7, width=48, height=80)),
    ("b02c1515b714eacaf1785acba01337d7",
     dict(prompt="a bat flying 1", seed=0, width=96, height=64, frame=1, frames=6)),
    ("8e84a764ae8c7a0b40685d9c46119510",
     dict(prompt="grass", seed=1, width=64, height=64, tileable=True)),
    ("65fb7fd4fde9ff4eb93bcf33a111e328",
     dict(prompt="a hero, facing left", seed=5, width=64, height=64, frame=3, frames=8)),
]  # fmt: skip


def test_view_none_paints_exactly_as_before():
    engine = get_engine("procedural")
    images = engine.generate([GenerateRequest(entry="e", **kw) for _, kw in UNCHANGED])
    assert [digest_bytes(i.tobytes()) for i in images] == [d for d, _ in UNCHANGED]


def test_the_engine_paints_characters_for_a_view():
    engine = get_engine("procedural")
    image = engine.generate([req("w", 2, 6)])[0]
    assert image.shape == (64, 64, 4) and image.dtype == np.uint8
    assert np.array_equal(image, paint_character(req("w", 2, 6)))
    with pytest.raises(ValueError, match="unknown view 'up'"):
        paint_character(req("up"))


def test_design_prompt_cuts_at_the_first_pose_marker():
    assert design_prompt("a red knight, facing left, walk frame 2 of 6") == "a red knight"
    assert design_prompt("pixel art, a red knight, seen from the back") == "pixel art, a red knight"
    assert design_prompt("a knight, Facing Left") == "a knight"
    assert design_prompt("a knight, seen from the front, facing left") == "a knight"
    assert design_prompt("a knight facing a dragon") == "a knight facing a dragon"  # no comma
    assert design_prompt("a red knight") == "a red knight"


def test_views_differ():
    idle = {v: paint_character(req(v)) for v in VIEWS}
    assert len({im.tobytes() for im in idle.values()}) == len(VIEWS)
    walking = {v: paint_character(req(v, 1, 4)) for v in VIEWS}
    assert len({im.tobytes() for im in walking.values()}) == len(VIEWS)
    # the front has two eyes, the side one, the back none
    d, _ = character_design(req("s"))
    eyes = {v: _blobs(character_layers(d, v)["eyes"]) for v in VIEW_ANGLES}
    assert eyes == {"s": 2, "sw": 2, "w": 1, "nw": 0, "n": 0}
    # the side is narrower than the front; the back has a cape, the front none
    width = {v: _width(character_layers(d, v)["body"]) for v in VIEW_ANGLES}
    assert width["w"] < width["s"] and width["sw"] < width["s"] == width["n"]
    upper = {v: int(character_layers(d, v)["body"][: 2 * d.body.shape[0]].sum()) for v in width}
    assert upper["w"] < upper["sw"] == upper["nw"] < upper["s"] == upper["n"]
    assert character_layers(d, "n")["cape"].any() and not character_layers(d, "s")["cape"].any()


@pytest.mark.parametrize(("mirrored", "painted"), sorted(MIRRORED_VIEWS.items()))
@pytest.mark.parametrize("size", [64, (48, 64), (40, 24)])
def test_mirrored_views_are_exact_mirror_images(mirrored, painted, size):
    for frame, frames in [(0, 1), (0, 6), (1, 6), (4, 6)]:
        a = paint_character(req(mirrored, frame, frames, size=size))
        b = paint_character(req(painted, frame, frames, size=size))
        assert np.array_equal(a, b[:, ::-1]), (frame, frames)
        assert not np.array_equal(a, b)


def test_every_view_and_frame_shares_one_design():
    first, _ = character_design(req("s"))
    for v in VIEWS:
        for frame, frames in [(0, 1), (2, 6), (5, 8)]:
            d, _ = character_design(req(v, frame, frames))
            for name in ("body", "spots", "base", "accent", "cape", "background"):
                assert np.array_equal(getattr(d, name), getattr(first, name)), (v, name)
            assert (d.cells, d.eye_row) == (first.cells, first.eye_row)
    other, _ = character_design(req("s", seed=4))
    assert not np.array_equal(other.body, first.body) or other.eye_row != first.eye_row
    blue, _ = character_design(req("s", prompt="a blue knight"))
    assert not np.allclose(blue.base, first.base)


def test_every_view_shows_the_same_main_colours():
    palette = builtin_palette("db32")

    def main_colours(view: str, prompt: str = "a red knight") -> set[tuple[int, ...]]:
        image = paint_character(req(view, prompt=prompt, size=256))
        px = pixelize(image, (32, 32), palette).reshape(-1, 4)
        found = Counter(tuple(map(int, p[:3])) for p in px if p[3])
        return {colour for colour, _ in found.most_common(3)}  # outline, body, its shade

    colours = {v: frozenset(main_colours(v)) for v in VIEWS}
    assert len(set(colours.values())) == 1, colours
    assert main_colours("s", "a blue knight") != colours["s"]


@pytest.mark.parametrize("size", [64, (48, 64), (64, 48), 256])
def test_feet_stay_on_one_row_in_every_frame_and_view(size):
    w, h = (size, size) if isinstance(size, int) else size
    feet = character_feet_row(w, h)
    lows = set()
    for seed in (1, 2):
        d, _ = character_design(req("s", seed=seed, size=size))
        for v in VIEW_ANGLES:
            for frame, frames in [(0, 1)] + [(i, 6) for i in range(6)]:
                body = character_layers(d, v, frame, frames)["body"]
                lows.add(int(np.flatnonzero(body.any(axis=1)).max()))
    assert len(lows) == 1, lows
    # on the canvas: the lowest row that is not background is the same everywhere too
    rows = set()
    for v in VIEWS:
        for frame, frames in [(0, 1), (0, 6), (1, 6), (3, 6)]:
            image = paint_character(req(v, frame, frames, size=size)).astype(int)
            differs = np.abs(image[..., :3] - image[0, 0, :3]).max(axis=2) > 60
            rows.add(int(np.flatnonzero(differs.any(axis=1)).max()))
            assert differs[feet].any()
    assert len(rows) == 1, rows


def test_pixelized_walk_cycles_have_no_jitter():
    palette = builtin_palette("db32")
    baselines = set()
    for v in VIEWS:
        frames = [pixelize(paint_character(req(v, i, 6, size=256)), (32, 32), palette)
                  for i in range(6)]  # fmt: skip
        m = measure(frames)
        assert m.baseline_jitter == 0, (v, [f.baseline for f in m.frames])
        baselines.add(m.baseline)
    assert len(baselines) == 1, baselines


@pytest.mark.parametrize("n", [2, 3, 4, 6, 8])
@pytest.mark.parametrize("view", sorted(VIEW_ANGLES))
def test_walk_frames_all_differ(view, n):
    frames = [paint_character(req(view, i, n)) for i in range(n)]
    same = [
        (i, j) for i in range(n) for j in range(i + 1, n) if np.array_equal(frames[i], frames[j])
    ]
    assert same == [], f"identical frames in a {n}-frame walk seen from {view}: {same}"


def _width(mask: np.ndarray) -> int:
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[-1] - cols[0] + 1)


def _blobs(mask: np.ndarray) -> int:
    """Connected pieces (4-neighbourhood) of a small mask."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        while stack:
            y, x = stack.pop()
            if not (0 <= y < mask.shape[0] and 0 <= x < mask.shape[1]):
                continue
            if seen[y, x] or not mask[y, x]:
                continue
            seen[y, x] = True
            stack += [(y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)]
    return count
