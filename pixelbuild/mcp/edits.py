"""The edit tools: manifest/edit.py's edits of pixels.yaml, with the diff they made or the
located errors that refused them (nothing written then)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pixelbuild.errors import ManifestError
from pixelbuild.manifest import edit
from pixelbuild.manifest.source import read_text
from pixelbuild.mcp.actions import Place
from pixelbuild.mcp.models import EditResult, LocatedIssue


def edited(place: Place, change: Callable[[Path], None]) -> EditResult:
    """Make an edit of pixels.yaml; its diff, or the located errors (nothing written)."""
    try:
        before = read_text(place.manifest)
        change(place.manifest)
    except ManifestError as exc:
        return EditResult(written=False, errors=issues(exc, place))
    after = read_text(place.manifest)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        f"a/{place.manifest.name}", f"b/{place.manifest.name}",
    )  # fmt: skip
    return EditResult(written=before != after, diff="".join(lines))


def issues(exc: ManifestError, place: Place) -> list[LocatedIssue]:
    return [LocatedIssue.of(i, str(place.directory)) for i in exc.issues]


def add_entry(place: Place, kind: str, name: str, fields: dict[str, Any]) -> EditResult:
    return edited(place, lambda m: edit.add_entry(m, kind, name, fields))


def edit_entry(place: Place, name: str, fields: dict[str, Any]) -> EditResult:
    return edited(place, lambda m: edit.edit_entry(m, name, fields))


def remove_entry(place: Place, name: str) -> EditResult:
    return edited(place, lambda m: edit.remove_entry(m, name))
