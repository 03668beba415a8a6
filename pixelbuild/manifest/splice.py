"""Set or delete one value of a YAML text by splicing at its node's span.

Invariant: one splice changes only the characters of the value it sets (or of the key and value
it deletes, or of the new key it inserts); every other byte of the text (comments, key order,
quoting, flow style, blank lines, multi-line flow lists) is left as it is. A round-trip dumper
(ruamel.yaml) re-emits the whole file, which reflows a flow list written over several lines and
writes `null` as an empty value, so the edit works on PyYAML's node marks (character indexes of
where each node starts and ends) instead. New text is rendered in the style the place takes:
a flow value inside a flow mapping, a block mapping where the file nests blocks; a scalar keeps
its quotes. Each rendered scalar is parsed back before use, so what is written is what was meant.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from typing import Any

import yaml

from pixelbuild.errors import UsageError
from pixelbuild.manifest.source import SafeLoader

Key = str | int
Pair = tuple[yaml.Node | None, yaml.Node]  # (key node, value node); the root has no key


@functools.lru_cache(maxsize=4)
def compose(text: str) -> yaml.Node:
    """The node tree of `text` (an empty text is an empty mapping); cached, as one splice
    looks at the same text more than once (the tree is only read)."""
    node = yaml.compose(text, Loader=SafeLoader)
    return node if node is not None else yaml.MappingNode("tag:yaml.org,2002:map", [])


def set_in(text: str, keys: Sequence[Key], value: Any) -> str:
    """`text` with the value at `keys` set to `value`; missing mappings on the way are made."""
    if not keys:
        raise UsageError("no key to set: name one, e.g. sprites.hero.seed")
    chain = [_root_pair(text)]
    for depth, key in enumerate(keys):
        node = chain[-1][1]
        if _is_null(node):  # `sprites:` with nothing under it: it becomes the mapping
            return _replace(text, chain, _nest(keys[depth:], value))
        child = _child(node, key, keys[:depth])
        if child is None:
            return _insert(text, chain, key, _nest(keys[depth + 1 :], value))
        _refuse_alias(child, keys[: depth + 1])
        chain.append(child)
    return _replace(text, chain, value)


def delete_in(text: str, keys: Sequence[Key]) -> str:
    """`text` without the key at `keys` (and its value); a missing key leaves it unchanged."""
    chain = [_root_pair(text)]
    for depth, key in enumerate(keys):
        node = chain[-1][1]
        child = _child(node, key, keys[:depth]) if not _is_null(node) else None
        if child is None:
            return text
        _refuse_alias(child, keys[: depth + 1])
        chain.append(child)
    return _delete(text, chain, keys)


def _root_pair(text: str) -> Pair:
    return (None, compose(text))


def _nest(keys: Sequence[Key], value: Any) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _child(node: yaml.Node, key: Key, where: Sequence[Key]) -> Pair | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return k, v
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int):
        if 0 <= key < len(node.value):
            return None, node.value[key]
        raise UsageError(f"{_dotted([*where, key])}: index {key} is out of range")
    raise UsageError(f"{_dotted(where) or 'the manifest'} is not a mapping; cannot set {key!r}")


def _refuse_alias(pair: Pair, keys: Sequence[Key]) -> None:
    """An alias (`*name`) is the node of its anchor, written earlier: editing it there would
    change every place that uses the anchor."""
    key, value = pair
    if key is not None and value.start_mark.index < key.end_mark.index:
        raise UsageError(f"{_dotted(keys)} is an alias (*name) of a value written elsewhere; "
                         "edit the anchor (&name) by hand")


def _dotted(keys: Sequence[Key]) -> str:
    return ".".join(str(k) for k in keys)


# --- spans ----------------------------------------------------------------------------------


def _end(text: str, node: yaml.Node) -> int:
    """Where the written content of `node` ends (trailing comments and blank lines excluded)."""
    if isinstance(node, yaml.ScalarNode):
        start = node.start_mark.index
        return start + len(text[start : node.end_mark.index].rstrip())
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        if not node.value:
            return node.start_mark.index
        last = node.value[-1]
        return _end(text, last[1] if isinstance(last, tuple) else last)
    return node.end_mark.index


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _next_line(text: str, index: int) -> int:
    """The start of the line after the one holding `index` (the text's end on its last line)."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _colon(text: str, key: yaml.Node) -> int:
    return text.index(":", key.end_mark.index)


def _in_flow(chain: Sequence[Pair]) -> bool:
    return any(getattr(node, "flow_style", False) for _, node in chain[:-1])


@functools.lru_cache(maxsize=4)
def _step(text: str) -> int:
    """The file's indentation step: how far its first nested block mapping is indented."""
    root = compose(text)
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode) and not node.flow_style:
            for k, v in node.value:
                if isinstance(v, yaml.MappingNode) and not v.flow_style and v.value:
                    return max(1, v.value[0][0].start_mark.column - k.start_mark.column)
            stack.extend(v for _, v in node.value)
    return 2


# --- splices --------------------------------------------------------------------------------


def _replace(text: str, chain: Sequence[Pair], value: Any) -> str:
    key, node = chain[-1]
    start, end = node.start_mark.index, _end(text, node)
    style = getattr(node, "style", None)
    block = isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style
    if key is None:  # an item of a list: written in its place (`- {name: x, weight: 1}`)
        new = render_flow(value, style) if _in_flow(chain) else render_inline(value, style)
        return text[:start] + new + _keep_comment_column(text[end:], end - start - len(new))
    if _in_flow(chain) or not _block_shaped(value):
        new = render_flow(value, style) if _in_flow(chain) else render_inline(value, style)
        if block:
            return text[: _colon(text, key) + 1] + " " + new + text[end:]
        if start == end and text[start - 1] == ":":
            new = " " + new
        return text[:start] + new + _keep_comment_column(text[end:], end - start - len(new))
    # A block value: after the key's line (keeping its comment) when the old one was a block.
    at = _next_line(text, key.end_mark.index) - 1 if block else _colon(text, key) + 1
    after = render_after_colon(value, key.start_mark.column, _step(text))
    return text[:at] + after + text[end:]


def _keep_comment_column(rest: str, shift: int) -> str:
    """`rest` (the text after a replaced scalar) with the spaces before a comment on its line
    changed by `shift`, so aligned comments stay aligned (at least one space is kept)."""
    spaces = len(rest) - len(rest.lstrip(" "))
    if shift == 0 or not rest[spaces:].startswith("#") or spaces == 0:
        return rest
    return " " * max(1, spaces + shift) + rest[spaces:]


def _insert(text: str, chain: Sequence[Pair], key: Key, value: Any) -> str:
    _, mapping = chain[-1]
    assert isinstance(mapping, yaml.MappingNode)
    if mapping.flow_style and not mapping.value and not _in_flow(chain) and chain[-1][0]:
        return _replace(text, chain, {key: value})  # `atlases: {}` becomes a block again
    if mapping.flow_style or _in_flow(chain):
        pair = f"{render_flow(key)}: {render_flow(value)}"
        if not mapping.value:
            at = mapping.start_mark.index + 1
            return text[:at] + pair + text[at:]
        at = _end(text, mapping.value[-1][1])
        return text[:at] + ", " + pair + text[at:]
    if not mapping.value:  # an empty document
        newline = "" if not text or text.endswith("\n") else "\n"
        return text + newline + _pair_lines(key, value, 0, text)
    column = mapping.value[0][0].start_mark.column
    last = mapping.value[-1][1]
    at = _next_line(text, _end(text, last))
    lines = _pair_lines(key, value, column, text)
    if isinstance(value, dict) and isinstance(last, yaml.MappingNode) and last.flow_style:
        # Siblings written on one line each (`hero: {prompt: ...}`): the new one is too.
        lines = " " * column + f"{render_scalar(key, flow=False)}: {render_flow(value)}\n"
    if column == 0 and isinstance(value, dict):
        lines = "\n" + lines  # a new top-level section, set apart as the others are
    if at == len(text) and not text.endswith("\n"):
        lines = "\n" + lines
    return text[:at] + lines + text[at:]


def _pair_lines(key: Key, value: Any, column: int, text: str) -> str:
    return render_block({key: value}, column, _step(text)).lstrip("\n") + "\n"


def _delete(text: str, chain: Sequence[Pair], keys: Sequence[Key]) -> str:
    key, node = chain[-1]
    parent_key, mapping = chain[-2]
    if key is None or not isinstance(mapping, yaml.MappingNode):
        raise UsageError(f"{_dotted(keys)}: only a key of a mapping can be deleted")
    pairs = mapping.value
    i = next(j for j, (k, _) in enumerate(pairs) if k is key)
    if len(pairs) == 1:
        if mapping.flow_style:
            return text[: mapping.start_mark.index] + "{}" + text[mapping.end_mark.index :]
        if parent_key is None:
            raise UsageError(f"{_dotted(keys)} is the manifest's only key; it cannot be deleted")
        return text[: _colon(text, parent_key)] + ": {}" + text[_end(text, mapping) :]
    if mapping.flow_style or _in_flow(chain[:-1]):
        if i > 0:
            return text[: _end(text, pairs[i - 1][1])] + text[_end(text, node) :]
        return text[: key.start_mark.index] + text[pairs[1][0].start_mark.index :]
    start = _line_start(text, key.start_mark.index)
    if text[start : key.start_mark.index].strip():
        raise UsageError(f"{_dotted(keys)} shares its line with another value; delete it by hand")
    return text[:start] + text[_next_line(text, _end(text, node)) :]


# --- rendering ------------------------------------------------------------------------------


def _block_shaped(value: Any) -> bool:
    """Written as block lines: a mapping, or a list of mappings (`loras:` with weights)."""
    if isinstance(value, dict):
        return bool(value)
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, dict) and v for v in value
    )


def render_after_colon(value: Any, key_column: int, step: int) -> str:
    """What follows `key:` for a value of a key at `key_column`: a block one on the next
    lines (a mapping one step in, a list's items `- ` at the key's column), else ` value`."""
    if isinstance(value, dict) and value:
        return render_block(value, key_column + step, step)
    if _block_shaped(value):
        items = []
        for item in value:
            lines = render_block(item, key_column + 2, step)
            items.append("\n" + " " * key_column + "- " + lines.lstrip("\n")[key_column + 2 :])
        return "".join(items)
    return " " + render_inline(value)


def render_block(mapping: dict[Any, Any], column: int, step: int) -> str:
    """`mapping` as block lines at `column`, each after a newline; lists of plain values are
    written in flow (`include: [coin, potion]`), as the manifests of the docs write them."""
    out = []
    for key, value in mapping.items():
        head = " " * column + render_scalar(key, flow=False) + ":"
        out.append("\n" + head + render_after_colon(value, column, step))
    return "".join(out)


def render_inline(value: Any, style: str | None = None) -> str:
    """A value on one line in a block mapping: a scalar as itself, a collection in flow."""
    if isinstance(value, dict | list | tuple):
        return render_flow(value)
    return render_scalar(value, flow=False, style=style)


def render_flow(value: Any, style: str | None = None) -> str:
    if isinstance(value, dict):
        pairs = (f"{render_flow(k)}: {render_flow(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_flow(v) for v in value) + "]"
    return render_scalar(value, flow=True, style=style)


def render_scalar(value: Any, *, flow: bool, style: str | None = None) -> str:
    """`value` as a YAML scalar that reads back as `value` where it is written (a flow
    collection when `flow`); a string keeps `style` (its old quotes) when it can."""
    if value is None or isinstance(value, bool | int | float):
        return _plain_scalar(value)
    if not isinstance(value, str):
        raise UsageError(f"{value!r} is not a value a manifest can hold (a string, number, ...)")
    candidates = []
    if style == "'" and "\n" not in value:
        candidates.append("'" + value.replace("'", "''") + "'")
    if style != '"':
        candidates.append(value)
    candidates += [json.dumps(value, ensure_ascii=False), json.dumps(value)]
    for text in candidates:
        if _reads_back(text, value, flow):
            return text
    return json.dumps(value)  # pragma: no cover - JSON escapes read back in YAML


def _plain_scalar(value: bool | int | float | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, float):
        return yaml.safe_dump(value).split("\n", 1)[0]  # YAML 1.1 floats need a dot: 1.0e-05
    return str(value)


def _reads_back(text: str, value: str, flow: bool) -> bool:
    if "\n" in text or text != text.strip() or not text:
        return False
    probe = f"{{k: {text}, j: 0}}" if flow else f"k: {text}\n"
    try:
        data = yaml.load(probe, Loader=SafeLoader)
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and data.get("k") == value and (not flow or data.get("j") == 0)
