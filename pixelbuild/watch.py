"""`pixelbuild watch`: rebuild what changed on every save, keeping the engine warm.

The watcher follows the folders of the manifest and of every file it references (not the assets
tree or the cache, so our own writes never trigger a rebuild). Folders are watched rather than
files because editors often save by writing a temp file and renaming it over the original.

A pass loads the manifest, plans and builds the stale entries. An invalid manifest prints its
errors and leaves the last good outputs in place; a failing entry is reported while the others
build. A save that lands while a pass runs is never lost: the watcher keeps collecting events,
and each pass also re-checks the stat of every file it read, running again at once if one
changed under it. So the final state always matches the last save.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelbuild.cache.signature import Signature, signature
from pixelbuild.cluster.runner import ray_runner
from pixelbuild.engines.base import Engine
from pixelbuild.errors import ManifestError, PixelbuildError
from pixelbuild.manifest.load import MANIFEST_NAME
from pixelbuild.remote.cache import RemoteCache
from pixelbuild.run.builder import Builder
from pixelbuild.run.exclusive import hold
from pixelbuild.run.generation import GenerationRunner
from pixelbuild.run.project import Project, open_project
from pixelbuild.run.report import Reporter
from pixelbuild.run.snapshot import default_cache

# When idle, how often to compare the stats of the inputs with the end of the last pass.
IDLE_CHECK_MS = 300


@dataclass
class Pass:
    """What one rebuild did, for the status line."""

    changed: list[str]
    rebuilt: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "rebuilt": self.rebuilt,
            "failed": sorted(self.failed),
            "errors": self.errors + [f"{k}: {v}" for k, v in sorted(self.failed.items())],
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S")
        what = ", ".join(self.changed[:3]) + (" ..." if len(self.changed) > 3 else "")
        if self.errors:
            return f"[{stamp}] {what}: manifest invalid, outputs kept\n" + "\n".join(self.errors)
        done = ", ".join(self.rebuilt) if self.rebuilt else "nothing to rebuild"
        text = f"[{stamp}] {what} -> {done} ({self.seconds * 1000:.0f} ms)"
        for name, error in sorted(self.failed.items()):
            text += f"\n  failed {name}: {error}"
        return text


class Watcher:
    """Runs passes for one project; engines live as long as the watcher."""

    def __init__(
        self,
        directory: Path,
        *,
        manifest: Path | None = None,
        force: bool = False,
        engine_options: dict[str, dict[str, Any]] | None = None,
        reporter: Reporter | None = None,
        gallery: bool = False,
        ray: str | None = None,
        remote: RemoteCache | None = None,
    ):
        self.directory = directory.resolve()
        self.remote = remote  # a team's cache, used by every pass
        self.gallery = gallery  # write the gallery page after each pass (also project.gallery)
        self.page = default_cache(self.directory) / "gallery" / "index.html"
        self.manifest = (manifest or self.directory / MANIFEST_NAME).resolve()
        self.force = force
        self.engine_options = engine_options or {}
        self.reporter = reporter or Reporter()
        self.engines: dict[str, Engine] = {}
        self.ray = ray  # --ray ADDRESS: generate on that cluster, its actors kept between passes
        self.runner: GenerationRunner | None = None
        self.read: set[Path] = {self.manifest}  # what the last pass depended on
        self.settled: dict[Path, Signature | None] = {}  # their stats when it ended
        self.ignored: list[Path] = []

    def run_pass(self, changed: list[str]) -> Pass:
        """Load, plan and build; repeats while files change under it."""
        result = Pass(changed)
        started = time.perf_counter()
        while True:
            before = _signatures(self.read)
            try:
                project = open_project(
                    self.directory, manifest=self.manifest, settle=not (self.force or self.gallery)
                )
            except ManifestError as exc:
                result.errors = [str(issue) for issue in exc.issues]
                break
            except PixelbuildError as exc:
                result.errors = [str(exc)]
                break
            try:
                self.read = {self.manifest, *project.doc.included, *project.inputs}
                self.ignored = [project.assets, project.cache]
                seen = before | _signatures(self.read - before.keys())
                for note in project.notes:
                    self.reporter.warn(note)
                with hold(project.cache, "watch", wait=True, say=self.reporter.warn):
                    self._build(project, result)
            except PixelbuildError as exc:  # a cache that cannot be written, a full disk
                result.errors = [str(exc)]
                break
            finally:
                project.close()
            if _signatures(set(seen)) == seen:
                break  # nothing changed while we worked; otherwise go again at once
        self.settled = _signatures(self.read)
        result.seconds = time.perf_counter() - started
        return result

    def _build(self, project: Project, result: Pass) -> None:
        from pixelbuild.pages import gallery

        plan = project.plan()
        pages = self.gallery or project.manifest.project.gallery
        self.page = gallery.page_path(project)
        if not (plan.stale or plan.removed):
            if pages and not gallery.page_path(project).exists():
                gallery.write_gallery(project)
            return
        reporter = gallery.Recorder(self.reporter)
        if self.runner is None:
            warn = self.reporter.warn
            self.runner = ray_runner(self.ray, self.engine_options, project.cache, warn)
        builder = Builder(
            project,
            reporter,
            force=self.force,
            engine_options=self.engine_options,
            engines=self.engines,
            runner=self.runner,
            remote=self.remote,
        )
        built = builder.build(plan)
        if pages:
            gallery.write_gallery(project, gallery.build_report(plan, built, reporter.warnings))
        result.rebuilt += [n for n in built.rebuilt if n not in result.rebuilt]
        result.failed |= {name: str(failure) for name, failure in built.failed.items()}
        if not built.failed:
            project.remember_clean_state(plan)

    def drifted(self) -> list[str]:
        """Files whose stat differs from the end of the last pass (a change no event reported)."""
        now = _signatures(set(self.settled))
        return sorted(_display(str(p), self.directory) for p in now if now[p] != self.settled[p])

    def folders(self) -> list[Path]:
        """The folders to watch: those holding the manifest and every input file."""
        found = {p.parent for p in self.read} | {self.manifest.parent}
        return sorted(d for d in found if d.is_dir())

    def relevant(self, path: str) -> bool:
        """Whether a changed path can affect the build (our own outputs and cache cannot)."""
        p = Path(path)
        if any(p.is_relative_to(ignored) for ignored in self.ignored):
            return False
        return p == self.manifest or p in self.read

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
        for engine in self.engines.values():
            engine.close()
        self.engines.clear()


def _signatures(paths: set[Path]) -> dict[Path, Signature | None]:
    sig: dict[Path, Signature | None] = {}
    for p in paths:
        try:
            sig[p] = signature(p)
        except OSError:
            sig[p] = None
    return sig


def watch(
    directory: Path,
    *,
    manifest: Path | None = None,
    poll: bool = False,
    force: bool = False,
    debounce_ms: int = 50,
    engine_options: dict[str, dict[str, Any]] | None = None,
    as_json: bool = False,
    stop: threading.Event | None = None,
    on_pass: Callable[[Pass], None] | None = None,
    serve: int | None = None,
    ray: str | None = None,
    remote: RemoteCache | None = None,
) -> int:
    """Build, then rebuild on every relevant change until Ctrl-C (or `stop` is set). With
    `serve` (a port; 0 picks a free one), the gallery is served and reloads after each pass."""
    from watchfiles import watch as watch_paths

    watcher = Watcher(
        directory,
        manifest=manifest,
        force=force,
        engine_options=engine_options,
        gallery=serve is not None,
        ray=ray,
        remote=remote,
    )
    server = None
    if serve is not None:
        from pixelbuild.pages.serve import GalleryServer

        server = GalleryServer(lambda: watcher.page, serve).start()

    def report(p: Pass) -> None:
        if as_json:
            print(json.dumps(p.to_json(), sort_keys=True), flush=True)
        else:
            print(p.line(), file=sys.stderr, flush=True)
        if server is not None:
            server.notify()
        if on_pass:
            on_pass(p)

    try:
        if server is not None:
            print(f"gallery: {server.url}", file=sys.stderr, flush=True)
        report(watcher.run_pass(["start"]))
        import pixelbuild.run.actions  # noqa: F401  (warm: the first rebuild skips numpy's import)

        if not as_json:
            print(f"watching {watcher.manifest} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        while stop is None or not stop.is_set():
            folders = watcher.folders()
            for changes in watch_paths(
                *folders,
                watch_filter=lambda _change, path: watcher.relevant(path),
                debounce=1600,
                step=debounce_ms,
                stop_event=stop,
                force_polling=True if poll else None,
                poll_delay_ms=100,
                recursive=False,
                raise_interrupt=True,
                rust_timeout=IDLE_CHECK_MS,
                yield_on_timeout=True,
            ):
                if changes:
                    changed = sorted({_display(path, watcher.directory) for _, path in changes})
                else:  # idle tick: catch saves made before the OS watch was in place
                    changed = watcher.drifted()
                    if not changed:
                        continue
                report(watcher.run_pass(changed))
                if watcher.folders() != folders:
                    break  # the manifest now references other folders: watch those
            else:
                break  # stop event set
    except KeyboardInterrupt:
        pass
    finally:
        watcher.close()
        if server is not None:
            server.close()
    return 0


def _display(path: str, root: Path) -> str:
    p = Path(path)
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
