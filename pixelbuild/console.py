"""Build progress on the terminal: rich bars on a TTY, one plain line per event otherwise."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from pixelbuild.engines.base import ProgressFn
from pixelbuild.plan.steps import GENERATE, Step, StepKind
from pixelbuild.run.report import Reporter, TrainProgressFn
from pixelbuild.run.result import Failure

if TYPE_CHECKING:
    from rich.progress import TaskID


class PlainReporter(Reporter):
    """One line per finished entry and per warning; for logs and CI."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr  # looked up now: stderr may have been redirected

    def start(self, totals: dict[StepKind, int]) -> None:
        parts = [f"{n} {kind.label}" for kind, n in totals.items() if n]
        if parts:
            print("running: " + ", ".join(parts), file=self.stream, flush=True)

    def step_done(self, step: Step, failure: Failure | None, *, skipped: bool = False) -> None:
        if failure is not None and not skipped:
            print(f"failed: {step.kind.name} of {step.label}", file=self.stream, flush=True)

    def entry_done(self, name: str, reasons: list[str]) -> None:
        why = f"  ({'; '.join(reasons)})" if reasons else ""
        print(f"built {name}{why}", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.stream, flush=True)


class RichReporter(Reporter):
    """Progress bars per step kind, with denoising steps and images/min during generation."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.fields[label]:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[StepKind, TaskID] = {}
        self.started = time.perf_counter()
        self.images = 0

    def start(self, totals: dict[StepKind, int]) -> None:
        self.progress.start()
        self.started = time.perf_counter()
        for kind, total in totals.items():
            self.tasks[kind] = self.progress.add_task(
                kind.name, total=total, label=kind.label, detail=""
            )

    def generation_progress(self, entries: list[str]) -> ProgressFn | None:
        task = self.tasks.get(GENERATE)
        if task is None:
            return None

        def update(index: int, step: int, total: int) -> None:
            name = entries[index] if index < len(entries) else ""
            detail = f"{name} step {step}/{total}"
            if self.images:
                elapsed = max(time.perf_counter() - self.started, 1e-6)
                detail += f"  {60 * self.images / elapsed:.1f} img/min"
            self.progress.update(task, detail=detail)

        return update

    def training_progress(self, name: str) -> TrainProgressFn | None:
        """A bar of its own: step of total, smoothed loss, steps/s and the time left."""
        task = self.progress.add_task(name, total=None, label=name, detail="loading")

        def update(step: int, total: int, loss: float, rate: float) -> None:
            left = (total - step) / rate if rate > 0 else 0.0
            detail = f"loss {loss:.4f}  {rate:.2f} steps/s  ETA {left / 60:.1f} min"
            self.progress.update(task, total=total, completed=step, detail=detail)

        return update

    def step_done(self, step: Step, failure: Failure | None, *, skipped: bool = False) -> None:
        task = self.tasks.get(step.kind)
        if task is not None:
            self.progress.advance(task)
        if step.kind is GENERATE and failure is None:
            self.images += 1
        if failure is not None and not skipped:
            self.console.print(f"[red]failed[/]: {step.kind.name} of {step.label}")

    def finish_steps(self) -> None:
        self.progress.stop()

    def entry_done(self, name: str, reasons: list[str]) -> None:
        why = f"  [dim]({'; '.join(reasons)})[/]" if reasons else ""
        self.console.print(f"[green]built[/] {name}{why}", highlight=False)

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False)

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]warning[/]: {message}", highlight=False)


def make_reporter(*, quiet: bool = False) -> Reporter:
    """The reporter for this terminal: silent, rich on a TTY, plain otherwise."""
    if quiet:
        return Reporter()
    if sys.stderr.isatty():
        return RichReporter()
    return PlainReporter()
