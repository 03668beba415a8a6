"""LoRA adapters on a loaded SDXL pipeline: loaded once, switched with `set_adapters` per batch.

A LoRA at weight 0 counts as absent, so it paints exactly what no LoRA paints (and batches with it).
kohya and diffusers `.safetensors` files both load: diffusers converts kohya keys on load.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixelbuild.engines.base import LoraRef
from pixelbuild.errors import EngineError


def active_loras(loras: Sequence[LoraRef]) -> tuple[LoraRef, ...]:
    """The LoRAs that change the image: weight 0 drops out."""
    return tuple(lora for lora in loras if lora.weight != 0)


def adapter_name(lora: LoraRef) -> str:
    """A peft adapter name (no dots) unique to the LoRA's content."""
    return re.sub(r"[^A-Za-z0-9_]", "_", lora.name) + "_" + lora.digest[:12]


class LoraState:
    """Which adapters a pipeline holds and whether LoRA layers are enabled."""

    def __init__(self) -> None:
        self.loaded: set[str] = set()
        self.active: tuple[tuple[str, float], ...] | None = None
        self.enabled = True

    def activate(self, pipe: Any, loras: Sequence[LoraRef], entries: str) -> None:
        """Make exactly `loras` (at their weights) active on `pipe`, loading new files once."""
        wanted: dict[str, float] = {}
        for lora in active_loras(loras):
            name = adapter_name(lora)
            if name not in self.loaded:
                self._load(pipe, lora, name, entries)
            wanted[name] = wanted.get(name, 0.0) + float(lora.weight)
        target = tuple(wanted.items())
        if target == self.active:
            return
        if not target:
            if self.loaded and self.enabled:
                pipe.disable_lora()
                self.enabled = False
        else:
            if not self.enabled:
                pipe.enable_lora()
                self.enabled = True
            pipe.set_adapters(list(wanted), adapter_weights=list(wanted.values()))
        self.active = target

    def _load(self, pipe: Any, lora: LoraRef, name: str, entries: str) -> None:
        path = Path(lora.path)
        if not path.is_file():
            raise EngineError.about(entries, f"LoRA {lora.name!r}: file {path} not found")
        if path.suffix.lower() != ".safetensors":
            raise EngineError.about(
                entries,
                f"LoRA {lora.name!r}: {path.name} is not a .safetensors file; pickled "
                "LoRAs are refused (loading a pickle can run code): convert it to .safetensors",
            )
        try:
            pipe.load_lora_weights(str(path), adapter_name=name)
        except Exception as exc:
            raise EngineError.about(
                entries,
                f"LoRA {lora.name!r} ({path}) does not fit this SDXL model: "
                f"{type(exc).__name__}: {exc}",
            ) from exc
        self.loaded.add(name)
        self.active = None  # loading may change which adapters are active
