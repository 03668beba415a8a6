"""The kinds of step a build runs, in one table, and the step itself: a node of the build graph.

A step's key is xxh3-128 over the canonical JSON of its kind, its code version, its own
parameters and the keys of its inputs. A palette change therefore changes the pixelize key and
everything after it, while the generate key (and its cached image) stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

from pixelbuild.cache.hashing import digest_json
from pixelbuild.engines.registry import ENGINE_VERSIONS

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixelbuild.targets.base import Target


@dataclass(frozen=True, slots=True)
class StepKind:
    """One kind of step: what it is called, its code version, and how it runs and is stored.

    `version` is part of every key of this kind: bump it when the step's output would change.
    `action` ("module:function") runs one step given its inputs' results; generate steps run in
    engine batches instead, and train steps with the build's device and progress (see
    run/builder.py). `raw_blobs` stores images quickly encoded (big
    intermediate images); the others are stored small (what users see).
    """

    name: str
    version: str
    label: str  # how progress names it
    action: str | None
    raw_blobs: bool = False
    in_lock: bool = True  # its version is one of an entry's fields ("generate code changed")

    def run(self) -> Callable[..., Any]:
        assert self.action is not None, f"{self.name} steps run in engine batches"
        module, _, function = self.action.partition(":")
        runner: Callable[..., Any] = getattr(import_module(module), function)
        return runner


_ACTIONS = "pixelbuild.run.actions"
SOURCE = StepKind(
    "source", "1", "read images", f"{_ACTIONS}:run_source", raw_blobs=True, in_lock=False
)
GENERATE = StepKind("generate", "1", "generate", None, raw_blobs=True)
PALETTE = StepKind("palette", "1", "palettes", f"{_ACTIONS}:run_palette")
# 3: `image:` entries read their cells with method `fit` (pixel/cellfit.py)
# 4: `fit` blurs colour apart from lightness, picks each cell's colour with its neighbours and
#    takes out what a key colour spilled into the cells beside it (pixel/assign.py)
# 5: `fit` weighs each colour by its share of the picture (assign.py's colour prior)
PIXELIZE = StepKind("pixelize", "5", "pixelize", f"{_ACTIONS}:run_pixelize")
# 3: PNG bytes from pixelbuild/png.py (the same on every platform)
ASSEMBLE = StepKind("assemble", "3", "assemble", f"{_ACTIONS}:run_assemble")
TRAIN = StepKind("train", "1", "train LoRAs", None, in_lock=False)  # run/training.py

STEP_KINDS: dict[str, StepKind] = {
    k.name: k for k in (SOURCE, TRAIN, GENERATE, PALETTE, PIXELIZE, ASSEMBLE)
}
STEP_VERSIONS: dict[str, str] = {k.name: k.version for k in STEP_KINDS.values()}


@dataclass(eq=False)
class Step:
    """One unit of cached work, owned by a target. `params` (and nothing else) is hashed."""

    kind: StepKind
    target: Target
    params: dict[str, Any]
    inputs: tuple[Step, ...] = ()
    label: str = ""  # the entry it reports as (default: its target's name; 'palette:NAME')
    key: str = field(init=False)

    def __post_init__(self) -> None:
        version = self.kind.version
        if self.kind is GENERATE:
            version += "/" + ENGINE_VERSIONS.get(self.params["engine"], "?")
        self.label = self.label or self.target.name
        self.key = digest_json(
            {
                "kind": self.kind.name,
                "version": version,
                "params": self.params,
                "inputs": [s.key for s in self.inputs],
            }
        )


def ancestors(step: Step) -> list[Step]:
    """`step` and every step it depends on, each once, `step` first."""
    seen: dict[str, Step] = {}
    todo = [step]
    while todo:
        s = todo.pop()
        if s.key not in seen:
            seen[s.key] = s
            todo.extend(reversed(s.inputs))
    return list(seen.values())
