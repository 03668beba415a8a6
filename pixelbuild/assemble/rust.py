"""A generated Rust module naming asset paths, atlas indices and animation frame ranges.

Input is a list of `RustTexture` (one per sheet, tileset or atlas). For a texture named
`hero-walk` the module gets:

```rust
pub mod hero_walk {
    pub const IMAGE: &str = "sprites/hero-walk.png";
    pub const LAYOUT: &str = "sprites/hero-walk.assets.ron";   // one per `strings` entry
    pub const TILE_SIZE: (u32, u32) = (32, 32);                // grid textures only, with
    pub const COLUMNS: u32 = 4; pub const ROWS: u32 = 2;       //   PADDING and OFFSET
    pub const LEN: usize = 8;                                  // named sections (else cells)
    pub const NAMES: [&str; 8] = ["walk-0", ...];              // section names by index
    pub mod index { pub const WALK_0: usize = 0; ... }
    pub mod anim { pub const WALK: super::super::FrameRange = ...; }
}
```

plus a shared `FrameRange { first, last, playback, frame_ms }` and `Playback` at the top.
Only `core` is used, so the file compiles without Bevy; `UVec2::from(hero_walk::TILE_SIZE)` turns
the tile size into Bevy's type. Names become identifiers by replacing every run of characters
other than ASCII letters and digits with `_` (a leading digit gets a `_` prefix); two names that
map to one identifier are an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from .grid import GridLayout

PLAYBACK = {"loop": "Loop", "once": "Once", "pingpong": "PingPong"}
_FIXED = {"IMAGE", "TILE_SIZE", "COLUMNS", "ROWS", "PADDING", "OFFSET", "LEN", "NAMES"}
_KEYWORDS = set(
    [
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "gen",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
    ]
)


@dataclass(frozen=True, slots=True)
class RustAnimation:
    """An animation's frames `first..=last` (indices into its texture's layout)."""

    name: str
    first: int
    last: int
    mode: str = "loop"  # "loop" | "once" | "pingpong"
    frame_ms: Sequence[int] = ()  # one duration per frame, or empty


@dataclass(frozen=True, slots=True)
class RustTexture:
    """One texture the game loads: a grid sheet, tileset or packed atlas."""

    name: str
    image: str  # asset path of the PNG, relative to assets/
    sections: Sequence[str] = ()  # names of the layout's sections (frames, tiles, sprites) by index
    grid: GridLayout | None = None
    animations: Sequence[RustAnimation] = ()
    strings: Mapping[str, str] = field(default_factory=dict)  # extra &str consts: {"layout": path}
    # A character: its directions (a `Direction` enum) and its animations, each a `const fn`
    # from a direction to the animation `<name>_<direction>`.
    directions: Sequence[str] = ()
    motions: Sequence[str] = ()
    items: Sequence[str] = ()  # more lines of Rust inside its module (an autotile's `tile_for`)


def rust_string(text: str) -> str:
    """A Rust string literal."""
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def identifier(name: str, upper: bool) -> str:
    """`name` as a Rust identifier: SCREAMING_CASE for constants, snake_case (raw if a keyword)
    for modules."""
    ident = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    if not ident:
        raise ValueError(f"{name!r} has no letters or digits to make a Rust name from")
    ident = ident.upper() if upper else ident.lower()
    if ident[0].isdigit():
        ident = "_" + ident
    if not upper and ident in _KEYWORDS:
        ident = "r#" + ident if ident not in {"self", "super", "crate", "Self"} else ident + "_"
    return ident


def _unique(
    names: Sequence[str], upper: bool, what: str, taken: AbstractSet[str] = frozenset()
) -> list[str]:
    seen: dict[str, str] = {}
    out = []
    for name in names:
        ident = identifier(name, upper)
        if ident in seen or ident in taken:
            other = seen.get(ident, "a generated constant")
            raise ValueError(f"{what} {name!r} and {other!r} both become Rust name {ident}")
        seen[ident] = name
        out.append(ident)
    return out


_PRELUDE = """\
// Written by pixelbuild; edits are overwritten on the next build.
//! Asset paths, atlas indices and animation frame ranges of the pixelbuild assets.
#![allow(dead_code)]

/// How an animation plays its frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Playback {
    Loop,
    Once,
    PingPong,
}

/// An animation: layout indices `first..=last`, with each frame's duration in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameRange {
    pub first: usize,
    pub last: usize,
    pub playback: Playback,
    pub frame_ms: &'static [u32],
}

impl FrameRange {
    /// Number of frames.
    pub const fn len(&self) -> usize {
        self.last - self.first + 1
    }

    /// The layout indices, first to last.
    pub fn indices(&self) -> core::ops::RangeInclusive<usize> {
        self.first..=self.last
    }
}
"""


def rust_module(textures: Sequence[RustTexture]) -> str:
    """Rust source for `textures` (modules in the given order); see the module docstring."""
    modules = _unique([t.name for t in textures], upper=False, what="texture")
    parts = [_PRELUDE]
    for texture, module in zip(textures, modules, strict=True):
        strings = dict(sorted(texture.strings.items()))
        string_idents = _unique(list(strings), upper=True, what="string", taken=_FIXED)
        lines = [f"\n/// `{texture.name}`\npub mod {module} {{"]
        lines.append(f"    pub const IMAGE: &str = {rust_string(texture.image)};")
        for ident, value in zip(string_idents, strings.values(), strict=True):
            lines.append(f"    pub const {ident}: &str = {rust_string(value)};")
        if texture.grid is not None:
            g = texture.grid
            lines.append(
                f"    pub const TILE_SIZE: (u32, u32) = ({g.tile_width}, {g.tile_height});"
            )
            lines.append(f"    pub const COLUMNS: u32 = {g.columns};")
            lines.append(f"    pub const ROWS: u32 = {g.rows};")
            lines.append(f"    pub const PADDING: u32 = {g.padding};")
            lines.append(f"    pub const OFFSET: u32 = {g.offset};")
        sections = list(texture.sections)
        count = len(sections) if sections or texture.grid is None else texture.grid.count
        lines.append(f"    pub const LEN: usize = {count};")
        if sections:
            names = ", ".join(rust_string(s) for s in sections)
            lines.append(f"    pub const NAMES: [&str; {len(sections)}] = [{names}];")
            idents = _unique(sections, upper=True, what=f"{texture.name}: section")
            lines.append("    pub mod index {")
            lines += [f"        pub const {ident}: usize = {i};" for i, ident in enumerate(idents)]
            lines.append("    }")
        if texture.animations:
            idents = _unique([a.name for a in texture.animations], True, f"{texture.name}: anim")
            lines.append("    pub mod anim {")
            lines.append("        use super::super::{FrameRange, Playback};")
            for anim, ident in zip(texture.animations, idents, strict=True):
                lines.append(f"        pub const {ident}: FrameRange = {_range(anim, count)};")
            lines.append("    }")
        if texture.directions and texture.animations:
            by_name = dict(zip([a.name for a in texture.animations], idents, strict=True))
            lines += _directions(texture, by_name)
        lines += texture.items
        lines.append("}")
        parts.append("\n".join(lines) + "\n")
    return "".join(parts)


def _directions(texture: RustTexture, anim_idents: dict[str, str]) -> list[str]:
    """A character's `Direction` enum and one `const fn` per animation, direction -> frames."""
    variants = _unique(list(texture.directions), upper=True, what=f"{texture.name}: direction")
    lines = [
        "    /// The directions it is drawn in, in the sheet's row order.",
        "    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]",
        f"    pub enum Direction {{ {', '.join(v.title() for v in variants)} }}",
    ]
    names = _unique(list(texture.motions), upper=False, what=f"{texture.name}: animation")
    for motion, fn in zip(texture.motions, names, strict=True):
        arms = ", ".join(
            f"Direction::{v.title()} => anim::{anim_idents[f'{motion}_{d}']}"
            for d, v in zip(texture.directions, variants, strict=True)
        )
        lines.append(f"    /// `{motion}` facing `d`.")
        lines.append(
            f"    pub const fn {fn}(d: Direction) -> super::FrameRange {{ match d {{ {arms} }} }}"
        )
    return lines


def _range(anim: RustAnimation, count: int) -> str:
    if anim.mode not in PLAYBACK:
        raise ValueError(f"animation {anim.name!r}: mode {anim.mode!r} not in {list(PLAYBACK)}")
    if not 0 <= anim.first <= anim.last < max(count, 1):
        raise ValueError(
            f"animation {anim.name!r}: frames {anim.first}..={anim.last} not in 0..{count}"
        )
    frames = anim.last - anim.first + 1
    if anim.frame_ms and len(anim.frame_ms) != frames:
        raise ValueError(
            f"animation {anim.name!r}: {len(anim.frame_ms)} durations, {frames} frames"
        )
    ms = ", ".join(str(int(d)) for d in anim.frame_ms)
    return (
        f"FrameRange {{ first: {anim.first}, last: {anim.last}, "
        f"playback: Playback::{PLAYBACK[anim.mode]}, frame_ms: &[{ms}] }}"
    )
