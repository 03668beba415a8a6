"""A longer manifest fuzz run: N mutated manifests, each built in its own limited process.

    python bench/faults_fuzz.py [--cases 1000] [--seed 0] [--workers 2] [--json PATH]

Half the cases are structure-aware (the test suite's small manifest with values replaced by
wrong types, huge numbers, NUL bytes, long strings, deep nesting, alias bombs, unknown keys, paths
out of the project; tests/faults/test_manifest_fuzz.py draws from the same pools), half raw byte
mutations of it. Each runs `python -m pixelbuild build -C <dir>` with a 2 GiB address-space limit
and a 20 s time limit, beside a sentinel folder that must stay untouched, and is counted as:
ok (exit 0/1/2, no traceback), traceback (or "internal error"), hang (timed out), oom
(MemoryError or killed), crash (another signal or exit code), outside (wrote beside the project).
Results: a table on stdout, JSON in bench/results/faults_fuzz.json, the failing manifests kept
in --keep (default bench/results/faults_fuzz_failures/) for replay.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "faults"))

import yaml  # noqa: E402
from common import machine, table, write_json  # noqa: E402
from conftest import PALETTE, SMALL  # noqa: E402
from test_manifest_fuzz import BASE, NUMBERS, PATHS, PLACES, SPECIAL, replace  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "faults_fuzz.json"
DEFAULT_KEEP = ROOT / "bench" / "results" / "faults_fuzz_failures"
MEMORY = 2 << 30
TIMEOUT = 20.0
KINDS = ("ok", "traceback", "hang", "oom", "crash", "outside")


def hostile_value(rng: random.Random) -> tuple[object, str | None]:
    """A value for one place: (plain value, None) or (placeholder, raw YAML text)."""
    choice = rng.randrange(9)
    if choice == 0:
        return rng.choice(NUMBERS), None
    if choice == 1:
        return rng.randint(-(2**70), 2**70), None
    if choice == 2:
        return rng.choice(PATHS), None
    if choice == 3:
        return "".join(rng.choice("\0\x07é/\\.*?[]{}:#&!|>'\"ab") for _ in range(12)), None
    if choice == 4:
        return "x" * rng.randint(1000, 200_000), None
    if choice == 5:
        return rng.choice([None, True, [], {}, [1, 2], {"a": 1}, 1.5, -0.0]), None
    n = rng.randint(1, 200_000)
    raw = rng.choice(["[" * n + "]" * n, "&s [*s]", "!!binary '@@'", "2024-13-45", "*nowhere"])
    return "__RAW__", raw


def structured(rng: random.Random) -> bytes:
    data: object = BASE
    raws = []
    for _ in range(rng.randint(1, 4)):
        value, raw = hostile_value(rng)
        if raw is not None:
            raws.append(raw)
        data = replace(data, rng.choice(PLACES), value)
    text = yaml.safe_dump(data, allow_unicode=True, width=10**6)
    for raw in raws:
        text = text.replace("__RAW__", raw, 1)
    if rng.random() < 0.2:
        depth = rng.randint(2, 9)
        text += "bomb:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        text += "".join(
            f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, depth)
        )
    return text.encode("utf-8", "surrogatepass")


def raw_bytes(rng: random.Random) -> bytes:
    data = bytearray(SMALL.encode())
    for _ in range(rng.randint(1, 12)):
        i = rng.randint(0, len(data))
        op = rng.randrange(4)
        if op == 0 and i < len(data):
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[i:i] = bytes([rng.randrange(256)])
        elif op == 2:
            del data[i : i + rng.randint(1, 20)]
        else:
            data[i:i] = rng.choice(SPECIAL)
    return bytes(data)


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_case(args: tuple[int, bytes, str]) -> tuple[int, str, float]:
    """Build one manifest in a fresh project; (index, verdict, seconds)."""
    index, manifest, base = args
    case = Path(tempfile.mkdtemp(dir=base))
    project, sentinel = case / "p", case / "sentinel"
    (project / "palettes").mkdir(parents=True)
    (project / "palettes" / "x.hex").write_text(PALETTE)
    (project / "pixels.yaml").write_bytes(manifest)
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("untouched")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PIXELBUILD_CACHE", None)
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "pixelbuild", "build", "-C", str(project)]
    try:
        p = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env, preexec_fn=_limit,
            check=False, errors="replace",
        )  # fmt: skip
        verdict = _verdict(p.returncode, p.stdout + p.stderr)
    except subprocess.TimeoutExpired:
        verdict = "hang"
    seconds = time.perf_counter() - start
    untouched = [x.name for x in sorted(case.iterdir())] == ["p", "sentinel"] and [
        x.name for x in sentinel.iterdir()
    ] == ["keep.txt"]
    if verdict == "ok" and not untouched:
        verdict = "outside"
    shutil.rmtree(case, ignore_errors=True)
    return index, verdict, seconds


def _verdict(code: int, text: str) -> str:
    if "MemoryError" in text or code == -signal.SIGKILL:
        return "oom"
    if code < 0 or code not in (0, 1, 2):
        return "crash"
    if "Traceback" in text or "internal error" in text:
        return "traceback"
    return "ok"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="at most 2 (a shared 2-core machine)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    ap.add_argument("--keep", type=Path, default=DEFAULT_KEEP, help="failing manifests go here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cases = [(structured if i % 2 == 0 else raw_bytes)(rng) for i in range(args.cases)]
    counts = {kind: {"structured": 0, "raw": 0} for kind in KINDS}
    failures = []
    start = time.perf_counter()
    slowest = 0.0
    with tempfile.TemporaryDirectory(prefix="pb-fuzz-") as base:
        jobs = [(i, m, base) for i, m in enumerate(cases)]
        with Pool(max(1, min(2, args.workers))) as pool:
            for done, (i, verdict, seconds) in enumerate(pool.imap_unordered(run_case, jobs), 1):
                counts[verdict]["structured" if i % 2 == 0 else "raw"] += 1
                slowest = max(slowest, seconds)
                if verdict != "ok":
                    failures.append({"case": i, "verdict": verdict})
                    args.keep.mkdir(parents=True, exist_ok=True)
                    (args.keep / f"case-{i}-{verdict}.yaml").write_bytes(cases[i])
                if done % 100 == 0:
                    print(f"{done}/{len(jobs)} cases", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    rows = [[k, v["structured"], v["raw"], v["structured"] + v["raw"]] for k, v in counts.items()]
    print(table(["verdict", "structured", "raw bytes", "total"], rows))
    print(f"{args.cases} cases in {wall:.1f} s (slowest case {slowest:.1f} s)")
    write_json(
        args.json,
        {
            "cases": args.cases,
            "seed": args.seed,
            "limits": {"memory_bytes": MEMORY, "timeout_s": TIMEOUT},
            "counts": counts,
            "failures": failures,
            "wall_s": round(wall, 1),
            "slowest_case_s": round(slowest, 1),
            "machine": machine(),
        },
    )
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
