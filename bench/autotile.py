"""Autotile sets: build time, images generated, engine calls, blend time and seam scores.

A wang16 and a blob47 set of two terrains (grass and dirt, 16 px, 2 full tiles per terrain),
built cold through the CLI on the procedural engine and, when torch and diffusers are installed,
on the tiny random-weight SDXL (built offline; 2 steps at 64 px on the CPU), there both with
each transition inpainted (the default) and blended only (`inpaint: false`). Per case: wall time
of the build, images generated and engine calls (one image per terrain tile, plus one inpainted
image per transition tile on SDXL), the inpainting calls and their time alone (the pipeline
calls of masked requests), the time of the blend and seam scoring alone (the assemble step's
work, timed again on the written terrain tiles), and the seam scores over every pair of tiles
the rules allow side by side (count, worst, mean, over the 1.5 warning) with each terrain tile's
own wrap score. Prints a table; writes bench/results/autotile.json.

    python bench/autotile.py [--no-sdxl]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent / "tests")]

from characters import build, counter  # noqa: E402  (the CLI build and the engine call counter)
from common import machine, table, write_json  # noqa: E402

from pixelbuild.assemble.autotile import allowed_seams, autotile_set, paint_set  # noqa: E402

SIZE = 16
REPEAT = 20  # blend timings: the median of this many


class InpaintCounter:
    """Counts the SDXL engine's inpainting pipeline calls, their images and their time."""

    def __init__(self) -> None:
        self.calls = self.images = 0
        self.seconds = 0.0

    def install(self) -> None:
        from pixelbuild.engines.sdxl.engine import DiffusersEngine

        original = DiffusersEngine.run_batch

        def timed(engine: Any, loaded: Any, requests: Any, *rest: Any) -> Any:
            if requests[0].mask is None:
                return original(engine, loaded, requests, *rest)
            t = time.perf_counter()
            try:
                return original(engine, loaded, requests, *rest)
            finally:
                self.calls += 1
                self.images += len(requests)
                self.seconds += time.perf_counter() - t

        DiffusersEngine.run_batch = timed  # type: ignore[method-assign]


inpaints = InpaintCounter()


def manifest(layout: str, sdxl: bool, inpaint: bool = True) -> str:
    generate = "{engine: diffusers, model: tiny, steps: 2, canvas: 64}" if sdxl else "{canvas: 128}"
    models = "models:\n  tiny: {path: models/tiny}\n" if sdxl else ""
    return (
        f"project: {{palette: db32, generate: {generate}}}\n{models}tilesets:\n  meadow:\n"
        f"    autotile: {layout}\n    terrains:\n"
        '      grass: {prompt: "lush grass, top-down"}\n'
        '      dirt: {prompt: "packed dirt path, top-down"}\n'
        f"    size: {SIZE}\n    variants: 2\n    seed: 13\n"
        + ("" if inpaint else "    inpaint: false\n")
    )


def blend_seconds(project: Path, layout: str) -> float:
    """The median time to blend the set and score its pairs from the written terrain tiles."""
    table_ = json.loads((project / "assets" / "tiles" / "meadow.autotile.json").read_text())
    sheet = np.asarray(Image.open(project / "assets" / "tiles" / "meadow.png").convert("RGBA"))
    cols = table_["columns"]

    def tile(i: int) -> np.ndarray:
        r, c = divmod(i, cols)
        return sheet[r * SIZE : (r + 1) * SIZE, c * SIZE : (c + 1) * SIZE]

    full = table_["full_tiles"]
    first, second = tile(full["grass"][0]), tile(full["dirt"][0])
    aset = autotile_set(layout)  # type: ignore[arg-type]
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        tiles = paint_set(aset, first, second, 13)
        allowed_seams([aset.control(i) for i in range(len(aset))], tiles)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def run_case(root: Path, layout: str, sdxl: bool, tiny: Any, inpaint: bool) -> dict[str, Any]:
    project = root / f"{'sdxl' if sdxl else 'procedural'}-{layout}-{inpaint}"
    project.mkdir(parents=True)
    if sdxl:
        shutil.copytree(tiny.folder, project / "models" / "tiny")
    (project / "pixels.yaml").write_text(manifest(layout, sdxl, inpaint))
    counter.calls = counter.images = inpaints.calls = inpaints.images = 0
    inpaints.seconds = 0.0
    t = time.perf_counter()
    result = build(project, *(["--device", "cpu"] if sdxl else []))
    seconds = time.perf_counter() - t
    lock = json.loads((project / "pixels.lock").read_text())
    seams = lock["entries"]["meadow"]["report"]["seams"]
    tiles = len(autotile_set(layout)) + 2  # type: ignore[arg-type]  # + 1 alternative a terrain
    return {
        "engine": ("tiny sdxl" if inpaint else "tiny sdxl, blend") if sdxl else "procedural",
        "layout": layout,
        "tiles": tiles,
        "seconds": round(seconds, 2),
        "images": result["steps_run"].get("generate", 0),
        "engine_calls": counter.calls,
        "inpainted": inpaints.images,
        "inpaint_calls": inpaints.calls,
        "inpaint_s": round(inpaints.seconds, 2),
        "blend_ms": round(blend_seconds(project, layout) * 1000, 2),
        "pairs": seams["pairs"],
        "seam_max": seams["max"],
        "seam_mean": seams["mean"],
        "over_1_5": seams["over_warning"],
        "terrain_wrap": seams["terrains"],
        "worst": seams["worst"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--no-sdxl", action="store_true", help="the procedural engine only")
    args = ap.parse_args()
    counter.install()
    tiny = None
    if not args.no_sdxl:
        try:
            from sdxl_tiny import build_tiny_assets

            tiny = build_tiny_assets(Path(tempfile.mkdtemp()) / "tiny")
            inpaints.install()
        except ImportError:
            print("torch/diffusers not installed: procedural engine only")
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(False, False), (True, True), (True, False)] if tiny is not None else []
        for sdxl, inpaint in runs or [(False, False)]:
            for layout in ("wang16", "blob47"):
                cases.append(run_case(Path(tmp), layout, sdxl, tiny, inpaint))
    cols = ["engine", "layout", "tiles", "seconds", "images", "engine_calls"]
    cols += ["inpainted", "inpaint_calls", "inpaint_s", "blend_ms"]
    cols += ["pairs", "seam_max", "seam_mean", "over_1_5"]
    print(table(cols, [[c[k] for k in cols] for c in cases]))
    for c in cases:
        print(f"{c['engine']} {c['layout']}: terrain wrap {c['terrain_wrap']}")
    write_json(HERE / "results" / "autotile.json", {"machine": machine(), "cases": cases})


if __name__ == "__main__":
    main()
