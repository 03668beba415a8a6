"""Compare sheets and the gallery: how long they take, how big the pages are, first paint.

    python bench/pages.py [--entries 1000] [--repeat 3] [--workdir DIR] [--json PATH]

* compare: a 4x8 sheet (`compare hero --seed 1..7 --palette db32,pico-8,sweetie-16`: 8 seeds
  along the columns, 4 palettes down the rows, 32 cells) of the example game on the procedural
  engine, as whole processes: cold (no cache: 8 images generated) and fully cached (median of
  --repeat runs; must generate 0).
* gallery: a project of --entries sprites (size 16) plus one animation, tileset and atlas, built
  once, then `pixelbuild gallery` timed (median); the page's size; and in Debian's headless
  chromium the time to first contentful paint and to `load` (median of --repeat page loads).
Results: a table on stdout, JSON in bench/results/pages.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median_runs, run_timed, table, write_json

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "mossgrove"
COMPARE = ["--seed", "1..7", "--palette", "db32,pico-8,sweetie-16", "--json"]


def bench_compare(work: Path, repeat: int) -> dict[str, Any]:
    game = work / "game"
    shutil.copytree(EXAMPLE, game, ignore=shutil.ignore_patterns(".pixelbuild"))
    cmd = [sys.executable, "-m", "pixelbuild", "compare", "-C", str(game), "hero", *COMPARE]
    cold = run_timed(cmd)
    assert cold.code == 0, cold.stderr
    first = json.loads(cold.stdout)
    runs, cached = median_runs(cmd, repeat)
    again = json.loads(runs[-1].stdout)
    assert again["generated"] == 0, again
    return {
        "cells": first["cells"],
        "cold_s": round(cold.wall, 3),
        "cold_generated": first["generated"],
        "cached_s": round(cached, 3),
        "cached_generated": again["generated"],
        "page_bytes": Path(first["page"]).stat().st_size,
        "sheet_bytes": Path(first["sheet"]).stat().st_size,
    }


def gallery_manifest(entries: int) -> str:
    lines = ["project:", "  size: 16", "  generate: {canvas: 64}", "sprites:"]
    lines += [f"  s{i:05d}: {{prompt: item {i}}}" for i in range(entries)]
    lines += [
        "animations:",
        "  walk: {prompt: 'a knight walking, frame {i}', frames: 4}",
        "tilesets:",
        "  grass: {prompt: grass, variants: 4}",
        "atlases:",
        "  items: {include: ['s0000*']}",
    ]
    return "\n".join(lines) + "\n"


def bench_gallery(work: Path, entries: int, repeat: int) -> dict[str, Any]:
    project = work / "big"
    project.mkdir()
    (project / "pixels.yaml").write_text(gallery_manifest(entries))
    built = run_timed([sys.executable, "-m", "pixelbuild", "build", "-C", str(project), "-q"],
                      timeout=3600)  # fmt: skip
    assert built.code == 0, built.stderr
    cmd = [sys.executable, "-m", "pixelbuild", "gallery", "-C", str(project), "--json"]
    runs, wall = median_runs(cmd, repeat)
    page = Path(json.loads(runs[-1].stdout)["page"])
    paint, load = first_paint(page, repeat)
    return {
        "entries": entries + 3,
        "build_s": round(built.wall, 1),
        "gallery_s": round(wall, 3),
        "page_bytes": page.stat().st_size,
        "first_paint_ms": paint,
        "load_ms": load,
    }


def first_paint(page: Path, repeat: int) -> tuple[float | None, float | None]:
    """Median first contentful paint and load event (ms) in headless chromium."""
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, None
    if chromium is None:
        return None, None
    paints, loads = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(repeat):
            tab = browser.new_page()
            tab.goto(page.as_uri(), wait_until="load")
            paint = tab.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
            )
            load = tab.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
            paints.append(paint)
            loads.append(load)
            tab.close()
        browser.close()
    found = [p for p in paints if p is not None]
    return (round(statistics.median(found), 1) if found else None,
            round(statistics.median(loads), 1))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "pages.json")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pixelbuild-pages-"))
    compare = bench_compare(work, args.repeat)
    gallery = bench_gallery(work, args.entries, args.repeat)
    print(table(
        ["compare 4x8", "cells", "cold s", "generated", "cached s", "generated", "page KB",
         "sheet KB"],
        [["hero", compare["cells"], compare["cold_s"], compare["cold_generated"],
          compare["cached_s"], compare["cached_generated"], compare["page_bytes"] // 1024,
          compare["sheet_bytes"] // 1024]],
    ))  # fmt: skip
    print()
    print(table(
        ["gallery", "entries", "build s", "gallery s", "page KB", "first paint ms", "load ms"],
        [["", gallery["entries"], gallery["build_s"], gallery["gallery_s"],
          gallery["page_bytes"] // 1024, gallery["first_paint_ms"], gallery["load_ms"]]],
    ))  # fmt: skip
    write_json(args.json, {"machine": machine(), "compare": compare, "gallery": gallery})


if __name__ == "__main__":
    main()
