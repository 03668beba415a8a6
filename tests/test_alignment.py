"""Frame alignment: metrics equal known shifts, align() undoes them exactly, crops are refused."""

from __future__ import annotations

import numpy as np
import pytest

from pixelbuild.assemble.alignment import (
    FOOT_ROWS,
    Shift,
    Thresholds,
    align,
    frame_metrics,
    measure,
    shift_frame,
    warnings,
)


def sprite(h: int = 24, w: int = 20) -> np.ndarray:
    """A little figure: a head, a body, two feet (cols 6-7 and 11-12) standing on row 17."""
    rng = np.random.default_rng(0)
    a = np.zeros((h, w, 4), np.uint8)
    mask = np.zeros((h, w), bool)
    mask[4:8, 7:12] = True  # head
    mask[8:14, 5:14] = True  # body
    mask[14:18, 6:8] = True  # left leg
    mask[14:18, 11:13] = True  # right leg
    a[mask, :3] = rng.integers(1, 255, (int(mask.sum()), 3), dtype=np.uint8)
    a[mask, 3] = 255
    return a


def test_shift_frame_moves_and_fills_with_transparent():
    a = sprite()
    h, w = a.shape[:2]
    b = shift_frame(a, 2, -3)  # 2 right, 3 up
    assert np.array_equal(b[: h - 3, 2:], a[3:, : w - 2])
    assert (b[h - 3 :] == 0).all() and (b[:, :2] == 0).all()
    assert np.array_equal(shift_frame(b, -2, 3), a)  # nothing opaque was lost
    assert (shift_frame(a, 100, 0) == 0).all()


def test_metrics_of_one_frame():
    m = frame_metrics(sprite())
    assert m.baseline == 17
    # the lowest FOOT_ROWS rows hold the two legs: columns 6, 7, 11, 12 -> mean 9, centre 9.5
    assert FOOT_ROWS <= 4
    assert m.anchor == pytest.approx(9.5)
    assert m.area == 4 * 5 + 6 * 9 + 2 * 4 * 2
    assert m.box == (4, 5, 17, 13)
    empty = frame_metrics(np.zeros((8, 8, 4), np.uint8))
    assert (empty.baseline, empty.anchor, empty.area, empty.box) == (None, None, 0, None)


SHIFTS = [(0, 0), (1, 0), (0, -2), (-1, 3), (0, 0), (2, 1), (0, 0)]  # (dx, dy) per frame


def jittered() -> list[np.ndarray]:
    base = sprite()
    return [shift_frame(base, dx, dy) for dx, dy in SHIFTS]


def test_metrics_equal_the_known_shifts():
    m = measure(jittered())
    assert [f.baseline for f in m.frames] == [17 + dy for _, dy in SHIFTS]
    assert [f.anchor for f in m.frames] == pytest.approx([9.5 + dx for dx, _ in SHIFTS])
    dxs, dys = zip(*SHIFTS, strict=True)
    assert m.baseline_jitter == max(dys) - min(dys) == 5
    assert m.anchor_jitter == pytest.approx(max(dxs) - min(dxs))
    assert m.area_variation == 0.0  # shifted copies: the same silhouette
    assert (m.baseline, m.anchor) == (17, 9.5)  # the lower medians: the unshifted frame


def test_align_recovers_the_unshifted_frames_exactly():
    base = sprite()
    aligned, shifts = align(jittered())
    for i, (frame, (dx, dy)) in enumerate(zip(aligned, SHIFTS, strict=True)):
        assert np.array_equal(frame, base), i
        assert shifts[i] == Shift(-dx, -dy, -dx, -dy)
        assert not shifts[i].clamped
    again = measure(aligned)
    assert (again.baseline_jitter, again.anchor_jitter) == (0, 0.0)


def test_align_to_the_median_when_no_frame_is_unshifted():
    # every frame moved; they still all land on one of them (the lower median)
    base = sprite()
    frames = [shift_frame(base, dx, dy) for dx, dy in [(1, 1), (-1, 2), (2, -1), (0, 3)]]
    aligned, _ = align(frames)
    assert all(np.array_equal(a, aligned[0]) for a in aligned)
    m = measure(aligned)
    assert (m.baseline, m.anchor) == (17 + 1, 9.5 + 0)


def test_align_does_not_push_opaque_pixels_off_the_canvas():
    base = sprite()  # head from row 4, feet on row 17
    high = shift_frame(base, 0, -4)  # head on row 0, feet on row 13: the reference
    tall = base.copy()
    tall[0:4, 9] = (10, 20, 30, 255)  # an antenna up to row 0 above feet on row 17
    frames = [high, high, high, tall]
    aligned, shifts = align(frames)
    s = shifts[3]
    assert (s.wanted_dy, s.dy, s.clamped) == (-4, 0, True)  # up 4 would cut the antenna
    assert np.array_equal(aligned[3], tall)  # so it moved as far as fits: not at all
    assert all(np.array_equal(a, high) for a in aligned[:3])
    text = warnings("walk_s", frames)
    assert any(t.startswith("walk_s: frame 3 only partly aligned") for t in text), text
    # a shift that fits in part goes that far
    half = base.copy()
    half[2:4, 9] = (10, 20, 30, 255)  # room for 2 of the 4 rows
    aligned, shifts = align([high, high, half])
    assert (shifts[2].dy, shifts[2].wanted_dy) == (-2, -4)
    assert np.array_equal(aligned[2], shift_frame(half, 0, -2))
    assert (aligned[2][0, :, 3] > 0).any()  # the antenna now touches the top row, uncut
    assert int((aligned[2][..., 3] > 0).sum()) == int((half[..., 3] > 0).sum())


def test_align_horizontal_limit_and_axes():
    base = sprite()
    wide = np.zeros_like(base)
    wide[10, 0] = (1, 1, 1, 255)  # a pixel on the left edge
    wide[17, 16:18] = (1, 1, 1, 255)  # feet far right: anchor 17
    frames = [base, base, wide]
    _, shifts = align(frames)
    assert shifts[2].wanted_dx == -8 and shifts[2].dx == 0 and shifts[2].clamped
    _, shifts = align(jittered(), vertical=False)
    assert [s.dy for s in shifts] == [0] * len(SHIFTS)
    assert [s.dx for s in shifts] == [-dx for dx, _ in SHIFTS]
    _, shifts = align(jittered(), horizontal=False)
    assert [s.dx for s in shifts] == [0] * len(SHIFTS)


def test_area_variation_of_a_shrinking_silhouette():
    frames = []
    areas = []
    for r in (8, 7, 6, 5, 4):  # a square shrinking from 8x8 to 4x4, feet kept on row 19
        a = np.zeros((24, 24, 4), np.uint8)
        a[20 - r : 20, 12 - r // 2 : 12 - r // 2 + r] = (200, 100, 50, 255)
        frames.append(a)
        areas.append(r * r)
    m = measure(frames)
    expected = float(np.std(areas) / np.mean(areas))
    assert m.area_variation == pytest.approx(expected)
    assert m.baseline_jitter == 0
    text = warnings("idle_s", frames)
    assert any(t.startswith("idle_s: silhouette area varies") for t in text), text
    assert not any("feet jitter" in t for t in text)
    # the same silhouette throughout: nothing to say
    assert warnings("idle_s", [frames[0]] * 4) == []


def test_warnings_name_the_jitter():
    text = warnings("walk_s", jittered())
    assert "walk_s: feet jitter 5 px (baseline varies 15..20)" in text
    assert any(t.startswith("walk_s: feet drift 3.0 px sideways") for t in text), text
    assert warnings("walk_s", jittered(), Thresholds(baseline_px=5, anchor_px=3)) == []


def test_empty_frames_and_bad_input():
    base = sprite()
    empty = np.zeros_like(base)
    aligned, shifts = align([base, empty, shift_frame(base, 0, 1)])
    assert np.array_equal(aligned[1], empty) and shifts[1] == Shift(0, 0, 0, 0)
    assert "walk_s: frame 1 empty" in warnings("walk_s", [base, empty, base])
    assert measure([]).baseline is None and align([]) == ([], [])
    with pytest.raises(ValueError, match="share a size"):
        measure([base, base[:-1]])
    with pytest.raises(ValueError, match="RGBA uint8"):
        measure([base[..., :3]])
