"""How a build runs its batches of generate steps: in this process, or elsewhere (a Ray cluster).

The builder forms the batches (run/schedule.py: the same batches wherever they run), hands each
to a `GenerationRunner` and stores what comes back; it stays the only writer of the cache state
and the lock. A runner only paints: it takes a `Batch`, and `wait` returns each finished one with
its images or the error that stopped it. `LocalRunner` runs one batch at a time through the
builder's own engine; `pixelbuild.run.cluster.RayRunner` keeps several batches in flight on
remote actors. Either way a batch's images, provenance and keys are the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pixelbuild import __version__
from pixelbuild.engines.registry import ENGINES, get_engine
from pixelbuild.errors import PixelbuildError

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.engines.base import Engine, GenerateRequest, ProgressFn
    from pixelbuild.plan.steps import Step


@dataclass(frozen=True, slots=True)
class Batch:
    """Generate steps that share one engine call, with their requests (in step order)."""

    steps: list[Step]
    engine: Engine
    requests: list[GenerateRequest]
    progress: ProgressFn | None = None


@dataclass(frozen=True, slots=True)
class Generated:
    """A batch's images (one RGBA array per step, in order), what made them, and the seconds
    per image it took."""

    images: list[np.ndarray]
    provenance: dict[str, Any]
    seconds: float


@dataclass(frozen=True, slots=True)
class Finished:
    """A batch that came back: `outcome` is its images, or the error that stopped it."""

    batch: Batch
    outcome: Generated | PixelbuildError | OSError


class GenerationRunner(Protocol):
    """Where batches of generate steps run (see the module docstring)."""

    def batch_size(self, engine: Engine, request: GenerateRequest) -> int:
        """How many requests like `request` one batch carries (a fixed number per engine and
        batch key, so batches are cut the same wherever they run)."""

    def room(self) -> bool:
        """Whether another batch may be submitted now."""

    def submit(self, batch: Batch) -> None:
        """Start (or queue) a batch; it comes back from `wait`."""

    def wait(self) -> list[Finished]:
        """Block until at least one submitted batch is finished and return those that are;
        an empty list when none is in flight."""

    def close(self) -> None:
        """Release what the runner holds (remote actors). Idempotent."""


def code_of(engine: Engine) -> dict[str, str]:
    """The versions of the code that paints for `engine`: pixelbuild's and the engine's."""
    return {"pixelbuild": __version__, "engine": f"{engine.name} {ENGINES[engine.name].version}"}


def provenance_of(engine: Engine) -> dict[str, Any]:
    """What made a batch of images: stored with each generate record, copied to the lock."""
    provenance = getattr(engine, "provenance", None)
    return code_of(engine) | (provenance() if callable(provenance) else {})


def make_engine(name: str, options: dict[str, dict[str, Any]], cache_dir: Path) -> Engine:
    """The engine called `name` with its options (compiled engines also get the cache folder
    where their built UNets live)."""
    kwargs = dict(options.get(name, {}))
    if ENGINES[name].compiled:
        kwargs["cache_dir"] = cache_dir
    return get_engine(name, **kwargs)


def generate(batch: Batch) -> Generated:
    """Run a batch through its engine here (PixelbuildError or OSError when it fails)."""
    started = time.perf_counter()
    images = batch.engine.generate(batch.requests, batch.progress)
    seconds = round((time.perf_counter() - started) / len(batch.requests), 3)
    return Generated(images, provenance_of(batch.engine), seconds)


class LocalRunner:
    """Runs each batch in this process, when `wait` asks for it: one batch at a time."""

    def __init__(self) -> None:
        self._pending: Batch | None = None

    def batch_size(self, engine: Engine, request: GenerateRequest) -> int:
        return engine.batch_size(request)

    def room(self) -> bool:
        return self._pending is None

    def submit(self, batch: Batch) -> None:
        assert self._pending is None, "one batch at a time"
        self._pending = batch

    def wait(self) -> list[Finished]:
        batch, self._pending = self._pending, None
        if batch is None:
            return []
        try:
            return [Finished(batch, generate(batch))]
        except (PixelbuildError, OSError) as exc:
            return [Finished(batch, exc)]

    def close(self) -> None:
        self._pending = None
