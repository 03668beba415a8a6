"""Benchmark of compiled SDXL engines: eager vs torch.compile vs AOTInductor vs TensorRT.

    python bench/engines.py                    # tiny random SDXL on the CPU (tests/sdxl_tiny.py)
    python bench/engines.py --random-weights   # SDXL-base architecture, random weights, CUDA fp16:
                                               # 1024x1024 batch 1 and 768x768 batch 8

All modes share one pipeline (same weights, scheduler, prompts, seeds) and run in one process
through the engines' own `generate` (batching, CFG, progress callbacks): `eager` is the diffusers
engine, `compile` the same with `unet.compile()`, `inductor` the AOTInductor engine and `tensorrt`
the torch-tensorrt engine (only where torch_tensorrt imports and a CUDA GPU is present). Compiled
engines are built first into a temporary cache with `pixelbuild engines build`'s code (the build
time is reported). Step time = median gap between progress callbacks; image time = best whole call
over its batch, after one warm-up call. `max_abs_diff` compares each mode's images with eager's
(uint8 levels). On CUDA the bf16 matmul rate gives the compute floor of a 1024x1024 30-step CFG
image (DESIGN.md: ~416 TFLOP). Results: table on stdout, JSON in bench/results/engines.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
import sdxl as sdxl_bench  # noqa: E402  (bench/sdxl.py: requests, timing, matmul rate)

from pixelbuild.engines.base import ModelRef  # noqa: E402
from pixelbuild.engines.compiled.profile import LoadedProfile, Profile  # noqa: E402
from pixelbuild.engines.sdxl import DiffusersEngine  # noqa: E402


def tensorrt_available() -> bool:
    if importlib.util.find_spec("torch_tensorrt") is None:
        return False
    import torch

    return torch.cuda.is_available()


def build_engines(compiler, model, pipe, cases, target, dtype, cache, cfg) -> dict[str, Any]:
    from pixelbuild.engines.compiled.build import build_profile

    buckets = [{"canvas": size, "batch": [batch]} for size, batch in cases]
    profile = Profile(
        model=model.name,
        compiler=compiler,
        target=target,
        precision=dtype,
        cfg=cfg,
        buckets=buckets,
    )
    loaded = LoadedProfile(f"bench-{compiler}", Path(f"bench-{compiler}.yaml"), profile)
    start = time.perf_counter()
    result = build_profile(loaded, model, cache, pipeline=pipe, say=print)
    return {"build_s": round(time.perf_counter() - start, 1), "engines": len(result.built)}


def run_mode(engine, model, mode, size, batch, args, reference) -> dict[str, Any]:
    import numpy as np

    reqs = sdxl_bench.requests_for(model, size, batch, args.steps, args.guidance, args.scheduler)
    row: dict[str, Any] = dict(mode=mode, size=size, batch=batch, steps=args.steps)
    try:
        start = time.perf_counter()
        images = engine.generate(reqs)
        row["warmup_s"] = round(time.perf_counter() - start, 3)
        row.update(sdxl_bench.best_timing(engine, reqs, args.repeat))
        key = (size, batch)
        if key not in reference:
            reference[key] = images
        diffs = [
            int(np.abs(a.astype(int) - b.astype(int)).max())
            for a, b in zip(images, reference[key], strict=True)
        ]
        row["max_abs_diff"] = max(diffs)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random-weights", action="store_true", help="SDXL-base shapes (GPU)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--scheduler", default="euler")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, nargs="*", help="canvas per case (with --batches)")
    parser.add_argument("--batches", type=int, nargs="*", help="images per call, per case")
    parser.add_argument("--modes", nargs="*", default=["eager", "inductor", "tensorrt", "compile"])
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "engines.json"))
    args = parser.parse_args()

    import torch

    from pixelbuild.engines.compiled.build import device_target
    from pixelbuild.engines.compiled.engine import InductorEngine, TensorRTEngine
    from pixelbuild.engines.sdxl import load_pipeline, resolve_device, torch_dtype

    device = resolve_device(args.device)
    big = args.random_weights
    if big and not device.startswith("cuda"):
        sys.exit("--random-weights needs a CUDA GPU (SDXL-base at 1024x1024 fp16)")
    dtype = "fp16" if device.startswith("cuda") else "fp32"
    sizes = args.size or ([1024, 768] if big else [64])
    batches = args.batches or ([1, 8] if big else [1])
    cases = list(zip((sizes * len(batches))[: len(batches)], batches, strict=True))
    args.steps = args.steps or (30 if big else 8)
    cfg = args.guidance > 1

    tmp = tempfile.TemporaryDirectory(prefix="pixelbuild-bench-engines-")
    cache = Path(tmp.name) / "cache"
    t0 = time.perf_counter()
    if big:
        from sdxl_tiny import build_pipeline

        pipe = build_pipeline("sdxl").to(device, torch_dtype(dtype))
        pipe.set_progress_bar_config(disable=True)
        model = ModelRef("sdxl-random", "folder", "<random weights>", "random-sdxl-base")
    else:
        from sdxl_tiny import build_tiny_assets

        assets = build_tiny_assets(Path(tmp.name) / "tiny")
        model = ModelRef("tiny", "folder", str(assets.folder), "tiny-bench")
        pipe = load_pipeline(model, device, dtype, False)
    print(f"pipeline ready in {time.perf_counter() - t0:.1f}s on {device} ({dtype})")

    target = device_target(device)
    rates: dict[str, float] = {}
    if device.startswith("cuda"):
        rates["bf16"] = round(sdxl_bench.matmul_tflops(device, "bf16", 8192), 1)
    floor = sdxl_bench.SDXL_IMAGE_TFLOP / rates["bf16"] if "bf16" in rates else None

    builds: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    reference: dict[tuple[int, int], list] = {}
    max_batch = max(batches)
    for mode in args.modes:
        if mode == "tensorrt" and not tensorrt_available():
            rows.append(dict(mode=mode, skipped="torch_tensorrt not importable or no CUDA GPU"))
            continue
        if mode in ("inductor", "tensorrt"):
            try:
                builds[mode] = build_engines(mode, model, pipe, cases, target, dtype, cache, cfg)
            except Exception as exc:
                rows.append(dict(mode=mode, error=f"build: {type(exc).__name__}: {exc}"))
                traceback.print_exc()
                continue
            cls = InductorEngine if mode == "inductor" else TensorRTEngine
            engine = cls(cache_dir=cache, device=device, max_batch=max_batch)
        else:
            engine = DiffusersEngine(device=device, max_batch=max_batch)
        engine.adopt(pipe, model, dtype)  # every mode runs the same weights
        if mode == "compile":
            pipe.unet.compile()  # last mode: it changes the shared UNet for good
        for size, batch in cases:
            row = run_mode(engine, model, mode, size, batch, args, reference)
            print(row, flush=True)
            rows.append(row)
        engine.close()  # drops the engine's reference; the shared pipeline lives on

    info = dict(common.machine(), device=device, target=target, dtype=dtype)
    info["torch"] = torch.__version__
    info["cpu_threads"] = torch.get_num_threads()
    eager = {(r["size"], r["batch"]): r for r in rows if r["mode"] == "eager" and "error" not in r}
    table = []
    for r in rows:
        if "s_per_image" not in r:
            table.append([r["mode"], "-", "-", "-", "-", "-", r.get("skipped") or r.get("error")])
            continue
        base = eager.get((r["size"], r["batch"]))
        speedup = base["s_per_image"] / r["s_per_image"] if base else None
        table.append(
            [r["mode"], f"{r['size']}^2", r["batch"], r["s_per_step"], r["s_per_image"],
             round(speedup, 2) if speedup else None, r["max_abs_diff"]]
        )  # fmt: skip
    print()
    print(f"{model.name} on {device} ({target}), {dtype}, {args.steps} steps, CFG {cfg}")
    print(
        common.table(
            ["mode", "canvas", "batch", "s/step", "s/image", "x eager", "max|diff|"], table
        )
    )
    for mode, b in builds.items():
        print(f"{mode}: built {b['engines']} engine(s) in {b['build_s']} s")
    if floor is not None:
        print(
            f"compute floor, 1024^2 x 30 steps CFG: {sdxl_bench.SDXL_IMAGE_TFLOP:.0f} TFLOP / "
            f"{rates['bf16']} TFLOP/s bf16 = {floor:.2f} s per image"
        )
    common.write_json(
        Path(args.json),
        dict(
            model=model.name,
            machine=info,
            steps=args.steps,
            guidance=args.guidance,
            matmul_tflops=rates,
            floor_s_per_1024_image=round(floor, 3) if floor else None,
            builds=builds,
            results=rows,
        ),
    )
    print(f"wrote {args.json}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
