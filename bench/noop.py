"""No-op and one-entry-change build times for large manifests, with DVC as a peer.

    python bench/noop.py [--sizes 100,1000,10000,50000] [--files 1,50] [--repeat 5]
                         [--dvc-stages 1000] [--no-dvc] [--workdir DIR] [--keep] [--json PATH]

For each N: a manifest of N sprites (size 16, canvas 64, procedural engine), in one file or split
into `--files` included files, is built once, then
`pixelbuild build` is timed as a whole process (interpreter start included), median of
`--repeat` runs:
  * fast   - the default no-op: the stat snapshot of the last clean build answers;
  * full   - `.pixelbuild/snapshot.json` deleted before each run, so the manifest is loaded,
             validated, resolved, fingerprinted and planned against the lock;
  * locked - `build --locked` (what CI runs; always the full path, read-only);
  * change - one entry's prompt edited (a different entry each run); `--json` must report
             exactly that entry rebuilt.
Each run's peak memory (max RSS of the process) is recorded; the table shows the largest.
Targets: 1,000 entries no-op <= 0.3 s wall, 10,000 <= 2 s (issue 2); 50,000 entries (issue 17):
no-op <= 0.3 s, one-entry edit <= 2 s, `--locked` <= 5 s, memory <= 1 GB. The 50,000-entry first
build takes about 15 minutes on two cores; `--keep --workdir DIR` leaves the projects there and
reuses them on the next run (to time two versions of the code on the same built project).

DVC: a throwaway venv outside the repo (default /tmp/dvc-venv, reused when present) gets
`pip install dvc`; a `--dvc-stages`-stage pipeline (one dep file, one `cp`, one out per stage) is
`git init` + `dvc init` + set up once, then `dvc status` is timed (median of 3). Set-up is
`--dvc-setup repro` (`dvc repro`: runs the 1,000 `cp`s, ~0.5 s a stage here, ~10 min) or, by
default, `commit` (the outs are copied by this script, then `dvc commit -f` records the same
dvc.lock hashes `repro` would, without spawning 1,000 shells). `dvc status` then sees the same
pipeline either way, and must report "Data and pipelines are up to date".
Wall times on a shared machine are noisy: the CPU time of each run (user + sys) and the load
average are recorded too. Results: a table on stdout, JSON in bench/results/noop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, median_runs, run_timed, table, write_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "noop.json"
TARGETS = {1000: 0.3, 10000: 2.0}  # no-op (fast path) wall seconds
# 50,000 entries: every column has a target (seconds; MiB for memory)
SCALE_TARGETS = {50000: {"noop_fast_s": 0.3, "one_change_s": 2.0, "locked_s": 5.0,
                         "max_rss_mib": 1024}}  # fmt: skip


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PIXELBUILD_CACHE"}
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    return e


def manifest(n: int, changed: dict[int, str] | None = None) -> str:
    """A one-file manifest of `n` sprites (`changed`: entry index -> a different prompt)."""
    return "project: {size: 16, generate: {canvas: 64}}\n" + _sprites(range(n), changed or {})


def _sprites(indices: range, changed: dict[int, str]) -> str:
    lines = ["sprites:"]
    for i in indices:
        prompt = changed.get(i, f"creature number {i}")
        lines.append(f"  s{i:05d}: {{prompt: {prompt}}}")
    return "\n".join(lines) + "\n"


def write_manifest(
    project: Path, n: int, files: int, changed: dict[int, str] | None = None
) -> None:
    """The project's manifest: one file, or (`files` > 1) a pixels.yaml that includes `files`
    files of n / files sprites each (art/partNN.yaml, one lock shard each); only files whose
    text changes are written, so an edit touches one file as an editor would."""
    changed = changed or {}
    texts = {project / "pixels.yaml": manifest(n, changed)}
    if files > 1:
        per = -(-n // files)
        head = "project: {size: 16, generate: {canvas: 64}}\ninclude: ['art/*.yaml']\n"
        texts = {project / "pixels.yaml": head}
        for f in range(files):
            part = _sprites(range(f * per, min(n, (f + 1) * per)), changed)
            texts[project / "art" / f"part{f:03d}.yaml"] = part
    for path, text in texts.items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def first_build(project: Path, n: int) -> float:
    """Build every entry, printing progress as entries finish."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["pixelbuild", "build", "-C", str(project)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    assert proc.stderr is not None
    built, step = 0, max(1, n // 10)
    tail: list[str] = []
    for line in proc.stderr:
        tail = [*tail[-20:], line]
        if line.startswith("built ") and "," not in line.split()[1]:
            built += 1
            if built % step == 0:
                log(f"  first build: {built}/{n} ({time.perf_counter() - start:.0f} s)")
    if proc.wait() != 0:
        raise SystemExit(f"first build of {n} entries failed:\n{''.join(tail)}")
    return time.perf_counter() - start


def bench_size(n: int, workdir: Path, repeat: int, keep: bool = False, files: int = 1) -> dict:
    project = workdir / (f"n{n}" if files <= 1 else f"n{n}-f{files}")
    reused = keep and (project / "pixels.lock").is_file()
    if reused:  # a project kept by an earlier `--keep` run: its first build is not timed again
        write_manifest(project, n, files)
        log(f"N={n}: reusing {project}")
        run_timed(["pixelbuild", "build", "-C", str(project)], env=env())
        first = None
    else:
        if project.exists():
            shutil.rmtree(project)
        project.mkdir(parents=True)
        write_manifest(project, n, files)
        log(f"N={n}: first build")
        first = first_build(project, n)
    build = ["pixelbuild", "build", "-C", str(project)]

    check = run_timed([*build, "--json"], env=env())
    body = json.loads(check.stdout)
    assert check.code == 0 and body["rebuilt"] == [] and len(body["up_to_date"]) == n, body

    log(f"N={n}: no-op, fast path")
    fast_runs, fast = median_runs(build, repeat, env=env())
    assert all(r.code == 0 and f"up to date: {n} entries" in r.stderr for r in fast_runs)

    snap = project / ".pixelbuild" / "snapshot.json"
    log(f"N={n}: no-op, full path")
    full_runs, full = median_runs(build, repeat, before=lambda: snap.unlink(), env=env())
    assert all(r.code == 0 and f"up to date: {n} entries" in r.stderr for r in full_runs)

    log(f"N={n}: build --locked")
    locked_runs, locked = median_runs([*build, "--locked"], max(1, min(repeat, 3)), env=env())
    assert all(r.code == 0 for r in locked_runs), locked_runs[0].stderr

    log(f"N={n}: one-entry prompt change")
    change_runs = []
    for k in range(repeat):
        i = (k * 7919 + n // 2) % n
        write_manifest(project, n, files, {i: f"changed creature {i} run {k}"})
        run = run_timed([*build, "--json"], env=env())
        body = json.loads(run.stdout)
        assert run.code == 0, run.stderr
        assert body["rebuilt"] == [f"s{i:05d}"], body["rebuilt"][:5]
        if k == 0:
            # the change ran one generate, one pixelize and one assemble, and nothing else (a
            # reused project may have the generation cached from an earlier run)
            expected = {"generate": 1, "pixelize": 1, "assemble": 1}
            if reused:
                expected = {s: n for s, n in expected.items() if s in body["steps_run"]}
            assert body["steps_run"] == expected, body["steps_run"]
        change_runs.append(run)
        write_manifest(project, n, files)  # back, for the next edit
        run_timed(build, env=env())  # rebuild the original entry (from the cache)
    change = statistics.median(r.wall for r in change_runs)

    def cpu(runs):
        return round(statistics.median(r.cpu for r in runs), 4)

    every = [*fast_runs, *full_runs, *locked_runs, *change_runs]

    result = {
        "entries": n,
        "files": files,
        "first_build_s": None if first is None else round(first, 2),
        "noop_fast_s": round(fast, 4),
        "noop_fast_cpu_s": cpu(fast_runs),
        "noop_full_s": round(full, 4),
        "noop_full_cpu_s": cpu(full_runs),
        "locked_s": round(locked, 4),
        "locked_cpu_s": cpu(locked_runs),
        "one_change_s": round(change, 4),
        "one_change_cpu_s": cpu(change_runs),
        "one_change_rebuilt": 1,
        "max_rss_mib": max(r.max_rss_mib for r in every),
        "max_rss_mib_by_run": {
            "fast": max(r.max_rss_mib for r in fast_runs),
            "full": max(r.max_rss_mib for r in full_runs),
            "locked": max(r.max_rss_mib for r in locked_runs),
            "change": max(r.max_rss_mib for r in change_runs),
        },
        "lock_bytes": lock_bytes(project),
        "runs": {
            "fast": [round(r.wall, 4) for r in fast_runs],
            "full": [round(r.wall, 4) for r in full_runs],
            "locked": [round(r.wall, 4) for r in locked_runs],
            "change": [round(r.wall, 4) for r in change_runs],
        },
    }
    if n in TARGETS:
        result["target_s"] = TARGETS[n]
        result["meets_target"] = fast <= TARGETS[n]
    if n in SCALE_TARGETS:
        goals = SCALE_TARGETS[n]
        result["scale_targets"] = goals
        result["meets_target"] = all(result[k] <= v for k, v in goals.items())
    if not keep:
        shutil.rmtree(project, ignore_errors=True)
    return result


def lock_bytes(project: Path) -> int:
    """The size of the committed lock: pixels.lock and its shards, if any."""
    shards = project / "pixels.lock.d"
    files = list(shards.rglob("*")) if shards.is_dir() else []
    extra = sum(p.stat().st_size for p in files if p.is_file())
    return (project / "pixels.lock").stat().st_size + extra


# --- DVC ---------------------------------------------------------------------------------------


def dvc_venv(venv: Path) -> Path:
    dvc = venv / "bin" / "dvc"
    if dvc.exists():
        return dvc
    log(f"DVC: creating {venv} and installing dvc (once)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "dvc"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=900,
    )
    return dvc


def bench_dvc(stages: int, workdir: Path, venv: Path, setup: str) -> dict:
    try:
        dvc = dvc_venv(venv)
        version = subprocess.run(
            [str(dvc), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError) as exc:
        return {"available": False, "error": f"DVC could not be installed: {exc}"}
    repo = workdir / f"dvc{stages}"
    if repo.exists():
        shutil.rmtree(repo)
    (repo / "in").mkdir(parents=True)
    (repo / "out").mkdir()
    lines = ["stages:"]
    for i in range(stages):
        (repo / "in" / f"{i:05d}.txt").write_text(f"input {i}\n")
        lines += [
            f"  s{i:05d}:",
            f"    cmd: cp in/{i:05d}.txt out/{i:05d}.txt",
            f"    deps: [in/{i:05d}.txt]",
            f"    outs: [out/{i:05d}.txt]",
        ]
    (repo / "dvc.yaml").write_text("\n".join(lines) + "\n")
    denv = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "b@e"}  # fmt: skip
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=denv)
    subprocess.run([str(dvc), "init", "-q"], cwd=repo, check=True, env=denv)
    log(f"DVC: dvc {setup} of {stages} stages (once)")
    start = time.perf_counter()
    if setup == "commit":
        for i in range(stages):
            shutil.copy(repo / "in" / f"{i:05d}.txt", repo / "out" / f"{i:05d}.txt")
        cmd = [str(dvc), "commit", "-f", "-q"]
    else:
        cmd = [str(dvc), "repro", "-q"]
    done = subprocess.run(cmd, cwd=repo, env=denv, capture_output=True, text=True)
    setup_s = time.perf_counter() - start
    if done.returncode != 0:
        return {"available": True, "version": version, "error": f"dvc {setup} failed: "
                f"{done.stderr[-2000:]}"}  # fmt: skip
    log("DVC: dvc status")
    check = run_timed([str(dvc), "status"], cwd=repo, env=denv)
    if check.code != 0 or "up to date" not in check.stdout:
        said = check.stdout[-500:] + check.stderr[-1500:]
        return {"available": True, "version": version, "error": f"dvc status: {said}"}
    runs, status = median_runs([str(dvc), "status"], 3, cwd=repo, env=denv)
    if any(r.code != 0 for r in runs):
        return {"available": True, "version": version, "error": runs[0].stderr[-2000:]}
    shutil.rmtree(repo, ignore_errors=True)
    return {
        "available": True,
        "version": version,
        "stages": stages,
        "setup": setup,
        "setup_s": round(setup_s, 2),
        "status_s": round(status, 4),
        "status_cpu_s": round(statistics.median(r.cpu for r in runs), 4),
        "runs": [round(r.wall, 4) for r in runs],
    }


def _goal(result: dict) -> str | None:
    """The targets of a size, short: `0.3` (no-op) or `0.3/2/5/1024` (no-op/edit/locked/MiB)."""
    if "scale_targets" in result:
        g = result["scale_targets"]
        keys = ("noop_fast_s", "one_change_s", "locked_s", "max_rss_mib")
        return "/".join(f"{g[k]:g}" for k in keys)
    return None if result.get("target_s") is None else f"{result['target_s']:g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dvc-stages", type=int, default=1000)
    ap.add_argument("--no-dvc", action="store_true")
    ap.add_argument("--dvc-venv", type=Path, default=Path("/tmp/dvc-venv"))
    ap.add_argument("--dvc-setup", choices=["commit", "repro"], default="commit")
    ap.add_argument(
        "--workdir",
        type=Path,
        help="where the generated projects go (default: a temp dir in /dev/shm when present; "
        "the no-op reads only stats, but the first builds fsync every file)",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated projects in --workdir, and reuse those an earlier --keep left "
        "there (their first build is not timed again: compare code versions on one project)",
    )
    ap.add_argument(
        "--files",
        default="1",
        help="comma-separated layouts: 1 = one pixels.yaml; K > 1 = a pixels.yaml that includes "
        "K files of N/K sprites (how a large project is kept: one file per folder of assets); "
        "each size runs in each layout",
    )
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args()
    layouts = [int(f) for f in args.files.split(",") if f]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    base = args.workdir or (Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    if args.keep and args.workdir:
        workdir = args.workdir
    else:
        workdir = Path(tempfile.mkdtemp(prefix="pixelbuild-noop-", dir=base))
    started = time.perf_counter()
    results, dvc = [], None
    try:
        for n in sizes:
            for files in layouts:
                results.append(bench_size(n, workdir, args.repeat, args.keep, files))
        if not args.no_dvc:
            dvc = bench_dvc(args.dvc_stages, workdir, args.dvc_venv, args.dvc_setup)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    rows = [
        [r["entries"], r["files"], r["first_build_s"], r["noop_fast_s"], r["noop_fast_cpu_s"],
         r["noop_full_s"], r["noop_full_cpu_s"], r["locked_s"], r["locked_cpu_s"],
         r["one_change_s"], r["one_change_cpu_s"], r["max_rss_mib"],
         round(r["lock_bytes"] / 1e6, 2), _goal(r),
         {True: "yes", False: "NO"}.get(r.get("meets_target"))]
        for r in results
    ]  # fmt: skip
    print(table(["entries", "files", "first build", "no-op fast", "(cpu)", "no-op full", "(cpu)",
                 "--locked", "(cpu)", "1 change", "(cpu)", "MiB", "lock MB", "target", "met"],
                rows))  # fmt: skip
    body = {
        "bench": "noop",
        "machine": machine(),
        "workdir_base": str(base) if base else tempfile.gettempdir(),
        "repeat": args.repeat,
        "results": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if dvc is not None:
        body["dvc"] = dvc
        ours = next((r for r in results if r["entries"] == args.dvc_stages), None)
        if dvc.get("status_s") and ours:
            body["dvc_ratio"] = {
                "entries": args.dvc_stages,
                "ours_fast_over_dvc_status": round(ours["noop_fast_s"] / dvc["status_s"], 4),
                "ours_full_over_dvc_status": round(ours["noop_full_s"] / dvc["status_s"], 4),
                "dvc_status_over_ours_fast": round(dvc["status_s"] / ours["noop_fast_s"], 1),
                "dvc_status_over_ours_full": round(dvc["status_s"] / ours["noop_full_s"], 1),
            }
        print()
        if "status_s" in dvc:
            print(f"DVC {dvc['version']}: `dvc status` on {dvc['stages']} stages: "
                  f"{dvc['status_s']:.3f} s (cpu {dvc['status_cpu_s']:.3f} s)")  # fmt: skip
            if "dvc_ratio" in body:
                r = body["dvc_ratio"]
                print(f"ours/DVC at {r['entries']}: fast {r['ours_fast_over_dvc_status']:.3f} "
                      f"({r['dvc_status_over_ours_fast']}x faster), full "
                      f"{r['ours_full_over_dvc_status']:.3f} "
                      f"({r['dvc_status_over_ours_full']}x faster)")  # fmt: skip
            else:
                print(f"(no pixelbuild size of {args.dvc_stages} entries in --sizes: no ratio)")
        else:
            print(f"DVC: {dvc.get('error')}")
    print(f"\nload average (1 min): {body['machine'].get('loadavg_1m')}; wall {body['seconds']} s")
    write_json(args.json, body)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
