"""The `pixels.yaml` manifest as pydantic models.

Entry fields left out (None) inherit from `project`; `resolve.py` applies the defaults. Unknown keys
are errors everywhere, so a misspelt key never silently does nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
COLOR_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"

Name = Annotated[
    str, Field(pattern=NAME_PATTERN, description="A name: letters, digits, '_', '.', '-'.")
]
Color = Annotated[str, Field(pattern=COLOR_PATTERN, description="A colour as '#rgb' or '#rrggbb'.")]
PositiveInt = Annotated[int, Field(ge=1)]
Size = Annotated[
    PositiveInt | tuple[PositiveInt, PositiveInt],
    Field(description="Pixels: one number for a square, or [width, height]."),
]


class Strict(BaseModel):
    """Base of every manifest node: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- palettes -------------------------------------------------------------------------------


class PaletteDef(Strict):
    """A palette: exactly one of a built-in name, a list of colours, a file, or `auto: N`."""

    builtin: str | None = Field(None, description="A built-in palette, e.g. 'db32' or 'pico-8'.")
    colors: list[Color] | None = Field(None, min_length=1, max_length=256)
    file: str | None = Field(
        None, description="A palette file: Lospec .hex, GIMP .gpl, JASC .pal or a PNG swatch."
    )
    auto: int | None = Field(
        None,
        ge=2,
        le=256,
        description="Extract this many colours from the generated images, deterministically. "
        "A named auto palette is shared by every entry that uses it.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PaletteDef:
        given = [k for k in ("builtin", "colors", "file", "auto") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a palette takes exactly one of 'builtin', 'colors', 'file' or 'auto'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


PaletteSpec = Annotated[
    str | list[Color] | PaletteDef,
    Field(
        description="A palette name (built-in or from `palettes:`), a list of colours, "
        "or an inline palette definition."
    ),
]


# --- settings shared by the project and its entries ------------------------------------------


class PixelSettings(Strict):
    """How the pixelize step turns a generated image into pixel art."""

    method: Literal["majority", "nearest", "median", "kcentroid", "contrast"] | None = Field(
        None, description="Cell reduction method (default 'majority')."
    )
    phase_search: bool | None = Field(
        None, description="Search the grid offset that puts edges on cell borders (default true)."
    )
    dither: Literal["none", "bayer2", "bayer4", "bayer8"] | None = Field(
        None, description="Ordered dithering when snapping to the palette (default 'none')."
    )
    dither_strength: float | None = Field(None, ge=0, le=1, description="Default 0.5.")
    background: Literal["auto", "none"] | Color | None = Field(
        None,
        description="'auto': remove the background by flood fill from the border; 'none': keep "
        "it; a colour: remove that key colour. Default 'auto' for sprites, 'none' for tiles.",
    )
    tolerance: float | None = Field(
        None, ge=0, le=1, description="OKLab distance counted as background (default 0.08)."
    )
    remove_orphans: bool | None = Field(
        None, description="Drop single pixels with no neighbour of their colour (default true)."
    )
    outline: Color | Literal["auto", "none"] | None = Field(
        None,
        description="A 1-px outline: a colour, 'auto' (the darkest palette colour), or 'none'.",
    )
    upscale: PositiveInt | None = Field(
        None, le=16, description="Integer nearest upscale of the written image (default 1)."
    )


class LoraUse(Strict):
    """A LoRA applied to an entry, with an optional weight overriding the LoRA's own."""

    name: Name
    weight: float | None = None


LoraList = list[Name | LoraUse]


class GenerationSettings(Strict):
    """Generation parameters; set at project level under `generate:`, overridable per entry."""

    engine: str | None = Field(
        None,
        description="'procedural' (embedded), 'diffusers' (SDXL), or a compiled SDXL UNet: "
        "'inductor' (AOTInductor) or 'tensorrt' (built with `pixelbuild engines build`).",
    )
    fallback: Literal["error", "eager"] | None = Field(
        None,
        description="Compiled engines: when no built engine matches a request, 'error' "
        "(default) names the `pixelbuild engines build` command; 'eager' runs diffusers instead.",
    )
    model: Name | None = Field(None, description="A model name from `models:`.")
    loras: LoraList | None = Field(None, description="LoRA names from `loras:`, or {name, weight}.")
    negative: str | None = Field(None, description="Negative prompt.")
    steps: PositiveInt | None = Field(None, le=200)
    guidance: float | None = Field(None, ge=0, le=30)
    scheduler: str | None = Field(None, description="e.g. euler, euler_a, dpmpp_2m, ddim, lcm.")
    scale: PositiveInt | None = Field(
        None, le=32, description="Canvas = target size x scale, kept in the model's range."
    )
    canvas: Size | None = Field(None, description="Explicit canvas size, overriding `scale`.")


# --- entries ---------------------------------------------------------------------------------


class EntryBase(GenerationSettings):
    """Fields every entry kind has."""

    prompt: str | None = None
    seed: int | None = Field(
        None, ge=0, lt=2**32, description="Left out: derived from the entry name (stable)."
    )
    size: Size | None = None
    palette: PaletteSpec | None = None
    pixel: PixelSettings | None = None
    out: str | None = Field(None, description="Output PNG, relative to the assets root.")


class Sprite(EntryBase):
    """One image: from a prompt, or from an image file brought onto the palette."""

    image: str | None = Field(None, description="An image file to pixelize instead of a prompt.")

    @model_validator(mode="after")
    def _prompt_or_image(self) -> Sprite:
        if (self.prompt is None) == (self.image is None):
            raise ValueError("a sprite takes exactly one of 'prompt' or 'image'")
        return self


class Animation(EntryBase):
    """N frames laid out on one grid sheet, with Bevy and Aseprite metadata."""

    prompts: list[str] | None = Field(
        None, description="One prompt per frame (instead of `prompt`)."
    )
    frames: PositiveInt | None = Field(None, le=256, description="Frame count ({i}/{n} in prompt).")
    base: Name | None = Field(None, description="A sprite entry the frames derive from.")
    strength: float | None = Field(
        None, ge=0, le=1, description="img2img strength from the base frame (SDXL), default 0.5."
    )
    fps: float | None = Field(None, gt=0, le=120)
    durations: list[PositiveInt] | None = Field(None, description="Per-frame duration in ms.")
    mode: Literal["loop", "once", "pingpong"] = "loop"
    columns: PositiveInt | None = None
    padding: int = Field(0, ge=0, le=16)

    @model_validator(mode="after")
    def _frames(self) -> Animation:
        if (self.prompt is None) == (self.prompts is None):
            raise ValueError("an animation takes exactly one of 'prompt' or 'prompts'")
        if (
            self.prompts is not None
            and self.frames is not None
            and self.frames != len(self.prompts)
        ):
            raise ValueError(f"'frames' is {self.frames} but {len(self.prompts)} prompts are given")
        if self.prompt is not None and self.frames is None:
            raise ValueError("an animation with one 'prompt' needs 'frames'")
        n = len(self.prompts) if self.prompts is not None else self.frames
        if self.durations is not None and len(self.durations) != n:
            raise ValueError(f"'durations' has {len(self.durations)} values for {n} frames")
        return self

    @property
    def frame_count(self) -> int:
        return len(self.prompts) if self.prompts is not None else int(self.frames or 1)


class Tileset(EntryBase):
    """N seamless tile variants of one tile size, on a grid sheet."""

    prompt: str
    variants: PositiveInt = Field(4, le=256)
    columns: PositiveInt | None = None
    padding: int = Field(0, ge=0, le=16)


class Atlas(Strict):
    """Packs sprites and animation frames into one texture with a rect per name."""

    include: list[str] = Field(
        min_length=1, description="Entry names or globs ('potion-*'); animations add every frame."
    )
    padding: int = Field(1, ge=0, le=64)
    extrude: int = Field(0, ge=0, le=8, description="Repeat edge pixels outwards (anti-bleed).")
    power_of_two: bool = False
    max_size: PositiveInt = Field(4096, le=16384)
    json_format: Literal["hash", "array"] = "hash"
    out: str | None = None


# --- models and LoRAs ------------------------------------------------------------------------


class ModelDef(Strict):
    """SDXL weights: exactly one of a hub repository id, a diffusers folder, or a single file."""

    repo: str | None = Field(None, description="Hub id, looked up in the local HF cache.")
    path: str | None = Field(None, description="A diffusers folder (model_index.json inside).")
    file: str | None = Field(None, description="A single-file checkpoint (.safetensors).")
    config: str | None = Field(None, description="Local config folder for a single-file model.")
    vae: str | None = Field(None, description="VAE override: hub id or folder (e.g. fp16-fix).")
    dtype: Literal["auto", "fp16", "bf16", "fp32"] | None = None
    allow_pickle: bool = Field(
        False, description="Allow .ckpt/.pt/.bin checkpoints. Loading a pickle can run code."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelDef:
        given = [k for k in ("repo", "path", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a model takes exactly one of 'repo', 'path' or 'file'")
        return self


class LoraDef(Strict):
    """A LoRA file (kohya or diffusers .safetensors) with its default weight and trigger words."""

    file: str
    weight: float = 1.0
    triggers: list[str] = Field(default_factory=list, description="Added to the prompt.")


# --- the project -----------------------------------------------------------------------------


class Project(Strict):
    """Project-wide settings and defaults."""

    assets: str = Field("assets", description="The assets root every `out` is relative to.")
    cache: str | None = Field(
        None, description="Cache folder (default .pixelbuild; env PIXELBUILD_CACHE wins)."
    )
    palette: PaletteSpec | None = Field(None, description="Default palette (default 'db32').")
    size: Size | None = Field(None, description="Default target size (default 32).")
    generate: GenerationSettings = Field(default_factory=GenerationSettings)
    pixel: PixelSettings = Field(default_factory=PixelSettings)
    meta_files: bool = Field(
        False, description="Write a `.png.meta` with a Nearest sampler beside each image."
    )
    rust_module: str | None = Field(
        None, description="Write a Rust module of asset paths and indices here (project-relative)."
    )


class Manifest(Strict):
    """The whole `pixels.yaml`."""

    version: Literal[1] = 1
    project: Project = Field(default_factory=Project)
    models: dict[Name, ModelDef] = Field(default_factory=dict)
    loras: dict[Name, LoraDef] = Field(default_factory=dict)
    palettes: dict[Name, PaletteDef] = Field(default_factory=dict)
    sprites: dict[Name, Sprite] = Field(default_factory=dict)
    animations: dict[Name, Animation] = Field(default_factory=dict)
    tilesets: dict[Name, Tileset] = Field(default_factory=dict)
    atlases: dict[Name, Atlas] = Field(default_factory=dict)


ENTRY_SECTIONS = ("sprites", "animations", "tilesets", "atlases")


def parse_color(text: str) -> tuple[int, int, int]:
    """'#rgb' or '#rrggbb' -> (r, g, b)."""
    if not re.fullmatch(COLOR_PATTERN, text):
        raise ValueError(f"not a colour: {text!r}")
    h = text[1:]
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
