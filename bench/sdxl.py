"""Benchmark of the diffusers SDXL engine: time per denoising step, per image, images/min.

    python bench/sdxl.py --tiny [--json PATH]            # tiny random SDXL (tests/sdxl_tiny.py)
    python bench/sdxl.py --random-weights [--json PATH]  # SDXL-base shapes, random weights (GPU)
    python bench/sdxl.py --model PATH [--json PATH]      # a diffusers folder or .safetensors file

Every case runs through `DiffusersEngine.generate` (batching, per-image generators, prompt
embeddings, progress callbacks) at batch 1 and 8, eager and with `torch.compile` on the UNet. The
step time is the median gap between two progress callbacks of one call; the image time is a whole
call (text encoders, denoising, VAE decode) over its batch; the best of `--repeat` calls counts,
after one warm-up call (which is where torch.compile compiles). On a CUDA GPU the bench also
measures the bf16 matmul rate with a large matmul and prints the compute floor of a 1024x1024,
30-step CFG image: about 416 TFLOP (UNet 6.76 TFLOP per forward at a 128x128 latent, x2 for CFG,
x30, plus a 10.5 TFLOP VAE decode) over that rate. Results go to bench/results/sdxl.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pixelbuild.engines.base import GenerateRequest, ModelRef  # noqa: E402
from pixelbuild.engines.sdxl import DiffusersEngine  # noqa: E402

SDXL_IMAGE_TFLOP = 416.0  # 1024x1024, 30 steps, CFG (DESIGN.md, FlopCounterMode on the real config)
PROMPT = "a knight in silver armour holding a sword, pixel art, full body, plain background"


def matmul_tflops(device: str, dtype_name: str, n: int, seconds: float = 2.0) -> float:
    """Measured dense matmul rate (TFLOP/s) of an n x n x n matmul."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name]
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(3):
        a @ b
    sync()
    iters, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            a @ b
        iters += 10
        sync()
    elapsed = time.perf_counter() - start
    return 2 * n**3 * iters / elapsed / 1e12


def requests_for(
    model: ModelRef, size: int, batch: int, steps: int, guidance: float, scheduler: str
):
    return [
        GenerateRequest(
            entry=f"bench-{i}",
            prompt=PROMPT,
            seed=1000 + i,
            width=size,
            height=size,
            steps=steps,
            guidance=guidance,
            scheduler=scheduler,
            model=model,
        )
        for i in range(batch)
    ]


def best_timing(engine: DiffusersEngine, reqs: list[GenerateRequest], repeat: int) -> dict:
    """The fastest of `repeat` calls: seconds per call, per step and per image, images/min."""
    total, step = min(time_call(engine, reqs) for _ in range(max(1, repeat)))
    batch = len(reqs)
    return {
        "s_per_call": round(total, 4),
        "s_per_step": round(step, 5),
        "s_per_image": round(total / batch, 4),
        "images_per_min": round(60 * batch / total, 2),
    }


def time_call(engine: DiffusersEngine, reqs: list[GenerateRequest]) -> tuple[float, float]:
    """(seconds for the call, median seconds per denoising step)."""
    import torch

    stamps: list[float] = []

    cuda = engine.device.startswith("cuda")

    def progress(i: int, step: int, total: int) -> None:
        if i == 0:
            if cuda:
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    start = time.perf_counter()
    engine.generate(reqs, progress)
    if cuda:
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return total, statistics.median(gaps) if gaps else float("nan")


def run_case(
    engine: DiffusersEngine, model: ModelRef, mode: str, size: int, batch: int, args
) -> dict[str, Any]:
    reqs = requests_for(model, size, batch, args.steps, args.guidance, args.scheduler)
    row: dict[str, Any] = dict(mode=mode, size=size, batch=batch, steps=args.steps)
    row["cfg"] = args.guidance > 1
    try:
        warm, _ = time_call(engine, reqs)  # loads, and compiles under torch.compile
        row["warmup_s"] = round(warm, 4)
        row.update(best_timing(engine, reqs, args.repeat))
    except Exception as exc:  # torch.compile without a compiler, OOM, ...
        row["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a diffusers SDXL folder or a .safetensors checkpoint")
    source.add_argument("--random-weights", action="store_true", help="real SDXL-base shapes")
    source.add_argument("--tiny", action="store_true", help="the tiny test model (CPU)")
    parser.add_argument("--config", help="config folder for a single-file --model")
    parser.add_argument("--device", default=None, help="cuda, mps, cpu (default: best)")
    parser.add_argument("--dtype", default=None, help="fp16, bf16, fp32 (default: auto)")
    parser.add_argument("--size", type=int, nargs="*", help="canvas sizes per batch (see below)")
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--scheduler", default="euler")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-compile", action="store_true", help="eager only")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "sdxl.json"))
    args = parser.parse_args()

    import torch

    engine = DiffusersEngine(device=args.device, dtype=args.dtype, max_batch=max(args.batches))
    device = engine.device
    big = args.random_weights or args.model
    if args.steps is None:
        args.steps = 30 if big else 8
    # sizes[i] goes with batches[i]: SDXL at 1024 for one image, 512 for a batch of 8
    sizes = args.size or ([1024, 512] if big else [64, 64])
    sizes = (sizes * len(args.batches))[: len(args.batches)]

    tmp = None
    if args.tiny:
        from sdxl_tiny import build_tiny_assets

        tmp = tempfile.TemporaryDirectory()
        assets = build_tiny_assets(Path(tmp.name))
        model = ModelRef("tiny", "folder", str(assets.folder), "tiny")
        engine.generate(requests_for(model, 64, 1, 1, args.guidance, args.scheduler))
    elif args.model:
        path = Path(args.model)
        source = "file" if path.is_file() else "folder"
        model = ModelRef(path.name, source, str(path), "bench", config=args.config)
        engine.generate(requests_for(model, 64, 1, 1, args.guidance, args.scheduler))
    else:
        from sdxl_tiny import build_pipeline

        from pixelbuild.engines.sdxl import resolve_dtype, torch_dtype

        model = ModelRef("sdxl-random", "folder", "<random weights>", "random")
        dtype = resolve_dtype(device, args.dtype, None)
        t0 = time.perf_counter()
        pipe = build_pipeline("sdxl").to(device, torch_dtype(dtype))
        pipe.set_progress_bar_config(disable=True)
        print(f"built SDXL-base with random weights in {time.perf_counter() - t0:.1f} s")
        engine.adopt(pipe, model, dtype)

    info = engine.provenance()
    info["cpu_threads"] = torch.get_num_threads()
    info["python"] = platform.python_version()
    rates: dict[str, float] = {}
    if device.startswith("cuda"):
        rates["bf16"] = round(matmul_tflops(device, "bf16", 8192), 1)
        rates["fp16"] = round(matmul_tflops(device, "fp16", 8192), 1)
    else:
        rates["fp32"] = round(matmul_tflops(device, "fp32", 1024, seconds=1.0), 3)
    floor = SDXL_IMAGE_TFLOP / rates["bf16"] if "bf16" in rates else None

    rows = []
    modes = ["eager"] if args.no_compile else ["eager", "compile"]
    for mode in modes:
        if mode == "compile":
            assert engine.loaded is not None  # loaded (or adopted) above
            engine.loaded.pipe.unet.compile()
        for size, batch in zip(sizes, args.batches, strict=True):
            row = run_case(engine, model, mode, size, batch, args)
            rows.append(row)
            print(json.dumps(row), flush=True)

    print()
    print(f"device: {info['device']}  dtype: {info['dtype']}  torch {info['torch']}  "
          f"diffusers {info['diffusers']}  matmul TFLOP/s: {rates}")  # fmt: skip
    head = f"{'mode':8} {'canvas':>9} {'batch':>5} {'steps':>5} {'s/step':>9} {'s/image':>9} "
    print(head + f"{'img/min':>9} {'warm-up s':>9}")
    for r in rows:
        if "error" in r:
            print(
                f"{r['mode']:8} {r['size']:>9} {r['batch']:>5} {r['steps']:>5}  {r['error'][:60]}"
            )
            continue
        print(
            f"{r['mode']:8} {str(r['size']) + '^2':>9} {r['batch']:>5} {r['steps']:>5} "
            f"{r['s_per_step']:>9.4f} {r['s_per_image']:>9.3f} {r['images_per_min']:>9.1f} "
            f"{r['warmup_s']:>9.1f}"
        )
    if floor is not None:
        print(f"compute floor, 1024^2 x 30 steps CFG: {SDXL_IMAGE_TFLOP:.0f} TFLOP / "
              f"{rates['bf16']} TFLOP/s bf16 = {floor:.2f} s per image")  # fmt: skip

    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = dict(
        model="tiny" if args.tiny else ("sdxl-random" if args.random_weights else args.model),
        machine=info,
        matmul_tflops=rates,
        floor_s_per_1024_image=round(floor, 3) if floor else None,
        results=rows,
    )
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    engine.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
