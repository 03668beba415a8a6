"""Engine profiles: what `pixelbuild engines build` compiles, one YAML file each under `engines/`.

    model: sdxl              # a name from the manifest's `models:`
    compiler: tensorrt       # tensorrt | inductor
    target: sm_121           # GPU architecture (GB10 = sm_121, H100 = sm_90) or cpu
    precision: fp16          # fp16 | bf16 | fp32
    components: [unet]       # the UNet first (the only component compiled so far)
    refittable: true         # LoRAs are refits of the fused weights, not rebuilds
    cfg: true                # classifier-free guidance: the UNet sees twice the images
    tiles: false             # also build circular-padding engines for tileable entries
    buckets:                 # static shapes: every canvas at every batch size (images)
      - {canvas: 1024, batch: [1, 2, 4]}
      - {canvas: [768, 768], batch: [1, 2, 4, 8]}

Profiles are validated like the manifest: every problem is reported at once with its file:line:col.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, ValidationError, field_validator, model_validator

from pixelbuild.engines.sdxl.models import Precision
from pixelbuild.errors import Issue, Location, ManifestError
from pixelbuild.manifest.load import validation_issues
from pixelbuild.manifest.schema import Strict
from pixelbuild.manifest.source import load_yaml

PROFILE_DIR = "engines"
Compiler = Literal["tensorrt", "inductor"]
COMPILERS: tuple[Compiler, ...] = get_args(Compiler)
Component = Literal["unet", "text_encoder", "text_encoder_2", "vae"]
COMPONENTS: tuple[Component, ...] = get_args(Component)
TARGET_PATTERN = r"^(sm_\d{2,3}|cpu)$"

PositiveInt = Annotated[int, Field(ge=1, le=64)]
Canvas = Annotated[
    PositiveInt | tuple[PositiveInt, PositiveInt],
    Field(description="Canvas pixels: one number for a square, or [width, height]."),
]


class BucketDef(Strict):
    """Canvas sizes x batch sizes (images per call); each pair is one static engine."""

    canvas: int | tuple[int, int] | list[int | tuple[int, int]] = Field(
        description="Canvas size(s) in pixels, multiples of 8: 1024, [768, 768], or a list."
    )
    batch: list[PositiveInt] = Field(
        default_factory=lambda: [1], description="Images per pipeline call, e.g. [1, 2, 4, 8]."
    )

    @field_validator("canvas")
    @classmethod
    def _multiple_of_8(cls, value):
        for w, h in _canvases(value):
            if w < 8 or h < 8 or w % 8 or h % 8 or max(w, h) > 4096:
                raise ValueError(
                    f"canvas {w}x{h} must be multiples of 8 between 8 and 4096 (the VAE "
                    "downsamples by 8)"
                )
        return value

    @field_validator("batch")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("give at least one batch size")
        return sorted(set(value))


class Profile(Strict):
    """One engine profile (see the module docstring)."""

    model: str = Field(description="A model name from the manifest's `models:`.")
    compiler: Compiler
    target: str = Field(
        json_schema_extra={"pattern": TARGET_PATTERN},
        description="GPU architecture as sm_XY (GB10 = sm_121, H100 = sm_90), or cpu.",
    )
    precision: Precision = "fp16"
    components: list[Component] = Field(default_factory=lambda: [COMPONENTS[0]])
    refittable: bool = Field(
        True, description="Build engines whose weights can be replaced (LoRAs are refits)."
    )
    cfg: bool = Field(
        True, description="Classifier-free guidance: the UNet batch is twice the image batch."
    )
    tiles: bool = Field(
        False, description="Also build circular-padding engines, for tileable entries."
    )
    buckets: list[BucketDef] = Field(min_length=1)
    description: str | None = None

    @field_validator("components")
    @classmethod
    def _unet_only(cls, value: list[str]) -> list[str]:
        if not value or value[0] != "unet":
            raise ValueError("components must start with 'unet'")
        others = [c for c in value[1:] if c != "unet"]
        if others:
            raise ValueError(
                f"only the UNet is compiled so far; remove {', '.join(others)} (the text "
                "encoders and the VAE run eager)"
            )
        return value

    @field_validator("target")
    @classmethod
    def _known_target(cls, target: str) -> str:
        if not re.fullmatch(TARGET_PATTERN, target):
            raise ValueError(
                f"target {target!r} is not a GPU architecture: use sm_XY (GB10 = sm_121, "
                "H100 = sm_90; `pixelbuild doctor` shows this machine's) or cpu"
            )
        return target

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if self.compiler == "tensorrt" and self.target == "cpu":
            raise ValueError("compiler 'tensorrt' needs a GPU target (sm_XY), not cpu")
        if self.target == "cpu" and self.precision == "fp16":
            raise ValueError("precision fp16 on the cpu target is not supported: use fp32 or bf16")
        return self


@dataclass(frozen=True, slots=True)
class Bucket:
    """One static shape: canvas pixels, images per call, and the UNet batch that follows."""

    width: int
    height: int
    images: int
    unet_batch: int
    padding: str = "zeros"  # "circular" for tileable entries

    @property
    def label(self) -> str:
        tile = " tiles" if self.padding == "circular" else ""
        return f"{self.width}x{self.height} x{self.images} (unet batch {self.unet_batch}){tile}"


@dataclass(frozen=True)
class LoadedProfile:
    """A validated profile and where it came from."""

    name: str
    path: Path
    profile: Profile
    model_at: Location | None = None  # where `model:` is written, for errors about it

    def buckets(self) -> list[Bucket]:
        """Every static shape the profile asks for, smallest first, without duplicates."""
        factor = 2 if self.profile.cfg else 1
        paddings = ("zeros", "circular") if self.profile.tiles else ("zeros",)
        seen: dict[tuple, Bucket] = {}
        for b in self.profile.buckets:
            for w, h in _canvases(b.canvas):
                for n in b.batch:
                    for pad in paddings:
                        bucket = Bucket(w, h, n, n * factor, pad)
                        seen.setdefault((w, h, n * factor, pad), bucket)
        return sorted(seen.values(), key=lambda b: (b.width * b.height, b.unet_batch, b.padding))


def _canvases(value) -> list[tuple[int, int]]:
    """1024 -> [(1024, 1024)]; [768, 768] -> [(768, 768)]; [512, [768, 512]] -> both."""
    if isinstance(value, int):
        return [(value, value)]
    if isinstance(value, tuple):
        return [(int(value[0]), int(value[1]))]
    # A two-number list is one [width, height] canvas, as in the manifest.
    if len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(int(value[0]), int(value[1]))]
    return [c for v in value for c in _canvases(v)]


def profile_name(path: Path) -> str:
    return re.sub(r"\.ya?ml$", "", path.name)


def load_profile(path: Path) -> LoadedProfile:
    """Parse and validate one profile; raise ManifestError listing every located problem."""
    doc = load_yaml(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ManifestError(
            [Issue("an engine profile must be a mapping of keys", doc.locate(()))],
            where=f"engine profile {path.name}",
        )
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        issues = validation_issues(exc, doc, root=Profile)
        issues.sort(key=lambda i: (i.location.line, i.location.column) if i.location else (0, 0))
        raise ManifestError(issues, where=f"engine profile {path.name}") from None
    return LoadedProfile(profile_name(path), path, profile, doc.locate(("model",)))


def find_profiles(project_dir: Path) -> list[Path]:
    """The profiles of a project: `<project>/engines/*.yaml`, sorted by name."""
    folder = project_dir / PROFILE_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def resolve_profile(project_dir: Path, name_or_path: str) -> Path:
    """A profile given as a path, or as a name looked up in `<project>/engines/`."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and (project_dir / candidate).is_file():
        return (project_dir / candidate).resolve()
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate.resolve()
    for suffix in (".yaml", ".yml"):
        path = project_dir / PROFILE_DIR / f"{name_or_path}{suffix}"
        if path.is_file():
            return path.resolve()
    known = [profile_name(p) for p in find_profiles(project_dir)]
    hint = difflib.get_close_matches(name_or_path, known, n=1, cutoff=0.5)
    raise ManifestError(
        [
            Issue(
                f"no engine profile {name_or_path!r} (looked for {PROFILE_DIR}/{name_or_path}.yaml"
                f" in {project_dir})"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + (f"; profiles here: {', '.join(known)}" if known else "")
            )
        ],
        where="the command line",
    )
