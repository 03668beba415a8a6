"""The gallery: one page of the whole project as the game sees it.

Every entry with the files in the assets tree (animations play, tiles repeat 3x3, atlas frames
show their boxes on hover), its palette (the colours it uses lit), its provenance from the lock
(model, LoRAs, seed, key), and the last build's report: what rebuilt and why, warnings, failures.
The page is written into the cache (`gallery/index.html`), the report beside it (`report.json`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pixelbuild.cache import layout
from pixelbuild.cache.lock import LockEntry
from pixelbuild.cache.store import write_atomic
from pixelbuild.colors import format_color
from pixelbuild.engines.base import ProgressFn
from pixelbuild.pages.html import Sheets, esc, page, swatches, view_html
from pixelbuild.pages.views import views_of
from pixelbuild.plan.plan import Plan
from pixelbuild.plan.steps import Step, StepKind
from pixelbuild.run.project import Project
from pixelbuild.run.report import Reporter, TrainProgressFn
from pixelbuild.run.result import BuildResult, Failure
from pixelbuild.targets import ImageTarget, Target

PAGE, REPORT = "index.html", "report.json"


class Recorder(Reporter):
    """Passes everything to the reporter it wraps, and keeps the warnings and notes."""

    def __init__(self, inner: Reporter):
        self.inner = inner
        self.warnings: list[str] = []

    def start(self, totals: dict[StepKind, int]) -> None:
        self.inner.start(totals)

    def generation_progress(self, entries: list[str]) -> ProgressFn | None:
        return self.inner.generation_progress(entries)

    def training_progress(self, name: str) -> TrainProgressFn | None:
        return self.inner.training_progress(name)

    def step_done(self, step: Step, failure: Failure | None, *, skipped: bool = False) -> None:
        self.inner.step_done(step, failure, skipped=skipped)

    def finish_steps(self) -> None:
        self.inner.finish_steps()

    def entry_done(self, name: str, reasons: list[str]) -> None:
        self.inner.entry_done(name, reasons)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.inner.warn(message)

    def note(self, message: str) -> None:
        self.warnings.append(message)
        self.inner.note(message)


def build_report(plan: Plan, result: BuildResult, warnings: list[str]) -> dict[str, Any]:
    """What a build did, for the gallery: rebuilt entries with their reasons, and the rest."""
    reasons = {e.name: e.reasons for e in plan.entries}
    return {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round(result.seconds, 3),
        "rebuilt": {name: reasons.get(name, []) for name in result.rebuilt},
        "up_to_date": len(result.up_to_date),
        "failed": {name: str(f) for name, f in sorted(result.failed.items())},
        "removed": result.removed,
        "warnings": warnings,
        "steps_run": result.steps_run,
    }


def folder(project: Project) -> Path:
    return project.cache / layout.GALLERY


def page_path(project: Project) -> Path:
    return folder(project) / PAGE


def write_gallery(project: Project, report: dict[str, Any] | None = None) -> Path:
    """Write the page (and, given one, the build report it shows) into the cache."""
    where = folder(project)
    where.mkdir(parents=True, exist_ok=True)
    staging = project.cache / layout.TMP
    if report is not None:
        write_atomic(where / REPORT, json.dumps(report, indent=1).encode(), staging)
    else:
        report = last_report(project)
    path = page_path(project)
    write_atomic(path, gallery_html(project, report).encode(), staging)
    return path


def last_report(project: Project) -> dict[str, Any] | None:
    try:
        value = json.loads((folder(project) / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def gallery_html(project: Project, report: dict[str, Any] | None) -> str:
    sheets = Sheets()
    cards = [_card(project, t, report or {}, sheets) for t in project.targets]
    count = len(project.targets)
    head = (
        f"<h1>{esc(project.dir.name)}</h1><div class=dim>{count} entries in "
        f"{esc(project.manifest_path.name)}; assets in {esc(project.assets)}</div>"
    )
    return page(
        f"{project.dir.name}: gallery",
        head + _report_html(report) + f"<div class=cards>{''.join(cards)}</div>" + sheets.html(),
    )


def _card(project: Project, target: Target, report: dict[str, Any], sheets: Sheets) -> str:
    locked = project.lock.entries.get(target.name)
    files = _read_outputs(project, locked)
    views = views_of(target, files)
    pictures = (
        "".join(
            f"<figure>{view_html(v, sheets)}<figcaption>{esc(v.title)}</figcaption></figure>"
            for v in views
        )
        or "<span class=dim>not built yet</span>"
    )
    rebuilt = report.get("rebuilt", {})
    status = ""
    if target.name in report.get("failed", {}):
        status = f"<div class=fail>failed: {esc(report['failed'][target.name])}</div>"
    elif target.name in rebuilt:
        status = f"<div class=warn>rebuilt: {esc('; '.join(rebuilt[target.name]))}</div>"
    warnings = [
        w
        for w in report.get("warnings", [])
        if f"'{target.name}'" in w or w.startswith(f"{target.name}:")
    ]
    status += "".join(f"<div class=warn>{esc(w)}</div>" for w in warnings)
    outputs = ", ".join(locked.outputs) if locked else ""
    return (
        f"<div class=card id='entry-{esc(target.name)}'><b>{esc(target.name)}</b> "
        f"<span class=dim>{esc(target.kind)}</span><div class=views>{pictures}</div>"
        f"{_palette(target, views[0].png if views else None)}{status}"
        f"<div class=figures>{_provenance(target, locked)}<br>{esc(outputs)}</div></div>"
    )


def _read_outputs(project: Project, locked: LockEntry | None) -> dict[str, bytes]:
    files = {}
    for rel in locked.outputs if locked else {}:
        if rel.endswith((".png", ".json")):
            try:
                files[rel] = (project.assets / rel).read_bytes()
            except OSError:
                continue
    return files


def _palette(target: Target, png: bytes | None) -> str:
    """The entry's palette, the colours its image uses lit (an auto palette: those used)."""
    if not isinstance(target, ImageTarget):
        return ""
    used = _used_colors(png) if png else set()
    spec = target.palette.spec
    colors: list[str] = []
    if "builtin" in spec:
        from pixelbuild.pixel.builtin import BUILTIN_PALETTES

        colors = [c.lower() for c in BUILTIN_PALETTES[spec["builtin"]]]
    elif "colors" in spec:
        colors = [str(c).lower() for c in spec["colors"]]
    return swatches(colors or sorted(used), used)


def _used_colors(png: bytes) -> set[str]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        found: list[tuple[int, Any]] = im.convert("RGBA").getcolors(maxcolors=1 << 16) or []
    return {format_color(tuple(c[:3])).lower() for _, c in found if c[3] > 0}


def _provenance(target: Target, locked: LockEntry | None) -> str:
    parts = []
    if isinstance(target, ImageTarget):
        gen = target.generation
        if gen is not None:
            parts.append(f"engine {gen.engine}")
            if gen.model is not None:
                parts.append(f"model {gen.model.name}")
            parts += [f"LoRA {lora.name} \u00d7{lora.weight:g}" for lora in gen.loras]
        else:
            parts.append("image " + (target.image.path if target.image else ""))
        parts.append(f"seed {target.seed}")
    if locked is not None:
        parts.append(f"key {locked.key[:16]}")
        made = (locked.provenance or {}).get("engine")
        if made:
            parts.append(f"made by {made}")
    return esc(" \u00b7 ".join(parts))


def _report_html(report: dict[str, Any] | None) -> str:
    if not report:
        return "<h2>last build</h2><div class=dim>no build recorded yet</div>"
    rows = [
        f"<tr><td>rebuilt</td><td>{esc(name)}</td><td>{esc('; '.join(why))}</td></tr>"
        for name, why in report.get("rebuilt", {}).items()
    ]
    rows += [
        f"<tr class=fail><td>failed</td><td>{esc(name)}</td><td>{esc(why)}</td></tr>"
        for name, why in report.get("failed", {}).items()
    ]
    rows += [
        f"<tr class=warn><td>warning</td><td colspan=2>{esc(w)}</td></tr>"
        for w in report.get("warnings", [])
    ]
    summary = (
        f"{report.get('finished', '')}: {len(report.get('rebuilt', {}))} rebuilt, "
        f"{report.get('up_to_date', 0)} up to date, {len(report.get('failed', {}))} failed in "
        f"{report.get('seconds', 0):.2f}s"
    )
    return (
        f"<h2>last build</h2><div class=dim>{esc(summary)}</div>"
        f"<table class=report>{''.join(rows)}</table><h2>entries</h2>"
    )
