"""Benchmark of pixelbuild.pixel.pixelize: fidelity on degraded true pixel art, and speed.

    python bench/pixelize.py [--quick] [--json PATH]

Fidelity: procedural true pixel-art sprites and scenes (several palettes, outlines, gradients,
transparency) are upscaled x8 and x16 (nearest), degraded (wobbly grid, blur, noise, JPEG q85, and
all together over a solid background), reduced back with each method, and compared cell by cell.
Speed: 1024x1024 -> 64x64 on a 32-colour palette, one thread. If a PixelOE venv exists
(PIXELOE_PYTHON, default /tmp/pixeloe-venv/bin/python) its contrast mode runs on the same inputs.
The same step on real pixel art that nobody here drew (67 images from game packages, fetched at
bench time, with a naive vote, PixelOE and an ideal per-cell ceiling beside it) is realart.py.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pixel_samples import (  # noqa: E402
    BACKGROUNDS,
    blur,
    cell_accuracy,
    degrade,
    flatten,
    jpeg,
    noise,
    palette_compliance,
    sample_set,
    upscale_nearest,
    wobble_upscale,
)

from pixelbuild.pixel import PixelParams, builtin_palette, pixelize  # noqa: E402
from pixelbuild.pixel.quantize import _palette_map  # noqa: E402

METHODS = ("majority", "nearest", "median", "kcentroid", "contrast", "fit")
CONDITIONS = ("clean", "wobble", "blur", "noise", "jpeg85", "degraded")


def make_input(sample, cond: str, s: int, seed: int) -> np.ndarray:
    """The x`s` input for one condition; degraded sprites lose their alpha (solid background)."""
    rng = np.random.default_rng(seed)
    if cond == "clean":
        return (
            upscale_nearest(sample.art, s)
            if sample.sprite
            else upscale_nearest(sample.art, s)[..., :3]
        )
    if cond == "degraded":
        return degrade(sample, s, seed)
    big = wobble_upscale(sample.art, s, rng) if cond == "wobble" else upscale_nearest(sample.art, s)
    rgb = flatten(big, BACKGROUNDS[seed % len(BACKGROUNDS)]) if sample.sprite else big[..., :3]
    if cond == "blur":
        rgb = blur(rgb, s / 8)
    elif cond == "noise":
        rgb = noise(rgb, rng)
    elif cond == "jpeg85":
        rgb = jpeg(rgb)
    return rgb


def fidelity(samples, scales, conditions, methods):
    rows = []
    inputs = {}
    for cond in conditions:
        for s in scales:
            accs = {m: [] for m in methods}
            comp = {m: [] for m in methods}
            for i, smp in enumerate(samples):
                img = make_input(smp, cond, s, seed=1000 * s + i)
                inputs[(cond, s, i)] = img
                h, w = smp.art.shape[:2]
                for m in methods:
                    p = PixelParams(method=m, background="auto" if smp.sprite else "none")
                    out = pixelize(img, (w, h), smp.palette, p)
                    accs[m].append(cell_accuracy(out, smp.art))
                    comp[m].append(palette_compliance(out, smp.palette))
            for m in methods:
                rows.append(
                    {
                        "condition": cond,
                        "scale": s,
                        "method": m,
                        "accuracy_mean": float(np.mean(accs[m])),
                        "accuracy_min": float(np.min(accs[m])),
                        "palette_compliance": float(np.mean(comp[m])),
                        "n": len(samples),
                    }
                )
    return rows, inputs


def speed(methods, repeats: int):
    """1024x1024 -> 64x64 on db32 (32 colours), one thread: degraded x16 upscales of a 64-px
    sprite (on a solid background, default settings: background auto) and of a 64-px scene
    (full-bleed, background none)."""
    from pixel_samples import Sample, make_scene, make_sprite

    pal = builtin_palette("db32")
    cases = {
        "sprite": (
            degrade(Sample("s", make_sprite(np.random.default_rng(5), 64, pal), pal, True), 16, 3),
            "auto",
        ),
        "scene": (
            degrade(Sample("c", make_scene(np.random.default_rng(11), 64, pal), pal, False), 16, 3),
            "none",
        ),
    }
    _palette_map.cache_clear()
    t = time.perf_counter()
    pixelize(cases["sprite"][0], (64, 64), pal, PixelParams())
    out = {"first_call_s": time.perf_counter() - t, "methods": {}}
    for m in methods:
        out["methods"][m] = {}
        for name, (img, bg) in cases.items():
            p = PixelParams(method=m, background=bg)
            pixelize(img, (64, 64), pal, p)
            ts = []
            for _ in range(repeats):
                t = time.perf_counter()
                pixelize(img, (64, 64), pal, p)
                ts.append(time.perf_counter() - t)
            out["methods"][m][name] = {
                "median_ms": 1000 * float(np.median(ts)),
                "min_ms": 1000 * min(ts),
            }
        out["methods"][m]["median_ms"] = max(v["median_ms"] for v in out["methods"][m].values())
    return out, cases["sprite"][0]


PIXELOE_SCRIPT = r"""
import sys, time, json, numpy as np
from pathlib import Path
d = Path(sys.argv[1])
import torch
torch.set_num_threads(1)
try:
    from pixeloe.torch.pixelize import pixelize as pz
    from pixeloe.torch.utils import to_numpy
    api = "torch"
except Exception:
    from pixeloe.pixelize import pixelize as pz
    api = "legacy"
res = {"api": api, "out": {}}
jobs = json.loads((d / "jobs.json").read_text())
for job in jobs:
    img = np.load(d / job["file"])
    if img.shape[-1] == 4:
        img = img[..., :3]
    t = time.perf_counter()
    if api == "torch":
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        y = pz(x, pixel_size=job["scale"], thickness=2, mode="contrast", do_color_match=False,
               no_post_upscale=True, backend="torch")
        y = (y[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    else:
        y = pz(img[..., ::-1].copy(), mode="contrast", target_size=job["w"],
               patch_size=job["scale"], thickness=2, color_matching=False,
               no_upscale=True)[..., ::-1]
    dt = time.perf_counter() - t
    np.save(d / ("out_" + job["file"]), np.ascontiguousarray(y))
    res["out"][job["file"]] = dt
print(json.dumps(res))
"""


def run_pixeloe(samples, inputs, speed_img, conditions, scales):
    """PixelOE's contrast mode on the same inputs, snapped to the palette by our nearest mapping."""
    py = os.environ.get("PIXELOE_PYTHON", "/tmp/pixeloe-venv/bin/python")
    if not Path(py).exists():
        return {"available": False, "reason": f"no PixelOE interpreter at {py}"}
    from pixelbuild.pixel.quantize import palette_map

    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        jobs = []
        for (cond, s, i), img in inputs.items():
            f = f"{cond}_{s}_{i}.npy"
            np.save(d / f, img)
            h, w = samples[i].art.shape[:2]
            jobs.append({"file": f, "scale": s, "w": w, "h": h, "key": [cond, s, i]})
        np.save(d / "speed.npy", speed_img)
        jobs.append({"file": "speed.npy", "scale": 16, "w": 64, "h": 64, "key": None})
        (d / "jobs.json").write_text(json.dumps(jobs))
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        r = subprocess.run(
            [py, "-c", PIXELOE_SCRIPT, str(d)], capture_output=True, text=True, env=env
        )
        if r.returncode != 0:
            return {"available": False, "reason": "PixelOE failed: " + r.stderr.strip()[-400:]}
        res = json.loads(r.stdout.strip().splitlines()[-1])
        rows = []
        acc: dict[tuple[str, int], list[float]] = {}
        for job in jobs:
            if job["key"] is None:
                continue
            cond, s, i = job["key"]
            smp = samples[i]
            y = np.load(d / ("out_" + job["file"]))
            h, w = smp.art.shape[:2]
            if y.shape[:2] != (h, w):
                acc.setdefault((cond, s), []).append(0.0)
                continue
            idx = palette_map(smp.palette).index(y[..., :3])
            out = np.zeros((h, w, 4), np.uint8)
            out[..., :3] = smp.palette[idx]
            out[..., 3] = 255
            # PixelOE has no background removal: score colour on the art's opaque cells only.
            op = smp.art[..., 3] > 0
            acc.setdefault((cond, s), []).append(
                float((out[..., :3] == smp.art[..., :3]).all(-1)[op].mean())
            )
        for (cond, s), v in acc.items():
            rows.append({"condition": cond, "scale": s, "opaque_cell_accuracy": float(np.mean(v))})
        return {
            "available": True,
            "api": res["api"],
            "speed_ms": 1000 * res["out"]["speed.npy"],
            "fidelity": rows,
        }


def opaque_accuracy(samples, inputs, cond, s, method):
    """Our accuracy on the same footing as PixelOE's: opaque cells of the art, colour only."""
    v = []
    for i, smp in enumerate(samples):
        h, w = smp.art.shape[:2]
        p = PixelParams(method=method, background="auto" if smp.sprite else "none")
        out = pixelize(inputs[(cond, s, i)], (w, h), smp.palette, p)
        op = smp.art[..., 3] > 0
        v.append(float((out[..., :3] == smp.art[..., :3]).all(-1)[op].mean()))
    return float(np.mean(v))


def print_tables(result) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain fallback
        Console = None
    rows = result["fidelity"]
    head = ["condition", "scale", *METHODS]
    lines = []
    for cond in dict.fromkeys(r["condition"] for r in rows):
        for s in dict.fromkeys(r["scale"] for r in rows):
            cells = {r["method"]: r for r in rows if r["condition"] == cond and r["scale"] == s}
            if not cells:
                continue
            lines.append(
                [cond, f"x{s}"]
                + [
                    f"{cells[m]['accuracy_mean']:.4f} (min {cells[m]['accuracy_min']:.3f})"
                    if m in cells
                    else "-"
                    for m in METHODS
                ]
            )
    comp = min(r["palette_compliance"] for r in rows)
    sp = result["speed"]
    sp_line = [
        f"{m}: sprite {v['sprite']['median_ms']:.1f} / scene {v['scene']['median_ms']:.1f} ms"
        for m, v in sp["methods"].items()
    ]
    oe = result["pixeloe"]
    if Console:
        con = Console()
        t = Table(title="pixelize fidelity: cell accuracy, mean (min) over samples")
        for hcol in head:
            t.add_column(hcol)
        for ln in lines:
            t.add_row(*ln)
        con.print(t)
        con.print(f"palette compliance (all methods, all runs, worst): {comp:.4f}")
        con.print("speed 1024x1024 -> 64x64, db32, 1 thread (median):")
        for ln in sp_line:
            con.print("  " + ln)
        con.print(f"first call incl. palette table: {1000 * sp['first_call_s']:.0f} ms")
    else:
        print(" | ".join(head))
        for ln in lines:
            print(" | ".join(ln))
        print(f"palette compliance (worst): {comp:.4f}")
        print("speed (median): " + ", ".join(sp_line))
    if oe.get("available"):
        print(f"PixelOE ({oe['api']} API) contrast: {oe['speed_ms']:.1f} ms for the speed image")
        for r in oe["fidelity"]:
            ours = r.get("ours_contrast")
            print(
                f"  {r['condition']} x{r['scale']}: PixelOE opaque-cell accuracy "
                f"{r['opaque_cell_accuracy']:.4f}; ours contrast {ours:.4f}, "
                f"majority {r.get('ours_majority', float('nan')):.4f}"
            )
    else:
        print(f"PixelOE: unavailable ({oe.get('reason')})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples and conditions")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "pixelize.json")
    ap.add_argument("--no-pixeloe", action="store_true", help="skip the PixelOE comparison")
    ap.add_argument("--speed-only", action="store_true", help="only the speed measurement")
    a = ap.parse_args()

    samples = sample_set(8 if a.quick else 24, sizes=(16, 32))
    conditions = ("clean", "degraded") if a.quick else CONDITIONS
    scales = (8, 16)
    t0 = time.perf_counter()
    if a.speed_only:
        sp, _ = speed(METHODS, 20)
        for m, v in sp["methods"].items():
            print(m, {k: round(x["median_ms"], 1) for k, x in v.items() if isinstance(x, dict)})
        return
    rows, inputs = fidelity(samples, scales, conditions, METHODS)
    sp, speed_img = speed(METHODS, 5 if a.quick else 20)
    if a.no_pixeloe:
        oe = {"available": False, "reason": "skipped (--no-pixeloe)"}
    else:
        oe = run_pixeloe(samples, inputs, speed_img, conditions, scales)
    if oe.get("available"):
        for r in oe["fidelity"]:
            r["ours_contrast"] = opaque_accuracy(
                samples, inputs, r["condition"], r["scale"], "contrast"
            )
            r["ours_majority"] = opaque_accuracy(
                samples, inputs, r["condition"], r["scale"], "majority"
            )
        oe["speed_ratio_pixeloe_over_majority"] = (
            oe["speed_ms"] / sp["methods"]["majority"]["median_ms"]
        )
    result = {
        "bench": "pixelize",
        "quick": a.quick,
        "samples": [s.name for s in samples],
        "scales": list(scales),
        "conditions": list(conditions),
        "fidelity": rows,
        "speed": {
            "task": "1024x1024 -> 64x64, db32 (32 colours), 1 thread",
            "note": "median_ms per method is the worse of sprite and scene",
            **sp,
        },
        "pixeloe": oe,
        "targets": {"clean_majority": 0.999, "degraded_majority": 0.98, "majority_ms": 30},
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpu": platform.processor() or platform.machine(),
        },
        "wall_s": time.perf_counter() - t0,
    }
    print_tables(result)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
