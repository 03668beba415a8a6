"""The two ways training fails: the user's dataset (fix the files) and the run itself."""

from __future__ import annotations

from pathlib import Path

from pixelbuild.errors import PixelbuildError


class DatasetError(PixelbuildError):
    """Images or captions of a training folder that cannot be trained on, all reported at once.

    `problems` holds (file, reason) pairs; the message lists one per line.
    """

    exit_code = 2

    def __init__(self, problems: list[tuple[Path, str]], folder: Path):
        self.problems = problems
        self.folder = folder
        noun = "problem" if len(problems) == 1 else "problems"
        body = "\n".join(f"  {path}: {reason}" for path, reason in problems)
        super().__init__(f"{len(problems)} {noun} in the training images of {folder}:\n{body}")


class TrainError(PixelbuildError):
    """A training run could not go on: a checkpoint of another run, a model that takes no LoRA."""
