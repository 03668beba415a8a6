"""`pixelbuild compare` and `pick`: axes, the grid, cells as cached build nodes, and the winner
written back into pixels.yaml with nothing else changed."""

from __future__ import annotations

import difflib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import Proj, pb

from pixelbuild.compare.axes import CURRENT, Context, LoraAxis, parse_option
from pixelbuild.compare.cells import changes, make_cells
from pixelbuild.compare.pick import write_changes
from pixelbuild.errors import UsageError
from pixelbuild.images import decode_png
from pixelbuild.manifest.load import load_manifest
from pixelbuild.manifest.schema import Manifest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "mossgrove"

LORAS = """\
project:
  size: 16
  generate: {loras: [style]}
loras:
  style: {file: loras/style.safetensors, weight: 0.8}
  extra: {file: loras/extra.safetensors}
sprites:
  hero: {prompt: a red knight with a sword, seed: 7}
"""


@pytest.fixture
def example(tmp_path) -> Proj:
    """The example game, copied (its committed assets and lock: up to date)."""
    shutil.copytree(EXAMPLE, tmp_path / "game", ignore=shutil.ignore_patterns(".pixelbuild"))
    return Proj(tmp_path / "game")


def _context(text: str, tmp_path: Path, entry: str = "hero") -> Context:
    (tmp_path / "pixels.yaml").write_text(text)
    m, _ = load_manifest(tmp_path / "pixels.yaml")
    data = m.sprites[entry].model_dump(exclude_unset=True)
    return Context(m, data, seed=7, model=None, palette="endesga-32", method="majority")


# -- axes and cells ------------------------------------------------------------------------


def test_seed_axis_reads_ranges_and_lists_and_puts_the_current_seed_first(tmp_path):
    ctx = _context(LORAS, tmp_path)
    axis = parse_option("seed", "1..3,7,9", ctx)
    assert axis.values == (CURRENT, 1, 2, 3, 9)  # 7 is the entry's own: the baseline
    assert [axis.label(v) for v in axis.values[:2]] == ["seed 7", "seed 1"]
    for bad in ("3..1", "x", "1,,2"):
        with pytest.raises(UsageError):
            parse_option("seed", bad, ctx)


def test_lora_axes_compose_and_their_baseline_leaves_the_lora_out(tmp_path):
    ctx = _context(LORAS, tmp_path)
    style = parse_option("lora", "style=0,0.6,1.2", ctx)
    extra = parse_option("lora", "extra=0.5", ctx)
    assert isinstance(style, LoraAxis) and style.values == (0, 0.6, 1.2)
    cells = make_cells([style, extra], ctx.data)
    assert len(cells) == 6
    loras = {c.labels: c.data["loras"] for c in cells}
    assert loras[("no style", "no extra")] == []
    assert loras[("style \u00d70.6", "no extra")] == [{"name": "style", "weight": 0.6}]
    assert loras[("style \u00d71.2", "extra \u00d70.5")] == [
        {"name": "style", "weight": 1.2},
        {"name": "extra", "weight": 0.5},
    ]
    with pytest.raises(UsageError, match="did you mean 'style'"):
        parse_option("lora", "stlye=1", ctx)
    with pytest.raises(UsageError, match="NAME=V1"):
        parse_option("lora", "style", ctx)


def test_cells_run_along_columns_then_rows_then_grids(tmp_path):
    ctx = _context(LORAS, tmp_path)
    seed = parse_option("seed", "1,2", ctx)  # 3 values: columns
    palette = parse_option("palette", "db32", ctx)  # 2: rows
    method = parse_option("method", "contrast", ctx)  # 2: grids
    cells = make_cells([seed, palette, method], ctx.data)
    assert [c.number for c in cells] == list(range(1, 13))
    assert [(c.group, c.row, c.column) for c in cells[:4]] == [
        ((0,), 0, 0), ((0,), 0, 1), ((0,), 0, 2), ((0,), 1, 0),
    ]  # fmt: skip
    assert cells[6].group == (1,)
    last = cells[-1]
    assert last.changes == (
        (("seed",), 2),
        (("palette",), "db32"),
        (("pixel",), {"method": "contrast"}),  # the entry has no `pixel:` yet
    )
    assert cells[0].changes == ()  # the baseline is the entry as it is


def test_prompt_replace_and_unknown_values_are_located_in_the_message(tmp_path):
    ctx = _context(LORAS, tmp_path)
    axis = parse_option("prompt_replace", "knight=paladin,rogue", ctx)
    cells = make_cells([axis], ctx.data)
    assert [c.data["prompt"] for c in cells] == [
        "a red knight with a sword",
        "a red paladin with a sword",
        "a red rogue with a sword",
    ]
    with pytest.raises(UsageError, match="no 'dragon' to replace"):
        parse_option("prompt_replace", "dragon=wyrm", ctx)
    with pytest.raises(UsageError, match="did you mean 'db32'"):
        parse_option("palette", "db23", ctx)
    with pytest.raises(UsageError, match="unknown method"):
        parse_option("method", "blur", ctx)


def test_too_many_cells_is_refused_before_anything_runs(tmp_path):
    ctx = _context(LORAS, tmp_path)
    with pytest.raises(UsageError, match="cells, over the 256"):
        make_cells([parse_option("seed", "1..300", ctx)], ctx.data)


def test_changes_are_the_leaves_that_differ():
    old = {"seed": 1, "pixel": {"outline": "auto"}, "loras": ["a"]}
    new = {"seed": 1, "pixel": {"outline": "auto", "method": "contrast"}, "loras": []}
    assert changes(old, new) == [(("pixel", "method"), "contrast"), (("loras",), [])]


# -- through the CLI -----------------------------------------------------------------------


def test_compare_builds_cells_as_cached_nodes_and_writes_page_and_sheet(example):
    first = pb(example, "compare", "hero", "--seed", "1..3", "--palette", "db32", "--json")
    assert first.code == 0, first.err
    report = first.json
    # 4 seeds (the cache is empty: the entry's own too); the db32 row reuses their images
    assert report["cells"] == 8 and report["generated"] == 4
    cells = json.loads(Path(report["cells_file"]).read_text())
    baseline = cells["cells"][0]
    assert baseline["changes"] == []
    sheet = decode_png(Path(report["sheet"]).read_bytes())
    assert sheet.shape[0] > 2 * 128 and sheet.shape[1] > 4 * 128  # 2 rows of 4 cells
    page = Path(report["page"]).read_text()
    assert page.count("class=cell ") == 8 and "pixelbuild pick hero 8" in page
    assert not re.search(r"""(src|href)=['"]?(https?:|//)|url\((https?:|//)""", page)
    again = pb(example, "compare", "hero", "--seed", "1..3", "--palette", "db32", "--json")
    assert again.code == 0 and again.json["generated"] == 0
    assert example.lock == json.loads((EXAMPLE / "pixels.lock").read_text())  # lock untouched
    assert not (example.dir / "assets" / "sprites" / "hero#2.png").exists()
    built = pb(example, "build", "hero", "--json")  # the baseline cell is the entry's own node
    assert built.code == 0 and built.json["steps_run"] == {}, built.out
    assert baseline["key"] == example.lock["entries"]["hero"]["key"]


def test_pick_writes_only_the_cell_values_then_builds_from_the_cache(example):
    before = example.manifest.read_text()
    r = pb(example, "compare", "hero", "--seed", "5", "--method", "contrast", "--json")
    assert r.code == 0, r.err
    picked = pb(example, "pick", "hero", "4", "--json")  # seed 5, contrast
    assert picked.code == 0, picked.err
    assert picked.json["rebuilt"] == ["hero"]
    assert "generate" not in picked.json["steps_run"]  # the cell was built by compare
    after = example.manifest.read_text()
    diff = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert diff == ["+    seed: 5", "+    pixel:", "+      method: contrast"], diff
    assert "seed: 5" in after and "method: contrast" in after
    image = decode_png((example.assets / "sprites" / "hero.png").read_bytes())
    assert image.shape[2] == 4 and np.unique(image[..., 3]).tolist() in ([0, 255], [255])
    assert pb(example, "build", "--locked").code == 0


def test_pick_refuses_a_cell_of_an_entry_edited_since(example):
    assert pb(example, "compare", "hero", "--seed", "5").code == 0
    example.edit("a small knight with a red cape\n", "a tall knight with a red cape\n")
    r = pb(example, "pick", "hero", "2")
    assert r.code == 2 and "changed in pixels.yaml since it was compared" in r.err
    r = pb(example, "pick", "slime", "1")
    assert r.code == 2 and "no comparison of 'slime' yet" in r.err
    assert pb(example, "pick", "hero", "99").code == 2


def test_compare_block_in_the_manifest_gives_the_axes(example):
    text = example.manifest.read_text()
    block = "\ncompare:\n  coin:\n    method: [contrast]\n    seed: 1..2\n"
    example.manifest.write_text(text + block)
    r = pb(example, "compare", "coin", "--json")
    assert r.code == 0, r.err
    cells = json.loads(Path(r.json["cells_file"]).read_text())
    assert cells["axes"] == ["method", "seed"]  # the block's order: method along the columns
    example.manifest.write_text(text + "\ncompare:\n  coin:\n    palette: [nope]\n")
    r = pb(example, "compare", "coin")
    assert r.code == 2 and "pixels.yaml:" in r.err and "unknown palette 'nope'" in r.err


def test_compare_errors_name_the_problem(example):
    r = pb(example, "compare", "heroo", "--seed", "1")
    assert r.code == 2 and "did you mean 'hero'" in r.err
    r = pb(example, "compare", "hero")
    assert r.code == 2 and "no axes to compare 'hero' on" in r.err
    r = pb(example, "compare", "items", "--seed", "1")
    assert r.code == 2 and "is an atlas" in r.err


def test_pick_on_the_documented_manifest_changes_only_the_picked_values(tmp_path):
    """pixels.yaml.example's hero: a seed, a LoRA weight, a method inside its `pixel:` block."""
    manifest = tmp_path / "pixels.yaml"
    shutil.copy(ROOT / "pixels.yaml.example", manifest)
    (tmp_path / "palettes").mkdir()
    (tmp_path / "palettes" / "custom.hex").write_text("000000\nffffff\n")
    (tmp_path / "art").mkdir()
    from PIL import Image

    Image.new("RGBA", (64, 16)).save(tmp_path / "art" / "logo.png")  # the files it names
    before = manifest.read_text()
    data = yaml.safe_load(before)  # parsed without the files it names (not here)
    entry = data["sprites"]["hero"]
    parsed = Manifest.model_validate(data)
    ctx = Context(parsed, entry, seed=1234, model=None, palette="db32", method="majority")
    axes = [
        parse_option("seed", "77", ctx),
        parse_option("lora", "pixel-art=0.6", ctx),
        parse_option("method", "contrast", ctx),
    ]
    cell = make_cells(axes, entry)[-1]
    write_changes(manifest, data, "sprites", "hero", list(cell.changes))
    after = manifest.read_text()
    diff = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    comment = "# left out: derived from the entry name (stable across machines)"
    assert diff == [
        f"-    seed: 1234                {comment}",
        f"+    seed: 77                  {comment}",  # the comment stays in its column
        "+      method: contrast",  # into the existing `pixel:` block
        "+    loras:",  # a new field: at the end of the entry
        "+    - name: pixel-art",
        "+      weight: 0.6",
    ], diff
    assert yaml.safe_load(after)["sprites"]["hero"]["pixel"] == {
        "outline": "auto",
        "method": "contrast",
    }


def test_pick_refuses_an_entry_of_an_included_file_and_says_what_to_set(tmp_path):
    game = tmp_path / "game"
    (game / "art").mkdir(parents=True)
    (game / "pixels.yaml").write_text("include: [art/items.yaml]\nproject: {size: 16}\n")
    (game / "art" / "items.yaml").write_text("sprites:\n  coin: {prompt: a gold coin}\n")
    project = Proj(game)
    assert pb(project, "compare", "coin", "--seed", "3").code == 0
    r = pb(project, "pick", "coin", "2")
    assert r.code == 2, r.err
    assert "written in items.yaml (an included file)" in r.err and "seed: 3" in r.err
