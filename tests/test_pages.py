"""The gallery and compare pages in a real headless browser (Debian's chromium): they load with
no console error and no failed request, every image decodes, animations advance, the raw
toggle and "keep" work, and `watch --serve` reloads the page after a rebuild. Screenshots go
to $PIXELBUILD_ARTIFACTS (default /tmp/pixelbuild-artifacts)."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml
from browser import Visit, chromium_path, visit
from conftest import Proj, pb

from pixelbuild.manifest.schema import ENTRY_SECTIONS
from pixelbuild.watch import watch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "mossgrove"


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def example(tmp_path) -> Proj:
    shutil.copytree(EXAMPLE, tmp_path / "game", ignore=shutil.ignore_patterns(".pixelbuild"))
    return Proj(tmp_path / "game")


def _advances(seen: Visit) -> bool:
    """Whether some playing canvas shows another frame a moment later."""
    before = seen.frames()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        seen.page.wait_for_timeout(150)
        if seen.frames() != before:
            return True
    return False


def test_gallery_shows_every_entry_plays_animations_and_reports_the_build(example, browser):
    example.edit("    size: 24\n    palette: moss\n", "    size: 20\n    palette: moss\n")
    r = pb(example, "build", "--gallery", "--json")
    assert r.code == 0, r.err
    page = example.dir / ".pixelbuild" / "gallery" / "index.html"
    seen = visit(browser, page.as_uri())
    seen.page.wait_for_timeout(300)
    assert seen.errors == []
    assert seen.images_broken() == []
    manifest = yaml.safe_load(example.manifest.read_text())
    names = {n for s in ENTRY_SECTIONS for n in manifest.get(s) or {}}
    cards = set(seen.page.evaluate("[...document.querySelectorAll('.card')].map(c => c.id)"))
    assert cards == {f"entry-{n}" for n in names}
    assert _advances(seen), "no animation advanced"
    report = seen.page.inner_text("table.report")
    assert "slime" in report and "size changed" in report
    atlas = json.loads((example.assets / "atlases" / "items.json").read_text())
    boxes = seen.page.evaluate("document.querySelectorAll('#entry-items .box').length")
    assert boxes == len(atlas["frames"])
    swatches = seen.page.evaluate("document.querySelectorAll('#entry-hero .swatches span').length")
    assert swatches == 32  # endesga-32, the colours the hero uses lit
    seen.screenshot("gallery")


def test_compare_page_plays_toggles_raw_and_keep_shows_the_command(example, browser):
    r = pb(example, "compare", "hero-walk", "--seed", "1,2", "--json")
    assert r.code == 0, r.err
    seen = visit(browser, Path(r.json["page"]).as_uri())
    assert seen.errors == []
    assert seen.images_broken() == []
    assert _advances(seen)
    raw = "getComputedStyle(document.querySelector('.cell .raw')).display"
    assert seen.page.evaluate(raw) == "none"
    seen.page.check("#toggle-raw")
    assert seen.page.evaluate(raw) != "none"
    seen.page.click("#cell-3 button")
    assert seen.page.input_value("#command") == "pixelbuild pick hero-walk 3"
    seen.screenshot("compare-hero-walk")
    tiles = pb(example, "compare", "grass", "--method", "contrast", "--json")
    assert tiles.code == 0, tiles.err
    seen = visit(browser, Path(tiles.json["page"]).as_uri())
    assert seen.errors == [] and seen.images_broken() == []
    width, frame = seen.page.evaluate(
        "(() => { const c = document.querySelector('canvas[data-view]');"
        " return [c.width, JSON.parse(c.dataset.view).frames[0][2] * Number(c.dataset.scale)]; })()"
    )
    assert width == 3 * frame  # a tile repeats 3x3 so its seams show
    seen.screenshot("compare-grass")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_watch_serve_reloads_the_gallery_after_a_rebuild(example, browser):
    port = _free_port()
    stop = threading.Event()
    passes: list[object] = []
    thread = threading.Thread(
        target=watch,
        args=(example.dir,),
        kwargs={"stop": stop, "on_pass": passes.append, "serve": port, "debounce_ms": 20},
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not passes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert passes, "the first pass did not finish"
        seen = visit(browser, f"http://127.0.0.1:{port}/")
        assert seen.errors == [] and seen.images_broken() == []
        seen.page.wait_for_timeout(300)  # the page's event stream is open
        seen.page.evaluate("window.stayed = true")
        with seen.page.expect_navigation(timeout=30_000):
            example.edit("a shiny gold coin", "a shiny silver coin")
        assert seen.page.evaluate("window.stayed") is None  # a fresh page: it reloaded
        report = seen.page.inner_text("table.report")
        assert "coin" in report and "prompt changed" in report
        assert seen.errors == []
        seen.screenshot("watch-serve")
    finally:
        stop.set()
        thread.join(timeout=30)
