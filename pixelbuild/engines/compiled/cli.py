"""`pixelbuild engines build|list|clean`: compiled SDXL engines as a build product.

Importing this module is light (no torch): the heavy imports happen when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pixelbuild.errors import Issue, ManifestError

ENGINES_HELP = "compile SDXL UNets ahead of time (TensorRT, AOTInductor): build, list, clean"

ENGINES_DESCRIPTION = """\
Compiled engines make generation faster on a given machine. A profile in the project's engines/
folder (one YAML file each) says which model to compile, with which compiler, for which GPU, at
which precision and at which static shapes ("buckets": canvas sizes x batch sizes). Built engines
live in the project cache, keyed by the model's content, the compiler and torch versions, the GPU
architecture and the shape, so they are rebuilt only when one of those changes.

Then set `engine: tensorrt` (or `inductor`) under `generate:` in pixels.yaml: generation runs the
compiled UNet inside the same diffusers pipeline (same scheduler, prompts, seeds, LoRAs). A request
no engine covers is an error naming the command to run, unless `fallback: eager` is set.
"""

ENGINES_EPILOG = """\
a profile (engines/gb10-sdxl-fp16.yaml):
  model: sdxl            # a name from pixels.yaml's models:
  compiler: tensorrt     # tensorrt (NVIDIA GPUs) | inductor (AOTInductor: CPU and CUDA)
  target: sm_121         # GB10 = sm_121, H100 = sm_90, or cpu
  precision: fp16        # fp16 | bf16 | fp32
  components: [unet]
  refittable: true       # LoRAs are applied by refitting weights, not rebuilding
  cfg: true              # classifier-free guidance doubles the UNet batch
  tiles: false           # true: also compile circular padding for tileable entries
  buckets:
    - {canvas: 1024, batch: [1, 2]}
    - {canvas: 768, batch: [1, 2, 4, 8]}

examples:
  pixelbuild engines build                     build every profile in engines/
  pixelbuild engines build gb10-sdxl-fp16      build one profile (a name or a path)
  pixelbuild engines list                      what is built, for which GPU
  pixelbuild engines clean                     remove every built engine
"""


def add_engines_command(subparsers: Any, common_parent: argparse.ArgumentParser) -> None:
    """Add `engines` and its sub-commands to the CLI's sub-parsers."""
    raw = argparse.RawDescriptionHelpFormatter
    # -C/-f/--json go on each action (`pixelbuild engines build -C DIR`): argparse lets a
    # sub-parser's defaults overwrite what its parent parsed, so they are not on `engines` too.
    engines = subparsers.add_parser(
        "engines",
        help=ENGINES_HELP,
        description=ENGINES_DESCRIPTION,
        epilog=ENGINES_EPILOG,
        formatter_class=raw,
    )
    engines.set_defaults(run=lambda args: _usage(engines))
    sub = engines.add_subparsers(title="engine commands", metavar="ACTION")

    build = sub.add_parser(
        "build",
        parents=[common_parent],
        help="compile the engines of every profile (or of the PROFILEs given)",
        description="Export the profile's model UNet with torch.export at every bucket and "
        "compile it;\nengines already in the cache are reused (a second build is instant).",
        epilog=ENGINES_EPILOG,
        formatter_class=raw,
    )
    build.add_argument(
        "profiles",
        nargs="*",
        metavar="PROFILE",
        help="a profile name from engines/ (e.g. gb10-sdxl-fp16) or a path to a YAML file",
    )
    build.add_argument(
        "--allow-download",
        action="store_true",
        help="let diffusers download a hub model that is not in the local cache",
    )
    build.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    build.set_defaults(run=run_build)

    listing = sub.add_parser(
        "list",
        parents=[common_parent],
        help="show the built engines: model, compiler, GPU, precision, shape, size",
        description="Show every engine in the project cache and what it was built for.",
        formatter_class=raw,
    )
    listing.set_defaults(run=run_list)

    clean = sub.add_parser(
        "clean",
        parents=[common_parent],
        help="remove built engines (all, or those of the PROFILEs given)",
        description="Remove compiled engines from the project cache; `engines build` makes "
        "them again.",
        formatter_class=raw,
    )
    clean.add_argument("profiles", nargs="*", metavar="PROFILE", help="only these profiles")
    clean.set_defaults(run=run_clean)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _open(args: argparse.Namespace, readonly: bool = False):
    from pixelbuild.run.project import open_project

    return open_project(args.directory, readonly=readonly, manifest=args.manifest)


def model_ref(project: Any, name: str, where: Any = None):
    """The manifest model `name`, resolved with its content digest."""
    if name not in project.manifest.models:
        known = ", ".join(sorted(project.manifest.models)) or "none"
        raise ManifestError(
            [Issue(f"unknown model {name!r} (models in the manifest: {known})", where)],
            where="an engine profile",
        )
    for target in project.targets:
        gen = target.generation
        if gen is not None and gen.model is not None and gen.model.name == name:
            return gen.model
    # No entry uses it (yet): resolve it the way entries' models are resolved.
    return project.model(name)


def run_build(args: argparse.Namespace) -> int:
    from pixelbuild.engines.compiled.build import build_profile
    from pixelbuild.engines.compiled.profile import find_profiles, load_profile, resolve_profile

    project = _open(args)
    try:
        if args.profiles:
            paths = [resolve_profile(project.dir, p) for p in args.profiles]
        else:
            paths = find_profiles(project.dir)
            if not paths:
                raise ManifestError(
                    [Issue(f"no engine profiles in {project.dir / 'engines'} (see --help)")],
                    where="the project",
                )
        loaded = [load_profile(p) for p in paths]  # every profile valid before building any
        quiet = args.quiet or args.json

        def say(line: str) -> None:
            if not quiet:
                print(line, flush=True)

        results = []
        for profile in loaded:
            model = model_ref(project, profile.profile.model, profile.model_at)
            results.append(
                build_profile(
                    profile, model, project.cache, allow_download=args.allow_download, say=say
                )
            )
    finally:
        project.close()
    if args.json:
        print(json.dumps({"profiles": [r.to_json() for r in results]}, indent=2))
    elif not args.quiet:
        built = sum(len(r.built) for r in results)
        cached = sum(len(r.cached) for r in results)
        print(f"{built} engine(s) built, {cached} already in the cache")
    return 0


def _rows(engines: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for e in engines:
        info = e.info
        rows.append(
            {
                "key": e.key,
                "profile": info.get("profile"),
                "model": info.get("model_name"),
                "compiler": info.get("compiler"),
                "target": info.get("target"),
                "system": info.get("system"),
                "precision": info.get("precision"),
                "bucket": e.bucket.label,
                "compiler_version": info.get("compiler_version"),
                "torch": info.get("torch"),
                "refittable": info.get("refittable"),
                "size_bytes": info.get("size_bytes"),
                "built_at": info.get("built_at"),
                "path": str(e.dir),
            }
        )
    return rows


def run_list(args: argparse.Namespace) -> int:
    from pixelbuild.engines.compiled import store

    project = _open(args, readonly=True)
    try:
        engines = store.read_engines(project.cache)
    finally:
        project.close()
    rows = _rows(engines)
    if args.json:
        print(json.dumps({"engines": rows}, indent=2))
        return 0
    if not rows:
        print("no compiled engines built (see `pixelbuild engines build --help`)")
        return 0
    headers = ["key", "profile", "model", "compiler", "target", "precision", "bucket", "MB"]
    cells = [
        [
            r["key"][:12],
            str(r["profile"]),
            str(r["model"]),
            str(r["compiler"]),
            f"{r['target']} ({r['system']})",
            str(r["precision"]),
            r["bucket"],
            f"{(r['size_bytes'] or 0) / 2**20:.1f}",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    for line in [headers, ["-" * w for w in widths], *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    versions = sorted({f"{r['compiler_version']}, torch {r['torch']}" for r in rows})
    print("built with: " + "; ".join(versions))
    return 0


def run_clean(args: argparse.Namespace) -> int:
    from pixelbuild.engines.compiled import store

    project = _open(args, readonly=True)
    try:
        cache = project.cache
    finally:
        project.close()
    keep = None
    if args.profiles:
        wanted = {Path(p).stem for p in args.profiles}
        keep = {e.key for e in store.read_engines(cache) if e.info.get("profile") not in wanted}
    doomed = [e for e in store.read_engines(cache) if keep is None or e.key not in keep]
    freed = sum(store.size_of(e.dir) for e in doomed)
    removed = store.clean(cache, keep)
    if args.json:
        print(json.dumps({"removed": [e.key for e in removed], "freed_bytes": freed}))
    else:
        print(f"removed {len(removed)} engine(s), {freed / 2**20:.1f} MB", file=sys.stdout)
    return 0
