"""The optional generated Rust module (`project.rust_module`): asset paths, atlas indices and
animation frame ranges as constants, so game code names sprites instead of numbers.

It is derived from the targets alone (indices follow manifest order, not packing), written only
when its text changes, and never over a file that lacks our header (a hand-written module).
"""

from __future__ import annotations

from pathlib import Path

from pixelbuild.cache.store import write_atomic
from pixelbuild.errors import OwnershipError
from pixelbuild.targets import Target

HEADER = "// Written by pixelbuild"


def module_text(targets: list[Target]) -> str:
    """The module's text: each target's part, by kind then name."""
    from pixelbuild.assemble import rust_module

    by_name = {t.name: t for t in targets}
    ordered = sorted(targets, key=lambda t: (t.kind, t.name))
    return rust_module([t.rust_texture(by_name) for t in ordered])


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
