"""Palettes: built-ins, palette files (good and broken), auto palettes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelbuild.colors import parse_color
from pixelbuild.errors import Issue
from pixelbuild.pixel import BUILTIN_PALETTES, auto_palette, builtin_palette, load_palette_file

EXPECTED_COUNTS = {
    "pico-8": 16,
    "db16": 16,
    "db32": 32,
    "endesga-32": 32,
    "sweetie-16": 16,
    "gameboy": 4,
    "nes": 55,
    "aap-64": 64,
    "resurrect-64": 64,
}


@pytest.mark.parametrize(("name", "count"), sorted(EXPECTED_COUNTS.items()))
def test_builtin_counts_and_uniqueness(name: str, count: int) -> None:
    pal = builtin_palette(name)
    assert pal.shape == (count, 3)
    assert pal.dtype == np.uint8
    assert len({tuple(c) for c in pal.tolist()}) == count


def test_builtin_names_are_exactly_the_documented_ones() -> None:
    assert set(BUILTIN_PALETTES) == set(EXPECTED_COUNTS)


@pytest.mark.parametrize(
    ("name", "index", "color"),
    [
        ("pico-8", 8, "#ff004d"),  # PICO-8 red
        ("pico-8", 12, "#29adff"),
        ("db32", 21, "#ffffff"),
        ("db16", 0, "#140c1c"),
        ("endesga-32", 0, "#be4a2f"),
        ("sweetie-16", 0, "#1a1c2c"),
        ("gameboy", 0, "#0f380f"),
        ("aap-64", 63, "#423934"),
        ("resurrect-64", 0, "#2e222f"),
        ("nes", 8, "#0000fc"),
    ],
)
def test_builtin_spot_values(name: str, index: int, color: str) -> None:
    assert tuple(builtin_palette(name)[index]) == parse_color(color)


def test_unknown_builtin_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="pico-8") as e:
        builtin_palette("pico-9")
    assert "resurrect-64" in str(e.value)


def test_hex_file(tmp_path: Path) -> None:
    f = tmp_path / "p.hex"
    f.write_text("ff0000\n00FF00\n\n#0000ff\n")
    assert load_palette_file(f).tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


def test_gpl_file(tmp_path: Path) -> None:
    f = tmp_path / "p.gpl"
    f.write_text(
        "GIMP Palette\nName: test\nColumns: 4\n#\n"
        "  0   0   0\tBlack\n255 255 255\tWhite\n 12 34 56\n"
    )
    assert load_palette_file(f).tolist() == [[0, 0, 0], [255, 255, 255], [12, 34, 56]]


def test_pal_file(tmp_path: Path) -> None:
    f = tmp_path / "p.pal"
    f.write_text("JASC-PAL\r\n0100\r\n2\r\n1 2 3\r\n250 251 252\r\n")
    assert load_palette_file(f).tolist() == [[1, 2, 3], [250, 251, 252]]


def test_png_swatch_unique_in_scan_order(tmp_path: Path) -> None:
    a = np.zeros((2, 3, 4), np.uint8)
    a[0, 0] = (9, 9, 9, 255)
    a[0, 1] = (200, 0, 0, 255)
    a[0, 2] = (9, 9, 9, 255)  # repeat
    a[1, 0] = (1, 2, 3, 0)  # transparent: ignored
    a[1, 1] = (0, 100, 0, 255)
    a[1, 2] = (200, 0, 0, 255)
    f = tmp_path / "sw.png"
    Image.fromarray(a, "RGBA").save(f)
    assert load_palette_file(f).tolist() == [[9, 9, 9], [200, 0, 0], [0, 100, 0]]


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("bad.hex", "ff0000\nzz0000\n", 2, "zz0000"),
        ("short.hex", "ff0000\n00ff00\nfff\n", 3, "fff"),
        ("bad.gpl", "GIMP Palette\n0 0 0\n1 2\n", 3, "R G B"),
        ("range.gpl", "GIMP Palette\n#c\n10 300 10 red\n", 3, "300"),
        ("head.gpl", "Not GIMP\n0 0 0\n", 1, "GIMP Palette"),
        ("bad.pal", "JASC-PAL\n0100\n2\n1 2 3\nx 5 6\n", 5, "'x'"),
        ("count.pal", "JASC-PAL\n0100\n3\n1 2 3\n4 5 6\n", 3, "3 colours"),
        ("head.pal", "JASC\n0100\n1\n1 2 3\n", 1, "JASC-PAL"),
        ("empty.hex", "\n\n", 1, "no colours"),
    ],
)
def test_broken_files_name_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, words: str
) -> None:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(Issue) as e:
        load_palette_file(f)
    assert e.value.location is not None
    assert e.value.location.file == f
    assert e.value.location.line == line
    assert words in e.value.message
    assert str(e.value).startswith(f"{f}:{line}:")


def test_column_points_at_bad_token(tmp_path: Path) -> None:
    f = tmp_path / "c.gpl"
    f.write_text("GIMP Palette\n 10  20 999\n")
    with pytest.raises(Issue) as e:
        load_palette_file(f)
    assert (e.value.location.line, e.value.location.column) == (2, 9)


def test_broken_png_and_unknown_extension(tmp_path: Path) -> None:
    f = tmp_path / "x.png"
    f.write_bytes(b"not a png")
    with pytest.raises(Issue, match="PNG"):
        load_palette_file(f)
    g = tmp_path / "x.act"
    g.write_bytes(b"")
    with pytest.raises(Issue, match="unknown palette format"):
        load_palette_file(g)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(Issue, match="cannot read"):
        load_palette_file(tmp_path / "nope.hex")


def _two_tone(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((40, 40, 3), np.uint8)
    img[:, :20] = (200, 30, 30)
    img[:, 20:] = (20, 40, 180)
    return np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)


def test_auto_palette_finds_the_clusters_and_is_deterministic() -> None:
    img = _two_tone(0)
    a = auto_palette([img], 2)
    b = auto_palette([img.copy()], 2)
    assert np.array_equal(a, b)
    assert a.shape == (2, 3)
    got = sorted(a.tolist())
    assert np.abs(np.array(got[0]) - (20, 40, 180)).max() <= 6
    assert np.abs(np.array(got[1]) - (200, 30, 30)).max() <= 6


def test_auto_palette_ignores_transparent_and_is_shared() -> None:
    green = np.zeros((10, 10, 4), np.uint8)
    green[..., 1] = 220
    green[..., 3] = 255
    hidden = np.zeros((10, 10, 4), np.uint8)
    hidden[..., 0] = 255  # red, but fully transparent
    blue = np.zeros((10, 10, 3), np.uint8)
    blue[..., 2] = 200
    pal = auto_palette([green, hidden, blue], 4)
    assert sorted(pal.tolist()) == [[0, 0, 200], [0, 220, 0]]  # fewer colours than asked


def test_auto_palette_does_not_touch_global_rng() -> None:
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    auto_palette([_two_tone(1)], 3)
    assert np.random.random() == before


def test_auto_palette_large_input_subsampled_quickly() -> None:
    img = np.random.default_rng(5).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    pal = auto_palette([img], 16)
    assert pal.shape == (16, 3)
