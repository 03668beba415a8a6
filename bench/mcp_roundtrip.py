"""Round-trip latency of the MCP server's `plan` and no-op `build`, through a real stdio server.

    python bench/mcp_roundtrip.py [--sizes 10,1000] [--calls 50] [--workdir DIR] [--json PATH]

For each N: a manifest of N sprites (size 16, canvas 64, procedural engine) is built once with the
CLI; then `pixelbuild mcp` is started as a subprocess (the way an MCP client launches it) and the
SDK's client calls, `--calls` times each and one after the other:
  * plan  - open the project read-only, resolve, plan against the lock (the full path every
            time: planning has no fast path);
  * build - a no-op build: the stat snapshot of the last clean build answers, as for the CLI;
  * build --entries - a no-op build of one named entry (opens the project, takes the build lock,
            plans that entry: the path a `build(entries=[...])` always takes).
Times are wall-clock per call as the client sees it (JSON-RPC over pipes included); p50 and p95
are reported with the server's start-up (the interpreter, imports, the handshake), and beside
them the same `plan` and no-op `build` run as CLI processes (`--cli-runs` each), which is what an
assistant without the server would run. Results: a table on stdout, JSON in
bench/results/mcp_roundtrip.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median_runs, table, write_json


def make_project(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    sprites = "\n".join(f"  s{i}: {{prompt: sprite number {i}}}" for i in range(n))
    (root / "pixels.yaml").write_text(
        f"project:\n  size: 16\n  generate: {{canvas: 64}}\nsprites:\n{sprites}\n"
    )
    subprocess.run([sys.executable, "-m", "pixelbuild", "build", "-q", "-C", str(root)], check=True)
    return root


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(project: Path, calls: int) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "pixelbuild", "mcp", "-C", str(project)]
    )
    started = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        startup = time.perf_counter() - started
        timings: dict[str, list[float]] = {}
        for name, tool, args in (
            ("plan", "plan", {}),
            ("build (no-op)", "build", {}),
            ("build entries=[s0]", "build", {"entries": ["s0"]}),
        ):
            timings[name] = []
            for _ in range(calls):
                t0 = time.perf_counter()
                result = await client.call_tool(tool, args)
                timings[name].append(time.perf_counter() - t0)
                assert not result.is_error, result.content
                assert not (result.structured_content or {}).get("rebuilt"), "not a no-op"
    return {"startup_s": round(startup, 3), "calls": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,1000")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--cli-runs", type=int, default=10, help="CLI processes per command")
    parser.add_argument("--workdir", type=Path, default=None)
    default_json = Path(__file__).parent / "results" / "mcp_roundtrip.json"
    parser.add_argument("--json", type=Path, default=default_json)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pixelbuild-mcp-bench-"))
    rows, results = [], []
    for n in (int(s) for s in args.sizes.split(",")):
        project = make_project(work / f"n{n}", n)
        measured = anyio.run(measure, project, args.calls)
        for name, times in measured["calls"].items():
            ms = [t * 1000 for t in times]
            p50, p95 = statistics.median(ms), percentile(ms, 0.95)
            rows.append([n, name, len(ms), round(p50, 2), round(p95, 2), round(max(ms), 2)])
            results.append({"entries": n, "call": name, "calls": len(ms), "p50_ms": round(p50, 3),
                            "p95_ms": round(p95, 3), "max_ms": round(max(ms), 3)})  # fmt: skip
        rows.append([n, "server start-up", 1, round(measured["startup_s"] * 1000, 1), None, None])
        results.append({"entries": n, "call": "startup", "ms": measured["startup_s"] * 1000})
        for command in ("plan", "build"):  # the same through the CLI: a process per call
            cmd = [sys.executable, "-m", "pixelbuild", command, "-C", str(project)]
            runs, _ = median_runs(cmd, args.cli_runs)
            ms = [r.wall * 1000 for r in runs]
            p50, p95 = statistics.median(ms), percentile(ms, 0.95)
            name = f"CLI `{command}` (process)"
            rows.append([n, name, len(ms), round(p50, 2), round(p95, 2), round(max(ms), 2)])
            results.append({"entries": n, "call": name, "calls": len(ms), "p50_ms": round(p50, 3),
                            "p95_ms": round(p95, 3), "max_ms": round(max(ms), 3)})  # fmt: skip
    print(table(["entries", "call", "n", "p50 ms", "p95 ms", "max ms"], rows))
    write_json(args.json, {"machine": machine(), "results": results})
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
