"""Resolve a validated manifest into targets: defaults applied, files fingerprinted, seeds fixed.

Problems only resolution can see (a model whose weights are nowhere, an engine that needs a model
and has none, a LoRA or palette file that does not exist) are located issues of the manifest,
found here, before any engine is imported. An input that is absent here but whose digest the
lock holds (CI has no 7 GB checkpoint) is not an error for planning: it is recorded in `absent`,
and only a build that must run the entry reports it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import xxhash

from pixelbuild import defaults, limits
from pixelbuild.cache.hashing import digest_folder
from pixelbuild.cache.hub import hub_cache, hub_revision, repo_folder
from pixelbuild.cache.lock import Lock
from pixelbuild.cache.state import State
from pixelbuild.engines.base import LoraRef, ModelRef
from pixelbuild.engines.registry import ENGINES
from pixelbuild.errors import Issue
from pixelbuild.inputs import input_file_problem, path_text_problem, regular_file_problem
from pixelbuild.manifest.schema import (
    SINGULAR,
    EntryBase,
    LoraDef,
    LoraUse,
    Manifest,
    PaletteDef,
    default_out,
)
from pixelbuild.manifest.source import Document
from pixelbuild.plan.memo import Unsettled
from pixelbuild.targets import TARGET_KINDS, FileInput, Generation, PaletteChoice, Target
from pixelbuild.targets.trained import TrainedLora

Place = tuple[str | int, ...]  # a place in the manifest, as Document.locate takes it


@dataclass(frozen=True, slots=True)
class AbsentInput:
    """An input that is not on this machine; `downloadable` when --allow-download would fetch it."""

    issue: Issue
    downloadable: bool = False


class Resolver:
    """Turns a Manifest into Targets for a project directory."""

    def __init__(
        self,
        manifest: Manifest,
        doc: Document,
        state: State,
        lock: Lock,
        settled: frozenset[str] = frozenset(),
    ):
        self.m = manifest
        self.settled = settled  # entries of files left unparsed (plan/memo.py)
        self.doc = doc
        self.dir = doc.path.parent
        self.state = state
        self.lock = lock
        self.meta_files = manifest.project.meta_files
        self.files: dict[str, str] = {}
        self.read: set[Path] = set()  # every path whose content or stat decides a key
        self.issues: list[Issue] = []  # located problems: nothing may be built
        self.absent: dict[str, list[AbsentInput]] = {}  # entry -> inputs only the lock knows
        self._checked: set[Path] = set()
        self._entry: Place = ()
        self._models: dict[str, ModelRef] = {}
        self._trained_loras: dict[str, TrainedLora] = {}
        self._absent_models: dict[str, AbsentInput] = {}  # model -> why it cannot load here
        self._reported: set[Place] = set()
        # the defaults overridden by the project's settings: one merge, not one per entry
        gen = _merge(dict(defaults.GENERATION), manifest.project.generate)
        self._project_generation = gen
        self._project_pixel = {
            imported: _merge(dict(base), manifest.project.pixel)
            for imported, base in (
                (False, defaults.PIXEL), (True, defaults.PIXEL | defaults.IMPORT_PIXEL),
            )
        }  # fmt: skip

    def targets(self) -> list[Target]:
        return [
            self.resolve(section, name, entry)
            for section in TARGET_KINDS
            for name, entry in getattr(self.m, section).items()
        ]

    def resolve(self, section: str, name: str, entry: Any) -> Target:
        """One entry of `section` as its target (also a variant of an entry: compare cells)."""
        self._entry = (section, name)
        try:
            return TARGET_KINDS[section].resolve(name, entry, self)
        finally:
            self._entry = ()

    # -- what the target kinds ask for --

    def out_path(self, name: str, entry: Any) -> str:
        out = entry.out
        return str(PurePosixPath(out)) if out else default_out(str(self._entry[0]), name)

    def image_fields(self, name: str, e: EntryBase) -> dict[str, Any]:
        """The fields every painted (or read) target has, resolved."""
        m = self.m
        size = None if e.size == "auto" else _pair(e.size or m.project.size or defaults.SIZE)
        image = getattr(e, "image", None)
        pixel = _merge(dict(self._project_pixel[image is not None]), e.pixel)
        generation = None
        prompts: tuple[str, ...] = ()
        if image is not None:
            image_file = self._file(image, (*self._entry, "image"), limit=limits.IMAGE_FILE_BYTES)
        else:
            image_file = None
            assert size is not None, "the schema takes size 'auto' with an image only"
            generation = self._generation(e, size)
            prompts = self._prompts(e, generation)
        self._check_budget(e, size, generation, int(pixel["upscale"]))
        palette_at: Place = (*self._entry, "palette") if e.palette else ("project", "palette")
        return {
            "name": name,
            "out": self.out_path(name, e),
            "meta_file": self.meta_files,
            "size": size,
            "seed": e.seed if e.seed is not None else derive_seed(name),
            "prompts": prompts,
            "image": image_file,
            "generation": generation,
            "palette": self._palette(
                e.palette or m.project.palette or defaults.PALETTE, palette_at
            ),
            "pixel": pixel,
        }

    def _check_budget(
        self, e: EntryBase, size: tuple[int, int] | None, gen: Generation | None, upscale: int
    ) -> None:
        """Hold what an entry paints and writes to the budgets of limits.py (each RGBA pixel is
        4 bytes): its canvases together, its written image's side, and that image."""
        count = len(e.prompt_texts())
        images = f"{count} images" if count > 1 else "1 image"
        problems = []
        if gen is not None:
            w, h = gen.canvas
            if count * w * h > limits.GENERATED_PIXELS:
                problems.append(
                    f"{images} on a {w}x{h} canvas are {limits.megapixels(count * w * h)}, over "
                    f"the {limits.megapixels(limits.GENERATED_PIXELS)} an entry may paint; "
                    "lower `canvas` (or `scale`), or the number of frames"
                )
        if size is not None:
            w, h = size[0] * upscale, size[1] * upscale
            if max(w, h) > limits.OUTPUT_SIDE:
                problems.append(
                    f"size {size[0]}x{size[1]} upscaled {upscale}x is {w}x{h}, over the "
                    f"{limits.OUTPUT_SIDE} px limit on a side; lower `pixel.upscale` or the size"
                )
            elif count * w * h > limits.SHEET_PIXELS:
                problems.append(
                    f"{images} of {w}x{h} make a sheet of {limits.megapixels(count * w * h)}, "
                    f"over the {limits.megapixels(limits.SHEET_PIXELS)} limit on a written "
                    "image; lower the size, `pixel.upscale`, or the number of frames"
                )
        for message in problems:
            where = self.doc.locate(self._entry, key=True)
            self.issues.append(Issue(message, where, _label(self._entry)))

    def atlas_members(self, patterns: Sequence[str]) -> list[str]:
        pool = list(self.m.sprites) + list(self.m.animations)
        members: list[str] = []
        for pattern in patterns:
            if self.settled and fnmatch.filter(self.settled, pattern):
                raise Unsettled(f"atlas member {pattern!r} is in a file that was not planned")
            for match in fnmatch.filter(pool, pattern):
                if match not in members:
                    members.append(match)
        return members

    def _prompts(self, e: EntryBase, gen: Generation) -> tuple[str, ...]:
        """One prompt per image, with the LoRAs' trigger words in front."""
        prefix = ", ".join(gen.triggers)
        return tuple(f"{prefix}, {text}" if prefix else text for text in e.prompt_texts())

    # -- generation --

    def _generation(self, e: EntryBase, size: tuple[int, int]) -> Generation:
        # an entry has every generation setting (EntryBase), so it is its own layer
        g = _merge(dict(self._project_generation), e)
        spec = ENGINES.get(g["engine"])  # validation has rejected unknown names
        model = loras = None
        triggers: tuple[str, ...] = ()
        trained: tuple[TrainedLora, ...] = ()
        if spec is not None and spec.needs_model:
            model = self._model_for(g["model"], spec.name)
            loras, triggers, trained = self._loras(g["loras"])
        low, high = spec.canvas if spec is not None else (512, 1536)
        canvas = _pair(g["canvas"]) if g["canvas"] else canvas_for(size, g["scale"], low, high)
        return Generation(
            engine=g["engine"],
            canvas=canvas,
            negative=g["negative"],
            steps=g["steps"],
            guidance=float(g["guidance"]),
            scheduler=g["scheduler"],
            fallback=g["fallback"],
            model=model,
            loras=loras or (),
            triggers=triggers,
            trained=trained,
            **(self._references(g) if spec is not None and spec.needs_model else {}),
        )

    def _references(self, g: dict[str, Any]) -> dict[str, Any]:
        """An entry's reference images and the IP-Adapter that reads them (none at scale 0)."""
        if not g["reference"] or not g["reference_scale"]:
            return {}
        place: Place = (*self._entry, "reference")
        if g["ip_adapter"] is None:
            self._report(place, "`reference:` needs `ip_adapter:` (an IP-Adapter from `models:`)")
            return {}
        files = tuple(
            self._file(rel, (*place, i), required=True, limit=limits.IMAGE_FILE_BYTES)
            for i, rel in enumerate(g["reference"])
        )
        return {
            "references": files,
            "reference_scale": float(g["reference_scale"]),
            "ip_adapter": self.model(g["ip_adapter"]),
        }

    def _model_for(self, name: str | None, engine: str) -> ModelRef | None:
        if name is None:
            kind = SINGULAR[str(self._entry[0])]
            self.issues.append(
                Issue(
                    f"the {engine} engine needs a model: set `model:` to one of `models:` "
                    "on the entry or in project.generate",
                    self.doc.locate(self._entry, key=True),
                    f"{kind} {self._entry[1]!r}",
                )
            )
            return None
        return self.model(name)

    def model(self, name: str) -> ModelRef:
        """A model of the manifest, resolved to its weights and fingerprinted."""
        if name in self._models:
            self._note_absent(self._models[name])
            return self._models[name]
        d = self.m.models[name]
        place: Place = ("models", name)
        if d.repo is not None:
            source, location = "hub", d.repo
            revision = hub_revision(d.repo)
            if revision is not None:  # the ref a download moves: it decides the model's digest
                self.read.add(repo_folder(d.repo) / "refs" / "main")
            digest = revision or self.lock.files.get(f"hub:{d.repo}")
            if digest:
                self.files[f"hub:{d.repo}"] = digest
            ref = ModelRef(name, source, location, digest or "missing", self._vae(d.vae), None,
                           d.allow_pickle, d.dtype)  # fmt: skip
            if revision is None:
                issue = Issue(
                    f"model {name!r}: {d.repo} is not in the local Hugging Face cache "
                    f"({hub_cache()}); fetch it with `hf download {d.repo}` or build with "
                    "--allow-download",
                    self.doc.locate((*place, "repo")),
                )
                self._absent_models[name] = AbsentInput(issue, downloadable=True)
        else:
            field = "path" if d.path is not None else "file"
            f = self._file(d.path or d.file or "", (*place, field), required=True)
            ref = ModelRef(name, "folder" if field == "path" else "file", str(f.absolute),
                           f.digest or "missing", self._vae(d.vae),
                           str(self.dir / d.config) if d.config else None, d.allow_pickle,
                           d.dtype)  # fmt: skip
            if not f.verified:
                issue = Issue(
                    f"model {name!r}: {f.path} does not exist here (its digest comes from "
                    "pixels.lock)",
                    self.doc.locate((*place, field)),
                )
                self._absent_models[name] = AbsentInput(issue)
        self._models[name] = ref
        self._note_absent(ref)
        return ref

    def _note_absent(self, ref: ModelRef) -> None:
        absent = self._absent_models.get(ref.name)
        if absent is not None and self._entry:
            self.absent.setdefault(str(self._entry[1]), []).append(absent)

    def _vae(self, vae: str | None) -> str | None:
        """A VAE override: a folder of the project (made absolute, so -C works) or a hub id."""
        if vae is None or path_text_problem(vae) or not (self.dir / vae).is_dir():
            return vae
        return str((self.dir / vae).resolve())

    def _loras(
        self, uses: Sequence[Any]
    ) -> tuple[tuple[LoraRef, ...], tuple[str, ...], tuple[TrainedLora, ...]]:
        """The LoRAs an entry uses, their trigger words, and those among them trained here."""
        refs, triggers, trained = [], [], []
        for use in uses:
            name, weight = (use.name, use.weight) if isinstance(use, LoraUse) else (use, None)
            d = self.m.loras[name]
            weight = d.weight if weight is None else weight
            if d.train is not None:
                lora = self._trained(name, d)
                refs.append(lora.ref(weight))
                trained.append(lora)
                triggers.append(lora.trigger)
            else:
                assert d.file is not None  # the schema takes exactly one of file and train
                f = self._file(d.file, ("loras", name, "file"), required=True)
                refs.append(LoraRef(name, f.absolute, f.digest or "missing", weight))
            triggers.extend(d.triggers)
        return tuple(refs), tuple(dict.fromkeys(triggers)), tuple(trained)

    def _trained(self, name: str, d: LoraDef) -> TrainedLora:
        """A LoRA trained here: its dataset fingerprinted file by file (memoized per name)."""
        if name in self._trained_loras:
            return self._trained_loras[name]
        t = d.train
        assert t is not None
        place: Place = ("loras", name, "train")
        folder = (self.dir / t.images).resolve()
        files: list[FileInput] = []
        if not folder.is_dir() or not folder.is_relative_to(self.dir):
            self._report((*place, "images"), f"{t.images!r} is not a folder inside the project")
        else:
            from pixelbuild.train.dataset import list_images

            for image in list_images(folder):
                rel = image.relative_to(self.dir).as_posix()
                files.append(self._file(rel, (*place, "images"), limit=limits.IMAGE_FILE_BYTES))
                caption = image.with_suffix(".txt")
                if t.captions == "txt" and caption.is_file():
                    rel = caption.relative_to(self.dir).as_posix()
                    files.append(self._file(rel, (*place, "captions"), limit=1 << 20))
            if not files:
                self._report((*place, "images"), f"no images (png, webp, gif) in {t.images}")
        settings = t.model_dump(exclude={"images", "captions", "trigger", "base"}, mode="json")
        lora = TrainedLora(
            name=name,
            folder=folder,
            files=tuple(files),
            trigger=t.trigger,
            captions=t.captions,
            settings=settings,
            model=self.model(t.base),
            cache=self.state.path.parent,
            format=d.format,
            export=d.export,
            project=self.dir,
        )
        self._trained_loras[name] = lora
        return lora

    # -- palettes and files --

    def _palette(self, spec: str | list[str] | PaletteDef, place: Place) -> PaletteChoice:
        if isinstance(spec, list):
            return PaletteChoice({"colors": list(spec)})
        if isinstance(spec, str):
            named = self.m.palettes.get(spec)
            if named is None:
                return PaletteChoice({"builtin": spec})
            choice = self._palette(named, ("palettes", spec))
            return PaletteChoice(choice.spec, choice.file, spec if named.auto else None)
        if spec.builtin is not None:
            return PaletteChoice({"builtin": spec.builtin})
        if spec.colors is not None:
            return PaletteChoice({"colors": list(spec.colors)})
        if spec.file is not None:
            limit = limits.PALETTE_TEXT_BYTES
            if PurePosixPath(spec.file).suffix.lower() == ".png":
                limit = limits.IMAGE_FILE_BYTES
            f = self._file(spec.file, (*place, "file"), required=True, limit=limit)
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

    def _file(
        self, rel: str, place: Place, *, required: bool = False, limit: int | None = None
    ) -> FileInput:
        """Fingerprint a project file (or folder); fall back to the lock's digest when absent.

        With a `limit`, the path is an input file (inputs.py: a regular file of at most `limit`
        bytes inside the project); without, a regular file or a folder anywhere (models). A
        `required` file that is neither here nor in the lock is a located issue, as is a path
        that breaks a rule.
        """
        key = str(PurePosixPath(rel))
        reason = path_text_problem(rel)
        if reason is not None:
            self._report(place, f"the path {reason}")
            return FileInput(key, self.dir, None, False)
        path = (self.dir / rel).resolve()
        try:
            reason = self._path_problem(rel, path, limit)
            if reason is None:
                self.read.add(path)
                digest: str | None = self._digest(path)
                verified = True
        except FileNotFoundError:
            digest, verified = self.lock.files.get(key), False
            if digest is None and required:
                self._report(place, f"file not found: {rel}")
        except OSError as exc:
            reason = f"{rel} cannot be read ({exc.strerror or exc})"
        if reason is not None:
            self._report(place, reason)
            return FileInput(key, self.dir, None, False)
        if digest is not None:
            self.files[key] = digest
        return FileInput(key, path, digest, verified)

    def _path_problem(self, rel: str, path: Path, limit: int | None) -> str | None:
        """Why `rel` (at `path`) may not be read (see `_file`); FileNotFoundError when nothing
        is there."""
        if limit is not None:
            return input_file_problem(self.dir, rel, limit)
        if path.is_dir():
            return None
        reason = regular_file_problem(path, limit=1 << 62)
        return f"{rel} {reason}" if reason else None

    def _report(self, place: Place, message: str) -> None:
        if place not in self._reported:
            self._reported.add(place)
            self.issues.append(Issue(message, self.doc.locate(place), _label(place)))

    def _digest(self, path: Path) -> str:
        if path.is_dir():

            def file_digest(p: Path) -> str:
                self.read.add(p)
                return self.state.digest(p)

            return digest_folder(path, file_digest)
        return self.state.digest(path)


def _label(place: Place) -> str | None:
    if len(place) >= 2 and place[0] in SINGULAR:
        return f"{SINGULAR[str(place[0])]} {place[1]!r}"
    return "project" if place and place[0] == "project" else None


def _merge(merged: dict[str, Any], *layers: Any) -> dict[str, Any]:
    """`merged` (the defaults) overridden field by field by each layer's set (non-None) values."""
    for layer in layers:
        if layer is None:
            continue
        for key in list(merged):
            value = getattr(layer, key, None)
            if value is not None:
                merged[key] = value.model_dump() if hasattr(value, "model_dump") else value
    return merged


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def derive_seed(name: str) -> int:
    """A stable 32-bit seed from an entry name, for entries that do not set one."""
    return xxhash.xxh3_64_intdigest(name.encode()) & 0xFFFFFFFF


def canvas_for(size: tuple[int, int], scale: int, low: int, high: int) -> tuple[int, int]:
    """The canvas an engine paints at: size x scale, brought into its side range, multiples of 8.

    Sizes that land in the same canvas share their generation: changing a sprite from 32 to 48 px
    re-runs only the pixelize step.
    """
    w, h = size[0] * scale, size[1] * scale
    longest = max(w, h)
    factor = low / longest if longest < low else high / longest if longest > high else 1.0
    return (max(8, round(w * factor / 8) * 8), max(8, round(h * factor / 8) * 8))
