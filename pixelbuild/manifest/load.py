"""Load and validate `pixels.yaml`: every problem at once, each pointing at its file:line:col."""

from __future__ import annotations

import difflib
import fnmatch
import re
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ValidationError

from pixelbuild import limits
from pixelbuild.engines.registry import ENGINES
from pixelbuild.errors import Issue, ManifestError, UsageError
from pixelbuild.inputs import input_file_problem, path_text_problem
from pixelbuild.manifest.include import expand as expand_includes
from pixelbuild.manifest.schema import ENTRY_SECTIONS, SINGULAR, Manifest, default_out
from pixelbuild.manifest.source import Document, load_yaml

MANIFEST_NAME = "pixels.yaml"


def load_manifest(path: Path) -> tuple[Manifest, Document]:
    """Parse and validate a manifest; raise ManifestError listing every problem found."""
    return validate_document(read_manifest(path))


def read_manifest(path: Path) -> Document:
    """The manifest file itself, parsed (its includes are read when it is validated)."""
    if not path.exists():
        raise UsageError(
            f"no {path.name} in {path.parent}: run `pixelbuild init` there to start a project, "
            "or point at one with -C DIR (or -f FILE)"
        )
    return load_yaml(path)


def validate_document(
    doc: Document, skip: frozenset[Path] = frozenset()
) -> tuple[Manifest, Document]:
    """Validate a parsed manifest (its includes read from disk); ManifestError lists it all.
    `load_manifest` without the reading: an edit's new text (source.parse_yaml) is validated
    here before it is written, errors located in it under the manifest's own name. Included
    files in `skip` are left out (plan/memo.py: their entries are known to be up to date)."""
    path = doc.path
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ManifestError([Issue("the manifest must be a mapping of sections", doc.locate(()))])
    doc = expand_includes(doc, skip)
    data = doc.data if isinstance(doc.data, dict) else data  # an empty file has no data
    issues: list[Issue] = []
    manifest: Manifest | None = None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        issues.extend(validation_issues(exc, doc))
    issues.extend(check_references(data, doc))
    if issues:
        raise ManifestError(sorted(issues, key=lambda i: _in_files(i, path)))
    assert manifest is not None
    return manifest, doc


def _in_files(issue: Issue, manifest: Path) -> tuple[bool, str, int, int]:
    """Sort key: pixels.yaml's issues first, then each included file's, by position."""
    where = issue.location
    if where is None:
        return (False, "", 0, 0)
    return (where.file != manifest, str(where.file), where.line, where.column)


# --- pydantic errors -> located issues -------------------------------------------------------


def validation_issues(
    exc: ValidationError, doc: Document, root: type[BaseModel] = Manifest
) -> list[Issue]:
    """Pydantic's errors as located issues: one per place, union branches merged, and a
    "did you mean" among the fields of `root`'s model at that place."""
    by_path: dict[tuple[str | int, ...], list[dict[str, Any]]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        by_path.setdefault(doc.existing_path(loc), []).append(dict(error))
    issues = []
    for errors in by_path.values():
        # Report a key problem (unknown key) on its own; merge the branches of a failed union.
        extra = [e for e in errors if e["type"] == "extra_forbidden"]
        for first in extra or errors[:1]:
            issues.append(_issue(first, errors if not extra else [first], doc, root))
    return issues


def _issue(
    error: dict[str, Any], group: list[dict[str, Any]], doc: Document, root: type[BaseModel]
) -> Issue:
    loc = tuple(error["loc"])
    entry = _entry_label(loc)
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        message = f"unknown key {key!r}"
        hint = difflib.get_close_matches(key, sorted(_fields_at(loc[:-1], root)), n=1, cutoff=0.6)
        if hint:
            message += f" (did you mean {hint[0]!r}?)"
        return Issue(message, doc.locate(loc, key=True), entry)
    if "[key]" in loc:
        return Issue(f"invalid name: {_message(error)}", doc.locate(loc, key=True), entry)
    if error["type"] == "missing":
        return Issue(f"missing required key {loc[-1]!r}", doc.locate(loc), entry)
    messages = list(dict.fromkeys(_message(e) for e in group))
    bounds = [e for e in group if e["type"] in _BOUNDS]
    if bounds:  # the value has the right type but breaks a limit: say the limit
        messages = list(dict.fromkeys(_message(e) for e in bounds))
    if len(messages) > 1:  # every branch of a union failed: say what the field takes instead
        described = _description_at(loc, root)
        if described:
            messages = [f"invalid value {error.get('input')!r}; expected {described}"]
    field = ".".join(str(p) for p in doc.existing_path(loc)[2:] if not isinstance(p, int))
    prefix = f"{field}: " if field and entry else ""
    return Issue(prefix + " | ".join(messages), doc.locate(loc), entry)


# Pydantic's error types for a value of the right type out of its range.
_BOUNDS = frozenset(
    {"less_than", "less_than_equal", "greater_than", "greater_than_equal", "too_long", "too_short"}
)


def _message(error: dict[str, Any]) -> str:
    """Pydantic's message in the manifest's words: 'must be ...' for 'Input should be ...'."""
    msg = str(error["msg"]).removeprefix("Value error, ")
    for theirs, ours in (("Input should be ", "must be "), ("String should ", "must ")):
        if msg.startswith(theirs):
            msg = ours + msg.removeprefix(theirs)
    return msg


def _entry_label(loc: Sequence[str | int]) -> str | None:
    if len(loc) >= 2 and loc[0] in SINGULAR:
        return f"{SINGULAR[str(loc[0])]} {loc[1]!r}"
    if loc and loc[0] == "project":
        return "project"
    return None


def _fields_at(loc: Sequence[str | int], root: type[BaseModel]) -> set[str]:
    """Field names of the model(s) that sit at `loc` in the schema (for "did you mean")."""
    names: set[str] = set()
    for tp in _types_at(loc, root):
        for inner in _unwrap(tp):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                names.update(inner.model_fields)
    return names


def _types_at(loc: Sequence[str | int], root: type[BaseModel]) -> list[Any]:
    """The schema types that can sit at `loc` under `root` (unions and containers followed)."""
    types_here: list[Any] = [root]
    for part in loc:
        nxt: list[Any] = []
        for tp in types_here:
            for inner in _unwrap(tp):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    field = inner.model_fields.get(str(part))
                    if field is not None:
                        nxt.append(field.annotation)
                elif typing.get_origin(inner) in (dict, list, tuple):
                    args = typing.get_args(inner)
                    if args:
                        nxt.append(args[-1])
        types_here = nxt or types_here
    return types_here


def _description_at(loc: Sequence[str | int], root: type[BaseModel]) -> str | None:
    """The schema description of the field at `loc`, lower-cased for use mid-sentence."""
    for i in range(len(loc), 0, -1):
        parent, name = loc[: i - 1], loc[i - 1]
        for tp in _types_at(parent, root):
            for inner in _unwrap(tp):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    field = inner.model_fields.get(str(name))
                    if field is not None:
                        text = field.description or _annotation_description(field.annotation)
                        if text:
                            return text[0].lower() + text[1:].rstrip(".")
    return None


def _annotation_description(tp: Any) -> str | None:
    for inner in _unwrap_annotated(tp):
        for meta in getattr(inner, "__metadata__", ()):
            if getattr(meta, "description", None):
                return meta.description
    return None


def _unwrap_annotated(tp: Any) -> Iterator[Any]:
    yield tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _unwrap_annotated(arg)


def _unwrap(tp: Any) -> Iterator[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _unwrap(arg)
    else:
        yield tp


# --- references between entries, names and paths ---------------------------------------------


def check_references(data: dict[str, Any], doc: Document) -> list[Issue]:
    """Problems pydantic cannot see: dangling names, clashing outputs, unsafe paths."""
    issues: list[Issue] = []

    def section(name: str) -> dict[str, Any]:
        # Names that are not strings (`1:`, `null:`) are pydantic's to report; skipped here.
        value = data.get(name)
        return (
            {k: v for k, v in value.items() if isinstance(k, str)}
            if isinstance(value, dict)
            else {}
        )

    def problem(path: tuple[str | int, ...], message: str, key: bool = False) -> None:
        issues.append(Issue(message, doc.locate(path, key=key), _entry_label(path)))

    palettes, loras, models = section("palettes"), section("loras"), section("models")
    builtin = _builtin_palette_names()
    project = section("project")
    entries: dict[str, str] = {}
    for sec in ENTRY_SECTIONS:
        for name in section(sec):
            if name in entries:
                problem(
                    (sec, name),
                    f"the name {name!r} is already used by {SINGULAR[entries[name]]} {name!r}; "
                    "entry names must be unique across sections",
                    key=True,
                )
            else:
                entries[name] = sec

    def check_settings(path: tuple[str | int, ...], node: dict[str, Any]) -> None:
        engine = node.get("engine")
        if isinstance(engine, str) and engine not in ENGINES:
            hint = _hint(engine, ENGINES)
            problem((*path, "engine"), f"unknown engine {engine!r}{hint}")
        for field in ("model", "ip_adapter"):
            model = node.get(field)
            if isinstance(model, str) and model not in models:
                problem((*path, field), f"unknown model {model!r}{_hint(model, models)}")
        for i, use in enumerate(_items(node.get("loras"))):
            name = use.get("name") if isinstance(use, dict) else use
            if isinstance(name, str) and name not in loras:
                problem((*path, "loras", i), f"unknown LoRA {name!r}{_hint(name, loras)}")
        palette = node.get("palette")
        if isinstance(palette, str) and palette not in palettes and palette not in builtin:
            known = sorted(palettes) + sorted(builtin)
            problem((*path, "palette"), f"unknown palette {palette!r}{_hint(palette, known)}")

    check_settings(("project",), project)
    for field in ("assets", "cache", "rust_module"):
        value = project.get(field)
        reason = unsafe_project_path(value) if isinstance(value, str) else None
        if reason:
            problem(("project", field), f"{field}: {reason}")
    if isinstance(project.get("generate"), dict):
        check_settings(("project", "generate"), project["generate"])
    for name, lora in loras.items():
        export = lora.get("export") if isinstance(lora, dict) else None
        reason = unsafe_project_path(export) if isinstance(export, str) else None
        if reason:
            problem(("loras", name, "export"), f"export: {reason}")
        train = lora.get("train") if isinstance(lora, dict) else None
        base = train.get("base") if isinstance(train, dict) else None
        if isinstance(base, str) and base not in models:
            problem(
                ("loras", name, "train", "base"), f"unknown model {base!r}{_hint(base, models)}"
            )

    outputs: dict[str, tuple[str | int, ...]] = {}
    for sec in ENTRY_SECTIONS:
        for name, entry in section(sec).items():
            if not isinstance(entry, dict):
                continue
            path = (sec, name)
            check_settings(path, entry)
            out = entry.get("out")
            if out is None:
                out = default_out(sec, name)
            if isinstance(out, str):
                reason = unsafe_asset_path(out)
                if reason:
                    problem((*path, "out"), reason)
                elif not out.lower().endswith(".png"):
                    problem((*path, "out"), f"'out' must be a .png file, not {out!r}")
                else:
                    norm = out if _PLAIN_PATH.fullmatch(out) else str(PurePosixPath(out))
                    if norm in outputs:
                        here = (*path, "out") if "out" in entry else path
                        other = _entry_label(outputs[norm])
                        problem(
                            here,
                            f"output {out!r} is also written by {other}",
                            key="out" not in entry,
                        )
                    outputs[norm] = path
            base = entry.get("base")
            if isinstance(base, str) and base not in section("sprites"):
                problem((*path, "base"), f"'base' must name a sprite; {base!r} is not one")
            for i, pattern in enumerate(_items(entry.get("include"))):
                if not isinstance(pattern, str):
                    continue
                pool = [n for n, s in entries.items() if s in ("sprites", "animations")]
                if not fnmatch.filter(pool, pattern):
                    problem(
                        (*path, "include", i),
                        f"{pattern!r} matches no sprite or animation{_hint(pattern, pool)}",
                    )
            image = entry.get("image")
            if isinstance(image, str):
                reason = image_input_problem(doc.path.parent, image, limits.IMAGE_PIXELS)
                if reason:
                    problem((*path, "image"), reason)

    for name, pal in palettes.items():
        file = pal.get("file") if isinstance(pal, dict) else None
        if isinstance(file, str):
            reason = palette_input_problem(doc.path.parent, file)
            if reason:
                problem(("palettes", name, "file"), reason)
        builtin_name = pal.get("builtin") if isinstance(pal, dict) else None
        if isinstance(builtin_name, str) and builtin_name not in builtin:
            hint = _hint(builtin_name, builtin)
            problem(
                ("palettes", name, "builtin"), f"unknown built-in palette {builtin_name!r}{hint}"
            )
    return issues


def image_input_problem(root: Path, rel: str, max_pixels: int, noun: str = "image") -> str | None:
    """Why the image file `rel` of the project `root` cannot be an input, or None; its header
    is read (not its pixels) to hold it to `max_pixels`."""
    reason = _input_problem(root, rel, limits.IMAGE_FILE_BYTES, noun)
    if reason is None:
        from pixelbuild.images import image_size_problem

        reason = image_size_problem(root / rel, max_pixels)
    return reason


def palette_input_problem(root: Path, rel: str) -> str | None:
    """Why the palette file `rel` cannot be an input, or None (its colours are read later)."""
    if PurePosixPath(rel).suffix.lower() == ".png":
        return image_input_problem(root, rel, limits.SWATCH_PIXELS, "palette")
    return _input_problem(root, rel, limits.PALETTE_TEXT_BYTES, "palette")


def _input_problem(root: Path, rel: str, limit: int, noun: str) -> str | None:
    try:
        reason = input_file_problem(root, rel, limit)
    except FileNotFoundError:
        return f"{noun} file not found: {rel}"
    return f"{noun} file {reason}" if reason else None


def unsafe_project_path(path: str) -> str | None:
    """Why a project folder or file (`assets`, `cache`, `rust_module`) may not be `path`."""
    reason = path_text_problem(path)
    if reason:
        return f"the path {reason}"
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or (len(path) > 1 and path[1] == ":"):
        return f"{path!r} is absolute; give a path inside the project folder, relative to it"
    if ".." in p.parts:
        return f"{path!r} leaves the project folder ('..'); give a path inside it"
    return None


def _items(value: Any) -> list[Any]:
    """A list field's items, or none when it is something else (pydantic reports that)."""
    return value if isinstance(value, list) else []


# The common output path, checked without pathlib: relative, plain ASCII names (none starting
# with '.', so no '..'), within the length limits (tested below).
_PLAIN_PATH = re.compile(r"(?:[A-Za-z0-9_\-][A-Za-z0-9_.\-]*/)*[A-Za-z0-9_\-][A-Za-z0-9_.\-]*")


def unsafe_asset_path(path: str) -> str | None:
    """Why `path` may not be written under the assets root, or None when it is fine."""
    if (
        len(path) <= limits.PATH_CHARS
        and _PLAIN_PATH.fullmatch(path)
        and max(map(len, path.split("/"))) <= limits.PATH_PART_CHARS
    ):
        return None
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or (len(path) > 1 and path[1] == ":"):
        return f"output paths are relative to the assets root; {path!r} is absolute"
    if ".." in p.parts:
        return f"output paths may not leave the assets root ('..' in {path!r})"
    if not p.parts:
        return "empty output path"
    reason = path_text_problem(path)
    return f"the output path {reason}" if reason else None


def _hint(word: str, candidates: Any) -> str:
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _builtin_palette_names() -> frozenset[str]:
    from pixelbuild.pixel.builtin import BUILTIN_PALETTES

    return frozenset(BUILTIN_PALETTES)
