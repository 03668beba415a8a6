"""Small helpers shared by benches: machine info, timing a whole process, a table, JSON output."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What a result was measured on (load average included: other jobs skew wall times)."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        info["loadavg_1m"] = round(os.getloadavg()[0], 2)
    return info


@dataclass
class Run:
    """One whole-process run: wall seconds, CPU seconds (user + sys) and its output."""

    wall: float
    cpu: float
    code: int
    stdout: str
    stderr: str


def run_timed(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 600) -> Run:  # fmt: skip
    """Run `cmd` to completion: wall time (interpreter start included) and the child's CPU time."""
    import resource

    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return Run(wall, cpu, proc.returncode, out, err)


def median_runs(cmd: list[str], repeat: int, *, before: Any = None, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> tuple[list[Run], float]:  # fmt: skip
    """`repeat` runs of `cmd` (calling `before()` ahead of each); the runs and their median wall."""
    runs = []
    for _ in range(repeat):
        if before is not None:
            before()
        runs.append(run_timed(cmd, cwd=cwd, env=env))
    return runs, statistics.median(r.wall for r in runs)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table with right-aligned numbers."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_json(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
