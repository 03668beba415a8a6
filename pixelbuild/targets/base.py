"""What every target is: a manifest entry resolved to concrete values, owning its outputs by name
and building its own steps.

A target is frozen and JSON-able where it is hashed. Kinds differ in three places only: how they
resolve from their manifest entry, which files they write (`outputs`), and how their pixelized
frames become those files (`assemble`); the step graph is built from those through `Graph`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pixelbuild import defaults
from pixelbuild.engines.base import LoraRef, ModelRef
from pixelbuild.plan.steps import ASSEMBLE, GENERATE, PALETTE, PIXELIZE, SOURCE, Step

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.assemble import RustTexture
    from pixelbuild.targets.trained import TrainedLora

# Output roles, the names a target's files go by (the lock and the Rust module use the paths).
IMAGE, RON, JSON, META = "image", "ron", "json", "meta"


@dataclass(frozen=True, slots=True)
class FileInput:
    """A file an entry depends on: project-relative path and content digest.

    `digest` is None when the file is absent here and the lock has no digest for it either;
    `verified` is False when the digest comes from the lock (e.g. a checkpoint CI does not have).
    """

    path: str
    absolute: Path
    digest: str | None
    verified: bool = True


@dataclass(frozen=True, slots=True)
class Generation:
    """Resolved generation settings of one entry (defaults: `pixelbuild.defaults.GENERATION`)."""

    engine: str
    canvas: tuple[int, int]
    negative: str
    steps: int
    guidance: float
    scheduler: str
    fallback: str
    model: ModelRef | None = None
    loras: tuple[LoraRef, ...] = ()
    triggers: tuple[str, ...] = ()
    trained: tuple[TrainedLora, ...] = ()  # the LoRAs among `loras` this build trains
    references: tuple[FileInput, ...] = ()  # identity/style images, through `ip_adapter`
    reference_scale: float = 0.0
    ip_adapter: ModelRef | None = None

    def key_params(self) -> dict[str, Any]:
        """What decides the pixels, for this engine (the procedural engine ignores SDXL knobs)."""
        params: dict[str, Any] = {"engine": self.engine, "canvas": list(self.canvas)}
        if self.engine != "procedural":
            params |= {
                "negative": self.negative,
                "steps": self.steps,
                "guidance": self.guidance,
                "scheduler": self.scheduler,
                "model": None
                if self.model is None
                else {
                    "digest": self.model.digest,
                    "vae": self.model.vae,
                    "dtype": self.model.dtype,
                },
                "loras": [[lora.digest, lora.weight] for lora in self.loras],
            }
            if self.references and self.ip_adapter is not None:
                params["references"] = {
                    "images": [f.digest for f in self.references],
                    "scale": self.reference_scale,
                    "ip_adapter": self.ip_adapter.digest,
                }
        return params


@dataclass(frozen=True, slots=True)
class PaletteChoice:
    """The palette of an entry: a fixed colour list, a file, or `auto: N` (shared when named)."""

    spec: dict[str, Any]
    file: FileInput | None = None
    shared: str | None = None  # the palette's name, when one `auto` palette serves many entries

    @property
    def auto(self) -> bool:
        return "auto" in self.spec


@dataclass(frozen=True, slots=True)
class Assembled:
    """What an assemble step produces: files by output path, and facts worth reporting."""

    files: dict[str, bytes]
    seams: tuple[float, ...] = ()  # tilesets: the seam score of each tile
    notes: tuple[str, ...] = ()  # what the user should know (a character's feet jitter)
    report: dict[str, Any] = field(default_factory=dict)  # measurements kept in the lock


class Graph(Protocol):
    """What a target needs from the planner to build its steps (each call is memoized)."""

    def target(self, name: str) -> Target: ...
    def raw(self, target: ImageTarget) -> list[Step]: ...
    def pixelized(self, target: ImageTarget) -> list[Step]: ...
    def shared_palette(self, name: str) -> Step | None: ...
    def trained_lora(self, lora: TrainedLora, owner: Target) -> Step: ...


@dataclass(frozen=True)
class Target(ABC):
    """One manifest entry, fully resolved. Subclasses: one per entry kind."""

    kind: ClassVar[str]
    name: str
    out: str
    meta_file: bool = False  # also write `<image>.meta` with a Nearest sampler

    @property
    def stem(self) -> str:
        return self.out[: -len(".png")] if self.out.lower().endswith(".png") else self.out

    def outputs(self) -> dict[str, str]:
        """Every file this target writes, by role, under the assets root; the image first."""
        found = {IMAGE: self.out, **self._extra_outputs()}
        if self.meta_file:
            found[META] = f"{self.out}.meta"
        return found

    def _extra_outputs(self) -> dict[str, str]:
        return {}

    @property
    def files(self) -> list[FileInput]:
        """Every input file of this target."""
        return []

    def fields(self) -> dict[str, Any]:
        """The user-facing settings, one value per field, for "what changed" in `plan`."""
        values: dict[str, Any] = {"kind": self.kind, "out": self.out}
        for f in self.files:
            values[f"file:{f.path}"] = f.digest
        return values

    def frame_names(self) -> list[str]:
        """The names its frames go by in an atlas."""
        return [self.name]

    def member_names(self) -> tuple[str, ...]:
        """Other entries whose frames this one is made of (an atlas's members)."""
        return ()

    @abstractmethod
    def final_step(self, graph: Graph) -> Step:
        """The assemble step whose result is this target's files."""

    @abstractmethod
    def assemble(self, frames: list[np.ndarray], params: dict[str, Any]) -> Assembled:
        """Lay the pixelized frames out as this target's files (run at build time)."""

    @abstractmethod
    def rust_texture(self, by_name: dict[str, Target]) -> RustTexture:
        """This target's part of the generated Rust module."""

    def _assemble_step(self, inputs: list[Step], **extra: Any) -> Step:
        params: dict[str, Any] = {
            "kind": self.kind,
            "out": self.out,
            "layout": self.layout(),
            "outputs": list(self.outputs().values()),
            **extra,
        }
        return Step(ASSEMBLE, self, params, tuple(inputs))

    def layout(self) -> dict[str, Any]:
        """How the assemble step lays the frames out (part of its key)."""
        return {}

    def _with_meta(self, files: dict[str, bytes]) -> dict[str, bytes]:
        if self.meta_file:
            from pixelbuild.assemble import png_meta_ron

            files[f"{self.out}.meta"] = png_meta_ron().encode()
        return files


@dataclass(frozen=True)
class ImageTarget(Target):
    """A target whose frames are painted (or read) and pixelized: sprites, animations, tilesets."""

    tileable: ClassVar[bool] = False
    size: tuple[int, int] | None = (defaults.SIZE, defaults.SIZE)  # None: the image's own grid
    seed: int = 0
    prompts: tuple[str, ...] = ()
    image: FileInput | None = None
    generation: Generation | None = None
    palette: PaletteChoice = field(default_factory=lambda: PaletteChoice({}))
    pixel: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> list[FileInput]:
        found = [self.image] if self.image else []
        if self.palette.file:
            found.append(self.palette.file)
        if self.generation is not None:
            found.extend(self.generation.references)
            for lora in self.generation.trained:
                found.extend(lora.files)  # `plan` names the training image that changed
        return found

    def fields(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "kind": self.kind,
            "out": self.out,
            "size": list(self.size) if self.size else "auto",
            "seed": self.seed,
            "prompt": list(self.prompts),
            "palette": self.palette.spec,
            "pixel": self.pixel,
        }
        if self.generation is not None:
            values |= self.generation.key_params()
        values |= self._layout_fields()
        for f in self.files:
            values[f"file:{f.path}"] = f.digest
        return values

    def _layout_fields(self) -> dict[str, Any]:
        return self.layout()

    def animations(self) -> list[dict[str, Any]]:
        """Its animations as an atlas names them: name, frame names, direction, durations."""
        return []

    # -- steps --

    def raw_steps(self, graph: Graph) -> list[Step]:
        """The steps that produce its unprocessed images: read from a file, or generated."""
        if self.image is not None:
            return [Step(SOURCE, self, {"file": self.image.path, "digest": self.image.digest})]
        gen = self.generation
        assert gen is not None, f"{self.name} has neither an image nor generation settings"
        steps: list[Step] = []
        trained = tuple(graph.trained_lora(lora, self) for lora in gen.trained)
        for i, prompt in enumerate(self.prompts):
            params = gen.key_params() | {"prompt": prompt} | self._frame_params(i)
            inputs = self._frame_inputs(i, steps, graph)
            if inputs:
                params["strength"] = self._strength()
            steps.append(Step(GENERATE, self, params, inputs + trained))
        return steps

    def _frame_params(self, i: int) -> dict[str, Any]:
        """What distinguishes frame `i`'s generation (its seed, ...)."""
        return {"seed": self.seed, "tileable": self.tileable, "frame": 0, "frames": 1}

    def _frame_inputs(self, i: int, earlier: list[Step], graph: Graph) -> tuple[Step, ...]:
        """Images frame `i` is generated from (img2img); none by default."""
        return ()

    def _strength(self) -> float:
        return defaults.STRENGTH

    def init_images(
        self, params: dict[str, Any], images: list[np.ndarray]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The init image and inpaint mask of a generate step with `params`, from its input
        steps' images: img2img from the first (none: text to image), no mask."""
        return (images[0] if images else None), None

    def pixel_steps(self, graph: Graph) -> list[Step]:
        """One pixelize step per raw image, onto this target's palette."""
        raws = graph.raw(self)
        params: dict[str, Any] = {
            "size": list(self.size) if self.size else "auto",
            "pixel": self.pixel,
            "tileable": self.tileable,
        }
        palette_inputs: tuple[Step, ...] = ()
        if self.palette.auto:
            shared = graph.shared_palette(self.palette.shared or "")
            palette_inputs = (shared or Step(PALETTE, self, dict(self.palette.spec), tuple(raws)),)
        else:
            params["palette"] = self.palette.spec
        return [Step(PIXELIZE, self, params, (raw, *palette_inputs)) for raw in raws]

    def final_step(self, graph: Graph) -> Step:
        return self._assemble_step(graph.pixelized(self))
