"""YAML loading that remembers where every node came from, so errors can point at file:line:col."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pixelbuild.errors import Issue, Location, ManifestError

try:  # libyaml is ~10x faster on large manifests; PyYAML wheels ship it
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - only on builds of PyYAML without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed YAML file: its plain data and the node tree for locating paths in it."""

    path: Path
    data: Any
    root: yaml.Node | None

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        """Where the node at `path` starts; with `key=True`, where its key is written.

        Elements of `path` that do not exist in the document (union tags in pydantic's error
        locations, a missing field) are skipped, so the deepest existing node is returned.
        """
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
    """Parse a YAML file into plain data, keeping the node tree; syntax errors carry positions."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([Issue("file not found", Location(path, 1, 1))]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            [Issue(f"not UTF-8 text ({exc.reason})", Location(path, 1, 1))]
        ) from None
    loader = SafeLoader(text)
    duplicates: list[Issue] = []
    try:
        root = loader.get_single_node()
        data = _construct(loader, root, path, duplicates) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        # An unclosed quote or bracket is reported at the end of the file; where it was opened
        # (the context) is where the user must look.
        scanning = isinstance(exc, yaml.scanner.ScannerError) and exc.context_mark is not None
        mark = exc.context_mark if scanning else exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        problem = f"{exc.problem} ({exc.context})" if scanning else exc.problem or str(exc)
        raise ManifestError([Issue(f"invalid YAML: {problem}", where)]) from None
    except RecursionError:
        where = Location(path, 1, 1)
        raise ManifestError([Issue("invalid YAML: an alias refers to itself", where)]) from None
    finally:
        loader.dispose()
    if duplicates:
        raise ManifestError(duplicates)
    return Document(path, data, root)


STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct(loader: SafeLoader, node: yaml.Node, path: Path, duplicates: list[Issue]) -> Any:
    """Plain data from a composed node.

    Strings, most of a manifest, are taken as they are; other scalars go through PyYAML's safe
    constructors. A key repeated within one mapping is reported (PyYAML silently keeps the
    last); keys brought in by a `<<:` merge may be overridden, as YAML intends.
    """
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == STR_TAG else loader.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path, duplicates) for item in node.value]
    if not isinstance(node, yaml.MappingNode):
        return loader.construct_object(node, deep=True)
    seen: set[object] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != MERGE_TAG:
            if key.value in seen:
                message = f"duplicate key {key.value!r} (an earlier one is overridden)"
                duplicates.append(Issue(message, Location(path, *_pos(key))))
            seen.add(key.value)
    if any(key.tag == MERGE_TAG for key, _ in node.value):
        loader.flatten_mapping(node)  # merged keys first, then the mapping's own
    mapping: dict[Any, Any] = {}
    for key, value in node.value:
        k = _construct(loader, key, path, duplicates)
        v = _construct(loader, value, path, duplicates)
        try:
            mapping[k] = v
        except TypeError:  # a list or mapping as a key
            where = Location(path, *_pos(key))
            message = "invalid YAML: a mapping key must be a plain value"
            raise ManifestError([Issue(message, where)]) from None
    return mapping


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
