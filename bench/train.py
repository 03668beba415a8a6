"""Benchmark of LoRA training (pixelbuild.train): steps/s and peak memory.

    python bench/train.py [--steps N] [--json PATH]

On the CPU: the tiny random SDXL (tests/sdxl_tiny.py) at 64 and 128 px, rank 4, batch 1 and 4,
with one torch thread and with torch's default (on a loaded machine one can be much faster).
With CUDA: also SDXL-base shapes with random weights (`build_pipeline("sdxl")`) at 1024x1024,
rank 16, batch 4, bf16, gradient checkpointing, and the projected time of a 50-image,
3,000-step run from the measured rate (latent caching measured per image).

The rate is that of the steps after the first (warm-up) one; memory is the
process's peak RSS (`ru_maxrss`, so it never falls: compare with the peak printed before the
first run) and, on CUDA, torch's peak allocation. Results go to bench/results/train.json.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from common import machine, table, write_json  # noqa: E402

from pixelbuild.train import TrainConfig, load_dataset, train_lora  # noqa: E402

PALETTE = np.array(
    [[20, 12, 28], [190, 38, 51], [68, 137, 26], [49, 162, 242], [247, 226, 107]], np.uint8
)
PROJECT_IMAGES, PROJECT_STEPS = 50, 3000


def sprites(folder: Path, count: int, size: int = 16) -> Path:
    """`count` random native pixel-art sprites of `size` px."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        art = PALETTE[rng.integers(0, len(PALETTE), (size, size))]
        Image.fromarray(art, "RGB").save(folder / f"sprite-{i:03d}.png")
    return folder


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(pipe: Any, folder: Path, config: TrainConfig, device: str) -> dict[str, Any]:
    """One run of `config`: steps/s after the first step, latent caching, memory growth."""
    import torch

    dataset = load_dataset(folder, "pxbench")
    marks: list[float] = []
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = train_lora(
        pipe, dataset, config, progress=lambda *_: marks.append(time.perf_counter())
    )
    steady = (len(marks) - 1) / (marks[-1] - marks[0]) if len(marks) > 1 else result.steps_per_s
    row: dict[str, Any] = {
        "resolution": config.resolution,
        "rank": config.rank,
        "batch": config.batch_size,
        "images": len(dataset.images),
        "steps": result.step,
        "steps_per_s": round(steady, 3),
        "samples_per_s": round(steady * config.batch_size, 3),
        "setup_s": round(marks[0] - start - 1 / max(steady, 1e-9), 3) if marks else None,
        "peak_rss_mb": round(max_rss_mb(), 1),
        "final_loss": round(result.loss or 0.0, 4),
    }
    if device == "cuda":
        row["cuda_peak_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
    return row


def cpu_cases(steps: int, root: Path) -> list[dict[str, Any]]:
    import torch
    from sdxl_tiny import build_pipeline

    pipe = build_pipeline("tiny", 0).to("cpu")
    folder = sprites(root / "cpu", 4)
    print(f"peak RSS with the tiny model built, before training: {max_rss_mb():.1f} MB")
    rows = []
    default = torch.get_num_threads()
    for threads in sorted({1, default}):
        torch.set_num_threads(threads)
        for resolution, batch in ((64, 1), (64, 4), (128, 1)):
            cfg = TrainConfig(steps=steps, rank=4, resolution=resolution, batch_size=batch)
            row = {"device": "cpu", "threads": threads, "model": "tiny"}
            rows.append({**row, **measure(pipe, folder, cfg, "cpu")})
    torch.set_num_threads(default)
    return rows


def cuda_case(steps: int, root: Path) -> dict[str, Any]:
    """SDXL-base shapes at 1024, rank 16, batch 4, bf16; projection of 50 images x 3,000 steps."""
    import torch
    from sdxl_tiny import build_pipeline

    pipe = build_pipeline("sdxl", 0).to("cuda", torch.bfloat16)
    pipe.vae.to(torch.float32)
    folder = sprites(root / "cuda", 8, size=32)
    cfg = TrainConfig(steps=steps, rank=16, resolution=1024, batch_size=4, precision="bf16")
    row = {"device": torch.cuda.get_device_name(), "model": "sdxl (random)"}
    row.update(measure(pipe, folder, cfg, "cuda"))
    per_image = max(row["setup_s"] or 0.0, 0.0) / row["images"]
    hours = (PROJECT_STEPS / row["steps_per_s"] + PROJECT_IMAGES * per_image) / 3600
    row["projection"] = (
        f"{PROJECT_IMAGES} images x {PROJECT_STEPS} steps (batch 4, "
        f"{PROJECT_STEPS * 4 / PROJECT_IMAGES:.0f} epochs): {hours:.2f} h"
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "train.json")
    args = parser.parse_args(argv)
    import torch

    from pixelbuild.engines.sdxl.models import quiet_libraries

    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        rows = cpu_cases(args.steps, Path(tmp))
        if torch.cuda.is_available():
            rows.append(cuda_case(args.steps, Path(tmp)))
    headers = [
        "device",
        "threads",
        "model",
        "resolution",
        "rank",
        "batch",
        "steps_per_s",
        "samples_per_s",
    ]
    headers += ["setup_s", "peak_rss_mb", "cuda_peak_gb"]
    print(table(headers, [[r.get(h) for h in headers] for r in rows]))
    for r in rows:
        if "projection" in r:
            print("projection:", r["projection"])
    write_json(args.json, {"machine": machine(), "torch": torch.__version__, "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
