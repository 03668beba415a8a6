"""`size: auto` on real pixel art: how often find_grid reads the true art size, and how fast.

Every corpus image (bench/corpus.py: real art from Debian and PyPI packages, fetched at bench
time) is degraded as bench/realart.py does it (x4, x8, x16; sub-pixel drift and slide, blur,
noise, JPEG q85; sprites painted on a key colour), over several seeds, and given to find_grid.
A case is found when the reported size is exactly the art's. Prints a table per scale and the
misses; writes bench/results/gridfind.json.

    python bench/gridfind.py [--seeds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import realart  # noqa: E402
from common import machine, table, write_json  # noqa: E402

from pixelbuild.pixel.gridfind import NoGridError, find_grid  # noqa: E402


def run_case(img: corpus.CorpusImage, s: int, seed: int) -> dict[str, Any]:
    degraded = realart.degrade(img.art, s, seed)
    t = time.perf_counter()
    try:
        grid = find_grid(degraded.image)
        got: list[int] | None = list(grid.size)
        scale: list[float] | None = [round(v, 3) for v in grid.scale]
    except NoGridError:
        got = scale = None
    ms = 1000 * (time.perf_counter() - t)
    h, w = img.art.shape[:2]
    return {
        "image": img.name,
        "kind": img.kind,
        "scale": s,
        "seed": seed,
        "true": [w, h],
        "found": got,
        "found_scale": scale,
        "ok": got == [w, h],
        "ms": round(ms, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="degradations per image and scale")
    args = ap.parse_args()
    images = corpus.load()
    cases = [
        run_case(img, s, realart.case_seed(img.name, i))
        for img in images
        for s in realart.SCALES
        if realart.fits(img, s)
        for i in range(args.seeds)
    ]
    rows = []
    for s in (*realart.SCALES, None):
        part = [c for c in cases if s is None or c["scale"] == s]
        ms = [c["ms"] for c in part]
        rows.append(
            [
                f"x{s}" if s else "all",
                len(part),
                sum(c["ok"] for c in part),
                sum(c["ok"] for c in part) / len(part),
                sum(c["found"] is None for c in part),
                statistics.median(ms),
                max(ms),
            ]
        )
    print(f"size: auto on {len(images)} real images, {args.seeds} seeds per scale")
    print(table(["scale", "cases", "found", "share", "no grid", "median ms", "max ms"], rows))
    misses = [c for c in cases if not c["ok"]]
    for c in misses:
        print(f"  miss: {c['image']} x{c['scale']} seed {c['seed']}: {c['true']} -> {c['found']}")
    write_json(
        HERE / "results" / "gridfind.json",
        {
            "machine": machine(),
            "images": len(images),
            "seeds": args.seeds,
            "found_share": rows[-1][3],
            "by_scale": {r[0]: {"cases": r[1], "found": r[2], "share": r[3]} for r in rows},
            "cases": cases,
        },
    )


if __name__ == "__main__":
    main()
