"""Build a tiny, random-weight IP-Adapter for the tiny SDXL of `sdxl_tiny.py`, offline.

`build_tiny_ip_adapter(root)` writes, under `root`,

- `ip-adapter_tiny.safetensors`: IP-Adapter weights in the layout diffusers' `load_ip_adapter`
  reads (the layout of h94/IP-Adapter's `ip-adapter_sdxl.safetensors`): `image_proj.proj.weight`
  (4 tokens x cross_attention_dim, projection_dim), `image_proj.proj.bias`, `image_proj.norm.*`,
  and for the n-th cross-attention layer of the UNet (in `unet.attn_processors` order, counting
  self- and cross-attention) `ip_adapter.{n}.to_k_ip.weight` / `.to_v_ip.weight`, each
  (that block's hidden size, cross_attention_dim), with n = 1, 3, 5, ...
- `image_encoder/`: a tiny `CLIPVisionModelWithProjection` (config.json, model.safetensors) and a
  `CLIPImageProcessor` (preprocessor_config.json) that crops to 32 pixels,

which is the layout of one `sdxl_models/` folder of h94/IP-Adapter. Weights are seeded random
numbers (large enough that a reference visibly changes the tiny model's output).
`build_ip_adapter_weights(path, unet_config, ...)` writes only the weights file, for any UNet
config (a wrong one makes an adapter that does not fit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from sdxl_tiny import _configs

WEIGHTS = "ip-adapter_tiny.safetensors"
#: The tiny image encoder: ViT with 8-pixel patches on 32-pixel crops, 32-wide embeddings.
ENCODER = dict(
    hidden_size=32,
    intermediate_size=37,
    num_attention_heads=4,
    num_hidden_layers=2,
    image_size=32,
    patch_size=8,
    projection_dim=32,
)
TOKENS = 4  # image tokens of a plain (not "plus") IP-Adapter


def _hidden_size(name: str, block_out_channels: list[int]) -> int:
    """The hidden size of the attention layer `name`, as diffusers sizes its IP processors."""
    if name.startswith("mid_block"):
        return block_out_channels[-1]
    block = int(name.split(".")[1])
    if name.startswith("up_blocks"):
        return list(reversed(block_out_channels))[block]
    return block_out_channels[block]


def ip_adapter_state(
    unet_config: dict[str, Any], image_embed_dim: int, seed: int, std: float = 0.3
) -> dict[str, torch.Tensor]:
    """Random IP-Adapter weights (flat `image_proj.` / `ip_adapter.` keys) for a UNet config."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_config(unet_config)
    cross = int(unet.config.cross_attention_dim)
    channels = list(unet.config.block_out_channels)
    gen = torch.Generator("cpu").manual_seed(seed)

    def rand(*shape: int, scale: float = std) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * scale

    state = {
        "image_proj.proj.weight": rand(TOKENS * cross, image_embed_dim),
        "image_proj.proj.bias": rand(TOKENS * cross, scale=0.1),
        "image_proj.norm.weight": 1 + rand(cross, scale=0.1),
        "image_proj.norm.bias": rand(cross, scale=0.1),
    }
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue  # self-attention has no image branch (but counts: key_id += 2 per pair)
        hidden = _hidden_size(name, channels)
        state[f"ip_adapter.{key_id}.to_k_ip.weight"] = rand(hidden, cross)
        state[f"ip_adapter.{key_id}.to_v_ip.weight"] = rand(hidden, cross)
        key_id += 2
    return {k: v.contiguous() for k, v in state.items()}


def build_ip_adapter_weights(
    path: Path, unet_config: dict[str, Any], image_embed_dim: int = 32, seed: int = 0
) -> Path:
    """Write IP-Adapter weights for `unet_config` to the .safetensors file `path`."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(ip_adapter_state(unet_config, image_embed_dim, seed), str(path))
    return path


def build_image_encoder(folder: Path, seed: int = 0, **overrides: int) -> Path:
    """A tiny CLIP vision encoder with projection and its image processor, saved to `folder`
    (`overrides` change `ENCODER`'s sizes, e.g. projection_dim for an encoder that misfits)."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config = CLIPVisionConfig(**{**ENCODER, **overrides})
    encoder = CLIPVisionModelWithProjection(config).eval()
    encoder.save_pretrained(folder, safe_serialization=True)
    size = int(ENCODER["image_size"])
    CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    ).save_pretrained(folder)
    return folder


def tiny_unet_config() -> dict[str, Any]:
    """The tiny SDXL UNet's constructor arguments (as `sdxl_tiny.build_components` uses them)."""
    return dict(_configs("tiny")["unet"])


def build_tiny_ip_adapter(root: Path, seed: int = 0) -> Path:
    """Write a tiny IP-Adapter for the tiny SDXL under `root` (see the module docstring) and
    return `root`; the weights are `root / WEIGHTS`, the image encoder `root / "image_encoder"`."""
    root.mkdir(parents=True, exist_ok=True)
    build_image_encoder(root / "image_encoder", seed)
    build_ip_adapter_weights(
        root / WEIGHTS, tiny_unet_config(), int(ENCODER["projection_dim"]), seed + 1
    )
    return root
