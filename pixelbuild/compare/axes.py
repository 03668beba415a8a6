"""The axes of a comparison: each is a list of values of one setting, the baseline first.

An axis changes the entry as the manifest would spell it (its fields as a dict), never the
resolved target: a cell is therefore exactly the entry a `pixelbuild pick` writes, and its steps
have the keys that entry will have. The baseline of a LoRA axis is the entry without that LoRA;
of every other axis, the entry's current setting (no change at all).
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pixelbuild.errors import UsageError
from pixelbuild.manifest.schema import METHODS, Compare, LoraUse, Manifest
from pixelbuild.pixel.builtin import BUILTIN_PALETTES

Data = dict[str, Any]  # an entry's fields as the manifest spells them (model_dump, unset left out)
CURRENT = None  # the value of a baseline that changes nothing


@dataclass(frozen=True)
class Axis(ABC):
    """One setting and the values tried for it; `values[0]` is the baseline."""

    values: tuple[Any, ...]
    kind: ClassVar[str]  # the command-line option / compare-block key it comes from

    @property
    @abstractmethod
    def title(self) -> str:
        """What the axis varies, as a header names it."""

    @abstractmethod
    def label(self, value: Any) -> str:
        """A value as a cell's label says it."""

    @abstractmethod
    def apply(self, data: Data, value: Any) -> None:
        """Change the entry's fields in place to use `value` (the baseline may change none)."""


@dataclass(frozen=True)
class SeedAxis(Axis):
    kind = "seed"
    current: int = 0

    @property
    def title(self) -> str:
        return "seed"

    def label(self, value: Any) -> str:
        return f"seed {self.current if value is CURRENT else value}"

    def apply(self, data: Data, value: Any) -> None:
        if value is not CURRENT:
            data["seed"] = value


@dataclass(frozen=True)
class FieldAxis(Axis):
    """A plain field: `model`, `palette`, or `pixel.method`."""

    kind = "field"
    path: tuple[str, ...] = ()
    current: str = ""

    @property
    def title(self) -> str:
        return self.path[-1]

    def label(self, value: Any) -> str:
        return (
            f"{self.title} {self.current} (current)"
            if value is CURRENT
            else f"{self.title} {value}"
        )

    def apply(self, data: Data, value: Any) -> None:
        if value is CURRENT:
            return
        node = data
        for part in self.path[:-1]:
            node = node.setdefault(part, {})
        node[self.path[-1]] = value


@dataclass(frozen=True)
class LoraAxis(Axis):
    """Weights of one LoRA; the baseline (weight 0) leaves the LoRA out."""

    kind = "lora"
    name: str = ""
    inherited: tuple[Any, ...] = ()  # the project's `generate.loras`, when the entry sets none

    @property
    def title(self) -> str:
        return f"LoRA {self.name}"

    def label(self, value: Any) -> str:
        return f"no {self.name}" if value == 0 else f"{self.name} \u00d7{value:g}"

    def apply(self, data: Data, value: Any) -> None:
        current = data.get("loras")
        uses = list(self.inherited if current is None else current)
        names = [u if isinstance(u, str) else u["name"] for u in uses]
        if self.name in names:
            at = names.index(self.name)
            del uses[at]
        else:
            at = len(uses)
        if value != 0:
            uses.insert(at, {"name": self.name, "weight": value})
        data["loras"] = uses


@dataclass(frozen=True)
class PromptAxis(Axis):
    """Words put in place of one word of the prompt; the baseline is the prompt as it is."""

    kind = "prompt_replace"
    word: str = ""

    @property
    def title(self) -> str:
        return f"prompt '{self.word}'"

    def label(self, value: Any) -> str:
        return f"'{self.word}'" if value is CURRENT else f"'{value}'"

    def apply(self, data: Data, value: Any) -> None:
        if value is not CURRENT:
            data["prompt"] = data["prompt"].replace(self.word, value)


# --- reading axes ----------------------------------------------------------------------------

# The command-line options, in the order `compare --help` lists them, and the block's keys.
OPTIONS = ("seed", "lora", "model", "palette", "method", "prompt_replace")
SEED_PATTERN = re.compile(r"^(\d+)(?:\.\.(\d+))?$")


@dataclass(frozen=True)
class Context:
    """What axes are checked against: the manifest, the entry's fields and its resolved values."""

    manifest: Manifest
    data: Data
    seed: int
    model: str | None
    palette: str
    method: str


def parse_option(kind: str, text: str, ctx: Context) -> Axis:
    """One axis from its command-line spelling (`--seed 1..8`, `--lora pixel-art=0,0.6`)."""
    if kind == "seed":
        return _seed_axis(_seeds(text), ctx)
    if kind in ("lora", "prompt_replace"):
        key, sep, rest = text.partition("=")
        if not sep or not key.strip() or not rest.strip():
            example = "pixel-art=0,0.6,1.0" if kind == "lora" else "knight=paladin,rogue"
            option = kind.replace("_", "-")
            raise UsageError(f"--{option} {text!r}: expected NAME=V1,V2,... (e.g. {example})")
        values = _split(rest)
        if kind == "lora":
            return _lora_axis(key.strip(), [_weight(v, key) for v in values], ctx)
        return _prompt_axis(key.strip(), values, ctx)
    return _field_axis(kind, _split(text), ctx)


def block_axes(block: Compare, order: Sequence[str], ctx: Context) -> list[Axis]:
    """The axes of a manifest `compare:` block, in `order` (its keys as the file writes them)."""
    axes: list[Axis] = []
    for key in order:
        value = getattr(block, key, None)
        if value is None:
            continue
        if key == "seed":
            axes.append(_seed_axis(_seeds(value) if isinstance(value, str) else value, ctx))
        elif key == "lora":
            axes.extend(_lora_axis(name, weights, ctx) for name, weights in value.items())
        elif key == "prompt_replace":
            axes.extend(_prompt_axis(word, words, ctx) for word, words in value.items())
        else:
            axes.append(_field_axis(key, value, ctx))
    return axes


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in _split(text):
        m = SEED_PATTERN.match(part)
        if not m:
            raise UsageError(f"seed {part!r}: expected a number or a range like 1..8")
        first, last = int(m[1]), int(m[2] or m[1])
        if last < first:
            raise UsageError(f"seed range {part!r} runs backwards")
        seeds.extend(range(first, last + 1))
    return seeds


def _seed_axis(seeds: Sequence[int], ctx: Context) -> SeedAxis:
    tried = [s for s in dict.fromkeys(seeds) if s != ctx.seed]
    return SeedAxis((CURRENT, *tried), current=ctx.seed)


def _lora_axis(name: str, weights: Sequence[float], ctx: Context) -> LoraAxis:
    if name not in ctx.manifest.loras:
        raise UsageError(f"unknown LoRA {name!r}{_hint(name, ctx.manifest.loras)}")
    inherited = ctx.manifest.project.generate.loras or []
    spelled = tuple(u if isinstance(u, str) else _use(u) for u in inherited)
    tried = [w for w in dict.fromkeys(weights) if w != 0]
    return LoraAxis((0, *tried), name=name, inherited=spelled)


def _use(u: LoraUse) -> dict[str, Any]:
    return u.model_dump(exclude_none=True)


def _prompt_axis(word: str, words: Sequence[str], ctx: Context) -> PromptAxis:
    prompt = ctx.data.get("prompt")
    if not isinstance(prompt, str) or word not in prompt:
        raise UsageError(f"the prompt has no {word!r} to replace (it is {prompt!r})")
    return PromptAxis((CURRENT, *[w for w in dict.fromkeys(words) if w != word]), word=word)


def _field_axis(kind: str, values: Sequence[str], ctx: Context) -> FieldAxis:
    m = ctx.manifest
    path: tuple[str, ...]
    if kind == "model":
        known: Sequence[str] = list(m.models)
        path, current = ("model",), ctx.model or "none"
    elif kind == "palette":
        known = [*BUILTIN_PALETTES, *m.palettes]
        path, current = ("palette",), ctx.palette
    else:
        known = METHODS
        path, current = ("pixel", "method"), ctx.method
    for value in values:
        if value not in known:
            raise UsageError(f"unknown {kind} {value!r}{_hint(value, known)}")
    tried = [v for v in dict.fromkeys(values) if v != current]
    return FieldAxis((CURRENT, *tried), path=path, current=current)


def _split(text: str) -> list[str]:
    parts = [p.strip() for p in str(text).split(",")]
    if not all(parts):
        raise UsageError(f"{text!r}: an empty value in the list")
    return parts


def _weight(text: str, lora: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        raise UsageError(f"--lora {lora}: {text!r} is not a weight (a number like 0.8)") from None
    if not -4 <= weight <= 4:
        raise UsageError(f"--lora {lora}: weight {weight:g} is outside -4..4")
    return weight


def _hint(word: str, known: Any) -> str:
    match = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
