"""YAML loading that remembers where every node came from, so errors can point at file:line:col."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pixelbuild import limits
from pixelbuild.errors import Issue, Location, ManifestError
from pixelbuild.inputs import regular_file_problem

try:  # libyaml is ~10x faster on large manifests; PyYAML wheels ship it
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - only on builds of PyYAML without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed YAML file: its plain data and the node tree for locating paths in it.

    A manifest with `include:` (manifest/include.py) is one Document whose data holds every
    file's entries; `parts` names the Document each included entry (section, name) was written
    in, so a path into that entry is located in its own file, and `included` lists the files.
    """

    path: Path
    data: Any
    root: yaml.Node | None
    parts: dict[tuple[str, str], Document] = field(default_factory=dict)
    included: tuple[Path, ...] = ()  # every included file, in the order read

    def _part(self, path: Sequence[str | int]) -> Document | None:
        if self.parts and len(path) >= 2:
            return self.parts.get((str(path[0]), str(path[1])))
        return None

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        """Where the node at `path` starts; with `key=True`, where its key is written.

        Elements of `path` that do not exist in the document (union tags in pydantic's error
        locations, a missing field) are skipped, so the deepest existing node is returned.
        """
        if (doc := self._part(path)) is not None:
            return doc.locate(path, key=key)
        node, key_node = self.root, None
        for part in path:
            child = _child(node, part)
            if child is None:
                continue
            key_node, node = child
        target = key_node if key and key_node is not None else node
        if target is None:
            return Location(self.path, 1, 1)
        mark = target.start_mark
        return Location(self.path, mark.line + 1, mark.column + 1)

    def existing_path(self, path: Sequence[str | int]) -> tuple[str | int, ...]:
        """The elements of `path` that name real nodes (drops pydantic's union tags)."""
        if (doc := self._part(path)) is not None:
            return doc.existing_path(path)
        node, kept = self.root, []
        for part in path:
            child = _child(node, part)
            if child is not None:
                kept.append(part)
                node = child[1]
        return tuple(kept)


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == part or (isinstance(part, int) and k.value == str(part)):
                return k, v
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return None, node.value[part]
    return None


def load_yaml(path: Path) -> Document:
    """Parse a YAML file into plain data, keeping the node tree; syntax errors carry positions.

    Reading is bounded (limits.py): a file that is not a regular file or is too large, nesting
    too deep, or aliases that expand too far are located errors, not a hang or a memory blow-up.
    """
    return parse_yaml(read_text(path), path)


def parse_yaml(text: str, path: Path) -> Document:
    """`load_yaml` of `text` as if read from `path` (an edit checked before it is written)."""
    loader = SafeLoader(text)
    builder = _Builder(loader, path)
    try:
        if len(text) > _SHALLOW_TEXT:
            _check_depth(text, path)
        root = loader.get_single_node()
        data = builder.build(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        # An unclosed quote or bracket is reported at the end of the file; where it was opened
        # (the context) is where the user must look.
        scanning = isinstance(exc, yaml.scanner.ScannerError) and exc.context_mark is not None
        mark = exc.context_mark if scanning else exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        problem = f"{exc.problem} ({exc.context})" if scanning else exc.problem or str(exc)
        raise ManifestError([Issue(f"invalid YAML: {problem}", where)]) from None
    except yaml.reader.ReaderError as exc:  # a control character (NUL, ...) in the text
        line, column = _line_column(text, exc.position)
        message = f"invalid YAML: character {exc.character:#06x} is not allowed ({exc.reason})"
        raise ManifestError([Issue(message, Location(path, line, column))]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML's other errors carry a mark
        raise ManifestError([Issue(f"invalid YAML: {exc}", Location(path, 1, 1))]) from None
    except RecursionError:  # the composer's own nesting (ours is bounded by YAML_DEPTH)
        message = f"invalid YAML: nested too deeply (at most {limits.YAML_DEPTH} levels)"
        raise ManifestError([Issue(message, Location(path, 1, 1))]) from None
    finally:
        loader.dispose()
    if builder.duplicates:
        raise ManifestError(builder.duplicates)
    return Document(path, data, root)


# libyaml's composer recurses in C: ~30,000 levels of nesting crash the process, 20,000 do not.
# A text this short cannot nest deeper than its length; a longer one is measured first.
_SHALLOW_TEXT = 16 * 1024
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_depth(text: str, path: Path) -> None:
    """Refuse nesting deeper than YAML_DEPTH from the event stream (no recursion), located."""
    events = SafeLoader(text)
    try:
        depth = 0
        while (event := events.get_event()) is not None:
            if isinstance(event, _OPEN):
                depth += 1
                if depth > limits.YAML_DEPTH:
                    mark = event.start_mark
                    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                    message = f"nested too deeply (at most {limits.YAML_DEPTH} levels)"
                    issue = Issue(f"invalid YAML: {message}", Location(path, line, column))
                    raise ManifestError([issue])
            elif isinstance(event, _CLOSE):
                depth -= 1
    finally:
        events.dispose()


def read_text(path: Path, limit: int = limits.MANIFEST_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes (a BOM is dropped).

    A folder, a FIFO, a device (a link to /dev/zero) or a file over the limit is a located error
    before anything is read, so reading can neither block nor run away.
    """
    where = Location(path, 1, 1)
    try:
        reason = regular_file_problem(path, limit)
        if reason is None:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
            if len(data) > limit:  # it grew since the stat
                reason = f"is over the {limit / limits.MIB:g} MiB limit"
    except FileNotFoundError:
        raise ManifestError([Issue("file not found", where)]) from None
    except OSError as exc:
        reason = f"cannot be opened ({exc.strerror or exc})"
    if reason is not None:
        raise ManifestError([Issue(f"cannot read this file: it {reason}", where)]) from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not UTF-8 text (byte {data[exc.start]:#04x}: {exc.reason}); save it as UTF-8"
        raise ManifestError([Issue(message, Location(path, line, column))]) from None


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"


class _Builder:
    """Plain data from a composed node tree, within the limits of limits.py.

    Strings, most of a manifest, are taken as they are; other scalars go through PyYAML's safe
    constructors. A key repeated within one mapping is reported (PyYAML silently keeps the
    last); keys brought in by a `<<:` merge may be overridden, as YAML intends. Every value
    built again for an alias is counted, so aliases of aliases cannot expand without end.
    """

    def __init__(self, loader: SafeLoader, path: Path):
        self.loader = loader
        self.path = path
        self.duplicates: list[Issue] = []
        self.copies = 0  # values built again for an alias (once per use, nested ones multiply)
        self.built: set[int] = set()  # ids of the nodes built at least once
        self.open: set[int] = set()  # ids of the collections being built (an alias cycle)

    def _fail(self, node: yaml.Node, message: str) -> ManifestError:
        return ManifestError([Issue(f"invalid YAML: {message}", Location(self.path, *_pos(node)))])

    def build(self, node: yaml.Node, depth: int = 0, copy: bool = False) -> Any:
        copy = copy or id(node) in self.built
        self.built.add(id(node))
        if copy:
            self.copies += 1
            if self.copies > limits.YAML_ALIAS_VALUES:
                raise self._fail(
                    node,
                    f"aliases expand to more than {limits.YAML_ALIAS_VALUES:,} values (aliases "
                    "of aliases multiply); write the values out, or alias less",
                )
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == STR_TAG else self._scalar(node)
        if depth >= limits.YAML_DEPTH:
            raise self._fail(node, f"nested too deeply (at most {limits.YAML_DEPTH} levels)")
        if id(node) in self.open:
            raise self._fail(node, "an alias refers to itself (the value would never end)")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, depth + 1, copy) for item in node.value]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, depth, copy)
            return self._scalar(node)  # pragma: no cover - the composer makes only these kinds
        finally:
            self.open.discard(id(node))

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, TypeError) as exc:  # e.g. a date 2024-13-45
            message = f"{node.value!r} is not a valid {_tag_name(node)} ({exc})"
            raise self._fail(node, message) from None

    def _mapping(self, node: yaml.MappingNode, depth: int, copy: bool) -> dict[Any, Any]:
        seen: set[object] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != MERGE_TAG:
                if key.value in seen:
                    message = f"duplicate key {key.value!r} (an earlier one is overridden)"
                    self.duplicates.append(Issue(message, Location(self.path, *_pos(key))))
                seen.add(key.value)
        if any(key.tag == MERGE_TAG for key, _ in node.value):
            self.loader.flatten_mapping(node)  # merged keys first, then the mapping's own
        mapping: dict[Any, Any] = {}
        for key, value in node.value:
            k = self.build(key, depth + 1, copy)
            v = self.build(value, depth + 1, copy)
            try:
                mapping[k] = v
            except TypeError:  # a list or mapping as a key
                raise self._fail(key, "a mapping key must be a plain value") from None
        return mapping


def _tag_name(node: yaml.Node) -> str:
    return str(node.tag).rsplit(":", 1)[-1]


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
