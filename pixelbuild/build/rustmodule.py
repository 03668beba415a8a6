"""The optional generated Rust module (`project.rust_module`): asset paths, atlas indices and
animation frame ranges as constants, so game code names sprites instead of numbers.

It is derived from the targets alone (indices follow manifest order, not packing), written only
when its text changes, and never over a file that lacks our header (a hand-written module).
"""

from __future__ import annotations

from pathlib import Path

from pixelbuild.build.plan import output_paths
from pixelbuild.cache.store import write_atomic
from pixelbuild.errors import OwnershipError
from pixelbuild.manifest.resolve import Target

HEADER = "// Written by pixelbuild"


def module_text(targets: list[Target], meta_files: bool) -> str:
    from pixelbuild.assemble import GridLayout, RustAnimation, RustTexture, rust_module
    from pixelbuild.assemble.grid import default_columns

    by_name = {t.name: t for t in targets}
    textures = []
    for t in sorted(targets, key=lambda t: (t.kind, t.name)):
        outputs = output_paths(t, meta_files)
        if t.kind == "sprite":
            textures.append(RustTexture(t.name, t.out))
            continue
        if t.kind == "atlas":
            names: list[str] = []
            animations = []
            for m in t.members:
                n = len(by_name[m].prompts) if by_name[m].kind == "animation" else 1
                if by_name[m].kind == "animation":
                    durations = by_name[m].layout["durations"]
                    mode = by_name[m].layout["mode"]
                    animations.append(
                        RustAnimation(m, len(names), len(names) + n - 1, mode, durations)
                    )
                names += [f"{m}/{i}" for i in range(n)] if by_name[m].kind == "animation" else [m]
            strings = {"json": outputs[1], "layout": outputs[2]}
            textures.append(RustTexture(t.name, t.out, names, None, animations, strings))
            continue
        scale = int(t.pixel.get("upscale", 1))
        w, h = t.size[0] * scale, t.size[1] * scale
        n = len(t.prompts)
        columns = t.layout.get("columns") or default_columns(n, w, h)
        grid = GridLayout(w, h, columns, -(-n // columns), t.layout.get("padding", 0))
        names = [f"{t.name}/{i}" for i in range(n)]
        animations = []
        if t.kind == "animation":
            durations = t.layout["durations"]
            animations.append(RustAnimation(t.name, 0, n - 1, t.layout["mode"], durations))
        strings = {"layout": outputs[1], "json": outputs[2]}
        textures.append(RustTexture(t.name, t.out, names, grid, animations, strings))
    return rust_module(textures)


def write_module(path: Path, text: str, staging: Path, *, force: bool = False) -> bool:
    """Write the module if its text changed; True when the file was (re)written."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == text:
        return False
    if current is not None and not current.startswith(HEADER) and not force:
        raise OwnershipError(
            f"{path} exists and was not written by pixelbuild (no '{HEADER}' header); "
            "move it away, change project.rust_module, or pass --force"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode(), staging)
    return True
