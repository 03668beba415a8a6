"""Save-to-pixels latency of `pixelbuild watch`.

A 200-entry project is built, then a real watcher runs beside it. Each sample saves the manifest
as an editor does (write a temp file, rename it over) with one entry's palette changed (a
post-processing-only change), and measures the time from the rename to that entry's new PNG
being in place, debounce included. Then the same for a prompt change (the procedural engine
generates again). Prints a table and writes JSON.

    python bench/watch.py [--entries 200] [--samples 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PALETTES = [
    '"#200808", "#a02010", "#ff8020", "#ffffff"',
    '"#102040", "#2060c0", "#80c0ff", "#f0f0f0"',
]


def manifest(entries: int, palette: str, prompt: str) -> str:
    lines = ["version: 1", "project: {size: 32, palette: db32}", "sprites:"]
    lines.append(f"  target: {{prompt: '{prompt}', palette: [{palette}]}}")
    lines += [f"  s{i:04d}: {{prompt: creature number {i}}}" for i in range(entries - 1)]
    return "\n".join(lines) + "\n"


def save(path: Path, text: str) -> float:
    tmp = path.with_name(".pixels.yaml.tmp")
    tmp.write_text(text)
    start = time.perf_counter()
    os.replace(tmp, path)
    return start


def wait_for_change(path: Path, before: tuple[int, int], timeout: float = 30.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            st = path.stat()
            if (st.st_mtime_ns, st.st_ino) != before:
                return time.perf_counter()
        except FileNotFoundError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"{path} did not change within {timeout}s")


def stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_ino


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(project: Path, entries: int, samples: int, change: str) -> list[float]:
    out = project / "assets/sprites/target.png"
    latencies = []
    for i in range(samples):
        palette = PALETTES[(i + 1) % 2]
        # Unique words (the procedural engine ignores digits), so every sample generates anew.
        prompt = "a red fire imp " + "".join(chr(97 + (i // 26**k) % 26) for k in range(3))
        if change == "palette":
            text = manifest(entries, palette, "a red fire imp")
        else:
            text = manifest(entries, PALETTES[0], prompt)
        before = stat_key(out)
        start = save(project / "pixels.yaml", text)
        latencies.append(wait_for_change(out, before) - start)
        time.sleep(0.4)  # let the pass finish its lock write before the next save
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--json", type=Path, default=Path("bench/results/watch.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pixels.yaml").write_text(manifest(args.entries, PALETTES[0], "a red fire imp"))
        print(f"building {args.entries} entries once ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pixelbuild", "build", "-q", "-C", tmp], check=True)
        log_path = project / "watch.log"
        log = log_path.open("w")
        watcher = subprocess.Popen(
            [sys.executable, "-m", "pixelbuild", "watch", "--json", "-C", tmp],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while not log_path.read_text().strip():  # the start pass
                time.sleep(0.05)
            time.sleep(1.0)  # the watcher is importing and arming
            rows = {}
            for change in ("palette", "prompt"):
                lat = measure(project, args.entries, args.samples, change)
                rows[change] = {
                    "samples": len(lat),
                    "p50_ms": round(1000 * statistics.median(lat), 1),
                    "p95_ms": round(1000 * percentile(lat, 0.95), 1),
                    "max_ms": round(1000 * max(lat), 1),
                }
        except TimeoutError:
            print(log_path.read_text(), file=sys.stderr)
            raise
        finally:
            watcher.terminate()
            watcher.wait(timeout=20)
            log.close()

    print(f"\nsave -> new PNG in place, {args.entries}-entry project, debounce 50 ms")
    print(f"{'change':<10} {'samples':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for change, r in rows.items():
        print(f"{change:<10} {r['samples']:>7} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8}")
    print("targets: palette p50 <= 300 ms, p95 <= 600 ms")
    result = {
        "bench": "watch",
        "entries": args.entries,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": rows,
        "targets": {"p50_ms": 300, "p95_ms": 600},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
