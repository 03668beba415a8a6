"""Built-in palettes, palette files (.hex, .gpl, .pal, .png) and auto palettes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import limits
from ..colors import parse_color
from ..errors import Issue, Location
from ..inputs import regular_file_problem
from .builtin import BUILTIN_PALETTES
from .oklab import oklab_to_srgb, srgb_to_oklab
from .quantize import kmeans_lab


def colors_array(colors: Sequence[str]) -> np.ndarray:
    """Hex colours -> (K, 3) uint8."""
    return np.array([parse_color(c) for c in colors], dtype=np.uint8).reshape(-1, 3)


def builtin_palette(name: str) -> np.ndarray:
    """A built-in palette as (K, 3) uint8; ValueError naming the known ones for an unknown name."""
    try:
        return colors_array(BUILTIN_PALETTES[name])
    except KeyError:
        known = ", ".join(sorted(BUILTIN_PALETTES))
        raise ValueError(f"unknown palette {name!r}; built-in palettes: {known}") from None


def _issue(path: Path, line: int, column: int, message: str) -> Issue:
    return Issue(message, Location(Path(path), line, column))


def _col(raw: str, token: str) -> int:
    i = raw.find(token)
    return i + 1 if i >= 0 else 1


def _read_text(path: Path) -> list[str]:
    try:
        reason = regular_file_problem(Path(path), limits.PALETTE_TEXT_BYTES)
        if reason is not None:
            raise _issue(path, 1, 1, f"the palette file {reason}")
        data = Path(path).read_bytes()
    except OSError as e:
        raise _issue(path, 1, 1, f"cannot read palette file: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise _issue(path, line, 1, "palette file is not UTF-8 text") from None
    return text.splitlines()


def _parse_hex(path: Path) -> list[tuple[int, int, int]]:
    colors = []
    for n, raw in enumerate(_read_text(path), 1):
        s = raw.strip()
        if not s or s.startswith(";") or s.startswith("//"):
            continue
        try:
            colors.append(parse_color(s, short=False))
        except ValueError:
            raise _issue(path, n, _col(raw, s), f"expected a colour as rrggbb, got {s!r}") from None
    return colors


def _rgb_triplet(path: Path, n: int, raw: str, parts: list[str]) -> tuple[int, int, int]:
    if len(parts) < 3:
        col = _col(raw, raw.strip()[:1] or " ")
        raise _issue(path, n, col, f"expected 'R G B', got {raw.strip()!r}")
    values = []
    for tok in parts[:3]:
        if not _small_number(tok) or int(tok) > 255:
            raise _issue(path, n, _col(raw, tok), f"colour channel must be 0..255, got {tok!r}")
        values.append(int(tok))
    return values[0], values[1], values[2]


def _small_number(token: str) -> bool:
    """ASCII digits, few enough for `int` (not '²', not 5,000 nines)."""
    return token.isascii() and token.isdigit() and len(token) <= 6


def _parse_gpl(path: Path) -> list[tuple[int, int, int]]:
    lines = _read_text(path)
    if not lines or lines[0].strip() != "GIMP Palette":
        raise _issue(path, 1, 1, "not a GIMP palette: the first line must be 'GIMP Palette'")
    colors = []
    for n, raw in enumerate(lines[1:], 2):
        s = raw.strip()
        if not s or s.startswith("#") or s.split(":")[0] in ("Name", "Columns"):
            continue
        colors.append(_rgb_triplet(path, n, raw, s.split()))
    return colors


def _parse_pal(path: Path) -> list[tuple[int, int, int]]:
    lines = _read_text(path)
    if not lines or lines[0].strip() != "JASC-PAL":
        raise _issue(path, 1, 1, "not a JASC palette: the first line must be 'JASC-PAL'")
    if len(lines) < 2 or lines[1].strip() != "0100":
        raise _issue(path, 2, 1, "unsupported JASC-PAL version (expected '0100')")
    if len(lines) < 3 or not _small_number(lines[2].strip()):
        raise _issue(path, 3, 1, "expected the number of colours on line 3")
    count = int(lines[2].strip())
    colors = []
    for n, raw in enumerate(lines[3:], 4):
        s = raw.strip()
        if not s:
            continue
        colors.append(_rgb_triplet(path, n, raw, s.split()))
    if len(colors) != count:
        raise _issue(path, 3, 1, f"header says {count} colours but the file lists {len(colors)}")
    return colors


def _parse_png(path: Path) -> list[tuple[int, int, int]]:
    from pixelbuild.images import read_image

    try:
        rgba = read_image(path, limits.SWATCH_PIXELS)
    except Issue as e:
        raise _issue(path, 1, 1, f"cannot read PNG swatch: {e.message}") from None
    px = rgba.reshape(-1, 4)
    px = px[px[:, 3] > 0, :3]
    _, first = np.unique(px, axis=0, return_index=True)
    return [(int(px[i, 0]), int(px[i, 1]), int(px[i, 2])) for i in np.sort(first)]


_PARSERS = {".hex": _parse_hex, ".gpl": _parse_gpl, ".pal": _parse_pal, ".png": _parse_png}


def load_palette_file(path: Path) -> np.ndarray:
    """Read a Lospec .hex, GIMP .gpl, JASC .pal or PNG swatch as (K, 3) uint8.

    A broken file raises `Issue` at the offending line (and column), e.g. `pal.gpl:7:5: ...`.
    """
    path = Path(path)
    parser = _PARSERS.get(path.suffix.lower())
    if parser is None:
        msg = f"unknown palette format {path.suffix!r}; use .hex, .gpl, .pal or .png"
        raise _issue(path, 1, 1, msg)
    colors = parser(path)
    if not colors:
        raise _issue(path, 1, 1, "palette file holds no colours")
    if len(colors) > limits.PALETTE_COLORS:
        most = limits.PALETTE_COLORS
        raise _issue(path, 1, 1, f"palette has {len(colors)} colours; at most {most} are supported")
    return np.array(colors, dtype=np.uint8).reshape(-1, 3)


def auto_palette(images: Sequence[np.ndarray], n: int, max_samples: int = 65536) -> np.ndarray:
    """One palette of at most `n` colours for all `images` together: deterministic k-means in OKLab.

    Transparent pixels (alpha < 128) are ignored; large inputs are subsampled on a fixed stride, so
    the result depends only on the pixels. Colours come back sorted by lightness, without
    duplicates.
    """
    if n < 1:
        raise ValueError("auto palette needs n >= 1")
    per_image = max(1, max_samples // max(1, len(images)))
    samples = []
    for im in images:
        a = np.asarray(im)
        px = a.reshape(-1, a.shape[-1])
        if a.shape[-1] == 4:
            px = px[px[:, 3] >= 128]
        px = px[:, :3].astype(np.uint8)
        if len(px) > per_image:
            px = px[np.linspace(0, len(px) - 1, per_image).astype(np.intp)]
        samples.append(px)
    pts = np.concatenate(samples) if samples else np.zeros((0, 3), np.uint8)
    if len(pts) == 0:
        raise ValueError("auto palette: the images have no opaque pixels")
    centres = oklab_to_srgb(kmeans_lab(srgb_to_oklab(pts), n))
    uniq = np.unique(centres, axis=0)
    order = np.lexsort((uniq[:, 2], uniq[:, 1], uniq[:, 0], srgb_to_oklab(uniq)[:, 0]))
    return uniq[order]
