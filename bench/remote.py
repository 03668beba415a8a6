"""A cold clone with a warm remote cache, per backend: steps run, what came down, seconds.

    python bench/remote.py [--entries 50] [--canvas 256] [--backends file,webdav,s3]

A manifest of N sprites (procedural engine, `--canvas` generation, 32 px art) is built once
with `--remote` (which fills the remote), then a fresh clone (sources only: no assets, lock or
cache) is built against it as a whole `pixelbuild` process. Beside it, the same clone built
with no remote (the cost the cache saves). Backends: a shared folder (file://), nginx WebDAV
and moto's S3 server (a mock), on loopback in a network namespace of their own where `unshare
-n` is permitted (tests/remote_servers.py). Checks that the clone's lock and assets equal the
first build's byte for byte. Results: a table on stdout, JSON in bench/results/remote.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import machine, run_timed, table, write_json  # noqa: E402
from remote_servers import Net, start_moto, start_nginx, stop  # noqa: E402

PALETTE = "000000\nffffff\nbe2633\n44891a\n31a2f2\nf7e26b\n"


def manifest(entries: int, canvas: int) -> str:
    lines = [
        "project:",
        "  size: 32",
        "  palette: x",
        f"  generate: {{canvas: {canvas}}}",
        "palettes:",
        "  x: {file: palettes/x.hex}",
        "sprites:",
    ]
    lines += [
        f"  s{i:04d}: {{prompt: a small creature number {i}, seed: {i}}}" for i in range(entries)
    ]
    return "\n".join(lines) + "\n"


def sources(root: Path, name: str, text: str) -> Path:
    d = root / name
    (d / "palettes").mkdir(parents=True)
    (d / "pixels.yaml").write_text(text)
    (d / "palettes" / "x.hex").write_text(PALETTE)
    return d


def build(net: Net, project: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """One whole `pixelbuild build --json` process (in the namespace): its report and wall."""
    cmd = [*net.prefix, sys.executable, "-m", "pixelbuild", "build", "-C", str(project), "--json"]
    run = run_timed([*cmd, *extra], env=env)
    if run.code != 0:
        raise SystemExit(f"build failed ({run.code}): {run.stderr[-2000:]}")
    return {"report": json.loads(run.stdout), "seconds": round(run.wall, 3)}


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def measure(name: str, net: Net, work: Path, text: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PIXELBUILD_CACHE", None)
    server = None
    if name == "file":
        url = (work / "shared").as_uri()
    elif name == "webdav":
        server, url = start_nginx(net, work / "nginx")
    else:
        server, aws = start_moto(net, work / "moto")
        env |= aws
        url = "s3://cache/bench"
    try:
        first = sources(work, "first", text)
        warm = build(net, first, env, "--remote", url)
        clone = sources(work, "clone", text)
        cold = build(net, clone, env, "--remote", url)
        local = build(net, sources(work, "local", text), env, "--remote", "")
    finally:
        if server is not None:
            stop(server)
    same = (clone / "pixels.lock").read_bytes() == (first / "pixels.lock").read_bytes()
    same = same and files(clone / "assets") == files(first / "assets")
    moved, pushed = cold["report"]["remote"], warm["report"]["remote"]
    return {
        "backend": name,
        "url": url,
        "clone_steps_run": sum(cold["report"]["steps_run"].values()),
        "clone_objects_fetched": moved["fetched"],
        "clone_bytes_fetched": moved["fetched_bytes"],
        "remote_bytes_stored": pushed["pushed_bytes"],
        "clone_seconds": cold["seconds"],
        "local_steps_run": sum(local["report"]["steps_run"].values()),
        "local_seconds": local["seconds"],
        "warm_push_seconds": warm["seconds"],
        "identical": same,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--canvas", type=int, default=256, help="generation size (raw images)")
    ap.add_argument("--backends", default="file,webdav,s3")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "remote.json")
    args = ap.parse_args()
    text = manifest(args.entries, args.canvas)
    net = Net().start()
    rows = []
    try:
        for name in args.backends.split(","):
            with tempfile.TemporaryDirectory(prefix=f"pixelbuild-remote-{name}-") as work:
                rows.append(measure(name, net, Path(work), text))
                shutil.rmtree(work, ignore_errors=True)
    finally:
        net.close()
    headers = ["backend", "clone steps", "fetched", "kB fetched", "kB on remote", "clone s",
               "local steps", "local s", "warm+push s", "identical"]  # fmt: skip
    print(f"{args.entries} sprites, {args.canvas}px generations; network namespace: {net.isolated}")
    cells = [
        [r["backend"], r["clone_steps_run"], r["clone_objects_fetched"],
         round(r["clone_bytes_fetched"] / 1e3, 1), round(r["remote_bytes_stored"] / 1e3, 1),
         r["clone_seconds"], r["local_steps_run"], r["local_seconds"], r["warm_push_seconds"],
         r["identical"]]
        for r in rows
    ]  # fmt: skip
    print(table(headers, cells))
    body = {"machine": machine(), "entries": args.entries, "canvas": args.canvas,
            "isolated": net.isolated, "results": rows}  # fmt: skip
    write_json(args.json, body)
    if not all(r["identical"] for r in rows):
        raise SystemExit("a clone filled from the remote differs from the local build")


if __name__ == "__main__":
    main()
