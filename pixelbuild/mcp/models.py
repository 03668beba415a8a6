"""The typed results of the MCP tools: what an assistant reads back as structured content.

Inputs are the tools' own typed parameters (server.py); these models are their outputs, named for
what they hold. A manifest problem is a `LocatedIssue` (file, line, column), as the CLI prints it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from pixelbuild.errors import Issue


class LocatedIssue(BaseModel):
    """One problem of the manifest at one place (as `pixelbuild build` reports it)."""

    message: str
    entry: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @classmethod
    def of(cls, issue: Issue, root: str) -> LocatedIssue:
        where = issue.location
        file = None
        if where is not None:
            file = str(where.file.relative_to(root)) if where.file.is_relative_to(root) else None
        return cls(
            message=issue.message,
            entry=issue.entry,
            file=file,
            line=where.line if where else None,
            column=where.column if where else None,
        )


class StaleEntry(BaseModel):
    entry: str
    reasons: list[str]


class PlanResult(BaseModel):
    """What a build would do: each stale entry with why, removed entries, the rest."""

    stale: list[StaleEntry]
    removed: list[str]
    up_to_date: list[str]


class BuildSummary(BaseModel):
    """What a build did. `failed` maps an entry to why; the lock records the rest."""

    rebuilt: list[str] = Field(default_factory=list)
    up_to_date: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    removed: list[str] = Field(default_factory=list)
    files_written: int = 0
    seconds: float = 0.0
    warnings: list[str] = Field(default_factory=list)


class CompareSummary(BaseModel):
    """A comparison: its cells (numbered on the sheet) and how many images were generated."""

    entry: str
    cells: int
    generated: int = Field(description="images generated now (the rest came from the cache)")
    seconds: float
    axes: list[str]


class TrainSummary(BaseModel):
    lora: str
    file: str = Field(description="the trained LoRA file (in the cache, or its `export:` path)")
    trained: bool = Field(description="trained now (false: it was current in the cache)")
    sheet: str | None = Field(None, description="its last validation sheet, if any")


class StepInfo(BaseModel):
    kind: str
    label: str
    key: str


class Explanation(BaseModel):
    """An entry's state: whether it is stale and why, its steps and keys, what the lock holds."""

    entry: str
    kind: str
    stale: bool
    reasons: list[str]
    key: str = Field(description="the key of its final step (the lock's key when up to date)")
    steps: list[StepInfo]
    outputs: list[str] = Field(description="files it writes, relative to the assets root")
    locked: dict[str, Any] | None = Field(
        None, description="its record in pixels.lock: key, seed, engine, provenance"
    )


class EditResult(BaseModel):
    """An edit of pixels.yaml: written (with its diff), or refused with located errors and
    the file left byte for byte as it was."""

    written: bool
    diff: str = ""
    errors: list[LocatedIssue] = Field(default_factory=list)


class PreviewInfo(BaseModel):
    entry: str
    file: str = Field(description="the image shown, relative to the assets root")
    width: int = Field(description="width of the image sent, in pixels (after scaling)")
    height: int
    scale: int
    frames: int = Field(description="frames of the sheet (1 for a single image)")
    frame: int | None = None


class PaletteSummary(BaseModel):
    name: str
    source: str = Field(description="builtin, colors, file or auto (from the manifest's palettes)")
    colors: int | None = Field(None, description="how many colours (None for an auto palette)")


class PaletteList(BaseModel):
    palettes: list[PaletteSummary]


class PaletteColors(BaseModel):
    name: str
    source: str
    colors: list[str] = Field(description="#rrggbb, in palette order; empty for an auto palette")
