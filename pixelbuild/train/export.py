"""A trained LoRA as `.safetensors` files in diffusers and kohya layouts, with pixelbuild metadata.

- diffusers: what `StableDiffusionXLPipeline.save_lora_weights` writes (`unet.<module>.lora_A
  .weight`, ...), with the peft config in its `lora_adapter_metadata` header, so an alpha other
  than the rank loads right.
- kohya: `lora_unet_<module path, dots as underscores>.lora_down.weight` / `.lora_up.weight` /
  `.alpha` (text encoders `lora_te1_` / `lora_te2_`), the names A1111, ComfyUI and diffusers
  read. Converted here from peft's names: diffusers' `convert_state_dict_to_kohya` on peft's raw
  UNet state drops the `lora_unet_` prefix (the file then fails to load) and writes alpha = rank.

Both files carry `pixelbuild.*` string metadata in the header (see `lora_metadata`); both load with
`pipe.load_lora_weights` and paint the same images. Files are written to a temporary name beside
the target and moved into place.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pixelbuild
from pixelbuild.train.model import TEXT_TARGETS, UNET_TARGETS
from pixelbuild.train.trainer import TrainResult

KOHYA_PREFIX = {"unet": "lora_unet", "text_encoder": "lora_te1", "text_encoder_2": "lora_te2"}
_PEFT_KEY = re.compile(r"(.+)\.lora_([AB])\.weight")


def lora_metadata(
    result: TrainResult, *, base_model: str, trigger: str, dataset_digest: str
) -> dict[str, str]:
    """The header strings pixelbuild writes into a trained LoRA."""
    return {
        "pixelbuild.version": pixelbuild.__version__,
        "pixelbuild.base_model": base_model,
        "pixelbuild.trigger": trigger,
        "pixelbuild.steps": str(result.step),
        "pixelbuild.rank": str(result.rank),
        "pixelbuild.alpha": f"{result.alpha:g}",
        "pixelbuild.dataset": dataset_digest,
    }


def read_metadata(path: Path) -> dict[str, str]:
    """The string header of a `.safetensors` file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def to_kohya(lora: dict[str, dict[str, Any]], alpha: float) -> dict[str, Any]:
    """peft LoRA states per part ("unet", "text_encoder", "text_encoder_2") -> kohya keys."""
    import torch

    out: dict[str, Any] = {}
    for part, state in lora.items():
        for key, value in state.items():
            m = _PEFT_KEY.fullmatch(key)
            if m is None:
                raise ValueError(f"not a peft LoRA weight: {part}.{key}")
            name = f"{KOHYA_PREFIX[part]}_{m[1].replace('.', '_')}"
            out[f"{name}.lora_{'down' if m[2] == 'A' else 'up'}.weight"] = value.contiguous()
            out[f"{name}.alpha"] = torch.tensor(float(alpha))
    return out


def save_kohya(result: TrainResult, path: Path, metadata: dict[str, str]) -> Path:
    """Write `result` in kohya layout to `path`; `path` is returned."""
    header = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(result.rank),
        "ss_network_alpha": f"{result.alpha:g}",
        "ss_base_model_version": "sdxl_base_v1-0",
        "ss_steps": str(result.step),
        **metadata,
    }
    _write(path, to_kohya(result.lora, result.alpha), header)
    return path


def save_diffusers(result: TrainResult, path: Path, metadata: dict[str, str]) -> Path:
    """Write `result` as `save_lora_weights` does, plus `metadata`, to `path` (returned)."""
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from safetensors.torch import load_file

    layers: dict[str, Any] = {}
    for part, state in result.lora.items():
        targets = UNET_TARGETS if part == "unet" else TEXT_TARGETS
        config = LoraConfig(r=result.rank, lora_alpha=result.alpha, target_modules=targets)
        layers[f"{part}_lora_layers"] = convert_state_dict_to_diffusers(state)
        layers[f"{part}_lora_adapter_metadata"] = config.to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".lora-") as tmp:
        StableDiffusionXLPipeline.save_lora_weights(tmp, weight_name=path.name, **layers)
        written = Path(tmp) / path.name
        _write(path, load_file(str(written)), {**read_metadata(written), **metadata})
    return path


def _write(path: Path, tensors: dict[str, Any], header: dict[str, str]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=header)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
