"""Engines turn generation requests into images. `get_engine(name)` loads one lazily."""

from __future__ import annotations

from pixelbuild.engines.base import Engine, GenerateRequest, LoraRef, ModelRef, ProgressFn
from pixelbuild.engines.registry import (
    COMPILED_ENGINES,
    ENGINE_VERSIONS,
    ENGINES,
    MODEL_ENGINES,
    EngineSpec,
    engine_spec,
    get_engine,
)

__all__ = [
    "COMPILED_ENGINES",
    "ENGINES",
    "ENGINE_VERSIONS",
    "MODEL_ENGINES",
    "Engine",
    "EngineSpec",
    "GenerateRequest",
    "LoraRef",
    "ModelRef",
    "ProgressFn",
    "engine_spec",
    "get_engine",
]
