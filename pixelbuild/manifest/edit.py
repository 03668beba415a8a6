"""Edits of `pixels.yaml` that a reviewer reads in `git diff` as exactly what changed.

Every edit is checked before it is written: the new text must pass the very validation a build
runs (load.validate_document, errors located in the new text under the manifest's own name),
and must read back as the old data with only the asked change (a splice that touched anything
else is refused). On any error the file is not touched. The write is atomic (a temp file beside
the manifest, then os.replace) and keeps the file's mode, byte-order mark and line endings.
Entries written in an included file (`include:`) are edited there by hand.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pixelbuild.errors import PixelbuildError, UsageError
from pixelbuild.manifest import splice
from pixelbuild.manifest.load import validate_document
from pixelbuild.manifest.schema import ENTRY_SECTIONS, SINGULAR
from pixelbuild.manifest.source import SafeLoader, parse_yaml, read_text

Key = str | int
KINDS: dict[str, str] = {SINGULAR[section]: section for section in ENTRY_SECTIONS}
_BOM = b"\xef\xbb\xbf"


def set_value(manifest: Path, keys: Sequence[Key], value: Any) -> None:
    """Set the value at `keys` (e.g. ("sprites", "hero", "seed")), adding the key if absent."""
    _edit(manifest, lambda text, data: _set(text, data, keys, value))


def edit_entry(manifest: Path, name: str, fields: Mapping[str, Any]) -> None:
    """Merge `fields` into entry `name`: each replaces that field's value; None deletes it."""

    def change(text: str, data: Any) -> str:
        section = _section_of(data, name)
        for field, value in fields.items():
            keys = (section, name, field)
            text = _delete(text, data, keys) if value is None else _set(text, data, keys, value)
        return text

    _edit(manifest, change)


def add_entry(manifest: Path, kind: str, name: str, fields: Mapping[str, Any]) -> None:
    """Add entry `name` of `kind` (sprite, animation, ...) to its section, made if absent."""
    section = KINDS.get(kind)
    if section is None:
        kinds = ", ".join(KINDS)
        raise UsageError(f"unknown entry kind {kind!r}{_hint(kind, KINDS)}; one of {kinds}")

    def change(text: str, data: Any) -> str:
        for other in ENTRY_SECTIONS:
            if name in _section(data, other):
                raise UsageError(f"{SINGULAR[other]} {name!r} already exists; edit it instead")
        return _set(text, data, (section, name), dict(fields))

    _edit(manifest, change)


def remove_entry(manifest: Path, name: str) -> None:
    """Remove entry `name` (its key, fields and the comments among them)."""
    _edit(manifest, lambda text, data: _delete(text, data, (_section_of(data, name), name)))


# --- one edit: read, change, check, write -------------------------------------------------


def _edit(manifest: Path, change: Callable[[str, Any], str]) -> None:
    path = manifest.resolve()
    text = read_text(path)
    raw = path.read_bytes()
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n")
    expected = _data(text, path)  # becomes what the new text must read as
    new = change(text, expected)
    if new == text:
        return
    doc = parse_yaml(new, path)
    if (doc.data or {}) != expected:
        raise PixelbuildError(
            f"{path.name}: this edit could not be made without changing other values "
            "(anchors, merge keys or an unusual layout); make it by hand"
        )
    validate_document(doc)  # a build's validation: ManifestError with every issue, located
    out = new.replace("\n", newline).encode("utf-8")
    _write(path, (_BOM if raw.startswith(_BOM) else b"") + out, raw)


def _data(text: str, path: Path) -> Any:
    """The plain data of the file as it is (a repeated key is not refused here, so an edit
    can fix it); a syntax error is the located error a build reports."""
    try:
        return yaml.load(text, Loader=SafeLoader) or {}
    except yaml.YAMLError:
        parse_yaml(text, path)  # raises the located ManifestError
        raise


def _set(text: str, data: Any, keys: Sequence[Key], value: Any) -> str:
    """Splice the change into `text` and make it in `data` (the expected result)."""
    new = splice.set_in(text, keys, value)
    node = data
    for key in keys[:-1]:
        if isinstance(node, dict) and not isinstance(node.get(key), dict | list):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = copy.deepcopy(value)
    return new


def _delete(text: str, data: Any, keys: Sequence[Key]) -> str:
    new = splice.delete_in(text, keys)
    node = data
    for key in keys[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(keys[-1], None)
    return new


def _write(path: Path, data: bytes, was: bytes) -> None:
    """Replace `path` atomically with `data`, unless someone changed it since it was read."""
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.read_bytes() != was:
            raise UsageError(f"{path.name} changed while it was being edited; edit it again")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# --- entries --------------------------------------------------------------------------------


def _section(data: Any, section: str) -> dict[Any, Any]:
    value = data.get(section) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _section_of(data: Any, name: str) -> str:
    for section in ENTRY_SECTIONS:
        if name in _section(data, section):
            return section
    if isinstance(data, dict) and data.get("include"):
        raise UsageError(
            f"no entry {name!r} in this manifest; an entry of an included file is edited there"
        )
    names = [n for s in ENTRY_SECTIONS for n in _section(data, s)]
    raise UsageError(f"no entry {name!r}{_hint(name, names)}")


def _hint(word: str, candidates: Any) -> str:
    match = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
