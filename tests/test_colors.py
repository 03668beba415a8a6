"""One colour parser: whatever the manifest accepts, the pixel step reads the same way."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelbuild.colors import normalize_color, parse_color
from pixelbuild.manifest.schema import PixelSettings

hex_digit = st.sampled_from("0123456789abcdefABCDEF")
short = st.text(hex_digit, min_size=3, max_size=3)
long = st.text(hex_digit, min_size=6, max_size=6)


@given(st.one_of(short, long))
def test_every_colour_the_manifest_accepts_is_read_by_the_pixel_step(digits):
    text = f"#{digits}"
    settings = PixelSettings(background=text, outline=text)
    assert settings.background == normalize_color(text)
    assert parse_color(settings.background) == parse_color(text)
    if len(digits) == 3:  # '#abc' is '#aabbcc'
        assert settings.background == "#" + "".join(c * 2 for c in digits.lower())


@pytest.mark.parametrize("bad", ["#12", "#12345", "fff", "#ggg", "red", "", "#1234567"])
def test_what_is_not_a_colour_is_refused_with_the_expected_forms(bad):
    with pytest.raises(ValueError, match="not a colour"):
        normalize_color(bad)


def test_palette_files_take_six_digits_only():
    assert parse_color("be2633", short=False) == (0xBE, 0x26, 0x33)
    with pytest.raises(ValueError, match="six hex digits"):
        parse_color("fff", short=False)
