"""pixelize: properties (hypothesis) and behaviour of each option."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pixelbuild.pixel import (
    PixelParams,
    builtin_palette,
    palette_colors,
    pixelize,
    upscale,
)
from pixelbuild.pixel.alpha import TRANSPARENT, add_outline, flood_from_border, remove_orphans
from pixelbuild.pixel.dither import bayer_matrix, dither_period
from pixelbuild.pixel.oklab import oklab_to_srgb, srgb_to_oklab
from pixelbuild.pixel.quantize import nearest_index, palette_map

sys.path.insert(0, str(Path(__file__).parent))
from pixel_samples import (
    cell_accuracy,
    degrade,
    flatten,
    sample_set,
    upscale_nearest,
)

FAST = settings(
    max_examples=int(os.environ.get("PIXEL_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PALETTES = ["pico-8", "db32", "gameboy", "sweetie-16", "nes"]
METHODS = ["majority", "nearest", "median", "kcentroid", "contrast", "fit"]
PLAIN = PixelParams(background="none", remove_orphans=False)


@st.composite
def images(draw, max_side: int = 96):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    c = draw(st.sampled_from([3, 4]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["noise", "blocks", "gradient"]))
    if kind == "noise":
        img = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    elif kind == "blocks":
        small = rng.integers(0, 256, (max(1, h // 4), max(1, w // 4), c), dtype=np.uint8)
        img = upscale_nearest(small, 4)[:h, :w]
        img = np.pad(img, ((0, h - img.shape[0]), (0, w - img.shape[1]), (0, 0)), mode="edge")
    else:
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx + yy) % 256], -1)
        if c == 4:
            img = np.concatenate([img, rng.integers(0, 256, (h, w, 1))], -1)
        img = img.astype(np.uint8)
    return img


params_st = st.builds(
    PixelParams,
    method=st.sampled_from(METHODS),
    phase_search=st.booleans(),
    dither=st.sampled_from(["none", "bayer2", "bayer4", "bayer8"]),
    dither_strength=st.sampled_from([0.0, 0.5, 1.0]),
    background=st.sampled_from(["auto", "none", "#ffffff"]),
    remove_orphans=st.booleans(),
    outline=st.sampled_from(["none", "auto", "#ff0000"]),
    tileable=st.booleans(),
)


@FAST
@given(
    img=images(),
    tw=st.integers(1, 40),
    th=st.integers(1, 40),
    pal=st.sampled_from(PALETTES),
    p=params_st,
)
def test_output_is_target_size_palette_only_binary_alpha_deterministic(img, tw, th, pal, p):
    palette = builtin_palette(pal)
    out = pixelize(img, (tw, th), palette, p)
    assert out.shape == (th, tw, 4)
    assert out.dtype == np.uint8
    assert set(np.unique(out[..., 3]).tolist()) <= {0, 255}
    assert not out[out[..., 3] == 0].any()  # transparent pixels are all zero
    assert palette_colors(out) <= {tuple(c) for c in palette.tolist()}
    again = pixelize(img.copy(), (tw, th), palette.copy(), p)
    assert np.array_equal(out, again)


@st.composite
def pixel_art(draw, max_side: int = 40):
    pal = builtin_palette(draw(st.sampled_from(PALETTES)))
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    idx = rng.integers(0, len(pal), (h, w))
    if draw(st.booleans()):  # runs of colour, not just noise
        idx = np.repeat(idx[:, : max(1, w // 3)], 3, axis=1)[:, :w]
        idx = np.pad(idx, ((0, 0), (0, w - idx.shape[1])), mode="edge")
    art = np.zeros((h, w, 4), np.uint8)
    art[..., :3] = pal[idx]
    art[..., 3] = 255
    if draw(st.booleans()):
        hole = rng.random((h, w)) < 0.3
        art[hole] = 0
    return art, pal


@FAST
@given(case=pixel_art(), method=st.sampled_from(METHODS), rgba=st.booleans())
def test_true_pixel_art_at_its_own_size_is_unchanged(case, method, rgba):
    art, pal = case
    h, w = art.shape[:2]
    opaque = (art[..., 3] == 255).all()
    if not rgba and not opaque:
        rgba = True
    src = art if rgba else art[..., :3]
    p = PixelParams(method=method, background="none")  # orphan removal on: not applied at 1:1
    out = pixelize(src, (w, h), pal, p)
    assert np.array_equal(out, art)


@FAST
@given(case=pixel_art(max_side=24), scale=st.sampled_from([2, 3, 8]), shift=st.integers(0, 7))
def test_clean_nearest_upscale_reduces_back_exactly(case, scale, shift):
    art, pal = case
    h, w = art.shape[:2]
    big = upscale_nearest(art, scale)
    # The search reads offsets within half a cell of zero. Exactly half a cell (1 px at x2) is a
    # tie: +1/2 and -1/2 are one phase inside the picture and differ only in its end cells.
    shift %= (scale + 1) // 2
    if shift:
        # The grid starts `shift` pixels in: edge pixels padded on the left/top, the last row and
        # column cut short.
        assume(w >= 2 and h >= 2)
        big = np.pad(big, ((shift, 0), (shift, 0), (0, 0)), mode="edge")[: h * scale, : w * scale]
    out = pixelize(big, (w, h), pal, PLAIN)
    assert np.array_equal(out, art)


@pytest.mark.parametrize("scale", [8, 16])
def test_x8_x16_sample_set_reduces_back_exactly(scale):
    for s in sample_set(6):
        h, w = s.art.shape[:2]
        bg = "auto" if s.sprite else "none"
        out = pixelize(upscale_nearest(s.art, scale), (w, h), s.palette, PixelParams(background=bg))
        assert cell_accuracy(out, s.art) >= 0.999, s.name


def test_degraded_sprites_majority_accuracy():
    accs = []
    for i, s in enumerate(sample_set(6)):
        h, w = s.art.shape[:2]
        bg = "auto" if s.sprite else "none"
        out = pixelize(degrade(s, 8, i), (w, h), s.palette, PixelParams(background=bg))
        accs.append(cell_accuracy(out, s.art))
    assert np.mean(accs) >= 0.97, accs


def test_phase_search_finds_shifted_grid():
    pal = builtin_palette("pico-8")
    rng = np.random.default_rng(3)
    art = pal[rng.integers(0, 16, (12, 12))]
    big = upscale_nearest(art, 8)
    shifted = np.pad(big, ((0, 0), (3, 0), (0, 0)), mode="edge")[:, :96]
    found = pixelize(shifted, (12, 12), pal, PLAIN)[..., :3]
    fixed = pixelize(shifted, (12, 12), pal, PixelParams(background="none", phase_search=False))
    assert np.array_equal(found, art)
    assert not np.array_equal(fixed[..., :3], art)  # without the search the shift costs cells


def test_non_integer_ratio_proportional_cells():
    pal = builtin_palette("db32")
    rng = np.random.default_rng(9)
    art = pal[rng.integers(0, 32, (10, 13))]
    # 13 -> 50 px wide (3.85x), 10 -> 37 px high (3.7x): nearest resample by proportional mapping.
    ys = (np.arange(37) * 10) // 37
    xs = (np.arange(50) * 13) // 50
    big = art[ys][:, xs]
    out = pixelize(big, (13, 10), pal, PLAIN)
    assert (out[..., :3] == art).all(-1).mean() >= 0.95


def test_source_smaller_than_target_is_upscaled():
    pal = builtin_palette("gameboy")
    art = pal[np.array([[0, 1], [2, 3]])]
    out = pixelize(art, (4, 4), pal, PLAIN)
    assert np.array_equal(out[..., :3], upscale_nearest(art, 2))


def _sprite_on(bg: tuple[int, int, int], blur: bool = False):
    s = sample_set(1, sizes=(24,))[0]
    big = flatten(upscale_nearest(s.art, 8), bg)
    if blur:
        from pixel_samples import blur as blur_fn

        big = blur_fn(big, 1.5)
    return s, big


@pytest.mark.parametrize("bg", [(255, 255, 255), (255, 0, 255)])
def test_background_auto_removes_border_background_without_halo(bg):
    s, big = _sprite_on(bg, blur=True)
    h, w = s.art.shape[:2]
    out = pixelize(big, (w, h), s.palette, PixelParams())
    assert cell_accuracy(out, s.art) >= 0.98
    assert ((out[..., 3] == 0) == (s.art[..., 3] == 0)).mean() >= 0.98


def test_background_key_colour_and_none():
    s, big = _sprite_on((255, 0, 255))
    h, w = s.art.shape[:2]
    keyed = pixelize(big, (w, h), s.palette, PixelParams(background="#ff00ff"))
    assert np.array_equal(keyed[..., 3] == 0, s.art[..., 3] == 0)
    kept = pixelize(big, (w, h), s.palette, PixelParams(background="none"))
    assert (kept[..., 3] == 255).all()


def test_rgba_input_keeps_its_transparency_and_binarizes():
    pal = builtin_palette("pico-8")
    img = np.zeros((16, 16, 4), np.uint8)
    img[..., :3] = pal[8]
    img[4:12, 4:12, 3] = 255
    img[0:4, :, 3] = 100  # semi-transparent -> transparent
    img[12:, :, 3] = 200  # mostly opaque -> opaque
    out = pixelize(img, (16, 16), pal, PixelParams(background="none", remove_orphans=False))
    assert (out[0:4, :, 3] == 0).all()
    assert (out[12:, :, 3] == 255).all()
    assert (out[4:12, 4:12, 3] == 255).all()
    assert (out[4:12, 0:4, 3] == 0).all()


def test_remove_orphans_only_touches_islands():
    a = np.zeros((5, 5), int)
    a[2, 2] = 3  # island in a flat area -> removed
    a[0, 4] = 5  # corner island -> removed
    out = remove_orphans(a)
    assert (out == 0).all()
    b = np.zeros((5, 5), int)
    b[1, 1] = b[2, 2] = 3  # diagonal pair: each has a neighbour of its colour
    b[2, 3] = 4  # beside a different colour: its 4-neighbours are not uniform
    assert np.array_equal(remove_orphans(b), b)
    c = np.full((3, 3), TRANSPARENT)
    c[1, 1] = 2  # a speck of colour in empty space disappears
    assert (remove_orphans(c) == TRANSPARENT).all()


def test_orphans_wrap_in_tileable_mode():
    a = np.zeros((4, 4), int)
    a[0, 0] = 1
    a[3, 3] = 1  # diagonal neighbour only through the wrap
    assert remove_orphans(a, wrap=True)[0, 0] == 1
    assert remove_orphans(a, wrap=False)[0, 0] == 0


def test_outline_is_one_pixel_and_darkest_colour():
    pal = builtin_palette("pico-8")
    img = np.zeros((12, 12, 4), np.uint8)
    img[4:8, 4:8] = (*pal[7], 255)
    out = pixelize(img, (12, 12), pal, PixelParams(outline="auto", background="none"))
    darkest = tuple(pal[0])
    ring = np.zeros((12, 12), bool)
    ring[3:9, 4:8] = ring[4:8, 3:9] = True
    ring[4:8, 4:8] = False
    assert all(tuple(out[y, x, :3]) == darkest for y, x in np.argwhere(ring))
    assert (out[ring, 3] == 255).all()
    assert (out[~ring & (img[..., 3] == 0), 3] == 0).all()
    red = pixelize(img, (12, 12), pal, PixelParams(outline="#fe0000", background="none"))
    assert tuple(red[3, 5, :3]) == tuple(pal[8])  # snapped to the palette's red


def test_add_outline_wraps_for_tiles():
    a = np.full((4, 4), TRANSPARENT)
    a[0, 0] = 1
    out = add_outline(a, 2, wrap=True)
    assert out[3, 0] == 2 and out[0, 3] == 2


def test_flood_fill_reaches_only_border_connected():
    passable = np.ones((7, 7), bool)
    passable[2:5, 2:5] = False
    passable[3, 3] = True  # enclosed pocket
    reach = flood_from_border(passable)
    assert reach[0, 0] and reach[6, 6] and not reach[3, 3]
    spiral = np.zeros((9, 9), bool)
    spiral[0, :] = spiral[:, 8] = spiral[8, 1:] = spiral[2:8, 1] = spiral[2, 1:7] = True
    spiral[2:7, 6] = spiral[6, 3:7] = spiral[4:7, 3] = spiral[4, 3:5] = True
    assert flood_from_border(spiral)[4, 4]


def test_dither_patterns_gradient_and_keeps_flat_palette_areas():
    pal = builtin_palette("gameboy")
    ramp = np.linspace(srgb_to_oklab(pal[1])[0], srgb_to_oklab(pal[2])[0], 64)
    lab = np.zeros((8, 64, 3), np.float32)
    lab[..., 0] = ramp
    lab[..., 1:] = (srgb_to_oklab(pal[1])[1:] + srgb_to_oklab(pal[2])[1:]) / 2
    img = np.repeat(np.repeat(oklab_to_srgb(lab), 4, 0), 4, 1)
    plain = pixelize(img, (64, 8), pal, PixelParams(background="none", remove_orphans=False))
    dith = pixelize(
        img, (64, 8), pal, PixelParams(background="none", remove_orphans=False, dither="bayer4")
    )
    mid = slice(24, 40)

    def switches(a):
        return int((a[:, mid][:, 1:, :3] != a[:, mid][:, :-1, :3]).any(-1).sum())

    assert switches(dith) > switches(plain)
    flat = upscale_nearest(pal[np.array([[0, 1, 2, 3]] * 4)], 8)
    out = pixelize(flat, (4, 4), pal, PixelParams(background="none", dither="bayer8"))
    assert np.array_equal(out[..., :3], pal[np.array([[0, 1, 2, 3]] * 4)])


def test_dither_period_divides_tiles():
    assert dither_period("bayer8", 16, 16, tileable=True) == 8
    assert dither_period("bayer8", 12, 12, tileable=True) == 4
    assert dither_period("bayer8", 6, 10, tileable=True) == 2
    assert dither_period("bayer4", 9, 9, tileable=True) == 0
    assert dither_period("bayer8", 9, 9, tileable=False) == 8
    m = bayer_matrix(4)
    assert sorted(((m + 0.5) * 16 - 0.5).round().astype(int).ravel().tolist()) == list(range(16))


def test_big_reduction_methods_run_and_keep_outlines():
    pal = builtin_palette("db32")
    img = np.full((512, 512, 3), 230, np.uint8)
    img[:, 250:253] = 0  # a 3-px dark line, ~1/5 of a 16-px cell
    out = {
        m: pixelize(img, (32, 32), pal, PixelParams(method=m, background="none")) for m in METHODS
    }
    for m, o in out.items():
        assert o.shape == (32, 32, 4), m
    line = out["contrast"][:, 15:17, :3]
    assert (srgb_to_oklab(line)[..., 0].min(axis=1) < 0.3).all()  # contrast keeps the line
    assert (out["majority"][..., :3] == out["majority"][0, 0, :3]).all()  # majority drops it


def test_upscale_and_palette_colors():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    u = upscale(a, 3)
    assert u.shape == (6, 9, 4) and (u[3:6, 6:9] == a[1, 2]).all()
    with pytest.raises(ValueError):
        upscale(a, 0)
    img = np.zeros((2, 2, 4), np.uint8)
    img[0, 0] = (1, 2, 3, 255)
    img[1, 1] = (9, 9, 9, 0)
    assert palette_colors(img) == {(1, 2, 3)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "lanczos"},
        {"dither": "floyd"},
        {"dither_strength": 2.0},
        {"background": "#12345"},
        {"outline": "black"},
        {"upscale": 0},
        {"tolerance": -1.0},
    ],
)
def test_params_validation(kwargs):
    with pytest.raises(ValueError):
        PixelParams(**kwargs)


def test_bad_inputs():
    pal = builtin_palette("pico-8")
    with pytest.raises(ValueError):
        pixelize(np.zeros((4, 4), np.uint8), (2, 2), pal, PLAIN)
    with pytest.raises(ValueError):
        pixelize(np.zeros((4, 4, 3), np.float32), (2, 2), pal, PLAIN)
    with pytest.raises(ValueError):
        pixelize(np.zeros((4, 4, 3), np.uint8), (0, 2), pal, PLAIN)


def test_oklab_roundtrip_and_reference_values():
    rgb = np.random.default_rng(0).integers(0, 256, (5000, 3), dtype=np.uint8)
    assert np.abs(oklab_to_srgb(srgb_to_oklab(rgb)).astype(int) - rgb).max() <= 1
    white = srgb_to_oklab(np.array([255, 255, 255], np.uint8))
    assert np.allclose(white, [1.0, 0.0, 0.0], atol=1e-3)
    red = srgb_to_oklab(np.array([255, 0, 0], np.uint8))  # published: 0.6280, 0.2249, 0.1258
    assert np.allclose(red, [0.62796, 0.22486, 0.12585], atol=1e-3)


@FAST
@given(pal=st.sampled_from([*PALETTES, "aap-64", "resurrect-64"]), seed=st.integers(0, 10**6))
def test_palette_map_matches_brute_force(pal, seed):
    palette = builtin_palette(pal)
    rgb = np.random.default_rng(seed).integers(0, 256, (3000, 3), dtype=np.uint8)
    rgb[: len(palette)] = palette
    pm = palette_map(palette)
    fast = pm.index(rgb)
    exact = nearest_index(srgb_to_oklab(rgb), pm.lab)
    assert (fast[: len(palette)] == np.arange(len(palette))).all()
    assert (fast == exact).mean() >= 0.999


@pytest.mark.parametrize("drift", [-1, 1])
def test_sub_pixel_drift_either_way_never_shifts_the_picture(drift):
    """A drift of a pixel left (or up) is a grid offset of -1, not 7 of 8 (which would drop the
    first column, pad one at the end, and shift the whole picture by a cell)."""
    pal = builtin_palette("pico-8")
    rng = np.random.default_rng(11)
    art = pal[rng.integers(0, 16, (16, 16))]
    big = upscale_nearest(art, 8)
    fill = np.array([255, 0, 77], np.uint8)  # what a resampler puts where nothing was
    moved = np.empty_like(big)
    moved[:] = fill
    if drift < 0:
        moved[:-1, :-1] = big[1:, 1:]
    else:
        moved[1:, 1:] = big[:-1, :-1]
    out = pixelize(moved, (16, 16), pal, PLAIN)
    assert (out[..., :3] == art).all(-1).mean() >= 0.99


def test_background_auto_keeps_a_border_that_is_not_one_colour():
    """An opaque scene or tile sheet: its border is many colours, so nothing is flooded away."""
    pal = builtin_palette("pico-8")
    rng = np.random.default_rng(5)
    art = pal[rng.integers(0, 16, (16, 16))]
    notes: list[str] = []
    out = pixelize(upscale_nearest(art, 8), (16, 16), pal, PixelParams(background="auto"), notes)
    assert (out[..., 3] == 255).all()
    assert notes and "border is not one colour" in notes[0]


def test_background_auto_never_removes_nearly_everything():
    pal = builtin_palette("pico-8")
    art = np.tile(pal[7], (16, 16, 1))  # one colour all over: not a sprite on a background
    art[8, 8] = pal[8]
    notes: list[str] = []
    out = pixelize(upscale_nearest(art, 8), (16, 16), pal, PixelParams(background="auto"), notes)
    assert (out[..., 3] == 255).all()
    assert notes and "background kept" in notes[0]


def test_an_image_with_transparency_is_not_flooded():
    pal = builtin_palette("pico-8")
    art = np.zeros((8, 8, 4), np.uint8)
    art[2:6, 2:6] = (*pal[8], 255)
    art[0, :] = (*pal[7], 255)  # an opaque top row in the border colour's place
    out = pixelize(upscale_nearest(art, 8), (8, 8), pal, PixelParams(background="auto"))
    assert np.array_equal(out[..., 3] > 0, art[..., 3] > 0)
