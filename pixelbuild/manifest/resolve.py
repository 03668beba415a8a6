"""Resolve a validated manifest into build targets: defaults applied, files fingerprinted.

Everything a target carries is concrete and JSON-able, so the planner can hash it as it is.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import xxhash

from pixelbuild.cache.lock import Lock
from pixelbuild.cache.state import State
from pixelbuild.engines.base import LoraRef, ModelRef
from pixelbuild.errors import Issue
from pixelbuild.manifest.schema import (
    Animation,
    Atlas,
    EntryBase,
    GenerationSettings,
    LoraUse,
    Manifest,
    PaletteDef,
    Sprite,
    Tileset,
)

DEFAULT_SIZE = 32
DEFAULT_PALETTE = "db32"
GENERATION_DEFAULTS: dict[str, Any] = {
    "engine": "procedural",
    "fallback": "error",
    "model": None,
    "loras": [],
    "negative": "",
    "steps": 30,
    "guidance": 7.0,
    "scheduler": "euler_a",
    "scale": 8,
    "canvas": None,
}
PIXEL_DEFAULTS: dict[str, Any] = {
    "method": "majority",
    "phase_search": True,
    "dither": "none",
    "dither_strength": 0.5,
    "background": "auto",
    "tolerance": 0.08,
    "remove_orphans": True,
    "outline": "none",
    "upscale": 1,
}
# The canvas side range each engine paints well at (SDXL's native range; a cheap size for ours).
CANVAS_RANGE = {
    "procedural": (512, 512),
    "diffusers": (512, 1536),
    "inductor": (512, 1536),
    "tensorrt": (512, 1536),
}
# Resolved layout values named as the manifest spells them, for "what changed" in `plan`.
LAYOUT_FIELDS = {"durations": "fps/durations"}
DEFAULT_OUT_DIRS = {
    "sprite": "sprites",
    "animation": "animations",
    "tileset": "tiles",
    "atlas": "atlases",
}


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
    """Resolved generation settings of one entry."""

    engine: str
    canvas: tuple[int, int]
    negative: str = ""
    steps: int = 30
    guidance: float = 7.0
    scheduler: str = "euler_a"
    fallback: str = "error"
    model: ModelRef | None = None
    loras: tuple[LoraRef, ...] = ()
    triggers: tuple[str, ...] = ()

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
        return params


@dataclass(frozen=True, slots=True)
class PaletteChoice:
    """The palette of an entry: a fixed colour list, a file, or `auto: N` (shared when named)."""

    spec: dict[str, Any]
    file: FileInput | None = None
    shared: str | None = None


@dataclass(frozen=True)
class Target:
    """One manifest entry, fully resolved."""

    name: str
    kind: str  # sprite | animation | tileset | atlas
    out: str
    size: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE)
    seed: int = 0
    prompts: tuple[str, ...] = ()
    image: FileInput | None = None
    generation: Generation | None = None
    palette: PaletteChoice | None = None
    pixel: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()
    base: str | None = None

    @property
    def files(self) -> list[FileInput]:
        """Every input file of this target."""
        found = [self.image] if self.image else []
        if self.palette and self.palette.file:
            found.append(self.palette.file)
        return found

    def fields(self) -> dict[str, Any]:
        """The user-facing settings, one value per field, for "what changed" in `plan`."""
        values: dict[str, Any] = {"kind": self.kind, "out": self.out}
        if self.kind != "atlas":
            values |= {
                "size": list(self.size),
                "seed": self.seed,
                "prompt": list(self.prompts),
                "palette": self.palette.spec if self.palette else None,
                "pixel": self.pixel,
            }
        if self.generation is not None:
            values |= self.generation.key_params()
        values |= {LAYOUT_FIELDS.get(k, k): v for k, v in self.layout.items()}
        if self.members:
            values["include"] = list(self.members)
        if self.base:
            values["base"] = self.base
        for f in self.files:
            values[f"file:{f.path}"] = f.digest
        return values


class Resolver:
    """Turns a Manifest into Targets for a project directory."""

    def __init__(self, manifest: Manifest, project_dir: Path, state: State, lock: Lock):
        self.m = manifest
        self.dir = project_dir
        self.state = state
        self.lock = lock
        self.files: dict[str, str] = {}
        self.read: set[Path] = set()  # every path whose content or stat decides a key
        self.issues: list[Issue] = []  # problems in referenced files (a broken palette, ...)
        self._checked: set[Path] = set()

    def targets(self) -> list[Target]:
        m = self.m
        found: list[Target] = []
        for name, sprite in m.sprites.items():
            found.append(self._entry(name, "sprite", sprite))
        for name, anim in m.animations.items():
            found.append(self._entry(name, "animation", anim))
        for name, tiles in m.tilesets.items():
            found.append(self._entry(name, "tileset", tiles))
        for name, atlas in m.atlases.items():
            found.append(self._atlas(name, atlas))
        return found

    # -- entries --

    def _entry(self, name: str, kind: str, e: EntryBase) -> Target:
        m = self.m
        size = _pair(e.size or m.project.size or DEFAULT_SIZE)
        seed = e.seed if e.seed is not None else derive_seed(name)
        pixel = _merge(PIXEL_DEFAULTS, m.project.pixel, e.pixel)
        if kind == "tileset" and (e.pixel is None or e.pixel.background is None):
            pixel["background"] = "none"
        layout: dict[str, Any] = {}
        image = None
        generation = None
        prompts: tuple[str, ...] = ()
        base = None
        if isinstance(e, Sprite) and e.image is not None:
            image = self._file(e.image)
        else:
            generation = self._generation(e, size)
            prompts = self._prompts(e, generation)
        if isinstance(e, Animation):
            n = e.frame_count
            durations = e.durations or [round(1000 / (e.fps or 10))] * n
            layout = {
                "durations": durations,
                "mode": e.mode,
                "columns": e.columns,
                "padding": e.padding,
                "strength": 0.5 if e.strength is None else e.strength,
            }
            base = e.base
        elif isinstance(e, Tileset):
            layout = {"columns": e.columns, "padding": e.padding}
        return Target(
            name=name,
            kind=kind,
            out=self._out(name, kind, e.out),
            size=size,
            seed=seed,
            prompts=prompts,
            image=image,
            generation=generation,
            palette=self._palette(e.palette or m.project.palette or DEFAULT_PALETTE),
            pixel=pixel,
            layout=layout,
            base=base,
        )

    def _prompts(self, e: EntryBase, gen: Generation) -> tuple[str, ...]:
        prefix = ", ".join(gen.triggers)

        def full(text: str) -> str:
            return f"{prefix}, {text}" if prefix else text

        if isinstance(e, Animation):
            n = e.frame_count
            if e.prompts is not None:
                return tuple(full(p) for p in e.prompts)
            template = e.prompt or ""
            return tuple(
                full(template.replace("{i}", str(i)).replace("{n}", str(n))) for i in range(n)
            )
        if isinstance(e, Tileset):
            return tuple(full(e.prompt) for _ in range(e.variants))
        return (full(e.prompt or ""),)

    def _atlas(self, name: str, a: Atlas) -> Target:
        pool = list(self.m.sprites) + list(self.m.animations)
        members: list[str] = []
        for pattern in a.include:
            for match in fnmatch.filter(pool, pattern):
                if match not in members:
                    members.append(match)
        layout = {
            "padding": a.padding,
            "extrude": a.extrude,
            "power_of_two": a.power_of_two,
            "max_size": a.max_size,
            "json_format": a.json_format,
        }
        return Target(
            name=name, kind="atlas", out=self._out(name, "atlas", a.out), layout=layout,
            members=tuple(members),
        )  # fmt: skip

    def _out(self, name: str, kind: str, out: str | None) -> str:
        return str(PurePosixPath(out)) if out else f"{DEFAULT_OUT_DIRS[kind]}/{name}.png"

    # -- generation --

    def _generation(self, e: EntryBase, size: tuple[int, int]) -> Generation:
        g = _merge(GENERATION_DEFAULTS, self.m.project.generate, _only_generation(e))
        engine = g["engine"]
        model = self.model(g["model"]) if engine != "procedural" else None
        loras, triggers = self._loras(g["loras"]) if engine != "procedural" else ((), ())
        canvas = _pair(g["canvas"]) if g["canvas"] else canvas_for(size, g["scale"], engine)
        return Generation(
            engine=engine,
            canvas=canvas,
            negative=g["negative"],
            steps=g["steps"],
            guidance=float(g["guidance"]),
            scheduler=g["scheduler"],
            fallback=g["fallback"],
            model=model,
            loras=loras,
            triggers=triggers,
        )

    def model(self, name: str | None) -> ModelRef | None:
        """A model of the manifest, resolved to its weights and fingerprinted (None for None)."""
        if name is None:
            return None
        d = self.m.models[name]
        if d.repo is not None:
            source, location, digest = (
                "hub",
                d.repo,
                hub_revision(d.repo) or self.lock.files.get(f"hub:{d.repo}"),
            )
            if digest:
                self.files[f"hub:{d.repo}"] = digest
        else:
            source = "folder" if d.path is not None else "file"
            f = self._file(d.path or d.file or "")
            location, digest = str(f.absolute), f.digest
        return ModelRef(
            name=name,
            source=source,
            location=location,
            digest=digest or "missing",
            vae=d.vae,
            config=str(self.dir / d.config) if d.config else None,
            allow_pickle=d.allow_pickle,
            dtype=d.dtype,
        )

    def _loras(self, uses: list[Any]) -> tuple[tuple[LoraRef, ...], tuple[str, ...]]:
        refs, triggers = [], []
        for use in uses:
            name, weight = (use.name, use.weight) if isinstance(use, LoraUse) else (use, None)
            d = self.m.loras[name]
            f = self._file(d.file)
            refs.append(
                LoraRef(
                    name=name,
                    path=f.absolute,
                    digest=f.digest or "missing",
                    weight=d.weight if weight is None else weight,
                )
            )
            triggers.extend(d.triggers)
        return tuple(refs), tuple(dict.fromkeys(triggers))

    # -- palettes and files --

    def _palette(self, spec: str | list[str] | PaletteDef) -> PaletteChoice:
        if isinstance(spec, list):
            return PaletteChoice({"colors": [c.lower() for c in spec]})
        if isinstance(spec, str):
            named = self.m.palettes.get(spec)
            if named is None:
                return PaletteChoice({"builtin": spec})
            choice = self._palette(named)
            return PaletteChoice(choice.spec, choice.file, spec if named.auto else None)
        if spec.builtin is not None:
            return PaletteChoice({"builtin": spec.builtin})
        if spec.colors is not None:
            return PaletteChoice({"colors": [c.lower() for c in spec.colors]})
        if spec.file is not None:
            f = self._file(spec.file)
            self._check_palette_file(f)
            return PaletteChoice({"file": f.path, "digest": f.digest}, file=f)
        return PaletteChoice({"auto": spec.auto})

    def _check_palette_file(self, f: FileInput) -> None:
        """Parse a palette file once, so a broken one stops the build before anything runs."""
        if f.absolute in self._checked or not f.verified:
            return
        self._checked.add(f.absolute)
        from pixelbuild.pixel.palettes import load_palette_file

        try:
            load_palette_file(f.absolute)
        except Issue as issue:
            self.issues.append(issue)

    def _file(self, rel: str) -> FileInput:
        """Fingerprint a project file (or folder); fall back to the lock's digest when absent."""
        path = (self.dir / rel).resolve()
        key = str(PurePosixPath(rel))
        self.read.add(path)
        try:
            digest = self._digest(path)
            verified = True
        except FileNotFoundError:
            digest, verified = self.lock.files.get(key), False
        if digest is not None:
            self.files[key] = digest
        return FileInput(key, path, digest, verified)

    def _digest(self, path: Path) -> str:
        if path.is_dir():
            parts = []
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for n in sorted(names):
                    p = Path(root) / n
                    self.read.add(p)
                    parts.append(f"{p.relative_to(path).as_posix()}={self.state.digest(p)}")
            return xxhash.xxh3_128_hexdigest("\n".join(parts).encode())
        return self.state.digest(path)


def _merge(defaults: dict[str, Any], *layers: Any) -> dict[str, Any]:
    """Defaults overridden field by field by each layer's explicitly set (non-None) values."""
    merged = dict(defaults)
    for layer in layers:
        if layer is None:
            continue
        for key in defaults:
            value = getattr(layer, key, None)
            if value is not None:
                merged[key] = value.model_dump() if hasattr(value, "model_dump") else value
    return merged


def _only_generation(e: EntryBase) -> GenerationSettings:
    return GenerationSettings.model_construct(
        **{k: getattr(e, k) for k in GenerationSettings.model_fields}
    )


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def derive_seed(name: str) -> int:
    """A stable 32-bit seed from an entry name, for entries that do not set one."""
    return xxhash.xxh3_64_intdigest(name.encode()) & 0xFFFFFFFF


def canvas_for(size: tuple[int, int], scale: int, engine: str) -> tuple[int, int]:
    """The canvas an engine paints at: size x scale, brought into its side range, multiples of 8.

    Sizes that land in the same canvas share their generation: changing a sprite from 32 to 48 px
    re-runs only the pixelize step.
    """
    low, high = CANVAS_RANGE.get(engine, (512, 1536))
    w, h = size[0] * scale, size[1] * scale
    longest = max(w, h)
    factor = low / longest if longest < low else high / longest if longest > high else 1.0
    return tuple(max(8, round(v * factor / 8) * 8) for v in (w, h))  # type: ignore[return-value]


def hub_ref_path(repo: str) -> Path:
    """Where the local Hugging Face cache records the commit of `repo`'s main branch."""
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub"
    )
    return Path(hub) / f"models--{repo.replace('/', '--')}" / "refs" / "main"


def hub_revision(ref: Path) -> str | None:
    """The commit a hub repository's ref file names (its weights are addressed by it)."""
    try:
        return ref.read_text().strip() or None
    except OSError:
        return None
