"""The atlas packer: placements never overlap, stay inside, honour padding and extrusion."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelbuild.assemble import Placement, atlas_image, pack_rects
from pixelbuild.assemble.pack import SORTS, _maxrects, _maxrects_py, search_size

sizes_strategy = st.lists(
    st.tuples(st.integers(1, 48), st.integers(1, 48)), min_size=1, max_size=40
)


def check_layout(size, placements, sizes, padding, extrude, max_size=4096) -> None:
    tex_w, tex_h = size
    assert 1 <= tex_w <= max_size and 1 <= tex_h <= max_size
    assert len(placements) == len(sizes)
    boxes = []
    for p, (w, h) in zip(placements, sizes, strict=True):
        assert (p.width, p.height) == (w, h)
        box = (p.x - extrude, p.y - extrude, p.x + w + extrude, p.y + h + extrude)
        assert box[0] >= 0 and box[1] >= 0, (box, size)
        assert box[2] <= tex_w and box[3] <= tex_h, (box, size)
        boxes.append(box)
    b = np.array(boxes)
    if len(b) > 1:
        # Extruded boxes are at least `padding` apart on x or on y, for every pair.
        apart_x = (b[:, None, 2] + padding <= b[None, :, 0]) | (
            b[None, :, 2] + padding <= b[:, None, 0]
        )
        apart_y = (b[:, None, 3] + padding <= b[None, :, 1]) | (
            b[None, :, 3] + padding <= b[:, None, 1]
        )
        ok = apart_x | apart_y
        np.fill_diagonal(ok, True)
        assert ok.all(), [(boxes[i], boxes[j]) for i, j in zip(*np.nonzero(~ok), strict=True)][:3]


@settings(max_examples=100, deadline=None)
@given(sizes=sizes_strategy, padding=st.integers(0, 3), extrude=st.integers(0, 2))
def test_packed_rects_are_disjoint_inside_and_padded(sizes, padding, extrude) -> None:
    size, placements = pack_rects(sizes, padding=padding, extrude=extrude)
    check_layout(size, placements, sizes, padding, extrude)
    # No texture is smaller than the area the cells need (a sanity bound on the search).
    need = sum((w + 2 * extrude) * (h + 2 * extrude) for w, h in sizes)
    assert size[0] * size[1] >= need


@settings(max_examples=60, deadline=None)
@given(sizes=sizes_strategy, padding=st.integers(0, 2), extrude=st.integers(0, 1))
def test_power_of_two(sizes, padding, extrude) -> None:
    (w, h), placements = pack_rects(sizes, padding=padding, extrude=extrude, power_of_two=True)
    assert w & (w - 1) == 0 and h & (h - 1) == 0
    check_layout((w, h), placements, sizes, padding, extrude)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=30))
def test_max_size_is_honoured_or_refused(sizes) -> None:
    try:
        size, placements = pack_rects(sizes, padding=1, max_size=64)
    except ValueError as err:
        assert "64x64" in str(err)
    else:
        check_layout(size, placements, sizes, 1, 0, max_size=64)


@settings(max_examples=60, deadline=None)
@given(
    sizes=sizes_strategy,
    bin_w=st.integers(20, 200),
    bin_h=st.integers(20, 200),
    sort=st.sampled_from(sorted(SORTS)),
)
def test_numpy_and_python_maxrects_agree(sizes, bin_w, bin_h, sort) -> None:
    # pack_rects uses the Python one on small inputs and the numpy one on large ones.
    assert _maxrects(sizes, bin_w, bin_h, sort) == _maxrects_py(sizes, bin_w, bin_h, sort)


def test_perfect_fit_is_found() -> None:
    assert pack_rects([(16, 16)] * 16, padding=0)[0] == (64, 64)
    assert pack_rects([(16, 16)] * 16, padding=0, power_of_two=True)[0] == (64, 64)
    # With padding 1 between them, 4 across need 4*16 + 3 = 67 pixels.
    assert pack_rects([(16, 16)] * 16, padding=1)[0] == (67, 67)
    assert pack_rects([(16, 16)] * 16, padding=1, power_of_two=True)[0] == (128, 64)


def test_occupancy_is_reasonable_on_mixed_sizes() -> None:
    rng = np.random.default_rng(7)
    sizes = [tuple(int(v) for v in rng.integers(8, 65, 2)) for _ in range(200)]
    (w, h), placements = pack_rects(sizes, padding=0)
    check_layout((w, h), placements, sizes, 0, 0)
    occupancy = sum(a * b for a, b in sizes) / (w * h)
    assert occupancy > 0.85, occupancy


def test_refusal_names_the_sizes() -> None:
    with pytest.raises(ValueError, match="5000x10"):
        pack_rects([(8, 8), (5000, 10)])
    with pytest.raises(ValueError, match=r"do not fit together.*30x30"):
        pack_rects([(30, 30)] * 5, padding=1, max_size=64)
    with pytest.raises(ValueError, match="at least 1x1"):
        pack_rects([(0, 4)])
    assert pack_rects([]) == ((1, 1), [])


def test_same_input_same_output_even_across_hash_seeds() -> None:
    rng = np.random.default_rng(3)
    sizes = [tuple(int(v) for v in rng.integers(4, 40, 2)) for _ in range(120)]
    first = pack_rects(sizes, padding=1, extrude=1)
    assert pack_rects(list(sizes), padding=1, extrude=1) == first
    code = (
        "import json, sys; from pixelbuild.assemble import pack_rects;"
        "s = [tuple(x) for x in json.loads(sys.argv[1])];"
        "size, p = pack_rects(s, padding=1, extrude=1);"
        "print(json.dumps([size, [(q.x, q.y) for q in p]]))"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", code, json.dumps(sizes)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1
    size, positions = json.loads(outputs.pop())
    assert tuple(size) == first[0]
    assert [tuple(p) for p in positions] == [(q.x, q.y) for q in first[1]]


def test_search_size_accepts_another_packer() -> None:
    calls = []

    def shelf(cells, bin_w, bin_h):
        calls.append((bin_w, bin_h))
        x = y = row = 0
        out = []
        for w, h in cells:
            if x + w > bin_w:
                x, y, row = 0, y + row, 0
            if w > bin_w or y + h > bin_h:
                return None
            out.append((x, y))
            x, row = x + w, max(row, h)
        return out

    (w, h), positions = search_size([(10, 10)] * 9, shelf)
    assert calls and (w, h) == (30, 30)
    assert sorted(positions) == sorted((x, y) for x in (0, 10, 20) for y in (0, 10, 20))


def test_atlas_image_places_and_extrudes() -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(1, 256, (h, w, 4), dtype=np.uint8) for w, h in [(5, 3), (4, 6), (2, 2)]]
    sizes = [(im.shape[1], im.shape[0]) for im in images]
    for extrude in (0, 2):
        size, placements = pack_rects(sizes, padding=1, extrude=extrude)
        atlas = atlas_image(images, size, placements, extrude=extrude)
        assert atlas.shape == (size[1], size[0], 4) and atlas.dtype == np.uint8
        covered = np.zeros(atlas.shape[:2], dtype=bool)
        for image, p in zip(images, placements, strict=True):
            np.testing.assert_array_equal(atlas[p.y : p.y + p.height, p.x : p.x + p.width], image)
            e = extrude
            block = atlas[p.y - e : p.y + p.height + e, p.x - e : p.x + p.width + e]
            np.testing.assert_array_equal(block, np.pad(image, ((e, e), (e, e), (0, 0)), "edge"))
            covered[p.y - e : p.y + p.height + e, p.x - e : p.x + p.width + e] = True
        assert not atlas[~covered].any()  # padding and free space stay transparent


def test_atlas_image_refuses_mismatch() -> None:
    with pytest.raises(ValueError, match="placement"):
        atlas_image([np.zeros((4, 4, 4), np.uint8)], (8, 8), [Placement(0, 0, 5, 4)])
    with pytest.raises(ValueError, match="outside"):
        atlas_image([np.zeros((4, 4, 4), np.uint8)], (8, 8), [Placement(0, 0, 4, 4)], extrude=1)
