"""Colours as the manifest and palette files spell them: one parser, used everywhere.

'#rgb' and '#rrggbb' (any case) in the manifest; palette files may leave out the '#'. Every
colour is normalised to lower-case '#rrggbb', so equal colours hash equally. Standard library
only: the manifest's validators use it.
"""

from __future__ import annotations

import re

RGB = tuple[int, int, int]

# What the manifest accepts (the JSON schema shows it to editors).
COLOR_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
_ANY_COLOR = re.compile(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_LONG_COLOR = re.compile(r"#?[0-9a-fA-F]{6}")
EXPECTED = "expected a colour as '#rgb' or '#rrggbb'"


def parse_color(text: str, *, short: bool = True) -> RGB:
    """'#rgb', '#rrggbb', 'rgb' or 'rrggbb' (any case, surrounding blanks ignored) -> (r, g, b).

    `short=False` takes six digits only, as palette files (Lospec .hex) write them.
    """
    s = text.strip()
    if not (_ANY_COLOR if short else _LONG_COLOR).fullmatch(s):
        expected = EXPECTED if short else "expected six hex digits, 'rrggbb'"
        raise ValueError(f"not a colour: {text!r}; {expected}")
    h = s.removeprefix("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def format_color(rgb: RGB) -> str:
    """(r, g, b) -> '#rrggbb'."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def normalize_color(text: str) -> str:
    """A manifest colour in its one canonical spelling, '#rrggbb'; ValueError when it is none."""
    if not text.strip().startswith("#"):
        raise ValueError(f"not a colour: {text!r}; {EXPECTED}")
    return format_color(parse_color(text))
