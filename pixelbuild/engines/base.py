"""The engine interface: a batch of generation requests in, one RGBA image per request out.

Engines are looked up by name (`engine: procedural` in the manifest). Everything that decides an
image's pixels is in the request, so the build can key a generate step on the request alone; an
engine adds its own code version through `version`. Heavy libraries (torch, diffusers) are imported
inside `generate`, never at module import, so planning a build stays instant.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pixelbuild.defaults import GENERATION, STRENGTH

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class LoraRef:
    """A LoRA applied to one request: its file (already fingerprinted) and weight."""

    name: str
    path: Path
    digest: str
    weight: float


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model as the manifest names it, resolved to where its weights live.

    `source` is one of "hub" (a repository id looked up in the local Hugging Face cache),
    "folder" (a diffusers folder) or "file" (a single-file checkpoint). `digest` fingerprints the
    weights' content, so renaming a model does not rebuild and swapping its file does.
    """

    name: str
    source: str
    location: str
    digest: str
    vae: str | None = None
    config: str | None = None
    allow_pickle: bool = False
    dtype: str | None = None


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """Everything that decides one generated image.

    `width` and `height` are the canvas the engine paints at (the pixelize step reduces it to the
    entry's target size). `init_image` plus `strength` asks for img2img from a base image (used to
    keep an animation's frames consistent); with `mask` too ((h, w) uint8, 255: repaint) it asks
    for inpainting (engines that cannot inpaint ignore it); `tileable` asks for an image that
    wraps at its edges.
    `view` is the side a character is seen from (s, w, n, e, sw, nw, ne, se; None: not a
    character). `references` are identity/style images (RGBA) the image must follow, at
    `reference_scale` (0: ignored), through the IP-Adapter `ip_adapter` (SDXL engines).
    Defaults are the manifest's (`pixelbuild.defaults`).
    """

    entry: str
    prompt: str
    seed: int
    width: int
    height: int
    negative_prompt: str = GENERATION["negative"]
    steps: int = GENERATION["steps"]
    guidance: float = GENERATION["guidance"]
    scheduler: str = GENERATION["scheduler"]
    model: ModelRef | None = None
    loras: tuple[LoraRef, ...] = ()
    tileable: bool = False
    init_image: np.ndarray | None = field(default=None, compare=False, hash=False)
    strength: float = STRENGTH
    mask: np.ndarray | None = field(default=None, compare=False, hash=False)
    frame: int = 0
    frames: int = 1
    fallback: str = GENERATION["fallback"]  # "eager": compiled engines may run diffusers
    view: str | None = None
    references: tuple[np.ndarray, ...] = field(default=(), compare=False, hash=False)
    reference_scale: float = 0.0
    ip_adapter: ModelRef | None = None


# (request index, step done, steps in all) -> None. Called as generation progresses.
ProgressFn = Callable[[int, int, int], None]


class Engine(Protocol):
    """What the build needs from an engine."""

    name: str
    #: Bumped whenever the engine's code would paint different pixels for the same request.
    version: str

    def batch_key(self, request: GenerateRequest) -> Hashable:
        """Requests with equal batch keys may share one call (same model, LoRAs, canvas...)."""

    def batch_size(self, request: GenerateRequest) -> int:
        """How many requests like this one a single `generate` call should carry."""

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressFn | None = None
    ) -> list[np.ndarray]:
        """Paint one image per request: uint8 arrays of shape (height, width, 4), RGBA."""

    def close(self) -> None:
        """Free what the engine holds (GPU memory, compiled engines). Idempotent."""
