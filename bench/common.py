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
    """One whole-process run: wall seconds, CPU seconds (user + sys), peak memory and output."""

    wall: float
    cpu: float
    code: int
    stdout: str
    stderr: str
    max_rss_mib: float = 0.0  # the process's peak resident memory


def run_timed(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 600) -> Run:  # fmt: skip
    """Run `cmd` to completion: wall time (interpreter start included), the child's CPU time and
    peak memory (its own rusage, from wait4; output goes through temp files, so nothing else
    reaps it)."""
    import tempfile
    import threading

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, proc.returncode, stdout, stderr, round(usage.ru_maxrss / 1024, 1))


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
