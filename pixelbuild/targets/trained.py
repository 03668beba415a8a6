"""A LoRA trained in the build: its dataset, settings and base model, resolved from `loras:`.

It becomes one `train` step (shared by every entry that uses it), keyed by the content of every
image and caption, the captions mode and trigger, every setting, the base model's digest and the
versions of the libraries that train it. The generate steps that use it take that step as an
input, so their keys follow it; the LoRA file itself is written into the cache when they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pixelbuild.cache.hashing import digest_json
from pixelbuild.engines.base import LoraRef, ModelRef
from pixelbuild.targets.base import FileInput

LORA_FILE = "lora.safetensors"  # the train step's files, as stored in its record
SHEET_FILE = "validation.png"
LORA_DIGEST = "lora_digest"  # the trained file's digest, in the train step's record
TRAINED_FOLDER = "loras"  # in the project cache: trained files, named by their key
RUNTIME = ("torch", "diffusers", "peft")  # their versions are part of the key


@dataclass(frozen=True, slots=True)
class TrainedLora:
    """One `loras: NAME: {train: ...}` entry, resolved. `settings` are the manifest's training
    settings with defaults applied (the folder aside); `files` every image and caption read."""

    name: str
    folder: Path
    files: tuple[FileInput, ...]
    trigger: str
    captions: str
    settings: dict[str, Any]
    model: ModelRef
    cache: Path  # the project's cache folder
    format: str = "kohya"  # the file's layout: kohya or diffusers
    export: str | None = None  # also written here, project-relative
    project: Path | None = None  # the project folder (`export` is relative to it)

    def key_params(self) -> dict[str, Any]:
        """What decides the trained weights (its name does not: a rename retrains nothing)."""
        return {
            "trigger": self.trigger,
            "captions": self.captions,
            "settings": self.settings,
            "base": self.model.digest,
            "format": self.format,
            "files": {f.absolute.name: f.digest for f in self.files},
            "runtime": {name: _version(name) for name in RUNTIME},
        }

    @property
    def digest(self) -> str:
        return digest_json(self.key_params())

    @property
    def path(self) -> Path:
        """Where the trained file is written for the engine to load."""
        return self.cache / TRAINED_FOLDER / f"{self.name}-{self.digest[:16]}.safetensors"

    @property
    def sheet(self) -> Path:
        """Where its last validation sheet is written, beside it."""
        return self.path.with_suffix(".validation.png")

    @property
    def checkpoints(self) -> Path:
        return self.cache / "train" / f"{self.name}-{self.digest[:16]}"

    @property
    def export_path(self) -> Path | None:
        return None if self.export is None or self.project is None else self.project / self.export

    def ref(self, weight: float) -> LoraRef:
        return LoraRef(name=self.name, path=self.path, digest=self.digest, weight=weight)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"
