"""Fault injection: kills, concurrent runs, cache corruption and hostile filesystems.

    python bench/faults.py [--quick] [--only kill,kill-step,concurrent,corrupt,hostile-fs]
                           [--kills 100] [--steps 48] [--rounds 10] [--corrupt 50]
                           [--seed 1] [--timeout 120] [--workdir DIR] [--keep] [--json PATH]

Every case runs `pixelbuild` as subprocesses (each with a timeout: a hang is a failure) on a
40-entry project (sprites, animations, tilesets, atlases; size 16, canvas 64, procedural engine)
and compares the result with a clean build of the same manifest in a fresh directory: the
assets tree (names and bytes) and pixels.lock (text). Any 'Traceback' or 'internal error' on
stderr is a failure.

  kill       - SIGKILL of a build at a random moment (0 .. the clean build's wall time), one to
               three times in a row, then `build`: exits 0, `--locked` exits 0, tree identical.
  kill-step  - the same, killed deterministically just before the Nth rename(2) (a blob, an
               output, the lock or the snapshot landing) or the Nth pwrite64(2) (sqlite's WAL),
               injected from outside with `strace -e inject=SYSCALL:signal=KILL:when=N`.
  concurrent - 2 and 4 builds started at once on one fresh project, and a build while
               `pixelbuild watch` runs (stopped with SIGINT): each exits 0, or nonzero with a
               clear "another pixelbuild ..." message; then the tree is a clean build's.
  corrupt    - the cache damaged after a good build (state.db garbage / bit flips / truncated /
               emptied / a directory, records mangled, blobs flipped / truncated / directories,
               .pixelbuild or its tmp/ a file, a read-only state.db, snapshot.json garbage), then
               one of: nothing else, snapshot.json removed, an output removed, an entry changed.
  hostile-fs - read-only assets (a read-only bind mount), a full disk (a tiny tmpfs as assets/
               or as the whole project), assets/ on another filesystem, a directory where an
               output goes, symlinks out of assets/, an output edited in place with its size and
               mtime kept, `project.cache` '.', '..', '.git' or absolute, `project.assets: '..'`;
               sentinel files beside the project must never be written or deleted.

Runs as root here: read-only files are made so with `chattr +i`, or by running pixelbuild
without CAP_DAC_OVERRIDE (`setpriv --bounding-set=-dac_override,...`); a case whose tool is
missing (strace, mount, chattr, setpriv) is skipped with the reason. `--quick` is about a
minute. Results: a table on stdout, per-case records in bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, table, write_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "faults.json"
CATEGORIES = ["kill", "kill-step", "concurrent", "corrupt", "hostile-fs"]
PALETTE = "000000\nffffff\nbe2633\n44891a\n31a2f2\nf7e26b\n"
NOCAP = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
BUSY = re.compile(r"another pixelbuild", re.IGNORECASE)


def manifest(changed: bool = False) -> str:
    """40 entries: 22 sprites, 8 animations, 6 tilesets, 4 atlases. `changed`: s00's prompt."""
    lines = ["project: {size: 16, generate: {canvas: 64}}", "palettes:"]
    lines += ["  x: {file: palettes/x.hex}", "sprites:"]
    for i in range(22):
        prompt = "a changed creature" if changed and i == 0 else f"creature number {i}"
        extra = ", palette: x" if i % 5 == 0 else ""
        lines.append(f"  s{i:02d}: {{prompt: {prompt}{extra}}}")
    lines.append("animations:")
    for i in range(8):
        lines.append(f'  a{i}: {{prompt: "a thing moving, frame {{i}}", frames: {2 + i % 3}}}')
    lines.append("tilesets:")
    lines += [f"  t{i}: {{prompt: ground {i}, variants: {1 + i % 3}}}" for i in range(6)]
    lines.append("atlases:")
    lines.append('  all: {include: ["s0*", a0, a1], padding: 1}')
    lines.append('  mobs: {include: ["s1*"]}')
    lines.append("  walkers: {include: [a2, a3, a4], extrude: 1}")
    lines.append('  misc: {include: [s20, s21, "a[5-7]"], power_of_two: true}')
    return "\n".join(lines) + "\n"


MANIFEST, CHANGED = manifest(), manifest(changed=True)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PIXELBUILD_CACHE"}
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    return e


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Proc:
    """One finished command: exit code (None: hung and killed), output, wall seconds."""

    label: str
    code: int | None
    out: str
    err: str
    seconds: float

    @property
    def hung(self) -> bool:
        return self.code is None


def spawn(project: Path, *args: str, wrap: list[str] | None = None) -> subprocess.Popen[str]:
    """`pixelbuild COMMAND -C project ARGS` started in its own process group."""
    command, *rest = args
    return subprocess.Popen(
        [*(wrap or []), "pixelbuild", command, "-C", str(project), *rest],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str], label: str, timeout: float, start: float) -> Proc:
    """Wait for `proc`; past `timeout` its whole group is killed and the run counts as a hang."""
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    return Proc(label, code, out, err, time.perf_counter() - start)


def pb(project: Path, *args: str, timeout: float, wrap: list[str] | None = None,
       label: str | None = None) -> Proc:  # fmt: skip
    start = time.perf_counter()
    return finish(spawn(project, *args, wrap=wrap), label or " ".join(args), timeout, start)


def last_line(text: str) -> str:
    """The line that says why: the first `error:` line (with the next when it ends in ':'),
    else the last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for k, line in enumerate(lines):
        if line.startswith(("error:", "internal error:")):
            if line.endswith(":") and k + 1 < len(lines):
                line = f"{line} {lines[k + 1]}"
            return line[:300]
    return lines[-1][:300] if lines else "(no output)"


def tool(*cmd: str) -> str | None:
    """Run a helper command (mount, chattr, ...); None on success, else why it failed."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{cmd[0]}: {exc}"
    return None if done.returncode == 0 else f"{' '.join(cmd)}: {last_line(done.stderr)}"


# --- trees -------------------------------------------------------------------------------------


def outputs(project: Path, assets: str = "assets") -> dict[str, bytes]:
    """What a build is judged by: every file under the assets root (bytes) and pixels.lock."""
    found: dict[str, bytes] = {}
    root = project / assets
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            path = Path(dirpath) / name
            rel = "assets/" + str(path.relative_to(root))
            found[rel] = path.read_bytes() if path.is_file() else b"<not a file>"
    lock = project / "pixels.lock"
    if lock.exists():
        found["pixels.lock"] = lock.read_bytes()
    return found


def fs_state(root: Path, skip: set[str]) -> dict[str, bytes]:
    """Every path under `root` (not following symlinks) -> bytes, '<dir>' or '<link:target>'."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        dirnames[:] = [d for d in dirnames if str((base / d).relative_to(root)) not in skip]
        for name in dirnames + filenames:
            path = base / name
            rel = str(path.relative_to(root))
            if rel in skip:
                continue
            if path.is_symlink():
                found[rel] = f"<link:{os.readlink(path)}>".encode()
            elif path.is_dir():
                found[rel] = b"<dir>"
            else:
                found[rel] = path.read_bytes()
    return found


def diff(got: dict[str, bytes], want: dict[str, bytes]) -> str | None:
    """A short description of how two trees differ, or None when they are identical."""
    missing = sorted(want.keys() - got.keys())
    extra = sorted(got.keys() - want.keys())
    changed = sorted(k for k in want.keys() & got.keys() if got[k] != want[k])
    parts = [
        f"{len(names)} {what} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
        for what, names in (("missing", missing), ("extra", extra), ("differ", changed))
        if names
    ]
    return "; ".join(parts) or None


# --- cases -------------------------------------------------------------------------------------


class Skip(Exception):
    """The case cannot run here (a tool is missing or refused); the message says why."""


@dataclass
class Case:
    category: str
    name: str
    status: str  # ok | failed | skipped
    reasons: list[str]
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


class Check:
    """Collects the failure reasons and the command logs of one case."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.reasons: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self.detail: dict[str, Any] = {}

    def fail(self, reason: str) -> None:
        self.reasons.append(reason)

    def saw(self, p: Proc) -> Proc:
        """Log `p`; a hang, a traceback or an internal error is always a failure."""
        self.logs.append({"cmd": p.label, "code": p.code, "s": round(p.seconds, 2),
                          "err_tail": p.err[-600:]})  # fmt: skip
        if p.hung:
            self.fail(f"{p.label}: hang (killed after {self.timeout:.0f} s)")
        if "Traceback" in p.err:
            self.fail(f"{p.label}: Traceback: {last_line(p.err)}")
        elif "internal error" in p.err:
            line = next(ln for ln in p.err.splitlines() if "internal error" in ln)
            self.fail(f"{p.label}: {line.strip()[:240]}")
        return p

    def ok(self, p: Proc, codes: tuple[int, ...] = (0,)) -> bool:
        """`p` logged; it must exit with one of `codes`."""
        self.saw(p)
        if p.hung or p.code in codes:
            return not p.hung
        self.fail(f"{p.label}: exit {p.code}: {last_line(p.err)}")
        return False

    def clear_error(self, p: Proc, *, names: str = "") -> bool:
        """`p` must fail cleanly: nonzero, no traceback, a last line (naming `names` if set)."""
        self.saw(p)
        if p.hung:
            return False
        if p.code == 0:
            self.fail(f"{p.label}: exit 0 where an error was expected")
            return False
        if names and not re.search(names, p.err):
            self.fail(f"{p.label}: exit {p.code}, message does not name /{names}/: "
                      f"{last_line(p.err)}")  # fmt: skip
            return False
        return True

    def same(self, what: str, got: dict[str, bytes], want: dict[str, bytes]) -> bool:
        d = diff(got, want)
        if d:
            self.fail(f"{what}: {d}")
        return d is None


@dataclass
class Ref:
    """A clean build of one manifest in a fresh directory: its outputs and its wall time."""

    files: dict[str, bytes]
    seconds: float


Trial = tuple[str, Callable[[], Check]]


class Ctx:
    """Shared state of a run: arguments, the work directory, references, mounts to undo."""

    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.timeout: float = args.timeout
        self.refs: dict[str, Ref] = {}
        self.mounts: list[Path] = []
        self.frozen: list[Path] = []
        self.rng = random.Random(args.seed)
        self.n = 0

    def case_dir(self, name: str) -> Path:
        self.n += 1
        d = self.workdir / "cases" / f"{self.n:04d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
        d.mkdir(parents=True)
        return d

    def project(self, name: str, text: str = MANIFEST, *, where: Path | None = None) -> Path:
        """A project folder `p` in a fresh case folder (or at `where`) with the manifest."""
        d = where if where is not None else self.case_dir(name) / "p"
        d.mkdir(parents=True, exist_ok=True)
        (d / "pixels.yaml").write_text(text)
        (d / "palettes").mkdir(exist_ok=True)
        (d / "palettes" / "x.hex").write_text(PALETTE)
        return d

    def pb(self, project: Path, *args: str, **kw: Any) -> Proc:
        return pb(project, *args, timeout=self.timeout, **kw)

    def reference(self, text: str = MANIFEST) -> Ref:
        """A clean build of `text`, once per run."""
        if text not in self.refs:
            project = self.project("reference", text)
            p = self.pb(project, "build")
            if p.code != 0:
                raise SystemExit(f"the clean reference build failed: {p.err[-2000:]}")
            if self.pb(project, "build", "--locked").code != 0:
                raise SystemExit("the clean reference build does not pass --locked")
            self.refs[text] = Ref(outputs(project), p.seconds)
        return self.refs[text]

    def built(self, name: str, text: str = MANIFEST) -> Path:
        """A project built cleanly (a harness error if that fails: no case can start)."""
        project = self.project(name, text)
        p = self.pb(project, "build")
        if p.code != 0:
            raise RuntimeError(f"the set-up build failed: {last_line(p.err)}")
        return project

    def mount(self, target: Path, *args: str) -> None:
        """`mount ARGS SOURCE target`, undone after the case; Skip when mounting is refused."""
        target.mkdir(parents=True, exist_ok=True)
        why = tool("mount", *args, str(target))
        if why:
            raise Skip(f"cannot mount: {why}")
        self.mounts.append(target)

    def freeze(self, path: Path) -> None:
        """`chattr +i path` (immutable even to root), undone after the case."""
        if shutil.which("chattr") is None:
            raise Skip("chattr is not installed (root ignores chmod)")
        why = tool("chattr", "+i", str(path))
        if why:
            raise Skip(f"chattr +i refused: {why}")
        self.frozen.append(path)

    def undo(self) -> None:
        for path in reversed(self.frozen):
            tool("chattr", "-i", str(path))
        for target in reversed(self.mounts):
            if tool("umount", str(target)):
                tool("umount", "-l", str(target))
        self.frozen.clear()
        self.mounts.clear()

    def trial_rng(self, category: str, i: int) -> random.Random:
        return random.Random(f"{self.args.seed}-{category}-{i}")


def settle(c: Check, ctx: Ctx, project: Path, ref: Ref, *, resume: bool = True,
           wrap: list[str] | None = None) -> None:  # fmt: skip
    """Optionally `build` once more; then `--locked` exits 0 and the tree equals `ref`."""
    if resume:
        c.ok(ctx.pb(project, "build", wrap=wrap, label="resumed build"))
    c.ok(ctx.pb(project, "build", "--locked", wrap=wrap))
    c.same("tree vs clean build", outputs(project), ref.files)


# --- kill --------------------------------------------------------------------------------------


def kill_trials(ctx: Ctx) -> Iterator[Trial]:
    for i in range(ctx.args.kills):
        yield f"random-{i:03d}", partial(kill_random, ctx, i)


def kill_random(ctx: Ctx, i: int) -> Check:
    """1-3 builds SIGKILLed at random moments, then a resumed build."""
    rng, ref, c = ctx.trial_rng("kill", i), ctx.reference(), Check(ctx.timeout)
    project = ctx.project(f"kill-{i}")
    kills = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        delay = rng.uniform(0, ref.seconds)
        start = time.perf_counter()
        proc = spawn(project, "build")
        time.sleep(max(0.0, delay - (time.perf_counter() - start)))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        p = c.saw(finish(proc, "killed build", ctx.timeout, start))
        kills.append({"delay_s": round(delay, 3), "code": p.code})
    c.detail["kills"] = kills
    settle(c, ctx, project, ref)
    return c


# --- kill at step boundaries (strace) ----------------------------------------------------------


def strace_counts(ctx: Ctx) -> dict[str, int]:
    """How many rename(2) and pwrite64(2) calls a clean build makes (via strace)."""
    if shutil.which("strace") is None:
        raise Skip("strace is not installed")
    project = ctx.project("kill-step-count")
    trace = project.parent / "trace.txt"
    cmd = ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=rename,pwrite64"]
    p = ctx.pb(project, "build", wrap=cmd)
    if p.code != 0 or not trace.exists():
        raise Skip(f"strace cannot trace here: {last_line(p.err)}")
    text = trace.read_text()
    return {s: len(re.findall(rf"\b{s}\(", text)) for s in ("rename", "pwrite64")}


def kill_step_trials(ctx: Ctx) -> Iterator[Trial]:
    try:
        counts = strace_counts(ctx)
    except Skip as exc:
        yield "strace", skipped(str(exc))
        return
    points = boundary_points(counts, ctx.args.steps)
    for k, (syscall, n) in enumerate(points):
        yield f"{syscall}-{n}", partial(kill_step, ctx, k, syscall, n, counts)


def skipped(why: str) -> Callable[[], Check]:
    def trial() -> Check:
        raise Skip(why)

    return trial


def boundary_points(counts: dict[str, int], steps: int) -> list[tuple[str, int]]:
    """Evenly spread rename numbers (the last two: lock and snapshot) and some WAL writes."""
    renames = counts["rename"]
    n_rename = max(1, steps * 2 // 3)
    picks = {1 + round(j * (renames - 1) / max(1, n_rename - 1)) for j in range(n_rename)}
    picks |= {renames - 1, renames}
    points = [("rename", n) for n in sorted(picks)]
    writes = counts["pwrite64"]
    n_write = max(1, steps - n_rename)
    points += [("pwrite64", 1 + round(j * (writes - 1) / max(1, n_write - 1)))
               for j in range(n_write)]  # fmt: skip
    return points


def strace_kill(project: Path, syscall: str, n: int, timeout: float) -> Proc:
    inject = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
              "-e", f"inject={syscall}:signal=KILL:when={n}"]  # fmt: skip
    return pb(
        project, "build", wrap=inject, timeout=timeout, label=f"build killed at {syscall} #{n}"
    )


def kill_step(ctx: Ctx, k: int, syscall: str, n: int, counts: dict[str, int]) -> Check:
    """Killed just before the Nth `syscall`; every fourth case a second kill during the resume."""
    ref, c = ctx.reference(), Check(ctx.timeout)
    project = ctx.project(f"kill-step-{syscall}-{n}")
    kills = [(syscall, n)]
    if k % 4 == 3:
        kills.append(("rename", 1 + ctx.trial_rng("kill-step", k).randrange(counts["rename"])))
    for s, m in kills:
        p = c.saw(strace_kill(project, s, m, ctx.timeout))
        c.detail.setdefault("kills", []).append({"syscall": s, "n": m, "code": p.code})
    settle(c, ctx, project, ref)
    return c


# --- concurrent --------------------------------------------------------------------------------


def concurrent_trials(ctx: Ctx) -> Iterator[Trial]:
    for r in range(ctx.args.rounds):
        for n in (2, 4):
            yield f"builds{n}-{r:02d}", partial(concurrent_builds, ctx, r, n)
        yield f"watch-{r:02d}", partial(build_vs_watch, ctx, r)


def judge_racer(c: Check, p: Proc) -> bool:
    """A concurrent run: exit 0 is fine, or a nonzero exit saying another pixelbuild is busy."""
    c.saw(p)
    if p.hung or p.code == 0:
        return not p.hung
    if BUSY.search(p.err):
        c.detail.setdefault("busy_messages", []).append(last_line(p.err))
        return False
    c.fail(f"{p.label}: exit {p.code}: {last_line(p.err)}")
    return False


def concurrent_builds(ctx: Ctx, r: int, n: int) -> Check:
    ref, c = ctx.reference(), Check(ctx.timeout)
    project = ctx.project(f"concurrent-{n}-{r}")
    start = time.perf_counter()
    procs = [spawn(project, "build") for _ in range(n)]
    done = [finish(p, f"build {k + 1}/{n}", ctx.timeout, start) for k, p in enumerate(procs)]
    clean = [judge_racer(c, p) for p in done]
    c.detail["codes"] = [p.code for p in done]
    if not any(clean):
        c.fail(f"none of the {n} concurrent builds exited 0")
    settle(c, ctx, project, ref, resume=False)
    return c


def build_vs_watch(ctx: Ctx, r: int) -> Check:
    """`watch` started, a `build` after a random delay, then SIGINT to the watcher."""
    rng, ref, c = ctx.trial_rng("watch", r), ctx.reference(), Check(ctx.timeout)
    project = ctx.project(f"watch-{r}")
    start = time.perf_counter()
    watcher = spawn(project, "watch")
    delay = rng.uniform(0, 2 * ref.seconds)
    time.sleep(delay)
    b = ctx.pb(project, "build", label="build during watch")
    time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):
        watcher.send_signal(signal.SIGINT)
    w = finish(watcher, "watch (SIGINT)", 30, start)
    c.detail.update(delay_s=round(delay, 3), build_code=b.code, watch_code=w.code)
    build_clean = judge_racer(c, b)
    c.ok(w, codes=(0, 130))
    settle(c, ctx, project, ref, resume=not build_clean)
    return c


# --- corrupt -----------------------------------------------------------------------------------


def _db(project: Path) -> Path:
    return project / ".pixelbuild" / "state.db"


def _drop_wal(project: Path) -> None:
    for side in ("state.db-wal", "state.db-shm"):
        (project / ".pixelbuild" / side).unlink(missing_ok=True)


def _blob(project: Path, rng: random.Random) -> Path:
    blobs = sorted(p for p in (project / ".pixelbuild" / "blobs").rglob("*") if p.is_file())
    return rng.choice(blobs)


def _flip(path: Path, rng: random.Random, bits: int) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(bits):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def c_db_garbage(project: Path, rng: random.Random, ctx: Ctx) -> str:
    size = rng.randrange(1, 65536)
    _db(project).write_bytes(rng.randbytes(size))
    _drop_wal(project)
    return f"{size} random bytes"


def c_db_bitflip(project: Path, rng: random.Random, ctx: Ctx) -> str:
    bits = rng.randrange(1, 33)
    _flip(_db(project), rng, bits)
    return f"{bits} bits flipped"


def c_db_truncate(project: Path, rng: random.Random, ctx: Ctx) -> str:
    size = rng.randrange(1, _db(project).stat().st_size)
    os.truncate(_db(project), size)
    return f"truncated to {size} bytes"


def c_db_empty(project: Path, rng: random.Random, ctx: Ctx) -> str:
    os.truncate(_db(project), 0)
    return "emptied"


def c_db_dir(project: Path, rng: random.Random, ctx: Ctx) -> str:
    _db(project).unlink()
    (_db(project) / "x").mkdir(parents=True)
    return "state.db is a directory"


def c_wal_garbage(project: Path, rng: random.Random, ctx: Ctx) -> str:
    (project / ".pixelbuild" / "state.db-wal").write_bytes(rng.randbytes(rng.randrange(32, 8192)))
    return "garbage state.db-wal"


def _mangle(project: Path, rng: random.Random, values: list[str]) -> str:
    with contextlib.closing(sqlite3.connect(_db(project))) as db:
        keys = [r[0] for r in db.execute("SELECT key FROM records ORDER BY key")]
        chosen = keys if rng.random() < 0.3 else rng.sample(keys, rng.randrange(1, 6))
        value = rng.choice(values)
        db.executemany("UPDATE records SET value = ? WHERE key = ?", [(value, k) for k in chosen])
        db.commit()
    return f"{len(chosen)}/{len(keys)} records = {value!r}"


def c_record_invalid_json(project: Path, rng: random.Random, ctx: Ctx) -> str:
    return _mangle(project, rng, ['{"blobs": [', "not json", "", "\x00\xff", "{'a': 1}"])


def c_record_wrong_shape(project: Path, rng: random.Random, ctx: Ctx) -> str:
    shapes = ["[]", "{}", "null", "42", '"x"', '{"blobs": "abc"}', '{"blobs": [123]}',
              '{"blobs": ["' + "0" * 32 + '"]}', '{"blobs": null, "meta": []}',
              '{"blobs": [], "meta": {}}', '{"meta": {"provenance": 5}}']  # fmt: skip
    return _mangle(project, rng, shapes)


def c_blob_bitflip(project: Path, rng: random.Random, ctx: Ctx) -> str:
    blob = _blob(project, rng)
    _flip(blob, rng, 1)
    return f"1 bit flipped in {blob.name[:8]}"


def c_blob_truncate(project: Path, rng: random.Random, ctx: Ctx) -> str:
    blob = _blob(project, rng)
    size = rng.randrange(0, blob.stat().st_size)
    os.truncate(blob, size)
    return f"{blob.name[:8]} truncated to {size}"


def c_blob_dir(project: Path, rng: random.Random, ctx: Ctx) -> str:
    blob = _blob(project, rng)
    blob.unlink()
    (blob / "x").mkdir(parents=True)
    return f"{blob.name[:8]} is a directory"


def c_blobs_file(project: Path, rng: random.Random, ctx: Ctx) -> str:
    shutil.rmtree(project / ".pixelbuild" / "blobs")
    (project / ".pixelbuild" / "blobs").write_text("not a folder")
    return "blobs/ is a file"


def c_cache_file(project: Path, rng: random.Random, ctx: Ctx) -> str:
    shutil.rmtree(project / ".pixelbuild")
    (project / ".pixelbuild").write_bytes(rng.randbytes(100))
    return ".pixelbuild is a file"


def c_tmp_file(project: Path, rng: random.Random, ctx: Ctx) -> str:
    shutil.rmtree(project / ".pixelbuild" / "tmp", ignore_errors=True)
    (project / ".pixelbuild" / "tmp").write_text("not a folder")
    return ".pixelbuild/tmp is a file"


def c_snapshot_garbage(project: Path, rng: random.Random, ctx: Ctx) -> str:
    value = rng.choice([rng.randbytes(64), b"[]", b'{"paths": 5}', b"{", b""])
    (project / ".pixelbuild" / "snapshot.json").write_bytes(value)
    return f"snapshot.json = {value[:20]!r}"


def c_db_immutable(project: Path, rng: random.Random, ctx: Ctx) -> str:
    _drop_wal(project)
    ctx.freeze(_db(project))
    return "chattr +i state.db"


def c_db_readonly_nocap(project: Path, rng: random.Random, ctx: Ctx) -> str:
    _drop_wal(project)
    _db(project).chmod(0o444)
    return "chmod 0444 state.db, run without CAP_DAC_OVERRIDE"


def c_cache_readonly_nocap(project: Path, rng: random.Random, ctx: Ctx) -> str:
    _drop_wal(project)
    for path in sorted((project / ".pixelbuild").rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    (project / ".pixelbuild").chmod(0o555)
    return "chmod a-w on all of .pixelbuild, run without CAP_DAC_OVERRIDE"


Corruption = Callable[[Path, random.Random, Ctx], str]
CORRUPTIONS: dict[str, Corruption] = {
    "db-garbage": c_db_garbage, "db-bitflip": c_db_bitflip, "db-truncate": c_db_truncate,
    "db-empty": c_db_empty, "db-is-dir": c_db_dir, "wal-garbage": c_wal_garbage,
    "record-invalid-json": c_record_invalid_json, "record-wrong-shape": c_record_wrong_shape,
    "blob-bitflip": c_blob_bitflip, "blob-truncate": c_blob_truncate, "blob-is-dir": c_blob_dir,
    "blobs-is-file": c_blobs_file, "cache-is-file": c_cache_file, "tmp-is-file": c_tmp_file,
    "snapshot-garbage": c_snapshot_garbage, "db-immutable": c_db_immutable,
    "db-readonly-nocap": c_db_readonly_nocap, "cache-readonly-nocap": c_cache_readonly_nocap,
}  # fmt: skip
UNWRITABLE = {"db-immutable", "db-readonly-nocap", "cache-readonly-nocap"}
NEEDS_NOCAP = {"db-readonly-nocap", "cache-readonly-nocap"}
THEN = ["nothing", "no-snapshot", "output-removed", "entry-changed"]


def corrupt_trials(ctx: Ctx) -> Iterator[Trial]:
    kinds = list(CORRUPTIONS)
    for i in range(ctx.args.corrupt):
        kind = kinds[i % len(kinds)]
        then = THEN[(i + i // len(kinds)) % len(THEN)]
        yield f"{kind}+{then}", partial(corrupt, ctx, i, kind, then)


def corrupt(ctx: Ctx, i: int, kind: str, then: str) -> Check:
    """A good build, `kind` of damage, then `then`, then `build` and `--locked`."""
    rng, c = ctx.trial_rng("corrupt", i), Check(ctx.timeout)
    wrap = NOCAP if kind in NEEDS_NOCAP else None
    if wrap and shutil.which("setpriv") is None:
        raise Skip("setpriv is not installed (root ignores chmod)")
    project = ctx.built(f"corrupt-{kind}-{then}")
    c.detail["damage"] = CORRUPTIONS[kind](project, rng, ctx)
    ref = ctx.reference(CHANGED if then == "entry-changed" else MANIFEST)
    c.detail["then"] = apply_then(project, then, rng)
    before = outputs(project)
    b = ctx.pb(project, "build", wrap=wrap)
    if kind in UNWRITABLE and b.code != 0:
        if c.clear_error(b, names=r"\.pixelbuild|state\.db|cache") and b.code != 1:
            c.fail(f"{b.label}: exit {b.code} (expected 1): {last_line(b.err)}")
        c.same("outputs after the refused build", outputs(project), before)
        return c
    c.ok(b)
    settle(c, ctx, project, ref, resume=False, wrap=wrap)
    return c


def apply_then(project: Path, then: str, rng: random.Random) -> str:
    if then == "no-snapshot":
        with contextlib.suppress(OSError):
            (project / ".pixelbuild" / "snapshot.json").unlink()
    elif then == "output-removed":
        png = rng.choice(sorted((project / "assets").rglob("*.png")))
        png.unlink()
        return f"removed {png.relative_to(project)}"
    elif then == "entry-changed":
        (project / "pixels.yaml").write_text(CHANGED)
    return then


# --- hostile filesystems -----------------------------------------------------------------------


def hostile_trials(ctx: Ctx) -> Iterator[Trial]:
    cases: dict[str, Callable[[Ctx], Check]] = {
        "ro-assets-bind-mount": partial(h_readonly_assets, how="bind"),
        "ro-assets-tmpfs": partial(h_readonly_assets, how="tmpfs"),
        "assets-rw-bind-mount": h_bind_assets,
        "full-disk-assets-tmpfs": h_full_assets,
        "full-disk-project-tmpfs": h_full_project,
        "assets-on-other-mount": h_assets_mount,
        "dir-where-output-goes": h_dir_at_output,
        "symlink-out-of-assets-build": h_symlink_build,
        "symlink-out-of-assets-clean": h_symlink_clean,
        "edited-in-place": partial(h_edited, snapshot=True),
        "edited-in-place-no-snapshot": partial(h_edited, snapshot=False),
        "cache-dot": partial(h_cache, where="."),
        "cache-dotdot": partial(h_cache, where=".."),
        "cache-dot-git": partial(h_cache, where=".git"),
        "cache-absolute": partial(h_cache, where="ABS"),
        "assets-dotdot": h_assets_dotdot,
    }
    for name, fn in cases.items():
        yield name, partial(fn, ctx)


def sentinels(project: Path) -> None:
    """Files a build must never touch: beside the project, and in the project's own folders."""
    parent = project.parent
    (parent / "sentinel.txt").write_text("beside the project\n")
    (parent / "outside").mkdir(exist_ok=True)
    (parent / "outside" / "keep.txt").write_text("outside the project\n")
    (project / ".git").mkdir(exist_ok=True)
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / ".git" / "config").write_text("[core]\n")
    (project / "src").mkdir(exist_ok=True)
    (project / "src" / "main.rs").write_text("fn main() {}\n")


def outside(project: Path, skip: set[str] | None = None) -> dict[str, bytes]:
    return fs_state(project.parent, {project.name, *(skip or set())})


def inside(project: Path) -> dict[str, bytes]:
    keep = [".git/HEAD", ".git/config", "src/main.rs", "pixels.yaml", "palettes/x.hex"]
    return {k: (project / k).read_bytes() for k in keep if (project / k).is_file()}


def h_readonly_assets(ctx: Ctx, how: str) -> Check:
    """assets/ read-only (a bind mount, or a tmpfs holding copies); an entry changed: a clear
    error saying so, outputs intact; writable again: a good build."""
    c = Check(ctx.timeout)
    project = ctx.built(f"ro-assets-{how}")
    sentinels(project)
    assets = project / "assets"
    if how == "bind":
        ctx.mount(assets, "--bind", str(assets))
    else:
        shutil.copytree(assets, project.parent / "assets-copy")
        ctx.mount(assets, "-t", "tmpfs", "-o", "size=16m", "tmpfs")
        shutil.copytree(project.parent / "assets-copy", assets, dirs_exist_ok=True)
    why = tool("mount", "-o", "remount,bind,ro" if how == "bind" else "remount,ro", str(assets))
    if why:
        raise Skip(f"cannot remount read-only: {why}")
    before, out0 = outputs(project), outside(project)
    (project / "pixels.yaml").write_text(CHANGED)
    c.clear_error(ctx.pb(project, "build"), names=r"(?i)read-only|permission|EROFS")
    c.same("outputs (read-only assets)", outputs(project), before)
    c.same("outside the project", outside(project), out0)
    why = tool("mount", "-o", "remount,bind,rw" if how == "bind" else "remount,rw", str(assets))
    if why:
        raise Skip(f"cannot remount read-write: {why}")
    settle(c, ctx, project, ctx.reference(CHANGED))
    return c


def h_bind_assets(ctx: Ctx) -> Check:
    """assets/ a read-write bind mount of a folder on the same filesystem: builds normally."""
    c = Check(ctx.timeout)
    project = ctx.project("bind-assets")
    real = project.parent / "real-assets"
    real.mkdir()
    ctx.mount(project / "assets", "--bind", str(real))
    c.ok(ctx.pb(project, "build", label="first build"))
    settle(c, ctx, project, ctx.reference(), resume=False)
    return c


def h_full_assets(ctx: Ctx) -> Check:
    """assets/ a 200 KiB tmpfs: a clear error, no partial files; then grown: a good build."""
    c, ref = Check(ctx.timeout), ctx.reference()
    project = ctx.project("full-assets")
    sentinels(project)
    out0 = outside(project)
    ctx.mount(project / "assets", "-t", "tmpfs", "-o", "size=200k", "tmpfs")
    c.clear_error(ctx.pb(project, "build"), names=r"(?i)space|full|ENOSPC|errno 28")
    whole(c, project, ref)
    c.same("outside the project", outside(project), out0)
    why = tool("mount", "-o", "remount,size=16m", str(project / "assets"))
    if why:
        raise Skip(f"cannot grow the tmpfs: {why}")
    settle(c, ctx, project, ref)
    return c


def whole(c: Check, project: Path, ref: Ref) -> None:
    """Every output file present is the clean build's bytes (no partial or temp files)."""
    got = {k: v for k, v in outputs(project).items() if k != "pixels.lock"}
    bad = sorted(k for k, v in got.items() if ref.files.get(k) != v)
    if bad:
        c.fail(f"partial or stray outputs after the error: {', '.join(bad[:3])}")


def h_full_project(ctx: Ctx) -> Check:
    """The whole project on a 400 KiB tmpfs (cache included); then grown: a good build."""
    c, ref = Check(ctx.timeout), ctx.reference()
    d = ctx.case_dir("full-project") / "p"
    ctx.mount(d, "-t", "tmpfs", "-o", "size=400k", "tmpfs")
    project = ctx.project("full-project", where=d)
    c.clear_error(ctx.pb(project, "build"), names=r"(?i)space|full|ENOSPC|errno 28")
    whole(c, project, ref)
    why = tool("mount", "-o", "remount,size=32m", str(d))
    if why:
        raise Skip(f"cannot grow the tmpfs: {why}")
    settle(c, ctx, project, ref)
    return c


def h_assets_mount(ctx: Ctx) -> Check:
    """assets/ on another filesystem (tmpfs): builds and rebuilds as on one filesystem."""
    c = Check(ctx.timeout)
    project = ctx.project("assets-mount")
    ctx.mount(project / "assets", "-t", "tmpfs", "-o", "size=32m", "tmpfs")
    c.ok(ctx.pb(project, "build", label="first build"))
    settle(c, ctx, project, ctx.reference(), resume=False)
    (project / "pixels.yaml").write_text(CHANGED)
    c.ok(ctx.pb(project, "build", label="build of a changed entry"))
    settle(c, ctx, project, ctx.reference(CHANGED), resume=False)
    return c


def h_dir_at_output(ctx: Ctx) -> Check:
    """A folder (with a file) where sprites/s03.png goes: a clear error naming it, kept as is."""
    c = Check(ctx.timeout)
    project = ctx.project("dir-at-output")
    (project / "assets" / "sprites" / "s03.png").mkdir(parents=True)
    (project / "assets" / "sprites" / "s03.png" / "keep.txt").write_text("mine\n")
    c.clear_error(ctx.pb(project, "build"), names="s03")
    if not (project / "assets" / "sprites" / "s03.png" / "keep.txt").is_file():
        c.fail("the folder at sprites/s03.png was deleted")
    return c


def h_symlink_build(ctx: Ctx) -> Check:
    """assets/sprites a symlink to a folder outside the project: nothing is written there."""
    c = Check(ctx.timeout)
    project = ctx.project("symlink-build")
    sentinels(project)
    (project.parent / "outside" / "sprites").mkdir()
    (project / "assets").mkdir()
    (project / "assets" / "sprites").symlink_to(project.parent / "outside" / "sprites")
    out0 = outside(project)
    p = c.saw(ctx.pb(project, "build"))
    c.detail["build_code"] = p.code
    c.same("outside the project (written through the symlink)", outside(project), out0)
    return c


def h_symlink_clean(ctx: Ctx) -> Check:
    """After a build, assets/sprites a symlink to an outside copy: `clean` deletes nothing there."""
    c = Check(ctx.timeout)
    project = ctx.built("symlink-clean")
    sentinels(project)
    shutil.move(project / "assets" / "sprites", project.parent / "outside" / "sprites")
    (project / "assets" / "sprites").symlink_to(project.parent / "outside" / "sprites")
    out0 = outside(project)
    p = c.saw(ctx.pb(project, "clean"))
    c.detail["clean_code"] = p.code
    c.same("outside the project (deleted through the symlink)", outside(project), out0)
    return c


def h_edited(ctx: Ctx, *, snapshot: bool) -> Check:
    """An output's bytes changed in place, size and mtime put back: reported, never silent."""
    c, ref = Check(ctx.timeout), ctx.reference()
    project = ctx.built("edited")
    target = project / "assets" / "sprites" / "s05.png"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with open(target, "r+b") as f:
        f.write(data)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    if not snapshot:
        (project / ".pixelbuild" / "snapshot.json").unlink(missing_ok=True)
    b = c.saw(ctx.pb(project, "build"))
    lk = c.saw(ctx.pb(project, "build", "--locked"))
    named = any("s05" in p.err for p in (b, lk))
    now = target.read_bytes()
    c.detail.update(build_code=b.code, locked_code=lk.code, named=named)
    if now == ref.files["assets/sprites/s05.png"] and not named:
        c.fail("the edited output was overwritten without a word")
    elif not named:
        c.fail(f"edit undetected: build exit {b.code}, --locked exit {lk.code}, "
               "sprites/s05.png differs from the lock")  # fmt: skip
    return c


def h_cache(ctx: Ctx, where: str) -> Check:
    """`project.cache` at `where`: build and `clean --cache` stay inside the project."""
    c = Check(ctx.timeout)
    case = ctx.case_dir(f"cache-{where}")
    value = str(case / "abs-cache") if where == "ABS" else where
    text = MANIFEST.replace("project: {", f"project: {{cache: '{value}', ", 1)
    project = ctx.project(f"cache-{where}", text, where=case / "p")
    sentinels(project)
    skip = {"abs-cache"} if where == "ABS" else set()
    out0, in0 = outside(project, skip), inside(project)
    b = ctx.pb(project, "build")
    c.detail["build_code"] = b.code
    if b.code == 0:
        c.saw(b)
        settle(c, ctx, project, ctx.reference(), resume=False)
    else:
        c.clear_error(b, names=r"(?i)cache")
    cl = c.saw(ctx.pb(project, "clean", "--cache"))
    c.detail["clean_code"] = cl.code
    c.same("outside the project", outside(project, skip), out0)
    c.same("the project's own files", inside(project), in0)
    return c


def h_assets_dotdot(ctx: Ctx) -> Check:
    """`project.assets: '..'`: refused clearly; build, clean, clean --cache: nothing outside."""
    c = Check(ctx.timeout)
    text = MANIFEST.replace("project: {", "project: {assets: '..', ", 1)
    project = ctx.project("assets-dotdot", text)
    sentinels(project)
    out0, in0 = outside(project), inside(project)
    c.clear_error(ctx.pb(project, "build"), names=r"(?i)assets")
    for args in (("clean",), ("clean", "--cache")):
        p = c.saw(ctx.pb(project, *args))
        c.detail[" ".join(args)] = p.code
    c.same("outside the project", outside(project), out0)
    c.same("the project's own files", inside(project), in0)
    return c


# --- running -----------------------------------------------------------------------------------

TRIALS: dict[str, Callable[[Ctx], Iterator[Trial]]] = {
    "kill": kill_trials,
    "kill-step": kill_step_trials,
    "concurrent": concurrent_trials,
    "corrupt": corrupt_trials,
    "hostile-fs": hostile_trials,
}


def run_trial(ctx: Ctx, category: str, name: str, fn: Callable[[], Check]) -> Case:
    start = time.perf_counter()
    n_before = ctx.n
    try:
        c = fn()
        status = "failed" if c.reasons else "ok"
        case = Case(category, name, status, c.reasons, 0.0, {**c.detail, "logs": c.logs})
    except Skip as exc:
        case = Case(category, name, "skipped", [str(exc)], 0.0)
    except Exception as exc:  # the harness's own failure: recorded, the run goes on
        case = Case(category, name, "failed", [f"harness error: {type(exc).__name__}: {exc}"], 0.0)
    finally:
        ctx.undo()
    case.seconds = round(time.perf_counter() - start, 2)
    if case.status != "failed" and not ctx.args.keep:
        for d in (ctx.workdir / "cases").glob("*"):
            if int(d.name[:4]) > n_before and "reference" not in d.name:
                shutil.rmtree(d, ignore_errors=True)
    return case


def normalize(reason: str) -> str:
    """A reason with paths, digests and numbers blurred, to group similar failures."""
    reason = re.sub(r"(?<![\w.])/[^\s:'\"),]+", "<path>", reason)
    reason = re.sub(r"\b[0-9a-f]{8,}\b", "<hex>", reason)
    return re.sub(r"(?<![a-z])\d+(?![a-z])", "N", reason)[:110]


def summary(cases: list[Case]) -> list[list[Any]]:
    rows = []
    for cat in dict.fromkeys(c.category for c in cases):
        mine = [c for c in cases if c.category == cat]
        counts = Counter(normalize(r) for c in mine if c.status == "failed" for r in c.reasons[:1])
        top = "; ".join(f"{n}x {r[:70]}" for r, n in counts.most_common(3))
        status = Counter(c.status for c in mine)
        rows.append([cat, len(mine), status["ok"], status["failed"], status["skipped"], top or "-"])
    return rows


def run_all(ctx: Ctx, categories: list[str]) -> list[Case]:
    cases: list[Case] = []
    for cat in categories:
        log(f"== {cat}")
        for name, fn in TRIALS[cat](ctx):
            case = run_trial(ctx, cat, name, fn)
            cases.append(case)
            why = f": {case.reasons[0]}" if case.reasons else ""
            log(f"  {cat} {name}: {case.status} ({case.seconds:.1f} s){why}")
    return cases


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a minute: fewer cases of each kind")
    ap.add_argument("--only", help=f"comma-separated categories of {','.join(CATEGORIES)}")
    ap.add_argument("--kills", type=int, help="random kill cases (default 100; quick 3)")
    ap.add_argument("--steps", type=int, help="kill-step boundaries (default 48; quick 3)")
    ap.add_argument("--rounds", type=int, help="concurrent rounds (default 10; quick 1)")
    ap.add_argument("--corrupt", type=int, help="corruption cases (default 50; quick 6)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120, help="seconds per command (a hang)")
    ap.add_argument("--workdir", type=Path, help="where the projects go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep every case folder")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args()
    defaults = {"kills": (100, 3), "steps": (48, 3), "rounds": (10, 1), "corrupt": (50, 6)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main() -> int:
    args = parse_args()
    categories = args.only.split(",") if args.only else CATEGORIES
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        raise SystemExit(f"unknown categories {unknown}; known: {','.join(CATEGORIES)}")
    workdir = Path(tempfile.mkdtemp(prefix="pixelbuild-faults-", dir=args.workdir))
    ctx = Ctx(args, workdir)
    started = time.perf_counter()
    try:
        cases = run_all(ctx, categories)
    finally:
        ctx.undo()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = summary(cases)
    print(table(["category", "tried", "ok", "failed", "skipped", "top failure reasons"], rows))
    info = machine()
    body: dict[str, Any] = {
        "bench": "faults",
        "machine": info,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "workdir": str(workdir),
        "reference_build_s": {
            ("changed" if k == CHANGED else "base"): round(r.seconds, 3)
            for k, r in ctx.refs.items()
        },
        "summary": [
            dict(zip(["category", "tried", "ok", "failed", "skipped", "top"], r, strict=True))
            for r in rows
        ],
        "cases": [asdict(c) for c in cases],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"\n{len(cases)} cases in {body['seconds']} s; load average (1 min): "
          f"{info.get('loadavg_1m')}")  # fmt: skip
    write_json(args.json, body)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
