"""Generation throughput on a Ray cluster against a local build: batches per second.

A generated project of N procedural sprites is built from scratch (a fresh copy per run) three
ways: locally, and with `--ray` on a real local Ray cluster with 1 and 2 fake GPUs (one
generation actor each; tests/ray_local.py starts the head, in a network namespace where
permitted). Each build is the real CLI as a subprocess; `seconds` is the build's own time (from
the first step to the lock, joining the cluster and starting its actors included). Every cluster
build's lock and assets are checked to be byte-identical to the local build's.

On a machine with few cores the procedural engine's CPU work competes with the driver's pixelize
steps and with Ray itself, so this measures the overhead and the pipelining, not a GPU speedup.

    python3 bench/ray.py --sprites 640 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import machine, table, write_json
from ray_local import LocalCluster

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "ray.json"
PALETTE = "000000\nffffff\nbe2633\n44891a\n31a2f2\nf7e26b\n"
BATCH = 64  # the procedural engine's batch size


def project(root: Path, sprites: int, canvas: int) -> Path:
    (root / "palettes").mkdir(parents=True)
    (root / "palettes" / "x.hex").write_text(PALETTE)
    lines = [
        "project:", "  size: 16", "  palette: x", f"  generate: {{canvas: {canvas}}}",
        "palettes:", "  x: {file: palettes/x.hex}", "sprites:",
    ]  # fmt: skip
    lines += [f"  s{i:04d}: {{prompt: a red slime number {i}, seed: {i}}}" for i in range(sprites)]
    (root / "pixels.yaml").write_text("\n".join(lines) + "\n")
    return root


def outputs(root: Path) -> dict[str, bytes]:
    found = {"pixels.lock": (root / "pixels.lock").read_bytes()}
    found |= {str(p.relative_to(root)): p.read_bytes() for p in (root / "assets").rglob("*.png")}
    return found


def build(cluster: LocalCluster, template: Path, ray: bool) -> tuple[float, int, dict[str, bytes]]:
    """One from-scratch build: (build seconds, generate steps, outputs)."""
    work = Path(tempfile.mkdtemp(prefix="pbray-bench-"))
    try:
        copy = work / "p"
        shutil.copytree(template, copy)
        args = ["build", "-C", str(copy), "--json", *(["--ray", cluster.address] if ray else [])]
        r = cluster.pixelbuild(args, timeout=1800)
        if r.returncode != 0:
            raise SystemExit(f"build failed ({r.returncode}):\n{r.stderr}")
        out = json.loads(r.stdout)
        return float(out["seconds"]), int(out["steps_run"]["generate"]), outputs(copy)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(cluster: LocalCluster | None, fallback: LocalCluster, template: Path, repeat: int,
            reference: dict[str, bytes] | None) -> dict[str, Any]:  # fmt: skip
    """Median over `repeat` builds, locally (cluster None) or on `cluster`."""
    times, steps = [], 0
    for _ in range(repeat):
        seconds, steps, found = build(cluster or fallback, template, ray=cluster is not None)
        if reference is not None and found != reference:
            raise SystemExit("a cluster build differs from the local build")
        reference = reference or found
        times.append(seconds)
    median = statistics.median(times)
    batches = math.ceil(steps / BATCH)
    return {
        "seconds": round(median, 3),
        "runs": [round(t, 3) for t in times],
        "generate_steps": steps,
        "batches": batches,
        "batches_per_s": round(batches / median, 3),
        "images_per_s": round(steps / median, 2),
        "identical_to_local": True,
        "_outputs": reference,
    }


def startup(cluster: LocalCluster, repeat: int) -> float:
    """What joining the cluster and starting its actors adds to a build: a one-sprite build with
    `--ray` against the same build locally (medians)."""
    tiny = project(Path(tempfile.mkdtemp(prefix="pbray-one-")) / "p", 1, 64)
    try:
        here = statistics.median(build(cluster, tiny, ray=False)[0] for _ in range(repeat))
        there = statistics.median(build(cluster, tiny, ray=True)[0] for _ in range(repeat))
    finally:
        shutil.rmtree(tiny.parent, ignore_errors=True)
    return round(there - here, 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sprites", type=int, default=640)
    ap.add_argument("--canvas", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args()

    template = project(
        Path(tempfile.mkdtemp(prefix="pbray-template-")) / "p", args.sprites, args.canvas
    )
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    one = LocalCluster(num_gpus=1)
    try:
        results["local"] = measure(None, one, template, args.repeat, None)
        reference = results["local"]["_outputs"]
        results["ray, 1 actor"] = measure(one, one, template, args.repeat, reference)
        results["ray, 1 actor"]["startup_seconds"] = startup(one, args.repeat)
    finally:
        one.close()
    two = LocalCluster(num_gpus=2)
    try:
        results["ray, 2 actors"] = measure(two, two, template, args.repeat, reference)
        results["ray, 2 actors"]["startup_seconds"] = startup(two, args.repeat)
    finally:
        two.close()
    shutil.rmtree(template.parent, ignore_errors=True)

    base = results["local"]["batches_per_s"]
    rows = []
    for name, r in results.items():
        r.pop("_outputs")
        r["vs_local"] = round(r["batches_per_s"] / base, 2)
        speed = [r["batches_per_s"], r["images_per_s"], r["vs_local"]]
        rows.append([name, r["batches"], r["seconds"], *speed, r.get("startup_seconds")])
    print(
        f"{args.sprites} procedural sprites at canvas {args.canvas}, batches of {BATCH}, median "
        f"of {args.repeat} from-scratch builds; outputs byte-identical to local: yes"
    )
    headers = ["build", "batches", "seconds", "batches/s", "images/s", "vs local", "join+start s"]
    print(table(headers, rows))
    body = {
        "bench": "ray",
        "machine": machine(),
        "params": {"sprites": args.sprites, "canvas": args.canvas, "repeat": args.repeat},
        "isolated_network": two.isolated,
        "results": results,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_json(args.json, body)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
