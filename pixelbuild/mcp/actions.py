"""What each MCP tool does, as plain functions of one project (no MCP types here).

They run in worker threads (server.py) and reuse what the CLI runs: `open_project`, `Project.plan`,
run/building.py for builds under the project's build lock (run/exclusive.py: shared with the CLI
and `watch`, so builds serialize); edits.py and reference.py hold the rest. Names it passes are
entry names, looked up among the manifest's targets; the only path it passes (an output image) must
be a file the lock records, so no tool reads or writes anything else.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelbuild.errors import ManifestError, UsageError
from pixelbuild.manifest.load import MANIFEST_NAME
from pixelbuild.manifest.schema import ENTRY_SECTIONS
from pixelbuild.mcp.models import (
    BuildSummary,
    CompareSummary,
    Explanation,
    PlanResult,
    StaleEntry,
    StepInfo,
    TrainSummary,
)
from pixelbuild.mcp.preview import Preview, render
from pixelbuild.plan.steps import Step, ancestors
from pixelbuild.run.project import Project, open_project
from pixelbuild.run.report import Reporter
from pixelbuild.targets.base import IMAGE, JSON

Progress = Callable[[int, int, str], None]  # steps done, steps in all, what just finished


class BuildCancelled(BaseException):
    """The client cancelled a build: raised inside it at the next step, so it stops as an
    interrupted CLI build does (finished entries kept and recorded in the lock)."""


@dataclass(frozen=True)
class Place:
    """The project the server serves: its folder and manifest."""

    directory: Path
    manifest: Path

    @classmethod
    def of(cls, directory: Path, manifest: Path | None) -> Place:
        directory = directory.resolve()
        return cls(directory, (manifest or directory / MANIFEST_NAME).resolve())

    @contextmanager
    def opened(self, *, readonly: bool) -> Iterator[Project]:
        project = open_project(self.directory, readonly=readonly, manifest=self.manifest)
        try:
            yield project
        finally:
            project.close()

    @contextmanager
    def locked(self, command: str, say: Callable[[str], None]) -> Iterator[Project]:
        """The project opened for writing, its build lock held (waiting for it, `say`ing for
        whom). Opened again under the lock when another build may have run since it was
        opened (it waited, or pixels.lock changed), so it plans against that build's lock."""
        from pixelbuild.cache.lock import LOCK_NAME
        from pixelbuild.run.exclusive import hold

        lock_file = self.manifest.parent / LOCK_NAME
        before, waited = _signature(lock_file), False

        def waiting(message: str) -> None:
            nonlocal waited
            waited = True
            say(message)

        project = open_project(self.directory, manifest=self.manifest)
        try:
            with hold(project.cache, command, wait=True, say=waiting):
                if waited or _signature(lock_file) != before:
                    project.close()
                    project = open_project(self.directory, manifest=self.manifest)
                yield project
        finally:
            project.close()


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def plan(place: Place, entries: list[str] | None) -> PlanResult:
    with place.opened(readonly=True) as project:
        p = project.plan(selection(project, entries))
    return PlanResult(
        stale=[StaleEntry(entry=e.name, reasons=e.reasons) for e in p.stale],
        removed=sorted(p.removed),
        up_to_date=[e.name for e in p.fresh],
    )


def build(
    place: Place, entries: list[str] | None, force: bool, progress: Progress,
    cancel: threading.Event, say: Callable[[str], None],
) -> BuildSummary:  # fmt: skip
    """Build what is stale (or `entries`), holding the project's build lock (waiting for it)."""
    from pixelbuild.run import snapshot
    from pixelbuild.run.building import build_stale, finish_up_to_date

    if not entries and not force:  # the CLI's fast path: nothing changed since the last build
        names = snapshot.check(snapshot.default_cache(place.directory), place.manifest)
        if names is not None:
            return BuildSummary(up_to_date=sorted(names))
    with place.locked("mcp build", say) as project:
        p = project.plan(selection(project, entries))
        if not p.stale and not p.removed:
            finish_up_to_date(project, p, force=force, whole=not entries)
            return BuildSummary(up_to_date=p.up_to_date, warnings=project.notes)
        reporter = _Progress(progress, cancel)
        result = build_stale(
            project, p, reporter, force=force, whole=not entries, engine_options={}
        )
    return BuildSummary(
        rebuilt=result.rebuilt,
        up_to_date=result.up_to_date,
        failed={name: str(f) for name, f in sorted(result.failed.items())},
        removed=result.removed,
        files_written=result.files_written,
        seconds=round(result.seconds, 3),
        warnings=project.notes + reporter.warnings,
    )


class _Progress(Reporter):
    """Steps done as progress, and the place where a cancelled build stops."""

    def __init__(self, progress: Progress, cancel: threading.Event):
        self.progress = progress
        self.cancel = cancel
        self.total = 0
        self.done = 0
        self.warnings: list[str] = []

    def _check(self) -> None:
        if self.cancel.is_set():
            raise BuildCancelled("the build was cancelled; finished entries are kept")

    def start(self, totals: dict[Any, int]) -> None:
        self.total = sum(totals.values())
        self._check()

    def generation_progress(self, entries: list[str]) -> Callable[[int, int, int], None]:
        return lambda index, step, total: self._check()

    def training_progress(self, name: str) -> Callable[[int, int, float, float], None]:
        return lambda step, total, loss, rate: self._check()

    def step_done(self, step: Step, failure: Any, *, skipped: bool = False) -> None:
        self.done += 1
        self.progress(self.done, max(self.total, self.done), f"{step.kind.name} {step.label}")
        self._check()

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def note(self, message: str) -> None:
        self.warnings.append(message)


def compare(
    place: Place, entry: str, axes: dict[str, str], progress: Progress, cancel: threading.Event,
    say: Callable[[str], None],
) -> tuple[bytes, CompareSummary]:  # fmt: skip
    """`pixelbuild compare ENTRY --AXIS VALUES ...`: the contact sheet's PNG and a summary
    (cells are cached builds; `pixelbuild pick ENTRY N` keeps one)."""
    from pixelbuild.compare.axes import OPTIONS
    from pixelbuild.compare.run import read_axes, run_compare
    from pixelbuild.pages.compare_page import write_comparison
    from pixelbuild.run.builder import Builder

    unknown = sorted(set(axes) - set(OPTIONS))
    if unknown:
        raise UsageError(f"unknown compare axes {', '.join(unknown)}; axes: {', '.join(OPTIONS)}")
    with place.locked("mcp compare", say) as project:
        chosen = read_axes(project, entry, list(axes.items()))
        builder = Builder(project, _Progress(progress, cancel))
        try:
            comparison = run_compare(project, builder, entry, chosen)
        finally:
            builder.close()
        paths = write_comparison(comparison, project.cache)
        summary = comparison.summary() | {"axes": comparison.titles}
        return paths["sheet"].read_bytes(), CompareSummary.model_validate(summary)


def train_lora(
    place: Place, name: str, progress: Progress, cancel: threading.Event,
    say: Callable[[str], None],
) -> tuple[TrainSummary, bytes | None]:  # fmt: skip
    """`pixelbuild train NAME`: train a LoRA of `loras:` (from the cache when current); where
    its file is, whether it trained now, and its validation sheet's PNG (if it has one)."""
    from pixelbuild.run.builder import Builder
    from pixelbuild.run.training import train_step

    with place.locked("mcp train", say) as project:
        step = train_step(project.plan(), name)
        project.require_inputs([step.target.name])
        reporter = _Progress(progress, cancel)
        builder = Builder(project, reporter)
        reporter.start({})
        try:
            lora, sheet, ran = builder.train(step)
        finally:
            builder.close()
    shown = str(sheet) if sheet else None
    summary = TrainSummary(lora=name, file=str(lora), trained=ran, sheet=shown)
    return summary, sheet.read_bytes() if sheet else None


def explain(place: Place, entry: str) -> Explanation:
    with place.opened(readonly=True) as project:
        selection(project, [entry])
        found = next((e for e in project.plan({entry}).entries if e.name == entry), None)
        if found is None:
            raise UsageError(f"{entry!r} is no longer in the manifest (a build removes it)")
        locked = project.lock.entries.get(entry)
    return Explanation(
        entry=entry,
        kind=found.target.kind,
        stale=found.stale,
        reasons=found.reasons,
        key=found.final.key,
        steps=[
            StepInfo(kind=s.kind.name, label=s.label, key=s.key) for s in ancestors(found.final)
        ],
        outputs=found.outputs,
        locked=locked.to_json() if locked else None,
    )


def preview(place: Place, entry: str, frame: int | None, scale: int | None) -> tuple[Preview, str]:
    """The entry's image as built (not built yet: UsageError), and its assets-relative path."""
    with place.opened(readonly=True) as project:
        selection(project, [entry])
        target = next(t for t in project.targets if t.name == entry)
        outputs = target.outputs()
        image = inside(project.assets, outputs[IMAGE])
        layout = inside(project.assets, outputs[JSON]) if JSON in outputs else None
        if entry not in project.lock.entries or not image.is_file():
            raise UsageError(f"{entry!r} is not built yet: build it first")
    return render(image, layout, frame, scale), outputs[IMAGE]


def inside(assets: Path, rel: str) -> Path:
    """`assets / rel`, refused when a link takes it out of the assets tree (the manifest's
    checks keep `rel` relative and without '..'; the disk may still hold a link)."""
    path = (assets / rel).resolve()
    if not path.is_relative_to(assets.resolve()):
        raise UsageError(f"{rel} leads out of the assets folder (a link); not read")
    return path


def output_image(place: Place, path: str) -> bytes:
    """An image output the lock records (assets-relative `path`), and nothing else."""
    with place.opened(readonly=True) as project:
        recorded = {rel for e in project.lock.entries.values() for rel in e.outputs}
        if path not in recorded or not path.lower().endswith(".png"):
            raise UsageError(f"{path!r} is not an image output of this project (see pixels.lock)")
        return inside(project.assets, path).read_bytes()


def entry_record(place: Place, entry: str) -> dict[str, Any]:
    """An entry as the manifest writes it, what it outputs and what the lock records of it."""
    with place.opened(readonly=True) as project:
        selection(project, [entry])
        target = next((t for t in project.targets if t.name == entry), None)
        locked = project.lock.entries.get(entry)
        data = project.doc.data or {}
        sections = [data[s] for s in ENTRY_SECTIONS if isinstance(data.get(s), dict)]
        fields = next((section[entry] for section in sections if entry in section), None)
        return {
            "entry": entry,
            "kind": target.kind if target else None,
            "fields": fields,
            "outputs": list(target.outputs().values()) if target else [],
            "key": locked.key if locked else None,
            "locked": locked.to_json() if locked else None,
        }


def text_file(place: Place, name: str) -> str:
    """The manifest or the lock (the project's own files only)."""
    path = place.manifest if name == MANIFEST_NAME else place.manifest.parent / name
    from pixelbuild.manifest.source import read_text

    try:
        return read_text(path, limit=1 << 30)
    except ManifestError as exc:
        raise UsageError(str(exc.issues[0])) from None


# --- names ----------------------------------------------------------------------------------


def selection(project: Project, names: list[str] | None) -> set[str] | None:
    """`names` as a plan's selection, each checked against the manifest (did you mean ...)."""
    if not names:
        return None
    known = {t.name for t in project.targets}
    for name in names:
        if name not in known:
            match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            raise UsageError(f"no entry {name!r}{hint}")
    return set(names)
