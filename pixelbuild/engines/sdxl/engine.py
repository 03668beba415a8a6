"""The `diffusers` engine: Stable Diffusion XL through Hugging Face diffusers, on cuda, mps or cpu.

Requests that share a batch key (model, active LoRAs and weights, canvas, scheduler, steps,
guidance, tiling, img2img strength) run through one pipeline call per chunk of `max_batch`, with
one CPU generator per image seeded from the request, so an image does not depend on its batch
neighbours' seeds. Determinism: the same request on the same machine (same torch, device and batch
composition) gives identical bytes; the same request batched and alone differs by at most one
8-bit level (batched matmuls round differently). Prompt embeddings are computed once per distinct
(prompt, negative prompt, LoRA set) and reused.

Importing this module does not import torch or diffusers; they load on the first `generate`.
"""

from __future__ import annotations

import gc
import platform
from collections.abc import Hashable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixelbuild.engines.base import GenerateRequest, ModelRef, ProgressFn
from pixelbuild.engines.sdxl_loras import LoraState, active_loras
from pixelbuild.engines.sdxl_sampling import (
    check_scheduler,
    circular_padding,
    init_image,
    make_scheduler,
    to_rgba,
)
from pixelbuild.errors import EngineError

_EMBED_CACHE_SIZE = 512


def _model_key(model: ModelRef | None) -> Hashable:
    if model is None:
        return None
    return (
        model.name, model.source, model.location, model.digest, model.vae, model.config,
        model.allow_pickle, model.dtype,
    )  # fmt: skip


def _entries(requests: Sequence[GenerateRequest]) -> str:
    names = list(dict.fromkeys(r.entry for r in requests))
    return ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    return isinstance(exc, oom) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


@dataclass
class _Loaded:
    """One model's pipeline and what the engine keeps beside it."""

    key: Hashable
    pipe: Any
    dtype: str
    scheduler_config: Any
    loras: LoraState = field(default_factory=LoraState)
    embeds: dict[Hashable, tuple[Any, ...]] = field(default_factory=dict)
    img2img_pipe: Any = None

    def img2img(self) -> Any:
        if self.img2img_pipe is None:
            from diffusers import StableDiffusionXLImg2ImgPipeline

            self.img2img_pipe = StableDiffusionXLImg2ImgPipeline.from_pipe(self.pipe)
            self.img2img_pipe.set_progress_bar_config(disable=True)
        return self.img2img_pipe


class DiffusersEngine:
    """SDXL on diffusers. See the module docstring for batching and determinism."""

    name = "diffusers"
    version = "1"  # keep equal to ENGINE_VERSIONS["diffusers"] in engines/__init__.py

    def __init__(
        self,
        device: str | None = None,
        dtype: str | None = None,
        allow_download: bool = False,
        max_batch: int | None = None,
    ) -> None:
        if max_batch is not None and max_batch < 1:
            raise EngineError(f"max_batch must be at least 1, got {max_batch}")
        self._device_arg = device
        self._dtype_arg = dtype
        self.allow_download = allow_download
        self.max_batch = max_batch
        self._device: str | None = None
        # One resident pipeline: an SDXL model is 7-14 GB, and groups are run model by model.
        self._loaded: _Loaded | None = None

    # --- the Engine protocol ------------------------------------------------------------

    def batch_key(self, request: GenerateRequest) -> Hashable:
        """Requests with equal keys run through one pipeline call."""
        img2img = request.init_image is not None
        return (
            _model_key(request.model),
            tuple((lo.name, lo.digest, float(lo.weight)) for lo in active_loras(request.loras)),
            request.width,
            request.height,
            request.scheduler,
            request.steps,
            float(request.guidance),
            request.tileable,
            img2img,
            float(request.strength) if img2img else None,
        )

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressFn | None = None
    ) -> list[np.ndarray]:
        """Paint one (height, width, 4) uint8 RGBA image per request, in request order."""
        groups: dict[Hashable, list[int]] = {}
        for i, request in enumerate(requests):
            self._check(request)
            groups.setdefault(self.batch_key(request), []).append(i)
        results: list[np.ndarray | None] = [None] * len(requests)
        # Model by model, so each model loads once per call.
        order = sorted(groups, key=lambda k: repr(k[0]))
        for key in order:
            idxs = groups[key]
            group = [requests[i] for i in idxs]
            loaded = self._pipeline(group)
            chunk = self._chunk_size(group[0])
            start = 0
            while start < len(idxs):
                part = idxs[start : start + chunk]
                try:
                    images = self._run(loaded, [requests[i] for i in part], part, progress)
                except Exception as exc:
                    if not _is_oom(exc):
                        raise
                    self._free_memory()
                    if chunk == 1:
                        raise EngineError(
                            f"{_entries(group)}: out of memory at batch size 1 on "
                            f"{self._device} ({group[0].width}x{group[0].height}); use a smaller "
                            "canvas (scale) or a machine with more memory"
                        ) from exc
                    chunk = max(1, chunk // 2)  # retry this part in smaller batches
                    continue
                for i, image in zip(part, images, strict=True):
                    results[i] = image
                start += len(part)
        return [r for r in results if r is not None]

    def close(self) -> None:
        """Drop the pipeline and free device memory. Idempotent."""
        if self._loaded is not None:
            self._loaded = None
            self._free_memory()

    # --- information --------------------------------------------------------------------

    def provenance(self) -> dict[str, str]:
        """Versions, device and precision, for the lock (information, not part of any key)."""
        from importlib.metadata import PackageNotFoundError, version

        import torch

        info = {"engine": self.name, "engine_version": self.version}
        for package in ("torch", "diffusers", "transformers", "peft"):
            try:
                info[package] = version(package)
            except PackageNotFoundError:
                info[package] = "absent"
        device = self._device or _resolve_device(self._device_arg)
        if device.startswith("cuda"):
            index = torch.device(device).index or 0
            major, minor = torch.cuda.get_device_capability(index)
            info["device"] = f"{torch.cuda.get_device_name(index)} (sm_{major}{minor})"
            info["cuda"] = str(torch.version.cuda)
        elif device == "mps":
            info["device"] = f"Apple MPS ({platform.machine()})"
        else:
            info["device"] = f"CPU {platform.processor() or platform.machine()}"
        info["dtype"] = self._loaded.dtype if self._loaded else (self._dtype_arg or "auto")
        return info

    # --- internals ----------------------------------------------------------------------

    def _check(self, request: GenerateRequest) -> None:
        if request.model is None:
            raise EngineError(
                f"{request.entry}: the diffusers engine needs a model: set `model:` to an entry "
                "of `models:`"
            )
        if request.width % 8 or request.height % 8 or min(request.width, request.height) < 8:
            raise EngineError(
                f"{request.entry}: canvas {request.width}x{request.height} is not a multiple of 8"
            )
        check_scheduler(request.scheduler, request.entry)
        if request.init_image is not None and int(request.steps * request.strength) < 1:
            raise EngineError(
                f"{request.entry}: img2img with {request.steps} steps at strength "
                f"{request.strength} runs no step; raise steps or strength"
            )

    def _device_name(self) -> str:
        if self._device is None:
            self._device = _resolve_device(self._device_arg)
        return self._device

    def _pipeline(self, group: Sequence[GenerateRequest]) -> _Loaded:
        from pixelbuild.engines.sdxl_models import load_pipeline, resolve_dtype

        model = group[0].model
        assert model is not None
        key = _model_key(model)
        if self._loaded is not None and self._loaded.key == key:
            return self._loaded
        self.close()
        device = self._device_name()
        dtype = resolve_dtype(device, self._dtype_arg, model.dtype)
        try:
            pipe = load_pipeline(model, device, dtype, self.allow_download)
        except EngineError as exc:
            raise EngineError(f"{_entries(group)}: {exc}") from exc.__cause__
        self._loaded = _Loaded(key, pipe, dtype, pipe.scheduler.config)
        return self._loaded

    def batch_size(self, request: GenerateRequest) -> int:
        """Images per pipeline call: `max_batch`, or what fits the device at this canvas."""
        return self._chunk_size(request)

    def _chunk_size(self, request: GenerateRequest) -> int:
        """Hook for subclasses (compiled engines size batches by their built buckets)."""
        if self.max_batch is not None:
            return self.max_batch
        device = self._device_name()
        if device.startswith("cuda"):
            import torch

            index = torch.device(device).index or 0
            total_gib = torch.cuda.get_device_properties(index).total_memory / 2**30
            megapixels = request.width * request.height / 2**20
            return int(max(1, min(16, (total_gib - 10) / (1.5 * max(megapixels, 0.0625)))))
        return 2 if device == "mps" else 4

    def _embeddings(self, loaded: _Loaded, requests: Sequence[GenerateRequest], cfg: bool):
        """Prompt embeddings for each request, computed once per distinct prompt."""
        import torch

        lora_key = loaded.loras.active
        rows = []
        for r in requests:
            key = (lora_key, r.prompt, r.negative_prompt, cfg)
            if key not in loaded.embeds:
                if len(loaded.embeds) >= _EMBED_CACHE_SIZE:
                    loaded.embeds.clear()
                loaded.embeds[key] = loaded.pipe.encode_prompt(
                    prompt=r.prompt,
                    device=loaded.pipe.device,
                    num_images_per_prompt=1,
                    do_classifier_free_guidance=cfg,
                    negative_prompt=r.negative_prompt or None,
                )
            rows.append(loaded.embeds[key])
        names = ("prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds")
        names += ("negative_pooled_prompt_embeds",)
        out = {}
        for j, name in enumerate(names):
            parts = [row[j] for row in rows]
            if all(p is not None for p in parts):
                out[name] = torch.cat(parts, dim=0)
        return out

    def _run(
        self,
        loaded: _Loaded,
        requests: Sequence[GenerateRequest],
        indices: Sequence[int],
        progress: ProgressFn | None,
    ) -> list[np.ndarray]:
        """One pipeline call for `requests` (one batch). Hook for subclasses: compiled engines
        swap their UNet in around it."""
        import torch

        first = requests[0]
        entries = _entries(requests)
        loaded.loras.activate(loaded.pipe, first.loras, entries)
        img2img = first.init_image is not None
        pipe = loaded.img2img() if img2img else loaded.pipe
        pipe.scheduler = make_scheduler(first.scheduler, loaded.scheduler_config)
        cfg = first.guidance > 1 and pipe.unet.config.time_cond_proj_dim is None

        def on_step(p: Any, step: int, timestep: Any, tensors: dict) -> dict:
            if progress is not None:
                total = int(getattr(p, "num_timesteps", 0) or first.steps)
                for i in indices:
                    progress(i, step + 1, total)
            return tensors

        kwargs: dict[str, Any] = dict(
            num_inference_steps=first.steps,
            guidance_scale=first.guidance,
            generator=[torch.Generator("cpu").manual_seed(int(r.seed)) for r in requests],
            output_type="np",
            callback_on_step_end=on_step,
        )
        if img2img:
            kwargs["image"] = [init_image(r.init_image, r.width, r.height) for r in requests]
            kwargs["strength"] = first.strength
        else:
            kwargs["width"], kwargs["height"] = first.width, first.height
        tiles = circular_padding([pipe.unet, pipe.vae]) if first.tileable else nullcontext()
        try:
            with torch.inference_mode():
                kwargs.update(self._embeddings(loaded, requests, cfg))
                with tiles:
                    images = pipe(**kwargs).images
        except EngineError:
            raise
        except Exception as exc:
            if _is_oom(exc):
                raise
            raise EngineError(f"{entries}: generation failed: {type(exc).__name__}: {exc}") from exc
        return to_rgba(images)

    def _free_memory(self) -> None:
        gc.collect()
        if self._device and self._device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def _resolve_device(device: str | None) -> str:
    from pixelbuild.engines.sdxl_models import resolve_device

    return resolve_device(device)
