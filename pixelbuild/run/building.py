"""One build of an opened project whose build lock is held (run/exclusive.py).

`pixelbuild build` and the MCP server's `build` tool both run these, so the two cannot drift:
an up-to-date plan still refreshes what is derived from the targets (the Rust module) and the
lock's shards; a complete build (no entries named, nothing failed) lets the next no-op take the
fast path (run/snapshot.py) without loading the manifest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelbuild.plan.plan import Plan
from pixelbuild.run.project import Project
from pixelbuild.run.report import Reporter
from pixelbuild.run.result import BuildResult

if TYPE_CHECKING:
    from pixelbuild.remote.cache import RemoteCache
    from pixelbuild.run.generation import GenerationRunner


def finish_up_to_date(project: Project, plan: Plan, *, force: bool, whole: bool) -> None:
    """What an up-to-date build still writes; `whole`: no entries were named."""
    if project.manifest.project.rust_module:  # derived from the targets: may be missing
        from pixelbuild.cache.layout import TMP
        from pixelbuild.run.rustmodule import module_text, write_module

        path = project.dir / project.manifest.project.rust_module
        write_module(path, module_text(project.targets), project.cache / TMP, force=force)
    project.move_lock_entries()  # entries that moved to another manifest file
    if whole:
        project.remember_clean_state(plan)


def build_stale(
    project: Project,
    plan: Plan,
    reporter: Reporter,
    *,
    force: bool,
    whole: bool,
    engine_options: dict[str, dict[str, Any]],
    allow_download: bool = False,
    runner: GenerationRunner | None = None,
    remote: RemoteCache | None = None,
) -> BuildResult:
    """Run `plan` (which has stale or removed entries); `whole`: no entries were named."""
    from pixelbuild.run.builder import Builder

    project.require_inputs([e.name for e in plan.stale], allow_download=allow_download)
    builder = Builder(
        project, reporter, force=force, engine_options=engine_options, runner=runner,
        remote=remote,
    )  # fmt: skip
    try:
        result = builder.build(plan)
    finally:
        builder.close()
    if not result.failed and whole:
        project.remember_clean_state(plan)
    return result
