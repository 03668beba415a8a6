"""The `pixelbuild` command line."""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelbuild import __version__
from pixelbuild.errors import ManifestError, PixelbuildError, UsageError

if TYPE_CHECKING:
    from pixelbuild.run.result import BuildResult, Failure

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_STALE = 3
EXIT_INTERRUPTED = 130
SERVE_PORT = 8474  # watch --serve

DESCRIPTION = """\
Build pixel-art assets for a game from a pixels.yaml manifest.

Every entry (sprite, animation, tileset, atlas) is hashed with everything it depends on; only
entries whose inputs changed are rebuilt. Outputs land in the project's assets tree, and
pixels.lock records what was built from what (commit it).
"""

EPILOG = """\
typical use:
  pixelbuild init                 start a project: pixels.yaml, schema, .gitignore line
  pixelbuild build                build what changed
  pixelbuild plan                 show what would be rebuilt, and why
  pixelbuild build --locked       CI: fail if any asset is stale (changes nothing)
  pixelbuild watch                rebuild on every save (with Bevy's hot reload)
  pixelbuild build --ray HEAD:6379
                                  generate on the GPUs of a Ray cluster (the [ray] extra)
  pixelbuild compare hero --seed 1..8 --lora pixel-art=0,0.6,1.0
                                  build variants side by side; `pick` keeps one
  pixelbuild gallery              one page of every entry, its palette and provenance
  pixelbuild mcp                  serve the project to an AI assistant (MCP, the [mcp] extra)

exit codes:
  0  success (or nothing to do)
  1  one or more entries failed to build
  2  invalid manifest, lock or command line
  3  --locked: assets are stale (the list says why)
  4  another pixelbuild is building this project (pass --wait to wait for it)
  130 interrupted (finished entries stay built; run again to resume)
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_INVALID
    # -C may come before the command (`pixelbuild -C game build`) or after it.
    args.directory = args.directory or args.top_directory or Path(".")
    try:
        return int(args.run(args))
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was built or written.", file=sys.stderr)
        return EXIT_INVALID
    except PixelbuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted: finished entries are kept; run again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `pixelbuild plan | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug of ours: say so, keep the traceback out of the way
        debug = args.debug or getattr(args, "debug_here", False)
        return _internal_error(exc, debug=debug or bool(os.environ.get("PIXELBUILD_DEBUG")))


def _internal_error(exc: BaseException, *, debug: bool = False) -> int:
    """Report a bug: one line for the user, the traceback in a file for the bug report (and on
    stderr with --debug)."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(exc))
    if debug:
        print(text, file=sys.stderr, end="")
    try:
        fd, name = tempfile.mkstemp(prefix="pixelbuild-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"pixelbuild {__version__}, python {sys.version}\n{' '.join(sys.argv)}\n\n")
            f.write(text)
        where = f"the details are in {name}"
    except OSError:
        where = "no crash report could be written"
    print(
        f"internal error: {type(exc).__name__}: {exc}\n"
        f"this is a bug in pixelbuild, not in your project; {where}. Please report it with "
        "that file. Finished entries are kept.",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelbuild",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pixelbuild {__version__}")
    parser.add_argument(
        "--debug", action="store_true",
        help="on an internal error, print the traceback too (also PIXELBUILD_DEBUG=1)",
    )  # fmt: skip
    parser.add_argument(
        "-C", dest="top_directory", type=Path, default=None, metavar="DIR",
        help="run in the project in DIR (also accepted after the command)",
    )  # fmt: skip
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-C", dest="directory", type=Path, default=None, metavar="DIR",
        help="run in the project in DIR (default: the current directory)",
    )  # fmt: skip
    common.add_argument(
        "-f",
        "--manifest",
        type=Path,
        metavar="FILE",
        help="the manifest (default: DIR/pixels.yaml)",
    )
    common.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout instead of text"
    )
    common.add_argument(
        "--debug", dest="debug_here", action="store_true",
        help="on an internal error, print the traceback too (also PIXELBUILD_DEBUG=1)",
    )  # fmt: skip
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    from pixelbuild.cluster import add_ray_option
    from pixelbuild.remote import add_remote_options

    def command(name: str, help_text: str, run: Any, description: str | None = None) -> Any:
        p = sub.add_parser(
            name, parents=[common], help=help_text, description=description or help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        p.set_defaults(run=run, command=name)
        return p

    build = command(
        "build",
        "build every stale entry (or only the ENTRY names given)",
        _build,
        "Build stale entries: generate -> pixelize -> assemble -> write into the assets tree.\n"
        "Cached steps are reused; an interrupted build resumes where it stopped.",
    )
    _engine_options(build)
    add_ray_option(build)
    add_remote_options(build)
    build.add_argument(
        "entries", nargs="*", metavar="ENTRY", help="entries to build (default: all)"
    )
    build.add_argument(
        "--locked", action="store_true",
        help="change nothing; exit 3 listing stale entries if anything would be rebuilt (CI)",
    )  # fmt: skip
    build.add_argument(
        "--force", action="store_true",
        help="overwrite outputs that were edited by hand or not written by pixelbuild",
    )  # fmt: skip
    build.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    build.add_argument(
        "--gallery", action="store_true",
        help="then write the gallery page (also project.gallery: true); see `gallery`",
    )  # fmt: skip
    _wait_option(build)

    plan = command("plan", "show what a build would do and why, without doing it", _plan)
    plan.add_argument("entries", nargs="*", metavar="ENTRY")
    plan.add_argument("-a", "--all", action="store_true", help="also list up-to-date entries")

    watch = command(
        "watch",
        "rebuild on every save of the manifest or a file it uses",
        _watch,
        "Watch pixels.yaml and every file it references; rebuild only what changed.\n"
        "The engine stays loaded between rebuilds. Ctrl-C stops cleanly.",
    )
    _engine_options(watch)
    add_ray_option(watch)
    add_remote_options(watch)
    watch.add_argument("--poll", action="store_true", help="poll for changes (Docker, WSL, NFS)")
    watch.add_argument("--force", action="store_true", help="as for build")
    watch.add_argument(
        "--debounce", type=int, default=50, metavar="MS", help="wait for bursts of saves (ms)"
    )
    watch.add_argument(
        "--serve", nargs="?", type=int, const=SERVE_PORT, default=None, metavar="PORT",
        help=f"serve the gallery on localhost (port {SERVE_PORT}; 0: any free one); the page "
        "reloads after each rebuild",
    )  # fmt: skip

    clean = command(
        "clean",
        "delete built outputs (only those unchanged since written)",
        _clean,
        "Delete the outputs pixelbuild wrote for the given entries (default: all) and forget\n"
        "them in pixels.lock. Files edited since they were written are kept.",
    )
    clean.add_argument("entries", nargs="*", metavar="ENTRY")
    clean.add_argument("--cache", action="store_true", help="also delete the cache folder")
    clean.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    _wait_option(clean)

    adopt = command(
        "adopt",
        "keep outputs you finished by hand as the entries' outputs",
        _adopt,
        "Record each ENTRY's output files as they are on disk now, finished by hand. Builds\n"
        "and --locked accept them while the entry's inputs stay the same; when those change,\n"
        "the build reports a conflict instead of replacing your file (adopt again to keep it,\n"
        "or build --force to replace it), and removing the entry keeps the file.",
    )
    adopt.add_argument("entries", nargs="+", metavar="ENTRY")
    _wait_option(adopt)

    train = command(
        "train",
        "train one LoRA of `loras:` (its `train:` settings) and say where it is",
        _train,
        "Train LoRA NAME as a build would (from the cache when it is current; a killed run\n"
        "resumes from its last checkpoint) and print where the LoRA file and its validation\n"
        "sheet are. --steps N is a quick try: trained apart, not recorded in the build.",
    )
    _engine_options(train)
    train.add_argument("name", metavar="NAME", help="a LoRA of `loras:` with `train:` settings")
    train.add_argument("--steps", type=int, metavar="N", help="train N steps only, as a trial")
    _wait_option(train)

    _compare_commands(command)

    schema = command("schema", "print the JSON schema of pixels.yaml", _schema)
    schema.add_argument("-o", "--output", type=Path, help="write it to this file instead")

    init = command("init", "start a project: a commented pixels.yaml and a .gitignore line", _init)
    init.add_argument("--assets", default="assets", help="the assets root (default: assets)")
    from pixelbuild.engines.compiled.cli import add_engines_command

    add_engines_command(sub, common)
    from pixelbuild.doctor import add_doctor_command

    add_doctor_command(sub, common)
    from pixelbuild.mcp.cli import add_mcp_command

    add_mcp_command(sub, common)
    return parser


class _AxisOption(argparse.Action):
    """Collects compare axes in the order given: [(kind, text), ...] in `args.axes`."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        axes = list(getattr(namespace, "axes", None) or [])
        axes.append((self.dest, values))
        namespace.axes = axes


def _compare_commands(command: Any) -> None:
    compare = command(
        "compare",
        "build one entry over seeds, LoRA weights, models, palettes... side by side",
        _compare,
        "Build ENTRY once per combination of the axes' values and lay the results out as a\n"
        "page (index.html: open it from disk) and a PNG contact sheet. The first axis runs\n"
        "along the columns, the second down the rows, more make grids of grids. Each axis\n"
        "has a baseline: the entry as it is, or for a LoRA, the entry without it. Every cell\n"
        "is an ordinary cached build, so comparing again, or building the cell you pick\n"
        "(`pixelbuild pick ENTRY N`), generates nothing new. Without axes, the manifest's\n"
        "`compare: ENTRY:` block gives them.\n\n"
        "  pixelbuild compare hero --seed 1..8 --lora pixel-art=0,0.6,1.0,1.2\n"
        "  pixelbuild compare grass --palette db32,endesga-32 --method majority,contrast",
    )
    _engine_options(compare)
    compare.add_argument("entry", metavar="ENTRY")
    axes = compare.add_argument_group("axes (in the order given)")
    for flag, dest, metavar, text in (
        ("--seed", "seed", "SEEDS", "seeds: 1..8, 1,4,9"),
        ("--lora", "lora", "NAME=W,...", "weights of a LoRA of `loras:` (0: without it)"),
        ("--model", "model", "A,B", "models of `models:`"),
        ("--palette", "palette", "A,B", "palettes (built-in or of `palettes:`)"),
        ("--method", "method", "A,B", "cell reduction methods (majority, contrast, ...)"),
        ("--prompt-replace", "prompt_replace", "WORD=A,B", "words put in place of WORD"),
    ):
        axes.add_argument(flag, dest=dest, metavar=metavar, action=_AxisOption, help=text)
    compare.add_argument(
        "-o", "--output", type=Path, metavar="DIR",
        help="where to write index.html, sheet.png and cells.json (default: the cache)",
    )  # fmt: skip
    compare.add_argument("--open", action="store_true", help="open the page in a browser")
    compare.set_defaults(axes=[])
    _wait_option(compare)

    pick = command(
        "pick",
        "write a compared cell's settings into pixels.yaml, then build the entry",
        _pick,
        "Write the settings of cell N of the last `pixelbuild compare ENTRY` into pixels.yaml\n"
        "(only those values change: comments and formatting are kept), then build ENTRY,\n"
        "which comes from the cache.",
    )
    _engine_options(pick)
    pick.add_argument("entry", metavar="ENTRY")
    pick.add_argument("cell", metavar="N", help="the cell's number on the sheet (or its key)")
    pick.add_argument("--no-build", action="store_true", help="only write pixels.yaml")
    _wait_option(pick)

    gallery = command(
        "gallery",
        "write one page of every entry's outputs, palette, provenance and the last build",
        _gallery,
        "Write the gallery: every entry's outputs (animations play, tiles repeat, atlas\n"
        "frames show on hover), palette swatches, provenance (model, LoRAs, seed, key) and\n"
        "the last build's report, as one page that opens from disk. `build --gallery` or\n"
        "`project.gallery: true` rewrites it after every build; `watch --serve` serves it\n"
        "and reloads it after each rebuild.",
    )
    gallery.add_argument("--open", action="store_true", help="open the page in a browser")


def _wait_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait", action="store_true",
        help="if another pixelbuild is building this project, wait for it (default: exit 4)",
    )  # fmt: skip


def _engine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SDXL engine")
    g.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")
    g.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], help="weights' precision")
    g.add_argument(
        "--allow-download", action="store_true",
        help="let models missing from the local Hugging Face cache be downloaded",
    )  # fmt: skip


def _engine_kwargs(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from pixelbuild.engines.registry import MODEL_ENGINES

    options = {"device": args.device, "dtype": args.dtype, "allow_download": args.allow_download}
    given = {k: v for k, v in options.items() if v}
    return {name: dict(given) for name in sorted(MODEL_ENGINES)}


def _open(args: argparse.Namespace, *, readonly: bool = False, settle: bool = False) -> Any:
    from pixelbuild.run.project import open_project

    project = open_project(
        args.directory, readonly=readonly, manifest=args.manifest, settle=settle
    )
    for note in project.notes:
        print(f"warning: {note}", file=sys.stderr)
    return project


def _selection(project: Any, names: list[str]) -> set[str] | None:
    if not names:
        return None
    import difflib

    known = {t.name for t in project.targets} | set(project.lock.entries)
    problems = []
    for name in names:
        if name not in known:
            match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            problems.append(f"no such entry: {name!r}{hint}")
    if problems:
        raise UsageError("; ".join(problems))
    return set(names)


# --- commands --------------------------------------------------------------------------------


def _build(args: argparse.Namespace) -> int:
    from pixelbuild.remote.url import remote_spec

    remote_spec(args.remote, read_only=args.remote_read_only)  # a bad URL fails even a no-op
    fast = not (args.entries or args.locked or args.force or args.gallery)
    if fast and (names := _unchanged(args)) is not None:
        return _report_up_to_date(names, args)
    # a whole build may leave out the included files the last one recorded (plan/memo.py)
    project = _open(args, readonly=args.locked, settle=fast)
    try:
        with _exclusive(project, args, shared=args.locked):
            return _build_project(project, args)
    finally:
        project.close()


@contextlib.contextmanager
def _held(args: argparse.Namespace) -> Iterator[Any]:
    """The project, opened and holding its build lock, for a command that changes it."""
    project = _open(args)
    try:
        with _exclusive(project, args):
            yield project
    finally:
        project.close()


def _exclusive(project: Any, args: argparse.Namespace, *, shared: bool = False) -> Any:
    """The project's build lock, for the length of a command (see run/exclusive.py)."""
    from pixelbuild.run.exclusive import hold

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    return hold(project.cache, args.command, wait=args.wait, say=say, shared=shared)


def _build_project(project: Any, args: argparse.Namespace) -> int:
    """Build a project whose lock this process holds."""
    plan = project.plan(_selection(project, args.entries))
    stale = plan.stale
    if args.locked:
        return _report_locked(plan, args.json, project.lock.conflicts)
    from pixelbuild.run.building import build_stale, finish_up_to_date

    if not stale and not plan.removed:
        finish_up_to_date(project, plan, force=args.force, whole=not args.entries)
        if args.gallery:
            from pixelbuild.pages.gallery import write_gallery

            write_gallery(project)
        return _report_up_to_date(plan.up_to_date, args)
    from pixelbuild.cluster.runner import ray_runner
    from pixelbuild.console import make_reporter
    from pixelbuild.pages.gallery import Recorder, build_report, write_gallery
    from pixelbuild.remote import from_args as remote_from_args

    reporter = Recorder(make_reporter(quiet=args.quiet or args.json))
    options = _engine_kwargs(args)
    result = build_stale(
        project, plan, reporter, force=args.force, whole=not args.entries,
        engine_options=options, allow_download=args.allow_download,
        runner=ray_runner(args.ray, options, project.cache, reporter.warn),
        remote=remote_from_args(args),
    )  # fmt: skip
    if args.gallery or project.manifest.project.gallery:
        page = write_gallery(project, build_report(plan, result, reporter.warnings))
        if not (args.quiet or args.json):
            print(f"gallery: {page}", file=sys.stderr)
    return _report_build(result, args)


def _unchanged(args: argparse.Namespace) -> list[str] | None:
    """Entries of a project where nothing changed since its last complete build (fast path)."""
    from pixelbuild.run import snapshot

    directory = args.directory.resolve()
    manifest = (args.manifest or directory / "pixels.yaml").resolve()
    return snapshot.check(snapshot.default_cache(directory), manifest)


def _report_up_to_date(names: list[str], args: argparse.Namespace) -> int:
    if args.json:
        from pixelbuild.run.result import BuildResult

        _print_json(BuildResult(up_to_date=sorted(names)).to_json())
    elif not args.quiet:
        print(f"up to date: {len(names)} entries", file=sys.stderr)
    return EXIT_OK


def _report_build(result: BuildResult, args: argparse.Namespace) -> int:
    if args.json:
        _print_json(result.to_json())
        return EXIT_FAILED if result.failed else EXIT_OK
    _print_failures(result.failed)
    if not args.quiet:
        print(
            f"built {len(result.rebuilt)}, up to date {len(result.up_to_date)}, "
            f"failed {len(result.failed)}, removed {len(result.removed)} "
            f"in {result.seconds:.2f}s",
            file=sys.stderr,
        )
    return EXIT_FAILED if result.failed else EXIT_OK


def _print_failures(failed: dict[str, Failure]) -> None:
    """One line per distinct failure, naming every entry it stopped (a batch fails together)."""
    by_failure: dict[Failure, list[str]] = {}
    for name, failure in sorted(failed.items()):
        by_failure.setdefault(failure, []).append(name)
    for failure, names in by_failure.items():
        print(f"error: {', '.join(names)}: {failure}", file=sys.stderr)
    if any(f.internal for f in by_failure):
        print(
            "the internal errors above are bugs in pixelbuild, not in your project: please "
            "report them (with the manifest entry); the other entries were built.",
            file=sys.stderr,
        )


_LISTED = 20  # stale entries `--locked` names one by one before it counts the rest


def _report_locked(plan: Any, as_json: bool, conflicts: list[str] | None = None) -> int:
    stale = {e.name: e.reasons for e in plan.stale}
    stale |= {name: ["entry removed from the manifest"] for name in plan.removed}
    if conflicts:  # a lock file left with git's conflict markers is not a committed state
        stale["pixels.lock"] = [f"unresolved merge conflict at {where}" for where in conflicts]
    if as_json:
        _print_json(
            {
                "stale": [{"entry": k, "reasons": v} for k, v in sorted(stale.items())],
                "up_to_date": plan.up_to_date,
            }
        )
    elif stale:
        print(
            f"{len(stale)} stale entries (pixels.lock does not match the manifest):",
            file=sys.stderr,
        )
        listed = sorted(stale.items())
        for name, reasons in listed[:_LISTED]:
            print(f"  {name}: {'; '.join(reasons)}", file=sys.stderr)
        if len(listed) > _LISTED:  # a CI log of 50,000 lines helps nobody: say why, counted
            rest = collections.Counter(r for _, reasons in listed[_LISTED:] for r in reasons)
            print(f"  ... and {len(listed) - _LISTED} more (`--json` lists every one):",
                  file=sys.stderr)  # fmt: skip
            for reason, count in rest.most_common(_LISTED):
                print(f"    {count} x {reason}", file=sys.stderr)
        print("run `pixelbuild build` and commit the assets and pixels.lock.", file=sys.stderr)
    else:
        print(f"locked: {len(plan.up_to_date)} entries up to date", file=sys.stderr)
    return EXIT_STALE if stale else EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    project = _open(args, readonly=True)
    try:
        plan = project.plan(_selection(project, args.entries))
    finally:
        project.close()
    if args.json:
        _print_json(
            {
                "stale": [{"entry": e.name, "reasons": e.reasons} for e in plan.stale],
                "removed": sorted(plan.removed),
                "up_to_date": plan.up_to_date,
            }
        )
        return EXIT_OK
    for e in plan.entries:
        if not e.checked:
            continue
        if e.stale:
            print(f"* {e.name:<24} {'; '.join(e.reasons)}")
        elif args.all:
            print(f"  {e.name:<24} up to date")
    for name in sorted(plan.removed):
        print(f"- {name:<24} removed from the manifest: its outputs will be deleted")
    n = len(plan.stale)
    print(f"{n} to build, {len(plan.fresh)} up to date, {len(plan.removed)} to remove")
    return EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    from pixelbuild.cache import layout
    from pixelbuild.cache.layout import TMP
    from pixelbuild.cache.lock import write_lock
    from pixelbuild.run.emit import Emitter

    project = _open(args)
    foreign: list[str] = []
    try:
        with _exclusive(project, args):
            names = _selection(project, args.entries) or set(project.lock.entries)
            emitter = Emitter(project.assets, project.cache / TMP, project.state, project.lock)
            deleted, kept = 0, []
            for name in sorted(names):
                entry = project.lock.entries.pop(name, None)
                for rel, info in (entry.outputs if entry else {}).items():
                    if emitter.remove(rel, info.digest):
                        deleted += 1
                    else:
                        kept.append(rel)
            write_lock(project.lock_path, project.lock, project.cache / TMP)
            project.close()
            if args.cache:
                foreign = layout.clear(project.cache)
    finally:
        project.close()
    if args.cache:
        layout.remove_if_empty(project.cache)
    if foreign:
        print(f"kept in {project.cache}: {', '.join(foreign)} (not pixelbuild's)", file=sys.stderr)
    for rel in kept:
        print(f"kept {rel}: edited since it was written", file=sys.stderr)
    summary = {"deleted": deleted, "kept": kept, "cache_removed": bool(args.cache)}
    if args.json:
        _print_json(summary)
    elif not args.quiet:
        print(
            f"deleted {deleted} files" + (" and the cache" if args.cache else ""), file=sys.stderr
        )
    return EXIT_OK


def _adopt(args: argparse.Namespace) -> int:
    from pixelbuild.run.adopt import adopt

    with _held(args) as project:
        _selection(project, args.entries)
        files = adopt(project, args.entries)
    if args.json:
        _print_json({"adopted": files})
    else:
        for rel in files:
            print(f"adopted {rel} (finished by hand)", file=sys.stderr)
    return EXIT_OK


def _train(args: argparse.Namespace) -> int:
    from pixelbuild.console import make_reporter
    from pixelbuild.run.builder import Builder
    from pixelbuild.run.training import train_step

    if args.steps is not None and args.steps < 1:
        raise UsageError("--steps must be at least 1")
    with _held(args) as project:
        step = train_step(project.plan(), args.name)
        project.require_inputs([step.target.name], allow_download=args.allow_download)
        reporter = make_reporter(quiet=args.json)
        builder = Builder(project, reporter, engine_options=_engine_kwargs(args))
        reporter.start({})
        try:
            lora, sheet, ran = builder.train(step, steps=args.steps)
        finally:
            reporter.finish_steps()
            builder.close()
    if args.json:
        _print_json({"lora": str(lora), "sheet": str(sheet) if sheet else None, "trained": ran})
    else:
        print(f"{'trained' if ran else 'up to date'}: {lora}", file=sys.stderr)
        if sheet:
            print(f"validation sheet: {sheet}", file=sys.stderr)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from pixelbuild.compare.run import read_axes, run_compare
    from pixelbuild.console import make_reporter
    from pixelbuild.pages.compare_page import write_comparison
    from pixelbuild.run.builder import Builder

    with _held(args) as project:
        axes = read_axes(project, args.entry, args.axes)
        reporter = make_reporter(quiet=args.json)
        builder = Builder(project, reporter, engine_options=_engine_kwargs(args))
        try:
            comparison = run_compare(project, builder, args.entry, axes)
        finally:
            builder.close()
        paths = write_comparison(comparison, project.cache, args.output)
    if args.json:
        files = {"page": paths["page"], "sheet": paths["sheet"], "cells_file": paths["cells"]}
        _print_json({k: str(v) for k, v in files.items()} | comparison.summary())
        return EXIT_OK
    n = len(comparison.results)
    print(
        f"compared {args.entry}: {n} cells ({comparison.generated} images generated, the rest "
        f"from the cache) in {comparison.seconds:.1f}s\n  page:  {paths['page']}\n"
        f"  sheet: {paths['sheet']}\n  keep one: pixelbuild pick {args.entry} N",
        file=sys.stderr,
    )
    if args.open:
        _open_page(paths["page"])
    return EXIT_OK


def _pick(args: argparse.Namespace) -> int:
    from pixelbuild.compare.pick import pick

    with _held(args) as project:
        changed = pick(project, args.entry, args.cell)
    if not args.json:
        for line in changed:
            print(f"pixels.yaml: {args.entry}: {line}", file=sys.stderr)
    if args.no_build:
        if args.json:
            _print_json({"changed": changed})
        return EXIT_OK
    argv = ["build", "-C", str(args.directory), args.entry, *(["--json"] if args.json else [])]
    argv += ["--manifest", str(args.manifest)] if args.manifest else []
    argv += [f"--{k}={v}" for k in ("device", "dtype") if (v := getattr(args, k))]
    argv += ["--allow-download"] if args.allow_download else []
    build = _parser().parse_args(argv)
    build.directory = args.directory
    return _build(build)


def _gallery(args: argparse.Namespace) -> int:
    from pixelbuild.pages.gallery import write_gallery

    project = _open(args, readonly=True)
    try:
        page = write_gallery(project)
    finally:
        project.close()
    if args.json:
        _print_json({"page": str(page)})
    else:
        print(f"gallery: {page}", file=sys.stderr)
    if args.open:
        _open_page(page)
    return EXIT_OK


def _open_page(path: Path) -> None:
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        print(f"no browser to open; the page is {path}", file=sys.stderr)


def _schema(args: argparse.Namespace) -> int:
    from pixelbuild.manifest.jsonschema import schema_text

    text = schema_text()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from pixelbuild.manifest.init import init_project

    for line in init_project(args.directory, args.assets):
        print(line, file=sys.stderr)
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    from pixelbuild.remote import from_args as remote_from_args
    from pixelbuild.watch import watch

    return watch(
        args.directory,
        manifest=args.manifest,
        poll=args.poll,
        force=args.force,
        debounce_ms=args.debounce,
        engine_options=_engine_kwargs(args),
        as_json=args.json,
        serve=args.serve,
        ray=args.ray,
        remote=remote_from_args(args),
    )


def _print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))
