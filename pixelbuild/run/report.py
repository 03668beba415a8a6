"""How a build tells the user what it is doing. The CLI picks a rich, plain or silent reporter."""

from __future__ import annotations

from collections.abc import Callable

from pixelbuild.engines.base import ProgressFn
from pixelbuild.plan.steps import Step, StepKind
from pixelbuild.run.result import Failure

TrainProgressFn = Callable[[int, int, float, float], None]


class Reporter:
    """Silent by default; subclasses print. Every method is optional to override."""

    def start(self, totals: dict[StepKind, int]) -> None:
        """Steps about to run, counted by kind."""

    def generation_progress(self, entries: list[str]) -> ProgressFn | None:
        """A callback for denoising progress of one batch of images (entry per request)."""
        return None

    def training_progress(self, name: str) -> TrainProgressFn | None:
        """A callback for a LoRA's training: (step, total, smoothed loss, steps per second)."""
        return None

    def step_done(self, step: Step, failure: Failure | None, *, skipped: bool = False) -> None:
        """One step finished, or failed (`failure`), or was `skipped` because an input failed."""

    def finish_steps(self) -> None:
        """All steps of this build ran."""

    def entry_done(self, name: str, reasons: list[str]) -> None:
        """An entry's outputs are in place."""

    def note(self, message: str) -> None:
        """A fact worth a line of its own (where a trained LoRA's validation sheet is)."""

    def warn(self, message: str) -> None:
        """Something the user should know that did not stop the build."""
