"""Hostile manifests and input files, one by one: each is a located error with exit code 2 (or a
clear build failure), never a traceback, a hang, a crash or gigabytes of memory.

The cases that would hang run under a time limit; those that would allocate without end run in
a subprocess with a 2 GiB address-space limit, so a regression fails the test instead of the
machine.
"""

from __future__ import annotations

import os
import socket
import struct
import zlib
from pathlib import Path

import pytest
from conftest import pb
from faultkit import deadline, problems, run_limited

from pixelbuild import limits

SPRITE = "sprites:\n  hero: {prompt: a knight, size: 8}\n"


def png_header(width: int, height: int, *, truncated: bool = False) -> bytes:
    """A PNG of `width` x `height` whose pixel data is tiny (all rows of one zero byte: a
    "decompression bomb" when large), or cut short after the header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if truncated:
        return head + chunk(b"IDAT", zlib.compress(b"\0" * 10)[:5])
    rows = zlib.compressobj(9)
    data = b"".join(rows.compress(b"\0" * (width + 1)) for _ in range(min(height, 64)))
    return head + chunk(b"IDAT", data + rows.flush()) + chunk(b"IEND", b"")


def located(r, fragment: str, where: str = "pixels.yaml:") -> None:
    assert r.code == 2, (r.code, r.err)
    assert not problems(r), r.err
    assert fragment in r.err and where in r.err, r.err


# --- the manifest file itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment", "where"),
    [
        (b"sprites:\n  hero: {prompt: a\x00b}\n", "character 0x0000 is not allowed", ":2:"),
        (b"sprites:\n  hero: {prompt: a\x07}\n", "character 0x0007 is not allowed", ":2:"),
        (b"sprites:\n  hero: {prompt: caf\xe9}\n", "not UTF-8 text (byte 0xe9", ":2:21"),
        (b"\xff\xfes\x00", "not UTF-8 text", ":1:1"),
        (b"a: &a [*a]\n", "an alias refers to itself", ":1:4"),
        (b"a: " + b"[" * 200 + b"]" * 200 + b"\n", "nested too deeply (at most 100", ":1:"),
        (b"x: 2024-13-45\n", "is not a valid timestamp", ":1:4"),
    ],
)
def test_unreadable_manifest_text_is_located(make_project, text, fragment, where):
    p = make_project(palette=None)
    p.manifest.write_bytes(text)
    located(pb(p, "plan"), fragment, where)


def test_a_bom_is_accepted(make_project):
    p = make_project(palette=None)
    p.manifest.write_bytes(b"\xef\xbb\xbf" + SPRITE.encode())
    assert pb(p, "plan").code == 0


def test_nesting_deep_enough_to_crash_libyaml_is_refused(make_project):
    p = make_project(palette=None)
    p.manifest.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")  # segfaulted libyaml
    r = run_limited(["plan", "-C", str(p.dir)])
    # ours ("nested too deeply"), or PyYAML >= 6.0.4's own scanner limit ("maximum nesting depth")
    located(r, "nest", ":1:")


def test_billion_laughs_is_refused_quickly(make_project):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    p = make_project("\n".join(lines) + "\n", palette=None)
    with deadline(20):
        r = pb(p, "plan")
    located(r, f"aliases expand to more than {limits.YAML_ALIAS_VALUES:,} values")


@pytest.mark.parametrize("kind", ["folder", "fifo", "dev-zero", "huge"])
def test_a_manifest_that_is_not_a_small_regular_file(make_project, tmp_path, kind):
    p = make_project(palette=None)
    p.manifest.unlink()
    if kind == "folder":
        p.manifest.mkdir()
    elif kind == "fifo":
        os.mkfifo(p.manifest)
    elif kind == "dev-zero":
        p.manifest.symlink_to("/dev/zero")
    else:
        with open(p.manifest, "wb") as f:
            f.truncate(limits.MANIFEST_BYTES + 1)  # sparse: no disk used
    expected = {
        "folder": "it is a folder",
        "fifo": "it is not a regular file (it is a FIFO)",
        "dev-zero": "it is not a regular file (it is a device)",
        "huge": "it is 16,777,217 bytes, over the 16 MiB limit",
    }
    with deadline(20):
        r = pb(p, "plan")
    located(r, f"cannot read this file: {expected[kind]}", ":1:1")


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("sprites:\n  s: {prompt: a, size: 18446744073709551616}", "less than or equal to 1024"),
        ("sprites:\n  s: {prompt: a, size: [8, 100000]}", "less than or equal to 1024"),
        ("sprites:\n  s: {prompt: a, canvas: 100000}", "less than or equal to 4096"),
        ("sprites:\n  s: {prompt: a, seed: 18446744073709551616}", "less than 4294967296"),
        ("animations:\n  w: {prompt: a, frames: 100000}", "less than or equal to 256"),
        ("tilesets:\n  t: {prompt: a, variants: 99999999999}", "less than or equal to 256"),
        ("tilesets:\n  t: {prompt: a, columns: 18446744073709551616}", "less than or equal to 256"),
        (
            "animations:\n  w: {prompt: a, frames: 2, durations: [18446744073709551616, 1]}",
            "less than or equal to 60000",
        ),
        ("atlases:\n  a: {include: [s], max_size: 1000000}", "less than or equal to 16384"),
        ("sprites:\n  s: {prompt: a, size: 1000, pixel: {upscale: 16}}", "4096 px limit on a side"),
        (
            "animations:\n  w: {prompt: a, frames: 256, canvas: 4096}",
            "over the 67.1 Mpx an entry may paint",
        ),
        ("tilesets:\n  t: {prompt: a, variants: 256, size: 1024}", "limit on a written image"),
    ],
)
def test_huge_numbers_are_located_limits(make_project, entry, fragment):
    p = make_project(f"project: {{generate: {{canvas: 64}}}}\n{entry}\n", palette=None)
    with deadline(30):
        r = pb(p, "plan")
    located(r, fragment, "pixels.yaml:")


def test_huge_numbers_do_not_reach_the_build_in_a_memory_limited_run(make_project):
    p = make_project(
        "sprites:\n  s: {prompt: a, size: 18446744073709551616}\n"  # segfaulted the build
        "  t: {prompt: a, canvas: 100000}\n",
        palette=None,
    )
    r = run_limited(["build", "-C", str(p.dir)])
    located(r, "less than or equal to")


# --- input files -----------------------------------------------------------------------------


def _input(p, kind: str) -> str:
    """Make an input of `kind` in project `p`; its path, as the manifest names it."""
    target = p.dir / "art" / "x.png"
    target.parent.mkdir(exist_ok=True)
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(target))
        sock.close()
    elif kind == "outside":
        outside = p.dir.parent / "elsewhere.png"
        outside.write_bytes(png_header(8, 8))
        target.symlink_to(outside)
    elif kind == "not-a-folder":
        target.write_bytes(png_header(8, 8))
        return "art/x.png/y.png"
    elif kind == "bomb":
        target.write_bytes(png_header(20000, 20000))
    elif kind == "large":
        target.write_bytes(png_header(12000, 12000))
    elif kind == "truncated":
        target.write_bytes(png_header(64, 64, truncated=True))
    elif kind == "garbage":
        target.write_bytes(b"this is no image\n")
    elif kind == "nul":
        return '"art/x\\0.png"'
    elif kind == "long":
        return "a" * 5000 + ".png"
    elif kind == "long-part":
        return "art/" + "b" * 300 + ".png"
    return "art/x.png"


INPUT_CASES = {
    "folder": "is a folder, not a file",
    "fifo": "is not a regular file (it is a FIFO)",
    "dev-zero": "is not a regular file (it is a device)",
    "socket": "is not a regular file (it is a socket)",
    "outside": "is outside the project folder",
    "not-a-folder": "file not found: art/x.png/y.png",
    "bomb": "far over the 16.8 Mpx limit",
    "large": "is 12000x12000 (144.0 Mpx), over the 16.8 Mpx limit",
    "garbage": "not an image format Pillow knows",
    "nul": "contains a NUL character",
    "long": "is 5004 characters long, over the 1024 limit",
    "long-part": "has a name over 255 bytes between slashes",
}


@pytest.mark.parametrize("kind", sorted(INPUT_CASES))
def test_hostile_image_inputs_are_located(make_project, kind):
    p = make_project(palette=None)
    path = _input(p, kind)
    p.manifest.write_text(f"sprites:\n  hero: {{image: {path}, size: 8}}\n")
    with deadline(20):
        r = pb(p, "build")
    located(r, INPUT_CASES[kind], "pixels.yaml:2:")


@pytest.mark.parametrize("kind", ["folder", "fifo", "dev-zero", "outside", "bomb", "nul"])
def test_hostile_palette_files_are_located(make_project, kind):
    p = make_project(palette=None)
    path = _input(p, kind)
    p.manifest.write_text(
        f"palettes:\n  x: {{file: {path}}}\nsprites:\n  hero: {{prompt: a, palette: x}}\n"
    )
    expected = INPUT_CASES[kind].replace("16.8 Mpx", "1.0 Mpx")
    with deadline(20):
        r = pb(p, "build")
    located(r, expected, "pixels.yaml:2:")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "bomb"])
def test_an_inline_palette_file_is_held_to_the_same_rules(make_project, kind):
    p = make_project(palette=None)
    path = _input(p, kind)
    p.manifest.write_text(f"sprites:\n  hero: {{prompt: a, palette: {{file: {path}}}}}\n")
    with deadline(20):
        r = pb(p, "build")
    assert r.code == 2 and not problems(r), r.err
    assert "pixels.yaml:2:" in r.err or "x.png:1:1" in r.err, r.err


def test_a_large_swatch_is_refused_by_its_header(make_project):
    p = make_project(palette=None)
    (p.dir / "sw.png").write_bytes(png_header(2000, 2000))
    p.manifest.write_text(
        "palettes:\n  x: {file: sw.png}\nsprites:\n  hero: {prompt: a, palette: x}\n"
    )
    located(pb(p, "plan"), "is 2000x2000 (4.0 Mpx), over the 1.0 Mpx limit", "pixels.yaml:2:")


def test_an_image_truncated_after_planning_fails_its_entry_clearly(make_project):
    """The header is fine at plan time; the pixels are cut short: the entry fails, by name."""
    p = make_project(palette=None)
    art = p.dir / "art.png"
    art.write_bytes(png_header(64, 64, truncated=True))
    p.manifest.write_text("sprites:\n  hero: {image: art.png, size: 8}\n")
    r = pb(p, "build")
    assert r.code == 1 and not problems(r), r.err
    assert "art.png:1:1: cannot read the image" in r.err, r.err


def test_read_image_checks_the_header_before_decoding(tmp_path: Path):
    from pixelbuild.errors import Issue
    from pixelbuild.images import read_image

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(20000, 20000))
    with pytest.raises(Issue, match=r"bomb\.png:1:1: the image is far over the 16\.8 Mpx limit"):
        read_image(bomb)
    wide = tmp_path / "wide.png"
    wide.write_bytes(png_header(5000, 4000))
    with pytest.raises(Issue, match=r"5000x4000 \(20\.0 Mpx\), over the 16\.8 Mpx limit"):
        read_image(wide)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"JASC-PAL\n0100\n" + b"9" * 5000 + b"\n", "expected the number of colours on line 3"),
        (b"GIMP Palette\n\xc2\xb2 0 0\n", "colour channel must be 0..255"),
    ],
)
def test_palette_text_with_odd_numbers_is_located(tmp_path: Path, text, fragment):
    from pixelbuild.errors import Issue
    from pixelbuild.pixel.palettes import load_palette_file

    path = tmp_path / ("p.pal" if text.startswith(b"JASC") else "p.gpl")
    path.write_bytes(text)
    with pytest.raises(Issue, match=fragment):
        load_palette_file(path)


# --- project paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("assets", "../outside", "leaves the project folder"),
        ("assets", "/tmp/elsewhere", "is absolute"),
        ("cache", "../cache", "leaves the project folder"),
        ("rust_module", "/etc/passwd", "is absolute"),
    ],
)
def test_project_paths_stay_inside_the_project(make_project, field, value, fragment):
    p = make_project(f"project: {{{field}: {value}}}\n{SPRITE}", palette=None)
    before = sorted(p.dir.parent.iterdir())
    r = pb(p, "build")
    located(r, f"{field}: '{value}' {fragment}", "pixels.yaml:1:")
    assert sorted(p.dir.parent.iterdir()) == before


def test_model_and_lora_paths_are_checked_before_reading(make_project):
    p = make_project(palette=None)
    os.mkfifo(p.dir / "lora.safetensors")
    p.manifest.write_text(
        'models:\n  m: {path: "a\\0b"}\n'
        "loras:\n  l: {file: lora.safetensors}\n"
        "sprites:\n  hero: {prompt: a, engine: diffusers, model: m, loras: [l]}\n"
    )
    with deadline(20):
        r = pb(p, "plan")
    located(r, "model 'm': the path contains a NUL character", "pixels.yaml:2:")
    assert "lora.safetensors is not a regular file (it is a FIFO)" in r.err, r.err
    p.manifest.write_text('models:\n  h: {repo: "a\\0b"}\n')
    located(pb(p, "plan"), "repo: 'a\\x00b' is not a hub id", "pixels.yaml:2:")
