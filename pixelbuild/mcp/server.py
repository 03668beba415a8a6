"""The MCP server: pixelbuild's tools and resources for one project, on the official SDK.

Each tool runs its action (actions.py) in a worker thread, so the server keeps reading requests
(a cancellation among them) while a build runs. A cancelled build is asked to stop at its next
step and the call waits for that, so the project's build lock is never left to a build nobody
awaits. Failures an assistant can act on (an unknown entry, an invalid manifest, a busy project)
come back as tool errors with the CLI's message; a refused edit comes back as structured,
located errors.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from pixelbuild import __version__
from pixelbuild.errors import PixelbuildError
from pixelbuild.mcp import actions, edits, reference
from pixelbuild.mcp.actions import Place
from pixelbuild.mcp.models import (
    BuildSummary,
    CompareSummary,
    EditResult,
    Explanation,
    PaletteColors,
    PaletteList,
    PlanResult,
    PreviewInfo,
    TrainSummary,
)
from pixelbuild.mcp.preview import swatch

T = TypeVar("T")
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
EDITS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False)

INSTRUCTIONS = """\
pixelbuild builds a game's pixel art from a declarative manifest (pixels.yaml): sprites,
animations, tilesets, characters and atlases, each with a prompt, seed, size and palette.
Edit entries with add_entry / edit_entry / remove_entry (validated; comments and formatting
kept; a refused edit writes nothing and returns located errors), see what would rebuild with
plan, build with build (only what changed is rebuilt), look at results with preview. Files land
in the game's assets folder; pixels.lock records what was built from what.
"""

EntryName = Annotated[str, Field(description="an entry of the manifest, e.g. 'hero'")]
Entries = Annotated[
    list[str] | None, Field(description="entries to consider (default: every entry)")
]
Fields = Annotated[
    dict[str, Any],
    Field(description="manifest fields, e.g. {'prompt': 'a red knight', 'size': 32, 'seed': 7}"),
]


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread; a PixelbuildError becomes the tool's error message."""
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except PixelbuildError as exc:
        raise ToolError(str(exc)) from None


def make_server(directory: Path, manifest: Path | None = None) -> MCPServer:
    """A server for the project in `directory` (its manifest: `manifest` or pixels.yaml)."""
    place = Place.of(directory, manifest)
    server = MCPServer(
        "pixelbuild", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    _project_tools(server, place)
    _variant_tools(server, place)
    _edit_tools(server, place)
    _reference_tools(server, place)
    _resources(server, place)
    return server


def _project_tools(server: MCPServer, place: Place) -> None:
    @server.tool(annotations=READ_ONLY)
    async def plan(entries: Entries = None) -> PlanResult:
        """What a build would rebuild, and why (each stale entry with its reasons)."""
        return await _in_thread(actions.plan, place, entries)

    @server.tool(annotations=EDITS)
    async def build(ctx: Context, entries: Entries = None, force: bool = False) -> BuildSummary:
        """Build what is stale (or only `entries`); progress is reported per step, and a
        cancelled build stops at the next step (finished entries are kept). `force` replaces
        outputs edited by hand. Waits for another build of this project to finish first."""
        return await _cancellable(
            ctx, lambda p, c, s: actions.build(place, entries, force, p, c, s)
        )

    @server.tool(annotations=READ_ONLY)
    async def explain(entry: EntryName) -> Explanation:
        """Why an entry is stale or up to date: its reasons, its steps and their keys, and
        what pixels.lock records of it (seed, engine, provenance)."""
        return await _in_thread(actions.explain, place, entry)

    @server.tool(annotations=READ_ONLY)
    async def preview(
        entry: EntryName,
        frame: Annotated[int | None, Field(description="one frame of a sheet, from 0")] = None,
        scale: Annotated[
            int | None, Field(description="nearest-neighbour enlargement (default: to ~512 px)")
        ] = None,
    ) -> Annotated[CallToolResult, PreviewInfo]:
        """The entry's built image as PNG, enlarged without blurring; a sheet (animation,
        tileset, character, atlas) as a contact sheet of its frames, or one `frame` of it."""
        shown, rel = await _in_thread(actions.preview, place, entry, frame, scale)
        info = PreviewInfo(
            entry=entry, file=rel, width=shown.width, height=shown.height, scale=shown.scale,
            frames=shown.frames, frame=frame,
        )  # fmt: skip
        return _with_image(shown.png, info.model_dump_json(), info.model_dump(mode="json"))


def _variant_tools(server: MCPServer, place: Place) -> None:
    """Tools that generate beside the build: comparisons of settings, LoRA training."""

    @server.tool(annotations=EDITS)
    async def compare(
        ctx: Context,
        entry: EntryName,
        axes: Annotated[
            dict[str, str],
            Field(
                description="axes in order, as `pixelbuild compare` takes them: seed ('1..8'), "
                "lora ('pixel-art=0,0.6,1.0'), model, palette ('db32,endesga-32'), method, "
                "prompt_replace ('knight=paladin,rogue'); empty: the manifest's `compare:`"
            ),
        ],
    ) -> Annotated[CallToolResult, CompareSummary]:
        """Build one entry over several values of its settings and return the contact sheet
        (cells numbered on it); nothing in pixels.yaml changes. Cells are cached builds."""
        png, info = await _cancellable(
            ctx, lambda p, c, s: actions.compare(place, entry, axes, p, c, s)
        )
        return _with_image(png, info.model_dump_json(), info.model_dump(mode="json"))

    @server.tool(annotations=EDITS)
    async def train_lora(
        ctx: Context,
        name: Annotated[str, Field(description="a LoRA of `loras:` with `train:` settings")],
    ) -> Annotated[CallToolResult, TrainSummary]:
        """Train a LoRA on the game's own art as a build would (from the cache when it is
        current; a cancelled run resumes from its last checkpoint); returns where the LoRA
        file is and its validation sheet."""
        info, sheet = await _cancellable(
            ctx, lambda p, c, s: actions.train_lora(place, name, p, c, s)
        )
        data = info.model_dump(mode="json")
        if sheet is None:
            return CallToolResult(
                content=[TextContent(type="text", text=info.model_dump_json())],
                structured_content=data,
            )
        return _with_image(sheet, info.model_dump_json(), data)


async def _cancellable(
    ctx: Context,
    run: Callable[[actions.Progress, threading.Event, Callable[[str], None]], T],
) -> T:
    """`run(progress, cancel, say)` in a worker thread, its progress sent to the client; when
    the call is cancelled, `cancel` is set and the call returns once `run` has stopped."""
    cancel, finished = threading.Event(), threading.Event()

    def progress(done: int, total: int | None, message: str) -> None:
        # A client that went away gets no progress: the build goes on, its result is kept.
        with contextlib.suppress(Exception):
            anyio.from_thread.run(ctx.report_progress, done, total, message)

    def say(message: str) -> None:  # e.g. "waiting for another pixelbuild (pid 12, build)"
        progress(0, None, message)

    def work() -> T:
        try:
            return run(progress, cancel, say)
        finally:
            finished.set()

    try:
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except PixelbuildError as exc:
        raise ToolError(str(exc)) from None
    except anyio.get_cancelled_exc_class():
        cancel.set()  # the build stops at its next step; wait for it, so it releases the lock
        with anyio.CancelScope(shield=True):
            while not finished.is_set():
                await anyio.sleep(0.02)
        raise


def _edit_tools(server: MCPServer, place: Place) -> None:
    @server.tool(annotations=EDITS)
    async def add_entry(
        kind: Annotated[str, Field(description="sprite, animation, tileset, character or atlas")],
        name: EntryName,
        fields: Fields,
    ) -> EditResult:
        """Add an entry to pixels.yaml (its section is made if absent). Validated as a build
        validates; on any error nothing is written and the located errors are returned."""
        return await _in_thread(edits.add_entry, place, kind, name, fields)

    @server.tool(annotations=EDITS)
    async def edit_entry(name: EntryName, fields: Fields) -> EditResult:
        """Change fields of an entry: each given field replaces its value, null deletes it;
        other lines of pixels.yaml (comments, order, quoting) stay as they are."""
        return await _in_thread(edits.edit_entry, place, name, fields)

    @server.tool(annotations=EDITS)
    async def remove_entry(name: EntryName) -> EditResult:
        """Remove an entry from pixels.yaml (the next build deletes its outputs)."""
        return await _in_thread(edits.remove_entry, place, name)


def _reference_tools(server: MCPServer, place: Place) -> None:
    @server.tool(annotations=READ_ONLY)
    async def list_palettes() -> PaletteList:
        """The built-in palettes and the manifest's own, with their colour counts."""
        return await _in_thread(reference.palettes, place)

    @server.tool(annotations=READ_ONLY)
    async def show_palette(
        name: Annotated[str, Field(description="a built-in palette or one of `palettes:`")],
    ) -> Annotated[CallToolResult, PaletteColors]:
        """A palette's colours (#rrggbb) and a swatch image of them."""
        colors = await _in_thread(reference.palette, place, name)
        data = colors.model_dump(mode="json")
        return _with_image(swatch(colors.colors), colors.model_dump_json(), data)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    async def list_models() -> dict[str, Any]:
        """The manifest's models and LoRAs, each found or missing on this machine (the local
        Hugging Face cache, project files); nothing is downloaded."""
        return await _in_thread(reference.models, place)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    async def doctor() -> dict[str, Any]:
        """What this machine can do: Python, torch and GPUs, engines, the project's models."""
        return await _in_thread(reference.doctor, place)


def _resources(server: MCPServer, place: Place) -> None:
    @server.resource("pixelbuild://manifest", mime_type="application/yaml")
    def manifest() -> str:
        """pixels.yaml as it is on disk."""
        return _read(lambda: actions.text_file(place, "pixels.yaml"))

    @server.resource("pixelbuild://lock", mime_type="application/json")
    def lock() -> str:
        """pixels.lock: what was built from what (keys, seeds, provenance)."""
        return _read(lambda: actions.text_file(place, "pixels.lock"))

    @server.resource("pixelbuild://entry/{name}", mime_type="application/json")
    async def entry(name: str) -> dict[str, Any]:
        """An entry: its manifest fields, outputs, key and lock record (provenance)."""
        return await _read_in_thread(lambda: actions.entry_record(place, name))

    @server.resource("pixelbuild://output/{+path}", mime_type="image/png")
    async def output(path: str) -> bytes:
        """An output image of the project, by its path under the assets root."""
        return await _read_in_thread(lambda: actions.output_image(place, path))


def _read(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except PixelbuildError as exc:
        raise ResourceError(str(exc)) from None


async def _read_in_thread(fn: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(_read, fn)


def _with_image(png: bytes, text: str, data: dict[str, Any]) -> CallToolResult:
    image = ImageContent(type="image", data=base64.b64encode(png).decode(), mime_type="image/png")
    return CallToolResult(
        content=[image, TextContent(type="text", text=text)], structured_content=data
    )
