"""The one table of engines: every fact about an engine that the rest of pixelbuild needs.

The manifest's allowed `engine:` names, the canvas range the resolver clamps to, the code version
in every generate key, which engines need the project's cache folder, the CLI's engine options
and the install hint for a missing extra are all read from `ENGINES`. Standard library only:
planning (and the no-op fast path) reads this table without importing any engine.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from pixelbuild.errors import EngineError

if TYPE_CHECKING:
    from pixelbuild.engines.base import Engine

# How to install each extra. pixelbuild is installed from a checkout (not PyPI); a plain `torch`
# requirement pulls several GB of CUDA packages, so CPU-only machines take torch from the CPU
# wheel index first. torch-tensorrt pins its own torch and CUDA: docs/gb10.md has the versions.
SDXL_INSTALL = (
    "  from the pixelbuild checkout:\n"
    '  pip install -e ".[sdxl]"                              # NVIDIA GPU (CUDA torch)\n'
    "  pip install torch --index-url https://download.pytorch.org/whl/cpu"
    ' && pip install -e ".[sdxl]"   # CPU only'
)
TENSORRT_INSTALL = (
    "  torch-tensorrt and TensorRT must match your torch and CUDA: follow docs/gb10.md, then\n"
    "  from the pixelbuild checkout, with a constraints file pinning torch, torch-tensorrt and\n"
    "  tensorrt:\n"
    '  pip install -e ".[sdxl,tensorrt]" -c constraints.txt'
)
INSTALL = {"sdxl": SDXL_INSTALL, "tensorrt": TENSORRT_INSTALL}


def _installed(module: str) -> bool:
    """Whether `module` can be found; a finder that raises counts as not installed."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, a module without a spec
        return False


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """What pixelbuild knows about an engine without importing it."""

    name: str
    factory: str  # "module:attribute", imported on first use
    version: str  # bumped when the engine would paint different pixels for the same request
    canvas: tuple[int, int]  # the side range (pixels) it paints well at
    summary: str
    needs_model: bool = False  # an SDXL model from `models:` (and takes LoRAs, samplers, ...)
    compiled: bool = False  # runs compiled UNets out of the project cache (gets `cache_dir`)
    modules: tuple[str, ...] = ()  # importable modules it needs
    extra: str | None = None  # the pip extra that installs them

    def missing_modules(self) -> list[str]:
        """The modules this engine needs that are not installed here."""
        return [m for m in self.modules if not _installed(m)]

    def require_installed(self) -> None:
        """Raise an EngineError with the install line when a needed library is missing."""
        missing = self.missing_modules()
        if missing:
            raise EngineError(
                f"the {self.name} engine needs {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed; install the "
                f"[{self.extra}] extra:\n{INSTALL.get(self.extra or '', SDXL_INSTALL)}"
            )


_SDXL_MODULES = ("torch", "diffusers", "transformers", "peft", "safetensors")

ENGINES: dict[str, EngineSpec] = {
    spec.name: spec
    for spec in (
        EngineSpec(
            "procedural",
            "pixelbuild.engines.procedural:ProceduralEngine",
            version="1",
            canvas=(512, 512),
            summary="embedded, deterministic placeholder art on any CPU, no weights",
        ),
        EngineSpec(
            "diffusers",
            "pixelbuild.engines.sdxl:DiffusersEngine",
            version="1",
            canvas=(512, 1536),
            summary="Stable Diffusion XL through diffusers (cuda, mps or cpu)",
            needs_model=True,
            modules=_SDXL_MODULES,
            extra="sdxl",
        ),
        EngineSpec(
            "inductor",
            "pixelbuild.engines.compiled.engine:InductorEngine",
            version="1",
            canvas=(512, 1536),
            summary="SDXL with an AOTInductor-compiled UNet (`pixelbuild engines build`)",
            needs_model=True,
            compiled=True,
            modules=_SDXL_MODULES,
            extra="sdxl",
        ),
        EngineSpec(
            "tensorrt",
            "pixelbuild.engines.compiled.engine:TensorRTEngine",
            version="1",
            canvas=(512, 1536),
            summary="SDXL with a TensorRT-compiled UNet (`pixelbuild engines build`)",
            needs_model=True,
            compiled=True,
            modules=(*_SDXL_MODULES, "torch_tensorrt"),
            extra="tensorrt",
        ),
    )
}

ENGINE_VERSIONS: dict[str, str] = {name: spec.version for name, spec in ENGINES.items()}
COMPILED_ENGINES = frozenset(name for name, spec in ENGINES.items() if spec.compiled)
MODEL_ENGINES = frozenset(name for name, spec in ENGINES.items() if spec.needs_model)


def engine_spec(name: str) -> EngineSpec:
    """The spec of the engine called `name`; an EngineError naming the known ones otherwise."""
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise EngineError(f"unknown engine {name!r} (known: {known})") from None


def get_engine(name: str, **options: Any) -> Engine:
    """Create the engine called `name`; options come from the project settings and the CLI."""
    spec = engine_spec(name)
    spec.require_installed()
    module_name, _, attribute = spec.factory.partition(":")
    factory = getattr(import_module(module_name), attribute)
    engine: Engine = factory(**options)
    return engine
