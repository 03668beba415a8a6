"""Stable Diffusion XL through diffusers: the `diffusers` engine and the parts its subclasses reuse.

    engine.py      DiffusersEngine: batching, per-image seeds, prompt embeddings, OOM retry
    models.py      devices, precisions, loading a model from the hub cache, a folder or one file
    loras.py       LoRA adapters, loaded once and switched per batch
    references.py  reference images through an IP-Adapter, loaded once and switched per batch
    sampling.py    schedulers by name, seamless tiles, image conversion

The names below are the package's interface (the compiled engines, the benchmarks and the tests use
nothing else). Importing the package imports neither torch nor diffusers: they load on first use.
"""

from __future__ import annotations

from pixelbuild.engines.sdxl.engine import (
    DiffusersEngine,
    LoadedPipeline,
    describe_entries,
)
from pixelbuild.engines.sdxl.models import (
    DTYPES,
    Precision,
    check_model_files,
    load_pipeline,
    model_key,
    resolve_device,
    resolve_dtype,
    torch_dtype,
)
from pixelbuild.engines.sdxl.references import active_references
from pixelbuild.engines.sdxl.sampling import SCHEDULERS, circular_padding

__all__ = [
    "DTYPES",
    "SCHEDULERS",
    "DiffusersEngine",
    "LoadedPipeline",
    "Precision",
    "active_references",
    "check_model_files",
    "circular_padding",
    "describe_entries",
    "load_pipeline",
    "model_key",
    "resolve_device",
    "resolve_dtype",
    "torch_dtype",
]
