"""What a user sees for their own mistakes: plain words, a place, the right exit code."""

from __future__ import annotations

import pytest
from conftest import pb, run

from pixelbuild import defaults


def test_short_hex_colours_work_wherever_the_manifest_takes_a_colour(make_project):
    p = make_project(
        """\
        project: {size: 8, pixel: {background: "#fff", outline: "#000"}}
        palettes:
          mono: {colors: ["#000", "#FFF", "#be2633"]}
        sprites:
          hero: {prompt: a knight, palette: mono}
        """,
        palette=None,
    )
    r = pb(p, "build")
    assert r.code == 0, r.err
    assert (p.assets / "sprites" / "hero.png").is_file()


@pytest.mark.parametrize(
    ("snippet", "expected", "leak"),
    [
        ('{prompt: a, palette: ["#12"]}', "not a colour: '#12'", "should match pattern"),
        ("{prompt: a, pixel: {outline: red}}", "invalid value 'red'", "should match pattern"),
    ],
)
def test_messages_do_not_leak_pydantic_internals(make_project, snippet, expected, leak):
    p = make_project(f"sprites:\n  hero: {snippet}\n", palette=None)
    r = pb(p, "plan")
    assert r.code == 2
    assert expected in r.err and leak not in r.err.lower(), r.err


def test_type_errors_read_as_the_manifest_speaks(make_project):
    p = make_project(
        "sprites:\n  hero: {prompt: a, seed: -1, pixel: {dither: bayer3}}\n", palette=None
    )
    r = pb(p, "plan")
    assert r.code == 2
    assert "seed: must be greater than or equal to 0" in r.err, r.err
    assert "pixel.dither: must be 'none', 'bayer2', 'bayer4' or 'bayer8'" in r.err, r.err
    assert "Input should" not in r.err


def test_wrong_version_says_what_is_supported(make_project):
    p = make_project("version: 2\nsprites:\n  hero: {prompt: a}\n", palette=None)
    r = pb(p, "plan")
    assert r.code == 2
    assert "pixels.yaml:1:10" in r.err and "version 1" in r.err
    assert "Input should be" not in r.err, r.err


def test_unknown_entry_is_a_usage_error_with_a_suggestion(built):
    r = pb(built, "build", "heroo")
    assert r.code == 2, r.err
    assert "no such entry: 'heroo'" in r.err and "did you mean 'hero'" in r.err


def test_outside_a_project_the_error_says_how_to_start_one(tmp_path):
    r = run(["build", "-C", str(tmp_path)])
    assert r.code == 2
    assert "pixelbuild init" in r.err and "-C" in r.err and "Traceback" not in r.err


def test_directory_option_before_the_command(built):
    r = run(["-C", str(built.dir), "plan"])
    assert r.code == 0, r.err
    assert "up to date" in r.out


def test_clean_takes_quiet(built):
    r = pb(built, "clean", "-q")
    assert r.code == 0, r.err
    assert r.err == ""
    assert not built.pngs()


def test_img2img_strength_has_one_default():
    from pixelbuild.engines.base import GenerateRequest

    request = GenerateRequest(entry="e", prompt="p", seed=1, width=64, height=64)
    assert request.strength == defaults.STRENGTH
