"""Engines turn generation requests into images. `get_engine(name)` loads one lazily."""

from __future__ import annotations

from importlib import import_module

from pixelbuild.engines.base import Engine, GenerateRequest, LoraRef, ModelRef, ProgressFn
from pixelbuild.errors import EngineError

# name -> "module:factory"; the module is imported only when the engine is first used.
ENGINES: dict[str, str] = {
    "procedural": "pixelbuild.engines.procedural:ProceduralEngine",
    "diffusers": "pixelbuild.engines.sdxl:DiffusersEngine",
    "inductor": "pixelbuild.engines.compiled.engine:InductorEngine",
    "tensorrt": "pixelbuild.engines.compiled.engine:TensorRTEngine",
}
# Engines that run compiled UNets out of the project cache; they are given `cache_dir`.
COMPILED_ENGINES = frozenset({"inductor", "tensorrt"})

__all__ = [
    "COMPILED_ENGINES",
    "ENGINES",
    "Engine",
    "GenerateRequest",
    "LoraRef",
    "ModelRef",
    "ProgressFn",
    "get_engine",
]


def get_engine(name: str, **options: object) -> Engine:
    """Create the engine called `name`; options come from the project settings and the CLI."""
    try:
        target = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise EngineError(f"unknown engine {name!r} (known: {known})") from None
    module_name, _, factory = target.partition(":")
    module = import_module(module_name)
    return getattr(module, factory)(**options)


# Bumped when an engine would paint different pixels for the same request; part of every
# generate key. Kept here (not on the engine classes) so planning never imports an engine.
ENGINE_VERSIONS: dict[str, str] = {
    "procedural": "1",
    "diffusers": "1",
    "inductor": "1",
    "tensorrt": "1",
}
