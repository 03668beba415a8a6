"""The `pixels.yaml` manifest as pydantic models.

Entry fields left out (None) inherit from `project`; `resolve.py` applies the defaults. Unknown keys
are errors everywhere, so a misspelt key never silently does nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from pixelbuild import defaults, limits
from pixelbuild.colors import COLOR_PATTERN, normalize_color
from pixelbuild.defaults import GENERATION, PIXEL, shown

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MANIFEST_VERSION = 1
HUB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$"


def _check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(
            f"{name!r}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
        )
    return name


Name = Annotated[
    str,
    AfterValidator(_check_name),
    Field(
        json_schema_extra={"pattern": NAME_PATTERN},
        description="A name: letters, digits, '_', '.', '-'.",
    ),
]


def _check_hub_id(repo: str) -> str:
    if len(repo) > 200 or not re.fullmatch(HUB_ID_PATTERN, repo):
        raise ValueError(
            f"{repo[:80]!r} is not a hub id: 'owner/name' of letters, digits, '_', '.' and '-'"
        )
    return repo


HubId = Annotated[
    str, AfterValidator(_check_hub_id), Field(json_schema_extra={"pattern": HUB_ID_PATTERN})
]
# Checked by the one colour parser (so every colour the manifest accepts is one the pixel step
# reads), normalised to '#rrggbb'; the pattern is for editors reading the JSON schema.
Color = Annotated[
    str,
    AfterValidator(normalize_color),
    Field(
        json_schema_extra={"pattern": COLOR_PATTERN}, description="A colour as '#rgb' or '#rrggbb'."
    ),
]
PositiveInt = Annotated[int, Field(ge=1)]
Method = Literal["majority", "nearest", "median", "kcentroid", "contrast", "fit"]  # cell reduction
METHODS: tuple[str, ...] = get_args(Method)
SpriteSide = Annotated[int, Field(ge=1, le=limits.SPRITE_SIDE)]
Size = Annotated[
    SpriteSide | tuple[SpriteSide, SpriteSide],
    Field(description="Pixels: one number for a square, or [width, height]."),
]
CanvasSide = Annotated[int, Field(ge=1, le=limits.CANVAS_SIDE)]
CanvasSize = Annotated[
    CanvasSide | tuple[CanvasSide, CanvasSide],
    Field(description="Canvas pixels: one number for a square, or [width, height]."),
]


class Strict(BaseModel):
    """Base of every manifest node: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- palettes -------------------------------------------------------------------------------


class PaletteDef(Strict):
    """A palette: exactly one of a built-in name, a list of colours, a file, or `auto: N`."""

    builtin: str | None = Field(None, description="A built-in palette, e.g. 'db32' or 'pico-8'.")
    colors: list[Color] | None = Field(None, min_length=1, max_length=limits.PALETTE_COLORS)
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

    method: Method | None = Field(
        None,
        description=f"Cell reduction method {shown(PIXEL, 'method')}; `image:` entries default "
        f"to {defaults.IMPORT_PIXEL['method']!r} (each cell fitted from all its pixels as a "
        "blurred flat cell).",
    )
    phase_search: bool | None = Field(
        None,
        description="Search the grid offset that puts edges on cell borders "
        f"{shown(PIXEL, 'phase_search')}.",
    )
    dither: Literal["none", "bayer2", "bayer4", "bayer8"] | None = Field(
        None,
        description=f"Ordered dithering when snapping to the palette {shown(PIXEL, 'dither')}.",
    )
    dither_strength: float | None = Field(
        None, ge=0, le=1, description=f"Strength of the dither {shown(PIXEL, 'dither_strength')}."
    )
    background: Literal["auto", "key", "none"] | Color | None = Field(
        None,
        description="'auto': remove the background by flood fill from the border, where the "
        "border is mostly one colour and the picture is not all background; 'key': remove the "
        "border colour everywhere if it is none of the palette's (a key colour); 'none': keep "
        f"it; a colour: remove that key colour {shown(PIXEL, 'background')}; `image:` sprites "
        f"default to {defaults.IMPORT_PIXEL['background']!r} (their own transparency is kept), "
        f"tiles to {defaults.TILE_BACKGROUND!r}.",
    )
    tolerance: float | None = Field(
        None,
        ge=0,
        le=1,
        description=f"OKLab distance counted as background {shown(PIXEL, 'tolerance')}.",
    )
    remove_orphans: bool | None = Field(
        None,
        description="Drop single pixels with no neighbour of their colour "
        f"{shown(PIXEL, 'remove_orphans')}; `image:` sprites keep them "
        f"({str(defaults.IMPORT_PIXEL['remove_orphans']).lower()}).",
    )
    outline: Color | Literal["auto", "none"] | None = Field(
        None,
        description="A 1-px outline: a colour, 'auto' (the darkest palette colour), or 'none'.",
    )
    upscale: PositiveInt | None = Field(
        None,
        le=16,
        description=f"Integer nearest upscale of the written image {shown(PIXEL, 'upscale')}.",
    )


class LoraUse(Strict):
    """A LoRA applied to an entry, with an optional weight overriding the LoRA's own."""

    name: Name
    weight: float | None = Field(None, allow_inf_nan=False)


LoraList = list[Name | LoraUse]


class GenerationSettings(Strict):
    """Generation parameters; set at project level under `generate:`, overridable per entry."""

    engine: str | None = Field(
        None,
        description="'procedural' (embedded), 'diffusers' (SDXL), or a compiled SDXL UNet: "
        "'inductor' (AOTInductor) or 'tensorrt' (built with `pixelbuild engines build`) "
        f"{shown(GENERATION, 'engine')}.",
    )
    fallback: Literal["error", "eager"] | None = Field(
        None,
        description="Compiled engines: when no built engine matches a request, 'error' "
        "(default) names the `pixelbuild engines build` command; 'eager' runs diffusers instead.",
    )
    model: Name | None = Field(None, description="A model name from `models:`.")
    loras: LoraList | None = Field(None, description="LoRA names from `loras:`, or {name, weight}.")
    reference: list[str] | None = Field(
        None,
        max_length=4,
        description="Identity/style images the picture must follow (SDXL, through `ip_adapter`).",
    )
    reference_scale: float | None = Field(
        None,
        ge=0,
        le=1,
        description=f"How strongly the references steer it {shown(GENERATION, 'reference_scale')}.",
    )
    ip_adapter: Name | None = Field(
        None, description="The IP-Adapter for `reference:`, a name from `models:` (file or path)."
    )
    negative: str | None = Field(None, description="Negative prompt (default none).")
    steps: PositiveInt | None = Field(
        None, le=200, description=f"Denoising steps {shown(GENERATION, 'steps')}."
    )
    guidance: float | None = Field(
        None, ge=0, le=30, description=f"Classifier-free guidance {shown(GENERATION, 'guidance')}."
    )
    scheduler: str | None = Field(
        None,
        description=f"e.g. euler, euler_a, dpmpp_2m, ddim, lcm {shown(GENERATION, 'scheduler')}.",
    )
    scale: PositiveInt | None = Field(
        None,
        le=32,
        description="Canvas = target size x scale, kept in the model's range "
        f"{shown(GENERATION, 'scale')}.",
    )
    canvas: CanvasSize | None = Field(None, description="Explicit canvas size, overriding `scale`.")


# --- entries ---------------------------------------------------------------------------------


class EntryBase(GenerationSettings):
    """Fields every entry kind has."""

    prompt: str | None = None
    seed: int | None = Field(
        None, ge=0, lt=2**32, description="Left out: derived from the entry name (stable)."
    )
    size: Size | Literal["auto"] | None = Field(
        None,
        description="Pixels: one number for a square, or [width, height]; or 'auto' (an "
        "`image:` sprite: the grid of its enlarged art)",
    )
    palette: PaletteSpec | None = None
    pixel: PixelSettings | None = None
    out: str | None = Field(None, description="Output PNG, relative to the assets root.")

    @model_validator(mode="after")
    def _auto_size_reads_an_image(self) -> EntryBase:
        if self.size == "auto" and getattr(self, "image", None) is None:
            raise ValueError("size 'auto' reads the grid of a sprite's `image:`; give a size")
        return self

    def prompt_texts(self) -> list[str]:
        """The prompt of each image the entry paints, in order."""
        return [self.prompt or ""]


class Sprite(EntryBase):
    """One image: from a prompt, or from an image file brought onto the palette."""

    kind: ClassVar[str] = "sprite"
    out_dir: ClassVar[str] = "sprites"

    image: str | None = Field(None, description="An image file to pixelize instead of a prompt.")

    @model_validator(mode="after")
    def _prompt_or_image(self) -> Sprite:
        if (self.prompt is None) == (self.image is None):
            raise ValueError("a sprite takes exactly one of 'prompt' or 'image'")
        return self


class Animation(EntryBase):
    """N frames laid out on one grid sheet, with Bevy and Aseprite metadata."""

    kind: ClassVar[str] = "animation"
    out_dir: ClassVar[str] = "animations"

    prompts: list[str] | None = Field(
        None, max_length=limits.FRAMES, description="One prompt per frame (instead of `prompt`)."
    )
    frames: PositiveInt | None = Field(
        None, le=limits.FRAMES, description="Frame count ({i}/{n} in prompt)."
    )
    base: Name | None = Field(None, description="A sprite entry the frames derive from.")
    strength: float | None = Field(
        None,
        ge=0,
        le=1,
        description=f"img2img strength from the base frame (SDXL) (default {defaults.STRENGTH}).",
    )
    fps: float | None = Field(
        None, gt=0, le=120, description=f"Frames per second (default {defaults.FPS:g})."
    )
    durations: list[Annotated[int, Field(ge=1, le=limits.DURATION_MS)]] | None = Field(
        None, max_length=limits.FRAMES, description="Per-frame duration in ms."
    )
    mode: Literal["loop", "once", "pingpong"] = "loop"
    columns: PositiveInt | None = Field(None, le=limits.FRAMES)
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

    def prompt_texts(self) -> list[str]:
        """Each frame's prompt: `prompts`, or `prompt` with {i} and {n} filled in."""
        if self.prompts is not None:
            return list(self.prompts)
        n = self.frame_count
        template = self.prompt or ""
        return [template.replace("{i}", str(i)).replace("{n}", str(n)) for i in range(n)]


# Autotile layouts: 2-corner Wang (16 tiles) and the 8-neighbour blob (47); assemble/autotile.py.
AutotileLayout = Literal["wang16", "blob47"]


class Terrain(Strict):
    """One terrain of an autotile set, generated as a seamless tile."""

    prompt: str


class Tileset(EntryBase):
    """N seamless tile variants of one tile size, on a grid sheet; or, with `autotile`, a
    two-terrain set of transition tiles with the metadata map editors and games autotile by."""

    kind: ClassVar[str] = "tileset"
    out_dir: ClassVar[str] = "tiles"

    prompt: str | None = Field(None, description="What the tiles show (not with `terrains`).")
    autotile: AutotileLayout | None = Field(
        None,
        description="'wang16': corner-based, 16 tiles (dual grid); 'blob47': 8-neighbour, 47 "
        "tiles. Needs `terrains`.",
    )
    terrains: dict[Name, Terrain] | None = Field(
        None,
        description="An autotile set's two terrains, in order: the ground, then the terrain "
        "laid on it (a mask bit set means the second).",
    )
    variants: PositiveInt | None = Field(
        None,
        le=limits.FRAMES,
        description=f"Tiles per tileset (default {defaults.VARIANTS}); an autotile set: full "
        "tiles of each terrain, the first blended into the transitions, the others alternatives "
        "for variety (default 1).",
    )
    inpaint: bool | None = Field(
        None,
        description="An autotile set on an SDXL engine: repaint the band around each "
        "transition's terrain border by inpainting, keeping the tile edges from the blend "
        "(default true: one more image per transition tile, 14 for wang16, up to 46 for blob47; "
        "false: blend only). The procedural engine always blends.",
    )
    columns: PositiveInt | None = Field(None, le=limits.FRAMES)
    padding: int = Field(0, ge=0, le=16)

    @model_validator(mode="after")
    def _prompt_or_terrains(self) -> Tileset:
        if self.terrains is None:
            if self.inpaint is not None:
                raise ValueError("'inpaint' is for autotile sets (with 'autotile' and 'terrains')")
            if self.autotile is not None:
                raise ValueError("'autotile' needs 'terrains': the ground and the terrain on it")
            if self.prompt is None:
                raise ValueError("missing required key 'prompt' (or 'autotile' with 'terrains')")
            return self
        if self.autotile is None:
            raise ValueError("'terrains' make an autotile set: add 'autotile: wang16' or 'blob47'")
        if self.prompt is not None:
            raise ValueError("an autotile set is painted from its 'terrains', not 'prompt'")
        if len(self.terrains) != 2:
            raise ValueError(
                f"an autotile set takes exactly two terrains, the ground and the one laid on "
                f"it, not {len(self.terrains)}"
            )
        # Its tiles are named '<mask>', '<terrain>' and '<terrain>-<n>' (Rust constants too).
        a, b = (re.sub(r"[^a-z0-9]+", "_", t.lower()) for t in self.terrains)
        if not (a[0].isalpha() and b[0].isalpha()):
            raise ValueError("terrain names start with a letter (tiles are named after them)")
        if a == b or re.fullmatch(rf"{b}_\d+", a) or re.fullmatch(rf"{a}_\d+", b):
            first, second = self.terrains
            raise ValueError(f"terrains {first!r} and {second!r} would name tiles alike")
        return self

    def prompt_texts(self) -> list[str]:
        """One prompt per seed: each terrain's `variants` times, or the tiles' own prompt."""
        if self.terrains is not None:
            return [t.prompt for t in self.terrains.values() for _ in range(self.variants or 1)]
        return [self.prompt or ""] * (self.variants or defaults.VARIANTS)


class CharacterAnimation(Strict):
    """One of a character's animations, drawn in every direction."""

    frames: PositiveInt = Field(le=limits.FRAMES)
    fps: float | None = Field(
        None, gt=0, le=120, description=f"Frames per second (default {defaults.FPS:g})."
    )
    mode: Literal["loop", "once", "pingpong"] = "loop"
    prompt: str | None = Field(
        None, description="What the character does in it (default: the animation's name)."
    )


class Character(EntryBase):
    """One character in 4 or 8 directions and named animations, on one sheet with one palette.

    A base view anchors every direction; each direction's frames derive from its view. Rows are
    direction x animation, frames run along the columns.
    """

    kind: ClassVar[str] = "character"
    out_dir: ClassVar[str] = "characters"

    prompt: str
    directions: Literal[4, 8] = Field(4, description="4: s, w, n, e; 8 adds sw, nw, ne, se.")
    mirror: bool = Field(
        True, description="e (ne, se) are the exact mirror of w (nw, sw), not generated."
    )
    animations: dict[Name, CharacterAnimation] = Field(min_length=1, max_length=32)
    strength: float | None = Field(
        None,
        ge=0,
        le=1,
        description=f"img2img strength from the base view (SDXL) (default {defaults.STRENGTH}).",
    )
    padding: int = Field(0, ge=0, le=16)


class Atlas(Strict):
    """Packs sprites and animation frames into one texture with a rect per name."""

    kind: ClassVar[str] = "atlas"
    out_dir: ClassVar[str] = "atlases"

    include: list[str] = Field(
        min_length=1, description="Entry names or globs ('potion-*'); animations add every frame."
    )
    padding: int = Field(defaults.ATLAS_PADDING, ge=0, le=64)
    extrude: int = Field(0, ge=0, le=8, description="Repeat edge pixels outwards (anti-bleed).")
    power_of_two: bool = False
    max_size: PositiveInt = Field(defaults.ATLAS_MAX_SIZE, le=limits.ATLAS_SIDE)
    json_format: Literal["hash", "array"] = "hash"
    out: str | None = None


# --- models and LoRAs ------------------------------------------------------------------------


class ModelDef(Strict):
    """SDXL weights: exactly one of a hub repository id, a diffusers folder, or a single file."""

    repo: HubId | None = Field(None, description="Hub id, looked up in the local HF cache.")
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


class Validation(Strict):
    """Images painted while a LoRA trains, as a contact sheet beside it in the cache."""

    prompts: list[str] = Field(min_length=1, max_length=16, description="'{trigger}' expands.")
    every: int = Field(250, ge=1, description="Training steps between two sheets.")


class TrainSettings(Strict):
    """A LoRA trained on the game's own art, as a build step (cached, locked, resumable)."""

    images: str = Field(description="A folder of pixel art at native size (PNG, one per file).")
    captions: str = Field(
        "none",
        description="'txt' (a .txt beside each image), 'none' (the trigger alone), or a template "
        "such as '{trigger}, {name}' ({name}: the file name).",
    )
    trigger: str = Field(description="The words that call the style up; added to every prompt.")
    base: Name = Field(description="The model it is trained on, a name from `models:`.")
    rank: int = Field(16, ge=1, le=256)
    alpha: float | None = Field(None, gt=0, allow_inf_nan=False, description="Default: rank.")
    steps: int = Field(1500, ge=1, le=100_000)
    learning_rate: float = Field(1e-4, gt=0, le=1, allow_inf_nan=False)
    batch_size: int = Field(4, ge=1, le=64)
    resolution: int = Field(1024, ge=64, le=2048, multiple_of=64)
    seed: int = Field(0, ge=0, lt=2**32)
    train_text_encoder: bool = False
    flip: bool = Field(False, description="Mirrored copies too (off: pixel art is asymmetric).")
    checkpoint_every: int = Field(250, ge=1, description="Steps between resumable checkpoints.")
    validation: Validation | None = None


class LoraDef(Strict):
    """A LoRA: a file (kohya or diffusers .safetensors), or trained here from the game's art."""

    file: str | None = None
    train: TrainSettings | None = None
    weight: float = Field(1.0, allow_inf_nan=False)
    triggers: list[str] = Field(default_factory=list, description="Added to the prompt.")
    export: str | None = Field(
        None,
        description="A trained LoRA is also written here (project-relative .safetensors); a "
        "fresh clone with it and the lock uses it without training.",
    )
    format: Literal["kohya", "diffusers"] = Field(
        "kohya", description="The trained file's layout: kohya (A1111, ComfyUI) or diffusers."
    )

    @model_validator(mode="after")
    def _file_or_train(self) -> LoraDef:
        if (self.file is None) == (self.train is None):
            raise ValueError("a LoRA takes exactly one of 'file' or 'train'")
        if self.export is not None and self.train is None:
            raise ValueError("'export' writes a trained LoRA: it needs 'train'")
        if self.export is not None and not self.export.endswith(".safetensors"):
            raise ValueError("'export' must be a .safetensors file")
        return self


# --- comparisons -----------------------------------------------------------------------------

SeedList = Annotated[
    str | list[Annotated[int, Field(ge=0, lt=2**32)]],
    Field(description="Seeds: '1..8', '1,4,9', or a list."),
]


class Compare(Strict):
    """The axes `pixelbuild compare ENTRY` lays out (in this order) when none are given."""

    seed: SeedList | None = None
    lora: dict[Name, list[Annotated[float, Field(ge=-4, le=4)]]] | None = Field(
        None, description="LoRA name -> weights; 0 is the baseline without that LoRA."
    )
    model: list[Name] | None = Field(None, min_length=1)
    palette: list[str] | None = Field(None, min_length=1)
    method: list[Method] | None = Field(None, min_length=1)
    prompt_replace: dict[str, list[str]] | None = Field(
        None, description="A word of the prompt -> the words tried in its place."
    )


# --- the project -----------------------------------------------------------------------------


class Project(Strict):
    """Project-wide settings and defaults."""

    assets: str = Field("assets", description="The assets root every `out` is relative to.")
    cache: str | None = Field(
        None, description="Cache folder (default .pixelbuild; env PIXELBUILD_CACHE wins)."
    )
    palette: PaletteSpec | None = Field(
        None, description=f"Default palette (default {defaults.PALETTE!r})."
    )
    size: Size | None = Field(None, description=f"Default target size (default {defaults.SIZE}).")
    generate: GenerationSettings = Field(default_factory=GenerationSettings)
    pixel: PixelSettings = Field(default_factory=PixelSettings)
    meta_files: bool = Field(
        False, description="Write a `.png.meta` with a Nearest sampler beside each image."
    )
    rust_module: str | None = Field(
        None, description="Write a Rust module of asset paths and indices here (project-relative)."
    )
    gallery: bool = Field(
        False, description="Write the gallery page (`pixelbuild gallery`) after every build."
    )


class Manifest(Strict):
    """The whole `pixels.yaml`."""

    version: int = Field(
        MANIFEST_VERSION,
        description=f"The manifest format (this pixelbuild reads {MANIFEST_VERSION}).",
    )
    include: list[str] = Field(
        default_factory=list,
        description="Manifest files (or glob patterns) whose entry sections join this one, "
        "relative to the project folder; each gets its own lock file under pixels.lock.d/.",
    )
    project: Project = Field(default_factory=Project)
    models: dict[Name, ModelDef] = Field(default_factory=dict)
    loras: dict[Name, LoraDef] = Field(default_factory=dict)
    palettes: dict[Name, PaletteDef] = Field(default_factory=dict)
    sprites: dict[Name, Sprite] = Field(default_factory=dict)
    animations: dict[Name, Animation] = Field(default_factory=dict)
    tilesets: dict[Name, Tileset] = Field(default_factory=dict)
    characters: dict[Name, Character] = Field(default_factory=dict)
    atlases: dict[Name, Atlas] = Field(default_factory=dict)
    compare: dict[Name, Compare] = Field(
        default_factory=dict, description="Entry name -> the axes `pixelbuild compare` uses."
    )

    @field_validator("version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version != MANIFEST_VERSION:
            raise ValueError(
                f"this pixelbuild reads manifest version {MANIFEST_VERSION}, not {version}"
                + (" (written by a newer pixelbuild?)" if version > MANIFEST_VERSION else "")
            )
        return version


# Manifest section -> the model of its entries, in build order (atlases use the others' frames).
ENTRY_MODELS: dict[str, type[Sprite | Animation | Tileset | Character | Atlas]] = {
    "sprites": Sprite,
    "animations": Animation,
    "tilesets": Tileset,
    "characters": Character,
    "atlases": Atlas,
}
ENTRY_SECTIONS = tuple(ENTRY_MODELS)
# Manifest section -> what one of its entries is called in messages.
SINGULAR: dict[str, str] = {
    **{section: model.kind for section, model in ENTRY_MODELS.items()},
    "models": "model",
    "loras": "lora",
    "palettes": "palette",
}


def default_out(section: str, name: str) -> str:
    """The output an entry of `section` writes when it sets no `out`."""
    return f"{ENTRY_MODELS[section].out_dir}/{name}.png"
