"""Build tiny, random-weight SDXL pipelines and LoRAs offline, for tests and the bench.

Nothing here downloads anything: every component is built from a config, the tokenizer is written
from a byte-level vocabulary, and the weights are random (seeded). `build_tiny_assets(root)` writes

- `folder/`: a diffusers folder (model_index.json, safetensors weights),
- `config/`: the same folder without any weights (what `from_single_file(config=...)` needs),
- `tiny-sdxl.safetensors`: one single-file checkpoint in the original (SGM/LDM) key layout that
  model sites share, converted from the diffusers weights by the mappers below,
- `tiny-sdxl.ckpt`: the same checkpoint pickled (to test that pickles are refused),
- LoRAs made with peft (random `lora_B`, so they change the output) in diffusers format, and one in
  kohya format (`lora_unet_input_blocks_..._to_q.lora_down.weight` + `.alpha`).

`arch="sdxl"` builds the real SDXL-base architecture (2.6 G UNet parameters) with random weights,
for benchmarking on a GPU.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

# SDXL-base's scheduler settings (EulerDiscreteScheduler, as the base repository ships it).
SDXL_SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "prediction_type": "epsilon",
    "interpolation_type": "linear",
    "use_karras_sigmas": False,
}

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def _configs(arch: str) -> dict[str, dict[str, Any]]:
    """Constructor arguments of each component for `arch` ("tiny" or "sdxl")."""
    if arch == "tiny":
        # The encoders' widths must differ: single-file loading tells them apart by width.
        te = dict(intermediate_size=37, num_attention_heads=4, num_hidden_layers=3)
        return {
            "unet": dict(
                sample_size=8,
                block_out_channels=(32, 64),
                layers_per_block=2,
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                attention_head_dim=(2, 4),
                transformer_layers_per_block=(1, 2),
                use_linear_projection=True,
                cross_attention_dim=80,  # 32 (encoder 1) + 48 (encoder 2)
                addition_embed_type="text_time",
                addition_time_embed_dim=8,
                projection_class_embeddings_input_dim=80,  # 6 * 8 + 32 (pooled, encoder 2)
                norm_num_groups=16,
            ),
            # Four levels, so one latent is 8x8 pixels as in SDXL.
            "vae": dict(
                block_out_channels=(16, 16, 32, 32),
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=1,
                latent_channels=4,
                norm_num_groups=8,
                sample_size=64,
                scaling_factor=0.13025,
                force_upcast=True,
            ),
            "text_encoder": dict(te, hidden_size=32, hidden_act="quick_gelu", projection_dim=32),
            "text_encoder_2": dict(te, hidden_size=48, hidden_act="gelu", projection_dim=32),
        }
    if arch == "sdxl":
        return {
            "unet": dict(
                sample_size=128,
                block_out_channels=(320, 640, 1280),
                layers_per_block=2,
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                attention_head_dim=(5, 10, 20),
                transformer_layers_per_block=(1, 2, 10),
                use_linear_projection=True,
                cross_attention_dim=2048,
                addition_embed_type="text_time",
                addition_time_embed_dim=256,
                projection_class_embeddings_input_dim=2816,
            ),
            "vae": dict(
                block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=2,
                latent_channels=4,
                sample_size=1024,
                scaling_factor=0.13025,
                force_upcast=True,
            ),
            "text_encoder": dict(
                hidden_size=768,
                intermediate_size=3072,
                num_attention_heads=12,
                num_hidden_layers=12,
                hidden_act="quick_gelu",
                projection_dim=768,
            ),
            "text_encoder_2": dict(
                hidden_size=1280,
                intermediate_size=5120,
                num_attention_heads=20,
                num_hidden_layers=32,
                hidden_act="gelu",
                projection_dim=1280,
            ),
        }
    raise ValueError(f"unknown arch {arch!r}")


def _bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable character table of byte-level BPE (GPT-2, CLIP)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build_tokenizer(max_length: int = 77):
    """A CLIP tokenizer over single bytes (no merges), written locally: 514 tokens."""
    from transformers import CLIPTokenizer

    chars = list(_bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab[BOS] = 512
    vocab[EOS] = 513
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def build_components(arch: str = "tiny", seed: int = 0) -> dict[str, Any]:
    """Every component of a StableDiffusionXLPipeline, with seeded random weights."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = _configs(arch)
    ids = dict(vocab_size=514 if arch == "tiny" else 49408, bos_token_id=512, eos_token_id=513)
    ids["pad_token_id"] = 513
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**cfg["unet"])
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(**cfg["vae"])
    torch.manual_seed(seed + 2)
    te1 = CLIPTextModel(CLIPTextConfig(**cfg["text_encoder"], **ids))
    torch.manual_seed(seed + 3)
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(**cfg["text_encoder_2"], **ids))
    tok = build_tokenizer()
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "text_encoder": te1.eval(),
        "text_encoder_2": te2.eval(),
        "tokenizer": tok,
        "tokenizer_2": build_tokenizer(),
        "scheduler": EulerDiscreteScheduler(**SDXL_SCHEDULER),
    }


def build_pipeline(arch: str = "tiny", seed: int = 0):
    """A StableDiffusionXLPipeline with random weights (in memory)."""
    from diffusers import StableDiffusionXLPipeline

    return StableDiffusionXLPipeline(
        **build_components(arch, seed), force_zeros_for_empty_prompt=True
    )


# --- diffusers -> original (SGM) key layout ------------------------------------------------


_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def _resnet_rest(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{_UNET_RESNET.get(head, head)}.{tail}" if tail else _UNET_RESNET.get(head, head)


def unet_key_to_sgm(key: str, config: dict[str, Any]) -> str:
    """A diffusers UNet parameter (or module) path -> its name in an original SDXL checkpoint."""
    lpb = int(config["layers_per_block"])
    up_has_attn = ["CrossAttn" in t for t in config["up_block_types"]]
    for new, old in _UNET_FIXED.items():
        if key == new or key.startswith(new + "."):
            return old + key[len(new) :]
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        b, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        n = 1 + b * (lpb + 1) + j
        return (
            f"input_blocks.{n}.0.{_resnet_rest(rest)}"
            if kind == "resnets"
            else (f"input_blocks.{n}.1.{rest}")
        )
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{(int(m[1]) + 1) * (lpb + 1)}.0.op.{m[2]}"
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"middle_block.{0 if m[1] == '0' else 2}.{_resnet_rest(m[2])}"
    if m := re.match(r"mid_block\.attentions\.0\.(.+)", key):
        return f"middle_block.1.{m[1]}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        b, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        n = b * (lpb + 1) + j
        return (
            f"output_blocks.{n}.0.{_resnet_rest(rest)}"
            if kind == "resnets"
            else (f"output_blocks.{n}.1.{rest}")
        )
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        b = int(m[1])
        return f"output_blocks.{b * (lpb + 1) + lpb}.{2 if up_has_attn[b] else 1}.conv.{m[2]}"
    raise KeyError(f"no original name for UNet key {key!r}")


def _vae_key_to_sgm(key: str, n_up: int) -> str:
    key = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}"
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.{m[2]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(.+)", key):
        return f"decoder.up.{n_up - 1 - int(m[1])}.block.{m[2]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key):
        return f"decoder.up.{n_up - 1 - int(m[1])}.upsample.{m[2]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)", key):
        names = {
            "group_norm": "norm",
            "to_q": "q",
            "to_k": "k",
            "to_v": "v",
            "to_out.0": "proj_out",
        }
        rest = m[2]
        for new, old in names.items():
            if rest.startswith(new + "."):
                rest = old + rest[len(new) :]
        return f"{m[1]}.mid.attn_1.{rest}"
    return key


def _openclip_state(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    simple = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    for k, v in sd.items():
        if k in simple:
            out[prefix + simple[k]] = v
        elif k == "text_projection.weight":
            out[prefix + "text_projection"] = v.T.contiguous()
        elif m := re.match(r"text_model\.encoder\.layers\.(\d+)\.(.+)", k):
            i, rest = m[1], m[2]
            base = f"{prefix}transformer.resblocks.{i}."
            if rest.startswith("self_attn.q_proj."):
                kind = rest.rsplit(".", 1)[1]
                qkv = [
                    sd[f"text_model.encoder.layers.{i}.self_attn.{p}_proj.{kind}"] for p in "qkv"
                ]
                out[f"{base}attn.in_proj_{kind}"] = torch.cat(qkv, 0)
            elif rest.startswith(("self_attn.k_proj.", "self_attn.v_proj.")):
                continue
            else:
                rest = rest.replace("self_attn.out_proj", "attn.out_proj")
                rest = rest.replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2")
                rest = rest.replace("mlp.fc1", "mlp.c_fc").replace("mlp.fc2", "mlp.c_proj")
                out[base + rest] = v
    return out


def to_sgm_state_dict(pipe) -> dict[str, torch.Tensor]:
    """One original-layout SDXL checkpoint (as model sites share it) from a diffusers pipeline."""
    out: dict[str, torch.Tensor] = {}
    ucfg = dict(pipe.unet.config)
    for k, v in pipe.unet.state_dict().items():
        out["model.diffusion_model." + unet_key_to_sgm(k, ucfg)] = v
    n_up = len(pipe.vae.config.up_block_types)
    for k, v in pipe.vae.state_dict().items():
        name = _vae_key_to_sgm(k, n_up)
        if ".mid.attn_1." in name and name.endswith("weight") and v.ndim == 2:
            v = v[:, :, None, None]  # the original VAE attention uses 1x1 convolutions
        out["first_stage_model." + name] = v
    for k, v in pipe.text_encoder.state_dict().items():
        k = k if k.startswith("text_model.") else "text_model." + k
        if not k.endswith("position_ids"):
            out["conditioner.embedders.0.transformer." + k] = v
    out.update(_openclip_state(pipe.text_encoder_2.state_dict(), "conditioner.embedders.1.model."))
    return {k: v.detach().contiguous() for k, v in out.items()}


# --- LoRAs ---------------------------------------------------------------------------------


LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def make_lora_state(unet_config: dict[str, Any], seed: int, rank: int = 4, std: float = 0.3):
    """A peft LoRA on the UNet's attention projections with random lora_A and lora_B.

    Returns (diffusers-format state dict with 'unet.' prefixes, lora_alpha).
    """
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_config(unet_config)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS))
    gen = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if "lora_B" in name or "lora_A" in name:  # a fresh lora_B is zero: no effect
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    state = get_peft_model_state_dict(unet)
    return {f"unet.{k}": v.contiguous() for k, v in state.items()}, rank


def to_kohya(state: dict[str, torch.Tensor], unet_config: dict[str, Any], alpha: float):
    """A diffusers-format UNet LoRA renamed the way kohya's sd-scripts saves SDXL LoRAs."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        m = re.match(r"unet\.(.+)\.lora_([AB])\.weight", k)
        if not m:
            raise KeyError(k)
        module = unet_key_to_sgm(m[1] + ".weight", unet_config).removesuffix(".weight")
        name = "lora_unet_" + module.replace(".", "_")
        out[f"{name}.lora_{'down' if m[2] == 'A' else 'up'}.weight"] = v
        out[f"{name}.alpha"] = torch.tensor(float(alpha))
    return out


# --- everything, on disk ------------------------------------------------------------------


@dataclass(frozen=True)
class TinyAssets:
    """Paths of a tiny SDXL model in every form the engine loads, and some LoRAs."""

    folder: Path
    config: Path
    single_file: Path
    pickle_file: Path
    lora_a: Path
    lora_b: Path
    lora_kohya: Path  # lora_a's weights in kohya format


def build_tiny_assets(root: Path, seed: int = 0) -> TinyAssets:
    """Write a tiny random SDXL model and LoRAs under `root` (about 10 MB, a few seconds)."""
    from diffusers import StableDiffusionXLPipeline
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    pipe = build_pipeline("tiny", seed)
    folder = root / "folder"
    pipe.save_pretrained(folder, safe_serialization=True)

    config = root / "config"
    shutil.copytree(
        folder, config, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"), dirs_exist_ok=True
    )

    sgm = to_sgm_state_dict(pipe)
    single = root / "tiny-sdxl.safetensors"
    save_file(sgm, str(single))
    pickled = root / "tiny-sdxl.ckpt"
    torch.save({"state_dict": sgm}, pickled)

    ucfg = dict(pipe.unet.config)
    paths = {}
    for name, lora_seed in (("a", 101), ("b", 202)):
        state, alpha = make_lora_state(ucfg, lora_seed)
        path = root / f"lora_{name}.safetensors"
        StableDiffusionXLPipeline.save_lora_weights(
            root,
            unet_lora_layers={k.removeprefix("unet."): v for k, v in state.items()},
            weight_name=path.name,
        )
        paths[name] = path
        if name == "a":
            kohya = root / "lora_a_kohya.safetensors"
            save_file(to_kohya(state, ucfg, alpha), str(kohya))
    (root / "BUILT.json").write_text(json.dumps({"seed": seed}))
    return TinyAssets(
        folder=folder,
        config=config,
        single_file=single,
        pickle_file=pickled,
        lora_a=paths["a"],
        lora_b=paths["b"],
        lora_kohya=kohya,
    )
