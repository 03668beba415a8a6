"""Manifest errors: every problem at once, each at its file:line:col, and nothing written."""

from __future__ import annotations

import re
import textwrap

import pytest
from conftest import pb, pb_proc, tree

from pixelbuild.errors import ManifestError
from pixelbuild.manifest.load import load_manifest
from pixelbuild.manifest.resolve import derive_seed

THREE_ERRORS = """\
project:
  size: 16
  generate: {canvas: 64}
sprites:
  hero:
    prompt: a knight
    palete: db32
  slime:
    prompt: a slime
    size: big
  bat:
    prompt: a bat
    palette: nosuch
"""


def issues(project) -> list[tuple[int, int, str]]:
    """(line, col, message) of every issue load_manifest reports."""
    with pytest.raises(ManifestError) as info:
        load_manifest(project.manifest)
    return [(i.location.line, i.location.column, str(i)) for i in info.value.issues]


def test_three_errors_reported_at_once_and_nothing_written(make_project):
    project = make_project(THREE_ERRORS, palette=None)
    before = tree(project.dir)
    r = pb_proc(project, "build")
    assert r.code == 2
    lines = [line.strip() for line in r.err.splitlines()]
    assert "3 errors in the manifest:" in r.err
    expected = [
        ("pixels.yaml:7:5:", "sprite 'hero'", "unknown key 'palete' (did you mean 'palette'?)"),
        ("pixels.yaml:10:11:", "sprite 'slime'", "size"),
        ("pixels.yaml:13:14:", "sprite 'bat'", "unknown palette 'nosuch'"),
    ]
    for where, entry, what in expected:
        assert any(where in line and entry in line and what in line for line in lines), (
            where,
            r.err,
        )
    assert tree(project.dir) == before  # no assets dir, no lock, no cache
    assert not project.assets.exists()
    assert not (project.dir / "pixels.lock").exists()
    assert not (project.dir / ".pixelbuild").exists()
    for command in ("plan", "clean"):
        assert pb(project, command).code == 2
    assert tree(project.dir) == before


def test_errors_with_a_previous_build_leave_outputs_alone(built):
    before = tree(built.dir, cache=False)
    built.edit("slime: {prompt: a green slime}", "slime: {prompt: a green slime, sise: 3}")
    before = tree(built.dir, cache=False)
    r = pb(built, "build")
    assert r.code == 2
    assert "unknown key 'sise' (did you mean 'size'?)" in r.err
    assert tree(built.dir, cache=False) == before


def test_yaml_syntax_error_points_at_its_line(make_project):
    project = make_project(
        """\
        project:
          size: 16
        sprites:
          hero:
            prompt: a knight
           palette: db32
        """,
        palette=None,
    )
    r = pb(project, "build")
    assert r.code == 2
    assert re.search(r"pixels\.yaml:6:\d+: invalid YAML", r.err), r.err


def test_unclosed_quote_points_at_the_line_that_opens_it(make_project):
    """PyYAML's problem mark for an unclosed quote is the end of the file; its context mark is
    the quote. Pointing only at the last line sends the user to the wrong place."""
    project = make_project(
        'project:\n  size: 16\nsprites:\n  hero:\n    prompt: "a knight\n  slime: {prompt: x}\n',
        palette=None,
    )
    r = pb(project, "build")
    assert r.code == 2
    assert "invalid YAML" in r.err
    assert re.search(r"pixels\.yaml:5:\d+|line 5", r.err), r.err


def test_duplicate_keys_are_errors(make_project):
    project = make_project(
        """\
        project: {size: 16}
        sprites:
          hero: {prompt: a}
          slime: {prompt: b, prompt: c}
          hero: {prompt: d}
        """,
        palette=None,
    )
    found = issues(project)
    assert len(found) == 2
    assert any(line == 4 and "duplicate key 'prompt'" in msg for line, _, msg in found), found
    assert any((line, col) == (5, 3) and "duplicate key 'hero'" in msg for line, col, msg in found)
    assert pb(project, "build").code == 2


@pytest.mark.parametrize(
    ("out", "why"),
    [
        ("/abs/hero.png", "is absolute"),
        ("../hero.png", "may not leave the assets root"),
        ("sprites/../../hero.png", "may not leave the assets root"),
        ("C:/game/hero.png", "is absolute"),
        ("sprites/hero.txt", "must be a .png"),
    ],
)
def test_unsafe_out_paths_are_rejected(make_project, out, why):
    project = make_project(
        f"project: {{size: 16}}\nsprites:\n  hero: {{prompt: a, out: '{out}'}}\n", palette=None
    )
    found = issues(project)
    assert len(found) == 1
    line, col, msg = found[0]
    assert (line, col) == (3, 26) and why in msg, found
    r = pb(project, "build")
    assert r.code == 2 and not project.assets.exists()


def test_two_entries_with_the_same_out_are_rejected(make_project):
    project = make_project(
        """\
        project: {size: 16}
        sprites:
          hero: {prompt: a, out: chars/x.png}
          slime: {prompt: b, out: ./chars/x.png}
        animations:
          walk: {prompt: c, frames: 2, out: chars/x.png}
        """,
        palette=None,
    )
    found = issues(project)
    assert [(line, col) for line, col, _ in found] == [(4, 27), (6, 37)]
    assert all("is also written by sprite" in msg for _, _, msg in found)


def test_explicit_out_colliding_with_a_default_out_is_rejected(make_project):
    """`hero` writes sprites/hero.png by default; another entry may not claim that path."""
    project = make_project(
        """        project: {size: 16, generate: {canvas: 64}}
        sprites:
          hero: {prompt: a}
          other: {prompt: b, out: sprites/hero.png}
        """,
        palette=None,
    )
    r = pb(project, "build")
    assert r.code == 2, r.err
    assert "pixels.yaml:4:" in r.err and "also written by" in r.err, r.err
    assert not project.assets.exists()


def test_same_name_in_two_sections_is_rejected(make_project):
    project = make_project(
        "sprites:\n  hero: {prompt: a}\nanimations:\n  hero: {prompt: b, frames: 2}\n",
        palette=None,
    )
    found = issues(project)
    assert len(found) == 1 and found[0][:2] == (4, 3) and "already used" in found[0][2]


def test_suggestions_and_locations_across_the_manifest(make_project):
    project = make_project(
        """\
        version: 1
        projekt: {size: 16}
        palettes:
          mine: {file: palettes/missing.hex}
          two: {builtin: db32, colors: ["#000"]}
        sprites:
          hero:
            prompt: a knight
            pixel: {dither: bayer3, outlne: auto}
            engine: procedurall
        tilesets:
          grass: {variants: 2}
        atlases:
          all: {include: [heroo]}
        """,
        palette=None,
    )
    found = issues(project)
    text = "\n".join(f"{line}:{col} {msg}" for line, col, msg in found)
    expected = [
        (2, 1, "unknown key 'projekt' (did you mean 'project'?)"),
        (4, 16, "palette file not found: palettes/missing.hex"),
        (5, 8, "exactly one of"),
        (9, 21, "dither"),
        (9, 29, "unknown key 'outlne' (did you mean 'outline'?)"),
        (10, 13, "unknown engine 'procedurall' (did you mean 'procedural'?)"),
        (12, 10, "missing required key 'prompt'"),
        (14, 19, "'heroo' matches no sprite or animation (did you mean 'hero'?)"),
    ]
    for line, col, what in expected:
        assert any((ln, c) == (line, col) and what in msg for ln, c, msg in found), (
            f"{line}:{col} {what}\n--- got:\n{text}"
        )
    assert len(found) == len(expected), text
    assert found == sorted(found, key=lambda f: (f[0], f[1]))  # in file order


def test_entry_names_are_validated(make_project):
    project = make_project("sprites:\n  'bad name!': {prompt: a}\n", palette=None)
    found = issues(project)
    assert len(found) == 1 and found[0][:2] == (2, 3) and "invalid name" in found[0][2]


def test_missing_manifest_is_a_clear_error(tmp_path):
    from conftest import run

    r = run(["build", "-C", str(tmp_path)])
    assert r.code == 2
    assert "no pixels.yaml" in r.err and "pixelbuild init" in r.err
    assert list(tmp_path.iterdir()) == []


def test_empty_manifest_builds_nothing(make_project):
    project = make_project("", palette=None)
    r = pb(project, "build", "--json")
    assert r.code == 0 and r.json["rebuilt"] == []


def test_derived_seeds_are_stable_and_distinct():
    seeds = {derive_seed(f"entry-{i}") for i in range(1000)}
    assert len(seeds) == 1000
    assert all(0 <= s < 2**32 for s in seeds)
    assert derive_seed("hero") == derive_seed("hero")


def test_seed_out_of_range_is_rejected(make_project):
    project = make_project(
        textwrap.dedent("sprites:\n  hero: {prompt: a, seed: 4294967296}\n"), palette=None
    )
    found = issues(project)
    assert len(found) == 1 and found[0][:2] == (2, 27)


def test_merge_keys_may_be_overridden_but_own_keys_may_not_repeat(make_project):
    project = make_project(
        """\
        defaults: &small {size: 16, palette: db32}
        sprites:
          hero:
            <<: *small
            size: 24
            prompt: a knight
        """,
        palette=None,
    )
    from pixelbuild.manifest.source import load_yaml

    data = load_yaml(project.manifest).data
    assert data["sprites"]["hero"] == {"size": 24, "palette": "db32", "prompt": "a knight"}
    project.edit("    size: 24\n", "    size: 24\n    size: 20\n")
    r = pb(project, "plan")
    assert r.code == 2 and "pixels.yaml:6:5: duplicate key 'size'" in r.err, r.err


def test_unhashable_keys_and_self_referencing_aliases_are_located_errors(make_project):
    for text, where in (
        ("? [a, b]\n: 1\n", "pixels.yaml:1:3"),
        ("a: &x [*x]\n", "pixels.yaml:1:4"),  # the anchored value
    ):
        project = make_project(text, palette=None, name=f"p{len(where)}{text[0]}")
        r = pb(project, "plan")
        assert r.code == 2 and f"{where}: invalid YAML" in r.err, r.err
