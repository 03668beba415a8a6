"""The `diffusers` engine: Stable Diffusion XL through Hugging Face diffusers, on cuda, mps or cpu.

Requests that share a batch key (model, active LoRAs and weights, canvas, scheduler, steps,
guidance, tiling, img2img strength and inpainting, and for reference images the IP-Adapter, its
scale and the images' content digests) run through one pipeline call per chunk of `batch_size`, with
one CPU generator per image seeded from the request, so an image does not depend on its batch
neighbours' seeds. Determinism: the same request on the same machine (same torch, device and batch
composition) gives identical bytes; the same request batched and alone differs by at most one 8-bit
level (batched matmuls round differently). Prompt embeddings are computed once per distinct (prompt,
negative prompt, LoRA set) and reused; reference images once per distinct set of images (see
references.py).

Subclasses (the compiled engines) change how a batch runs through two hooks, `batch_size` and
`run_batch`, and read the resident pipeline through `loaded`; see `DiffusersEngine`.

Importing this module does not import torch or diffusers; they load on the first `generate`.
"""

from __future__ import annotations

import gc
import platform
from collections.abc import Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixelbuild.engines.base import GenerateRequest, ModelRef, ProgressFn
from pixelbuild.engines.registry import ENGINES
from pixelbuild.engines.sdxl.loras import LoraState, active_loras
from pixelbuild.engines.sdxl.models import (
    load_pipeline,
    model_key,
    resolve_device,
    resolve_dtype,
)
from pixelbuild.engines.sdxl.references import (
    ReferenceState,
    check_references,
    reference_key,
)
from pixelbuild.engines.sdxl.sampling import (
    check_scheduler,
    circular_padding,
    init_image,
    make_scheduler,
    to_rgba,
)
from pixelbuild.errors import EngineError

_EMBED_CACHE_SIZE = 512
_EMBED_NAMES = (
    "prompt_embeds",
    "negative_prompt_embeds",
    "pooled_prompt_embeds",
    "negative_pooled_prompt_embeds",
)


def describe_entries(requests: Sequence[GenerateRequest]) -> str:
    """The entries of `requests` for an error message: 'a, b, c, d, e (+3 more)'."""
    names = list(dict.fromkeys(r.entry for r in requests))
    return ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    return isinstance(exc, oom) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


@dataclass
class LoadedPipeline:
    """One model's pipeline and what the engine keeps beside it.

    `key` is the `model_key` of the model it holds and `dtype` the precision it runs in ('fp16',
    'bf16' or 'fp32'); `scheduler_config` is the model's own scheduler config, which every
    request's scheduler is built on. `loras` tracks the adapters loaded into `pipe`,
    `references` the IP-Adapter, and `embeds` caches prompt embeddings (all are the engine's; a
    pipeline holds no LoRA and no IP-Adapter when it is adopted).
    """

    key: Hashable
    pipe: Any
    dtype: str
    scheduler_config: Any
    loras: LoraState = field(default_factory=LoraState)
    references: ReferenceState = field(default_factory=ReferenceState)
    embeds: dict[Hashable, tuple[Any, ...]] = field(default_factory=dict)
    img2img_pipe: Any = None
    inpaint_pipe: Any = None

    def img2img(self) -> Any:
        """The img2img pipeline over the same components (built on first use)."""
        if self.img2img_pipe is None:
            from diffusers import StableDiffusionXLImg2ImgPipeline

            self.img2img_pipe = StableDiffusionXLImg2ImgPipeline.from_pipe(self.pipe)
            self.img2img_pipe.set_progress_bar_config(disable=True)
        return self.img2img_pipe

    def inpaint(self) -> Any:
        """The inpainting pipeline over the same components (built on first use; with a
        text-to-image UNet it keeps the unmasked latents of the init image at every step)."""
        if self.inpaint_pipe is None:
            from diffusers import StableDiffusionXLInpaintPipeline

            self.inpaint_pipe = StableDiffusionXLInpaintPipeline.from_pipe(self.pipe)
            self.inpaint_pipe.set_progress_bar_config(disable=True)
        return self.inpaint_pipe

    def uses_cfg(self, guidance: float) -> bool:
        """Whether a call at `guidance` runs classifier-free guidance (as diffusers decides):
        a guidance-distilled UNet (`time_cond_proj_dim`, e.g. LCM) never does."""
        return guidance > 1 and self.pipe.unet.config.time_cond_proj_dim is None


class DiffusersEngine:
    """SDXL on diffusers. See the module docstring for batching and determinism.

    Public beyond the Engine protocol: `device` (resolved on first use), `loaded` (the resident
    pipeline, or None), `dtype_for(model)`, `adopt(pipe, model, dtype)` (hand the engine a
    pipeline built elsewhere) and `provenance()`.

    Hooks for subclasses (the compiled engines override them and call `super()`):

    - `batch_size(request)`: how many requests like this one go into one pipeline call.
      `generate` splits each group of requests into chunks of this size (and halves them on an
      out-of-memory error).
    - `run_batch(loaded, requests, indices, progress)`: one pipeline call for one chunk, all
      requests sharing one batch key; returns one RGBA image per request. Subclasses may change
      the pipeline around the call (e.g. swap the UNet's forward) and must undo it afterwards.
    """

    name = "diffusers"
    version = ENGINES[name].version

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
        self._loaded: LoadedPipeline | None = None

    # --- the Engine protocol ------------------------------------------------------------

    def batch_key(self, request: GenerateRequest) -> Hashable:
        """Requests with equal keys run through one pipeline call."""
        img2img = request.init_image is not None
        return (
            model_key(request.model),
            tuple((lo.name, lo.digest, float(lo.weight)) for lo in active_loras(request.loras)),
            request.width,
            request.height,
            request.scheduler,
            request.steps,
            float(request.guidance),
            request.tileable,
            img2img,
            request.mask is not None,
            float(request.strength) if img2img else None,
            reference_key(request),
        )

    def batch_size(self, request: GenerateRequest) -> int:
        """Images per pipeline call: `max_batch`, or what fits the device at this canvas.

        A hook: compiled engines size batches by the static batches they were built for.
        """
        if self.max_batch is not None:
            return self.max_batch
        device = self.device
        if device.startswith("cuda"):
            import torch

            index = torch.device(device).index or 0
            total_gib = torch.cuda.get_device_properties(index).total_memory / 2**30
            megapixels = request.width * request.height / 2**20
            return int(max(1, min(16, (total_gib - 10) / (1.5 * max(megapixels, 0.0625)))))
        return 2 if device == "mps" else 4

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
        for idxs in sorted(groups.values(), key=lambda g: repr(model_key(requests[g[0]].model))):
            group = [requests[i] for i in idxs]
            loaded = self._pipeline(group)
            chunk = self.batch_size(group[0])
            start = 0
            while start < len(idxs):
                part = idxs[start : start + chunk]
                try:
                    images = self.run_batch(loaded, [requests[i] for i in part], part, progress)
                except Exception as exc:
                    if not _is_oom(exc):
                        raise
                    self._free_memory()
                    if chunk == 1:
                        raise EngineError.about(
                            describe_entries(group),
                            f"out of memory at batch size 1 on "
                            f"{self._device} ({group[0].width}x{group[0].height}); use a smaller "
                            "canvas (scale) or a machine with more memory",
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

    # --- information and handing over ---------------------------------------------------

    @property
    def device(self) -> str:
        """The device this engine runs on ('cuda', 'cuda:N', 'mps' or 'cpu'); asking for it
        the first time imports torch."""
        if self._device is None:
            self._device = resolve_device(self._device_arg)
        return self._device

    @property
    def loaded(self) -> LoadedPipeline | None:
        """The resident pipeline (the model of the last call), or None before the first."""
        return self._loaded

    def dtype_for(self, model: ModelRef | None) -> str:
        """The precision `model` runs in here: the resident pipeline's when it holds `model`,
        else what the engine's and the model's settings resolve to on this device."""
        if self._loaded is not None and self._loaded.key == model_key(model):
            return self._loaded.dtype
        return resolve_dtype(self.device, self._dtype_arg, model.dtype if model else None)

    def adopt(self, pipe: Any, model: ModelRef, dtype: str) -> LoadedPipeline:
        """Make `pipe`, a StableDiffusionXLPipeline already on this engine's device in `dtype`
        and without LoRA adapters, the resident pipeline for `model` (benchmarks share one
        pipeline between engines; a random-weight model has nothing to load from). The engine
        then runs `model`'s requests on it; `close()` drops the engine's reference only."""
        self.close()
        self._loaded = LoadedPipeline(model_key(model), pipe, dtype, pipe.scheduler.config)
        return self._loaded

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
        device = self.device
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

    # --- running ------------------------------------------------------------------------

    def run_batch(
        self,
        loaded: LoadedPipeline,
        requests: Sequence[GenerateRequest],
        indices: Sequence[int],
        progress: ProgressFn | None,
    ) -> list[np.ndarray]:
        """One pipeline call for `requests` (one chunk of one batch key); `indices` are their
        positions in the `generate` call, for `progress`. A hook: compiled engines swap their
        UNet in around it. Out-of-memory errors propagate (`generate` retries smaller chunks);
        any other failure becomes an EngineError naming the entries."""
        import torch

        first = requests[0]
        entries = describe_entries(requests)
        loaded.loras.activate(loaded.pipe, first.loras, entries)
        loaded.references.activate(loaded.pipe, first, entries, self.allow_download)
        img2img = first.init_image is not None
        inpaint = img2img and first.mask is not None
        pipe = loaded.inpaint() if inpaint else loaded.img2img() if img2img else loaded.pipe
        pipe.scheduler = make_scheduler(first.scheduler, loaded.scheduler_config)
        cfg = loaded.uses_cfg(first.guidance)

        def on_step(p: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
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
            kwargs["image"] = [_init_image(r) for r in requests]
            kwargs["strength"] = first.strength
        if inpaint:
            kwargs["mask_image"] = [_mask_image(r) for r in requests]
        if inpaint or not img2img:  # the inpainting pipeline does not read it from the image
            kwargs["width"], kwargs["height"] = first.width, first.height
        tiles: AbstractContextManager[None] = (
            circular_padding([pipe.unet, pipe.vae]) if first.tileable else nullcontext()
        )
        try:
            with torch.inference_mode():
                kwargs.update(self._embeddings(loaded, requests, cfg))
                kwargs.update(loaded.references.image_embeds(loaded.pipe, requests, cfg, entries))
                with tiles:
                    images = pipe(**kwargs).images
        except EngineError:
            raise
        except Exception as exc:
            if _is_oom(exc):
                raise
            raise EngineError.about(
                entries, f"generation failed: {type(exc).__name__}: {exc}"
            ) from exc
        return to_rgba(images)

    # --- internals ----------------------------------------------------------------------

    def _check(self, request: GenerateRequest) -> None:
        if request.model is None:
            raise EngineError.about(
                request.entry,
                "the diffusers engine needs a model: set `model:` to an entry of `models:`",
            )
        if request.width % 8 or request.height % 8 or min(request.width, request.height) < 8:
            raise EngineError.about(
                request.entry, f"canvas {request.width}x{request.height} is not a multiple of 8"
            )
        check_scheduler(request.scheduler, request.entry)
        check_references(request)
        if request.init_image is not None and int(request.steps * request.strength) < 1:
            raise EngineError.about(
                request.entry,
                f"img2img with {request.steps} steps at strength "
                f"{request.strength} runs no step; raise steps or strength",
            )

    def _pipeline(self, group: Sequence[GenerateRequest]) -> LoadedPipeline:
        model = group[0].model
        assert model is not None  # _check refused requests without one
        key = model_key(model)
        if self._loaded is not None and self._loaded.key == key:
            return self._loaded
        self.close()
        device = self.device
        dtype = resolve_dtype(device, self._dtype_arg, model.dtype)
        try:
            pipe = load_pipeline(model, device, dtype, self.allow_download)
        except EngineError as exc:
            raise EngineError.about(describe_entries(group), exc.message) from exc.__cause__
        self._loaded = LoadedPipeline(key, pipe, dtype, pipe.scheduler.config)
        return self._loaded

    def _embeddings(
        self, loaded: LoadedPipeline, requests: Sequence[GenerateRequest], cfg: bool
    ) -> dict[str, Any]:
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
        out = {}
        for j, name in enumerate(_EMBED_NAMES):
            parts = [row[j] for row in rows]
            if all(p is not None for p in parts):
                out[name] = torch.cat(parts, dim=0)
        return out

    def _free_memory(self) -> None:
        gc.collect()
        if self._device and self._device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def _mask_image(request: GenerateRequest) -> Any:
    """The request's mask as a greyscale PIL image of the canvas size (white: repaint)."""
    from PIL import Image

    assert request.mask is not None
    mask = Image.fromarray(np.ascontiguousarray(request.mask, dtype=np.uint8), "L")
    if mask.size != (request.width, request.height):
        mask = mask.resize((request.width, request.height), Image.Resampling.NEAREST)
    return mask


def _init_image(request: GenerateRequest) -> Any:
    assert request.init_image is not None  # the batch key keeps img2img requests together
    return init_image(request.init_image, request.width, request.height)
