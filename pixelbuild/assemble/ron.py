"""Small helpers to write RON text by hand (no RON library is needed to *write* it)."""

from __future__ import annotations

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: First line of every RON file pixelbuild writes.
HEADER = "// Written by pixelbuild; edits are overwritten on the next build.\n"


def ron_string(text: str) -> str:
    """A double-quoted RON string; other control characters are refused."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise ValueError(f"control character {ch!r} in RON string {text!r}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def comment_text(text: str) -> str:
    """`text` made safe for a `//` line comment (control characters become spaces)."""
    return "".join(" " if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in text)


def uint(value: int, what: str) -> int:
    """`value` as a non-negative int that fits a u32, or ValueError naming `what`."""
    number = int(value)
    if number != value or not 0 <= number < 1 << 32:
        raise ValueError(f"{what} must be a u32, not {value!r}")
    return number
