"""`size: auto`: the grid of enlarged art of unknown scale, read from the file.

On real pixel art (tests/data/real_pixel_art, CC0 / public domain), degraded the way
bench/realart.py does it (sub-pixel drift and slide, blur, noise, JPEG), through find_grid and
through the CLI from a manifest; and the clear failures: no grid, a prompt sprite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import pb
from PIL import Image

DATA = Path(__file__).parent / "data" / "real_pixel_art"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import realart  # noqa: E402

from pixelbuild.pixel.gridfind import NoGridError, find_grid  # noqa: E402

NAMES = sorted(p.stem for p in DATA.glob("*.png"))


def art(name: str) -> np.ndarray:
    with Image.open(DATA / f"{name}.png") as im:
        return np.asarray(im.convert("RGBA")).copy()


@pytest.mark.parametrize("scale", [4, 8, 16])
@pytest.mark.parametrize("name", NAMES)
def test_finds_the_art_size_of_degraded_real_art(name, scale):
    a = art(name)
    degraded = realart.degrade(a, scale, realart.case_seed(name, 0))
    grid = find_grid(degraded.image)
    assert grid.size == (a.shape[1], a.shape[0])
    assert grid.scale == pytest.approx((scale, scale), rel=0.1)


@pytest.mark.parametrize("name", NAMES[:3])
def test_native_art_is_scale_one(name):
    a = art(name)
    grid = find_grid(a)
    assert grid.scale == (1.0, 1.0) and grid.size == (a.shape[1], a.shape[0])


def test_a_smooth_picture_has_no_grid():
    y, x = np.mgrid[0:200, 0:300]
    smooth = np.stack([x * 255 // 299, y * 255 // 199, (x + y) * 255 // 498], -1)
    with pytest.raises(NoGridError, match="no pixel grid found"):
        find_grid(smooth.astype(np.uint8))


def test_size_auto_builds_imports_through_the_cli(make_project):
    manifest = "project: {palette: x}\npalettes:\n  x: {file: palettes/x.hex}\nsprites:\n"
    project = make_project(manifest, palette=None)
    imports = project.dir / "imports"
    imports.mkdir()
    names = NAMES[:4]
    for i, name in enumerate(names):
        a = art(name)
        degraded = realart.degrade(a, (4, 6, 8, 10)[i], realart.case_seed(name, 1))
        Image.fromarray(degraded.image).save(imports / f"{name}.png")
        manifest += f"  {name}: {{image: imports/{name}.png, size: auto}}\n"
    colours = np.unique(
        np.concatenate([realart.corpus.opaque_colors(art(n)) for n in names]), axis=0
    )
    (project.dir / "palettes").mkdir()
    (project.dir / "palettes" / "x.hex").write_text(
        "".join(f"{r:02x}{g:02x}{b:02x}\n" for r, g, b in colours)
    )
    (project.dir / "pixels.yaml").write_text(manifest)
    r = pb(project, "build")
    assert r.code == 0, r.err
    assert "size auto:" in r.err
    for name in names:
        built, drawn = project.assets / "sprites" / f"{name}.png", DATA / f"{name}.png"
        with Image.open(built) as out, Image.open(drawn) as original:
            assert out.size == original.size


def test_no_grid_is_a_clear_failure_and_keeps_the_rest(make_project):
    project = make_project(
        "sprites:\n  photo: {image: photo.png, size: auto}\n  hero: {prompt: a knight}\n",
        palette=None,
    )
    y, x = np.mgrid[0:128, 0:128]
    smooth = np.stack([x * 2, y * 2, (x + y)], -1).astype(np.uint8)
    Image.fromarray(smooth).save(project.dir / "photo.png")
    r = pb(project, "build")
    assert r.code == 1
    assert "photo" in r.err and "photo.png: no pixel grid found" in r.err
    assert "give `size:` explicitly" in r.err and "Traceback" not in r.err
    assert (project.assets / "sprites" / "hero.png").is_file()


def test_size_auto_needs_an_image(make_project):
    project = make_project("sprites:\n  hero: {prompt: a knight, size: auto}\n", palette=None)
    r = pb(project, "build")
    assert r.code == 2
    assert "pixels.yaml:2:" in r.err and "size 'auto' reads the grid" in r.err
