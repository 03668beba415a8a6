"""The model side of LoRA training: adapters on a loaded SDXL pipeline, cached inputs, the loss.

`LoraModel` adds a peft adapter named `ADAPTER` to the UNet (and, when asked, to both text
encoders), makes only it active and trainable, and takes it off again in `close()`, so the
pipeline paints as before training (other adapters it held must be re-activated by their owner;
its base weights stay at requires_grad False, which inference never needs).
lora_A starts as peft's "gaussian" init (normal, std 1/rank) drawn from a generator seeded by the
run's seed, lora_B at zero, so the initial weights do not depend on torch's global RNG or the
device. Trainable parameters are kept in fp32 whatever the pipeline's precision.

Inputs are cached once: each sample's VAE latent (the posterior mean, times the VAE's
scaling factor; the VAE runs in fp32 when its config asks for an upcast) and, unless the text
encoders train, each caption's embeddings. SDXL's micro-conditioning is the bucket itself:
add_time_ids = (h, w, 0, 0, h, w), as the pipeline passes at inference for that canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from pixelbuild.train.dataset import Sample

ADAPTER = "pixelbuild_train"
UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
TEXT_ENCODERS = ("text_encoder", "text_encoder_2")


class LoraModel:
    """A pipeline with a trainable LoRA adapter, its cached inputs and its training loss."""

    def __init__(
        self,
        pipe: Any,
        rank: int,
        alpha: float,
        train_text_encoder: bool,
        init_generator: Any,
        compute_dtype: Any,
    ) -> None:
        import torch
        from diffusers import DDPMScheduler

        self.pipe = pipe
        self.device = pipe.unet.device
        self.compute_dtype = compute_dtype
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.prediction = self.noise_scheduler.config.prediction_type
        self.parts: dict[str, Any] = {"unet": pipe.unet}
        if train_text_encoder:
            self.parts.update({name: getattr(pipe, name) for name in TEXT_ENCODERS})
        for part in (pipe.unet, pipe.vae, pipe.text_encoder, pipe.text_encoder_2):
            part.requires_grad_(False)
        self._add_adapters(rank, alpha)
        self.params: dict[str, Any] = {}
        for prefix, part in self.parts.items():
            for name, p in part.named_parameters():
                if p.requires_grad:
                    p.data = p.data.float()
                    self.params[f"{prefix}.{name}"] = p
        with torch.no_grad():
            for name, p in self.params.items():
                if ".lora_A." in name:
                    p.copy_(torch.randn(p.shape, generator=init_generator) / rank)
                elif ".lora_B." in name:
                    p.zero_()
        self.latents: list[Any] = []
        self.embeds: dict[str, tuple[Any, Any]] = {}

    def _add_adapters(self, rank: int, alpha: float) -> None:
        from peft import LoraConfig

        for prefix, part in self.parts.items():
            targets = UNET_TARGETS if prefix == "unet" else TEXT_TARGETS
            config = LoraConfig(
                r=rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=targets
            )
            _remove_adapter(part)
            part.add_adapter(config, adapter_name=ADAPTER)
            part.set_adapter(ADAPTER)
            part.train()

    def close(self) -> None:
        """Take the adapters off and put every part back in eval mode."""
        for part in self.parts.values():
            _remove_adapter(part)
            part.eval()

    def autocast(self) -> AbstractContextManager[Any]:
        """Mixed precision on CUDA for a compute dtype below fp32; nothing elsewhere."""
        import torch

        if self.device.type == "cuda" and self.compute_dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.compute_dtype)
        return nullcontext()

    def cache(self, samples: Sequence[Sample]) -> None:
        """Encode every sample's latent and, unless the text encoders train, every caption."""
        import torch

        vae = self.pipe.vae
        vae_dtype = vae.dtype
        upcast = bool(getattr(vae.config, "force_upcast", False)) and vae_dtype == torch.float16
        if upcast:
            vae.to(torch.float32)
        try:
            with torch.no_grad():
                for sample in samples:
                    pixels = torch.from_numpy(sample.pixels).permute(2, 0, 1)[None].float()
                    x = (pixels / 127.5 - 1.0).to(self.device, vae.dtype)
                    mean = vae.encode(x).latent_dist.mode()
                    self.latents.append((mean * vae.config.scaling_factor).float().cpu())
        finally:
            if upcast:
                vae.to(vae_dtype)
        if "text_encoder" not in self.parts:
            with torch.no_grad():
                for caption in dict.fromkeys(s.image.caption for s in samples):
                    self.embeds[caption] = self.encode([caption])

    def encode(self, captions: list[str]) -> tuple[Any, Any]:
        """Prompt embeddings and pooled embeddings of `captions` (cached ones when frozen)."""
        import torch

        if all(c in self.embeds for c in captions):
            pairs = [self.embeds[c] for c in captions]
            return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        with self.autocast():
            embeds, _, pooled, _ = self.pipe.encode_prompt(
                prompt=captions,
                device=self.device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=False,
            )
        return embeds, pooled

    def loss(
        self,
        samples: Sequence[Sample],
        indices: Sequence[int],
        generator: Any,
        snr_gamma: float | None,
    ) -> Any:
        """The (min-SNR weighted) noise-prediction loss of one batch of one bucket."""
        import torch
        from diffusers.training_utils import compute_snr

        latents = torch.cat([self.latents[i] for i in indices])
        noise = torch.randn(latents.shape, generator=generator)
        steps = self.noise_scheduler.config.num_train_timesteps
        t = torch.randint(0, steps, (len(indices),), generator=generator)
        noisy = self.noise_scheduler.add_noise(latents, noise, t)
        if self.prediction == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, t)
        else:
            target = noise
        embeds, pooled = self.encode([samples[i].image.caption for i in indices])
        w, h = samples[indices[0]].bucket
        time_ids = torch.tensor([[h, w, 0, 0, h, w]] * len(indices), dtype=torch.float32)
        dtype = self.pipe.unet.dtype
        with self.autocast():
            pred = self.pipe.unet(
                noisy.to(self.device, dtype),
                t.to(self.device),
                encoder_hidden_states=embeds.to(dtype),
                added_cond_kwargs={
                    "text_embeds": pooled.to(dtype),
                    "time_ids": time_ids.to(self.device, dtype),
                },
            ).sample
        err = (pred.float() - target.to(self.device)) ** 2
        per_sample = err.mean(dim=(1, 2, 3))
        if snr_gamma is not None:
            snr = compute_snr(self.noise_scheduler, t)
            weight = snr.clamp(max=snr_gamma) / (
                snr + 1 if self.prediction == "v_prediction" else snr
            )
            per_sample = per_sample * weight.to(self.device)
        return per_sample.mean()

    def lora_state(self) -> dict[str, dict[str, Any]]:
        """Each part's LoRA weights as peft names them (no adapter name), fp32 on the CPU."""
        from peft.utils import get_peft_model_state_dict

        return {
            prefix: {
                k: v.detach().float().cpu().contiguous().clone()
                for k, v in get_peft_model_state_dict(part, adapter_name=ADAPTER).items()
            }
            for prefix, part in self.parts.items()
        }


def _remove_adapter(part: Any) -> None:
    """Take the training adapter off `part` (a diffusers or transformers model) if it has one."""
    config = getattr(part, "peft_config", None) or {}
    if ADAPTER not in config:
        return
    if hasattr(part, "delete_adapters"):  # diffusers
        part.delete_adapters(ADAPTER)
    else:  # transformers
        part.delete_adapter(ADAPTER)
