"""`pixelbuild pick ENTRY N`: write cell N of the last comparison into pixels.yaml.

Only the values the cell changed are written, through the round-trip editor (comments, order
and formatting stay). The entry must still be as it was compared: a cell's changes are relative
to the entry's fields then, so after an edit they could mean something else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pixelbuild.cache import layout
from pixelbuild.compare.cells import Change
from pixelbuild.compare.run import entry_section
from pixelbuild.errors import UsageError
from pixelbuild.run.project import Project

CELLS = "cells.json"  # each cell's changes (written by pages/compare_page.py)


def pick(project: Project, name: str, which: str) -> list[str]:
    """Apply cell `which` (its number, or a prefix of its key) of the last comparison of
    `name`; returns the changes as `field: value` lines."""
    section = entry_section(project, name)
    record = _last_comparison(project, name)
    cell = _cell(record, which, name)
    entry = getattr(project.manifest, section)[name]
    if _plain(entry.model_dump(exclude_unset=True)) != _plain(record["base"]):
        raise UsageError(
            f"{name!r} changed in {project.manifest_path.name} since it was compared; run "
            f"`pixelbuild compare {name}` again"
        )
    changes = [(tuple(path), value) for path, value in cell["changes"]]
    lines = [f"{'.'.join(path)}: {json.dumps(value)}" for path, value in changes]
    part = project.doc.parts.get((section, name))
    if part is not None and part.path != project.manifest_path:
        raise UsageError(
            f"{name!r} is written in {part.path.name} (an included file); pick writes only "
            f"{project.manifest_path.name}: set {'; '.join(lines)} there"
        )
    write_changes(project.manifest_path, project.doc.data, section, name, changes)
    return lines


def write_changes(
    manifest: Path, data: dict[str, Any], section: str, name: str, changes: list[Change]
) -> None:
    """Write a cell's changes into entry `name` of the manifest (`data`: the file as parsed):
    each value in place where its mapping exists, else the mapping it needs, one level up."""
    from pixelbuild.manifest.edit import edit_entry, set_value

    entry = data[section][name]
    for path, value in changes:
        if _mapping_at(entry, path[:-1]) is not None and not isinstance(value, dict):
            set_value(manifest, (section, name, *path), value)
            continue
        nested: Any = value
        for part in reversed(path[1:]):
            nested = {part: nested}
        edit_entry(manifest, name, {path[0]: nested})


def _last_comparison(project: Project, name: str) -> dict[str, Any]:
    path = project.cache / layout.COMPARE / name / CELLS
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        message = f"no comparison of {name!r} yet: run `pixelbuild compare {name}`"
        raise UsageError(message) from None
    except (OSError, ValueError) as exc:
        message = f"the last comparison of {name!r} is unreadable ({exc}); compare again"
        raise UsageError(message) from None
    if not isinstance(record, dict) or record.get("entry") != name:
        raise UsageError(f"{path} is not a comparison of {name!r}; compare again")
    return record


def _cell(record: dict[str, Any], which: str, name: str) -> dict[str, Any]:
    cells = record.get("cells", [])
    found = [
        c for c in cells
        if str(c.get("number")) == which or (len(which) >= 6 and c.get("key", "").startswith(which))
    ]  # fmt: skip
    if len(found) != 1:
        raise UsageError(
            f"no cell {which!r} in the last comparison of {name!r} (cells 1 to {len(cells)}, "
            "or a key of 6 or more characters)"
        )
    return found[0]


def _mapping_at(data: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    """The mapping at `path` in the entry as the file has it, if there is one."""
    node = data
    for part in path:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def _plain(value: Any) -> Any:
    """As JSON would give it back (tuples become lists)."""
    return json.loads(json.dumps(value))
