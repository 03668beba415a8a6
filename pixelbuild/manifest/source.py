"""YAML loading that remembers where every node came from, so errors can point at file:line:col."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        # An unclosed quote or bracket is reported at the end of the file; where it was opened
        # (the context) is where the user must look.
        scanning = isinstance(exc, yaml.scanner.ScannerError) and exc.context_mark is not None
        mark = exc.context_mark if scanning else exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        problem = f"{exc.problem} ({exc.context})" if scanning else exc.problem or str(exc)
        raise ManifestError([Issue(f"invalid YAML: {problem}", where)]) from None
    finally:
        loader.dispose()
    duplicates = [
        Issue(f"duplicate key {k.value!r} (an earlier one is overridden)", Location(path, *_pos(k)))
        for k in _duplicate_keys(root)
    ]
    if duplicates:
        raise ManifestError(duplicates)
    return Document(path, data, root)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _duplicate_keys(node: yaml.Node | None) -> Iterator[yaml.Node]:
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[object] = set()
            for k, v in current.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen:
                        yield k
                    seen.add(k.value)
                stack.append(v)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
