"""The seam metric: about 1 for tiles that wrap, well above 1 for tiles with a seam."""

from __future__ import annotations

import numpy as np
import pytest

from pixelbuild.assemble import seam_metric


def periodic(size: int, seed: int) -> np.ndarray:
    """A smooth RGBA tile made of sines with whole periods across the tile: it wraps exactly."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = []
    for _ in range(3):
        value = np.zeros((size, size))
        for _ in range(4):
            fx, fy = rng.integers(1, 4, 2)
            value += np.sin(2 * np.pi * (fx * x + fy * y) + rng.uniform(0, 6.3))
        channels.append(value)
    rgb = np.stack(channels, -1)
    rgb = (rgb - rgb.min()) / (rgb.max() - rgb.min()) * 255
    alpha = np.full((size, size, 1), 255.0)
    return np.concatenate([rgb, alpha], -1).round().astype(np.uint8)


@pytest.mark.parametrize("seed", range(4))
def test_wrapping_tiles_score_about_one(seed) -> None:
    tile = periodic(32, seed)
    assert 0.6 < seam_metric(tile) < 1.5
    # Shifting a wrapping tile moves its wrap line inside; it still wraps.
    assert 0.6 < seam_metric(np.roll(tile, (11, 5), axis=(0, 1))) < 1.5
    noise = np.random.default_rng(seed).integers(0, 256, (24, 24, 4), dtype=np.uint8)
    assert 0.85 < seam_metric(noise) < 1.15


@pytest.mark.parametrize("seed", range(4))
def test_seamed_tiles_score_high(seed) -> None:
    tile = periodic(32, seed)
    # Cut 10 columns and 7 rows off a wrapping tile: its edges no longer meet.
    cut = tile[:25, :22]
    # Measured over seeds 0..7: wrapping tiles 0.94..1.17, these cuts 2.5..4.6.
    assert seam_metric(cut) > 2.0
    # A gradient: tiny steps inside, a jump of the full range at the wrap.
    ramp = np.linspace(0, 255, 32).round().astype(np.uint8)
    gradient = np.repeat(np.repeat(ramp[None, :, None], 32, 0), 3, 2)
    assert seam_metric(gradient) > 10


def test_flat_and_degenerate_tiles() -> None:
    assert seam_metric(np.full((8, 8, 4), 90, np.uint8)) == 1.0
    edge = np.zeros((8, 8), np.uint8)
    edge[:, 0] = 255  # only the first column differs: its inside neighbours differ too
    assert np.isfinite(seam_metric(edge))
    assert seam_metric(np.zeros((1, 1, 4))) == 1.0  # one pixel repeats into itself
    row = np.zeros((1, 8), np.uint8)
    row[0, 1:7] = 40  # one pixel high: only its ends meet (0 and 0), its inside steps by 40
    assert seam_metric(row) == 0.0
    row[0, 7] = 255  # now its ends are 255 apart: against inside steps of 255 / 7 on average
    assert seam_metric(row) == pytest.approx(7.0)
    with pytest.raises(ValueError):
        seam_metric(np.zeros((0, 8, 4)))


def test_a_tileset_of_one_pixel_tiles_builds(make_project) -> None:
    """A size the fuzzer wrote (`size: 1`): the seam check has nothing to compare, not a crash."""
    from conftest import pb

    p = make_project("project: {size: 1, generate: {canvas: 64}}\ntilesets: {dot: {prompt: x}}\n")
    r = pb(p, "build", "--json")
    assert r.code == 0, r.err
    assert r.json["rebuilt"] == ["dot"]
