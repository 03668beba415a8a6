"""The `inductor` and `tensorrt` engines: the diffusers engine with a compiled UNet.

Everything but the UNet's forward is the diffusers engine's: the same pipeline, scheduler,
prompt embeddings, per-image seeds, LoRA switching and batching. For each pipeline call the engine
picks the built engine for the model, precision, this machine (GPU architecture or cpu, compiler and
torch versions, OS) and canvas with the smallest static batch that holds the call's UNet batch
(twice the images under classifier-free guidance; a short batch is padded), and swaps it in for
the UNet's forward for the length of the call.

When nothing matches (a canvas or batch outside every bucket, engines built on another GPU or with
other library versions, TensorRT missing) the engine raises an EngineError naming the
`pixelbuild engines build` command to run, or, with `fallback: eager` on the request, warns and
runs the eager UNet. Tileable entries need circular padding: they run eager (with a warning) unless
a profile with `tiles: true` built engines for them. Active LoRAs are applied by refitting the
compiled weights with the fused LoRA weights (AOTInductor `load_constants`; torch-tensorrt
`refit_module_weights` for refittable engines). Reference images (IP-Adapter) add image tokens
the compiled UNets do not take: those batches run eager under `fallback: eager` and are an
EngineError otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelbuild.engines.base import GenerateRequest, ProgressFn
from pixelbuild.engines.compiled import store
from pixelbuild.engines.compiled.profile import Bucket, find_profiles, load_profile
from pixelbuild.engines.registry import ENGINES
from pixelbuild.engines.sdxl import (
    DiffusersEngine,
    LoadedPipeline,
    active_references,
    describe_entries,
)
from pixelbuild.errors import EngineError, PixelbuildError


class CompiledEngineWarning(UserWarning):
    """A compiled engine ran (part of) a request eagerly: tiles, or `fallback: eager`."""


class CompiledEngine(DiffusersEngine):
    """Base of the compiled engines; `compiler` names the profile compiler it runs.

    It overrides the diffusers engine's hooks `batch_size` (the largest static batch built for a
    request's shape) and `run_batch` (the compiled UNet swapped in for one call). A concrete
    engine sets `name`, `compiler` and `version` and implements `_load_artifact` (a built file ->
    a callable module) and `_apply_weights` (replace the module's LoRA-wrapped weights).
    """

    name = "compiled"
    compiler = ""

    def __init__(
        self,
        cache_dir: Path | str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        allow_download: bool = False,
        max_batch: int | None = None,
    ) -> None:
        super().__init__(device, dtype, allow_download, max_batch)
        if cache_dir is None:
            raise EngineError(f"the {self.name} engine needs the project's cache folder")
        self.cache_dir = Path(cache_dir)
        self._modules: dict[str, Any] = {}  # engine key -> loaded compiled module
        self._refit: dict[str, Any] = {}  # engine key -> LoRA state its weights hold
        self._tools: store.Toolchain | None = None
        self.used: list[str] = []  # engine keys that ran, in order (for tests and provenance)
        self.eager_calls = 0

    # --- the Engine protocol additions ----------------------------------------------------

    def close(self) -> None:
        self._modules.clear()
        self._refit.clear()
        super().close()

    def provenance(self) -> dict[str, str]:
        info = super().provenance()
        try:
            info["compiler"] = self._toolchain().compiler_version
        except PixelbuildError as exc:
            info["compiler"] = f"unavailable: {exc}"
        return info

    # --- choosing an engine -----------------------------------------------------------------

    def _toolchain(self) -> store.Toolchain:
        if self._tools is None:
            from pixelbuild.engines.compiled.build import toolchain

            self._tools = toolchain(self.compiler, self.device)
        return self._tools

    @staticmethod
    def _cfg(loaded: LoadedPipeline | None, request: GenerateRequest) -> bool:
        """Whether the pipeline runs classifier-free guidance (as diffusers decides it)."""
        if loaded is None:  # not loaded yet: SDXL base UNets have no time_cond_proj_dim
            return request.guidance > 1
        return loaded.uses_cfg(request.guidance)

    def _matching(
        self, dtype: str, request: GenerateRequest, padding: str
    ) -> list[store.BuiltEngine]:
        """Built engines usable here for this request's model, precision, canvas and padding."""
        assert request.model is not None
        tools = self._toolchain()
        wanted = {
            "format": store.FORMAT,
            "model": request.model.digest,
            "component": "unet",
            **tools.fields(),
            "precision": dtype,
        }
        return [
            e
            for e in store.read_engines(self.cache_dir)
            if e.same_except(wanted, "bucket")
            and (e.bucket.width, e.bucket.height, e.bucket.padding)
            == (request.width, request.height, padding)
        ]

    def batch_size(self, request: GenerateRequest) -> int:
        """Images per pipeline call: the largest static batch built for this request's shape
        (what fits the device, as the diffusers engine sizes it, when none is built)."""
        if request.model is None:
            return super().batch_size(request)
        padding = "circular" if request.tileable else "zeros"
        try:
            engines = self._matching(self.dtype_for(request.model), request, padding)
        except PixelbuildError:
            engines = []  # reported by run_batch, with the fallback honoured
        if not engines:
            return super().batch_size(request)
        factor = 2 if self._cfg(self.loaded, request) else 1
        most = max(e.bucket.unet_batch // factor for e in engines)
        if self.max_batch is not None:
            most = min(most, self.max_batch)
        return max(1, most)

    def _select(
        self, loaded: LoadedPipeline, requests: Sequence[GenerateRequest]
    ) -> store.BuiltEngine | None:
        """The engine for this call; None runs eager (tiles without an engine, or fallback)."""
        first = requests[0]
        assert first.model is not None
        entries = describe_entries(requests)
        if active_references(first):
            self._fallback(
                first,
                entries,
                f"reference images (IP-Adapter) need the eager UNet: the {self.compiler} engines "
                "take no image embeddings",
            )
            return None
        factor = 2 if self._cfg(loaded, first) else 1
        need = len(requests) * factor
        padding = "circular" if first.tileable else "zeros"
        try:
            engines = self._matching(loaded.dtype, first, padding)
        except EngineError as exc:  # TensorRT missing
            command = self._command(first.model.name, loaded.dtype, None)
            self._fallback(first, entries, f"{exc}; then run {command}")
            return None
        fits = [e for e in engines if e.bucket.unet_batch >= need]
        if fits:
            return min(fits, key=lambda e: e.bucket.unet_batch)
        if first.tileable and not engines:
            warnings.warn(
                f"{entries}: tileable entries need circular padding and no {self.compiler} engine "
                f"was built for tiles at {first.width}x{first.height}: running the eager UNet "
                "(set `tiles: true` in the engine profile and run `pixelbuild engines build` to "
                "compile them)",
                CompiledEngineWarning,
                stacklevel=4,
            )
            self.eager_calls += 1
            return None
        self._fallback(first, entries, self._why(loaded, first, need, len(requests), padding))
        return None

    def _fallback(self, request: GenerateRequest, entries: str, why: str) -> None:
        """Warn and count an eager call under `fallback: eager`; raise otherwise."""
        if request.fallback == "eager":
            warnings.warn(
                f"{entries}: {why}; running the eager UNet (fallback: eager)",
                CompiledEngineWarning,
                stacklevel=5,
            )
            self.eager_calls += 1
            return
        raise EngineError.about(entries, f"{why} (or set `fallback: eager` to run uncompiled)")

    def _why(
        self, loaded: LoadedPipeline, request: GenerateRequest, need: int, images: int, padding: str
    ) -> str:
        """Why no engine matches, and the exact command that builds one."""
        assert request.model is not None
        model = request.model
        tools = self._toolchain()
        shape = f"canvas {request.width}x{request.height}, unet batch {need}"
        if padding == "circular":
            shape += ", tiles"
        all_engines = [
            e
            for e in store.read_engines(self.cache_dir)
            if e.info.get("model") == model.digest and e.info.get("compiler") == self.compiler
        ]
        here = {**tools.fields(), "precision": loaded.dtype}
        usable = [e for e in all_engines if all(e.info.get(k) == v for k, v in here.items())]
        built_by = [str(e.info["profile"]) for e in all_engines if e.info.get("profile")]
        command = self._command(model.name, loaded.dtype, tools.target, built_by)
        if usable:
            built = ", ".join(sorted({e.bucket.label for e in usable}))
            return (
                f"no {self.compiler} engine covers {shape} (outside every bucket; built here: "
                f"{built}); add canvas {request.width}x{request.height} with batch "
                f"{images} to "
                f"the profile's buckets and run {command}"
            )
        if all_engines:
            other = all_engines[0].info
            return (
                f"the {self.compiler} engines of model {model.name!r} were built for "
                f"{other.get('target')} / {other.get('system')} with "
                f"{other.get('compiler_version')}, torch {other.get('torch')}, "
                f"{other.get('precision')}; this machine is "
                f"{tools.target} / {tools.system} with {tools.compiler_version}, torch "
                f"{tools.torch}, {loaded.dtype}: rebuild them here with {command}"
            )
        return (
            f"no {self.compiler} engine is built for model {model.name!r} ({shape}); run {command}"
        )

    def _command(
        self, model_name: str, dtype: str, target: str | None, built_by: Sequence[str] = ()
    ) -> str:
        """The exact command that builds engines for this model (naming its profile)."""
        profiles = sorted(set(built_by)) or self._profiles_for(model_name)
        if profiles:
            return f"`pixelbuild engines build {profiles[0]}`"
        where = f", target: {target}" if target else ""
        return (
            f"`pixelbuild engines build` after adding a profile to engines/ (model: {model_name}, "
            f"compiler: {self.compiler}{where}, precision: {dtype})"
        )

    def _profiles_for(self, model_name: str) -> list[str]:
        """Profiles of the project (when the cache sits in it) that compile this model."""
        names: list[str] = []
        for path in find_profiles(self.cache_dir.parent):
            try:
                loaded = load_profile(path)
            except PixelbuildError:
                continue
            p = loaded.profile
            if p.model == model_name and p.compiler == self.compiler:
                names.append(loaded.name)
        return names

    # --- running -----------------------------------------------------------------------------

    def run_batch(
        self,
        loaded: LoadedPipeline,
        requests: Sequence[GenerateRequest],
        indices: Sequence[int],
        progress: ProgressFn | None,
    ) -> list[np.ndarray]:
        """The diffusers engine's call with the matching compiled UNet swapped in (or eager,
        see `_select`); the compiled module's weights are refit to the active LoRAs first."""
        choice = self._select(loaded, requests)
        if choice is None:
            return super().run_batch(loaded, requests, indices, progress)
        entries = describe_entries(requests)
        module = self._module(choice)
        # LoRAs first (the base class would do it too; it is idempotent), then refit.
        loaded.loras.activate(loaded.pipe, requests[0].loras, entries)
        self._refit_loras(loaded, choice, module, entries)
        module = self._modules[choice.key]  # a refit may replace the module
        unet = loaded.pipe.unet
        unet.forward = _compiled_forward(module, choice.bucket, unet, entries)
        try:
            images = super().run_batch(loaded, requests, indices, progress)
        finally:
            del unet.forward  # back to the class's eager forward
        self.used.append(choice.key)
        return images

    def _module(self, engine: store.BuiltEngine) -> Any:
        if engine.key not in self._modules:
            try:
                self._modules[engine.key] = self._load_artifact(engine.artifact)
            except Exception as exc:
                raise EngineError(
                    f"could not load the {self.compiler} engine {engine.dir}: "
                    f"{type(exc).__name__}: {exc}; remove it with `pixelbuild engines clean` "
                    f"and rebuild with `pixelbuild engines build {engine.info.get('profile', '')}`"
                ) from exc
        return self._modules[engine.key]

    def _load_artifact(self, path: Path) -> Any:
        """The callable module in a built engine's artifact file."""
        raise NotImplementedError

    def _refit_loras(
        self, loaded: LoadedPipeline, engine: store.BuiltEngine, module: Any, entries: str
    ) -> None:
        state = (loaded.loras.active if loaded.loras.enabled else None) or ()
        if self._refit.get(engine.key, ()) == state:
            return
        if state and not engine.info.get("refittable", False):
            raise EngineError.about(
                entries,
                f"LoRAs need a refittable engine; {engine.info.get('profile')} was "
                "built with `refittable: false`: set it true and run `pixelbuild engines build "
                f"{engine.info.get('profile')}`",
            )
        weights = fused_unet_state(loaded.pipe.unet, only_lora=True)
        self._apply_weights(loaded, engine, module, weights, entries)
        self._refit[engine.key] = state

    def _apply_weights(
        self,
        loaded: LoadedPipeline,
        engine: store.BuiltEngine,
        module: Any,
        weights: dict[str, Any],
        entries: str,
    ) -> None:
        """Replace `module`'s copies of `weights` (plain-UNet names) in place or by a refit that
        stores the new module in `self._modules[engine.key]`."""
        raise NotImplementedError


def _compiled_forward(module: Any, bucket: Bucket, unet: Any, entries: str) -> Callable[..., Any]:
    """A replacement for `unet.forward` that runs `module` at its static batch."""
    import torch

    def forward(
        sample: Any, timestep: Any, encoder_hidden_states: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return_dict = kwargs.pop("return_dict", True)
        added = kwargs.pop("added_cond_kwargs", None) or {}
        # The pipeline passes these as None (SDXL base: no timestep_cond, no attention mask).
        unused = [k for k, v in kwargs.items() if v is not None and v != {}]
        unused += [k for k in added if k not in ("text_embeds", "time_ids")]
        if args or unused:
            raise EngineError.about(
                entries, f"the compiled UNet takes no {', '.join(unused) or 'extra arguments'}"
            )
        n = sample.shape[0]
        if n > bucket.unet_batch or tuple(sample.shape[2:]) != (
            bucket.height // 8,
            bucket.width // 8,
        ):
            raise EngineError.about(
                entries,
                f"UNet input {tuple(sample.shape)} does not fit the engine's bucket {bucket.label}",
            )
        t = torch.as_tensor(timestep, device=sample.device)
        if t.ndim:
            t = t.reshape(-1)[0]
        t = t.to(torch.float32)

        def pad(x: Any) -> Any:
            if x.shape[0] == bucket.unet_batch:
                return x.contiguous()
            extra = torch.zeros(
                (bucket.unet_batch - x.shape[0], *x.shape[1:]), dtype=x.dtype, device=x.device
            )
            return torch.cat([x, extra]).contiguous()

        out = module(
            pad(sample),
            t,
            pad(encoder_hidden_states),
            pad(added["text_embeds"]),
            pad(added["time_ids"].to(sample.dtype)),
        )
        if isinstance(out, (list, tuple)):
            out = out[0]
        out = out[:n]
        if not return_dict:
            return (out,)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=out)

    return forward


def fused_unet_state(unet: Any, only_lora: bool = False) -> dict[str, Any]:
    """The UNet's weights with the active LoRAs fused in, under the names of a plain UNet.

    peft wraps each LoRA target as `X.base_layer` + `X.lora_A/B`; the compiled engines were
    exported from the plain UNet, where the weight is `X.weight`. With `only_lora`, only the
    weights of LoRA-wrapped layers are returned (what a refit has to replace).
    """
    import torch

    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:  # no peft: no LoRA can be active
        LoraLayer = ()

    out: dict[str, Any] = {}
    wrapped: set[str] = set()
    with torch.no_grad():
        for name, module in unet.named_modules():
            if LoraLayer and isinstance(module, LoraLayer) and hasattr(module, "base_layer"):
                wrapped.add(name)
                weight = module.base_layer.weight
                if not getattr(module, "disable_adapters", False) and not getattr(
                    module, "merged", False
                ):
                    for adapter in module.active_adapters:
                        if adapter in module.lora_A:
                            delta = module.get_delta_weight(adapter)
                            weight = weight + delta.to(weight.dtype)
                out[f"{name}.weight"] = weight
                bias = getattr(module.base_layer, "bias", None)
                if bias is not None:
                    out[f"{name}.bias"] = bias
        if not only_lora:
            for key, value in unet.state_dict(keep_vars=True).items():
                if "lora_" in key or ".base_layer." in key:
                    continue
                out.setdefault(key, value)
    return out


class InductorEngine(CompiledEngine):
    """SDXL with the UNet compiled ahead of time by AOTInductor (CPU and CUDA)."""

    name = "inductor"
    compiler = "inductor"
    version = ENGINES[name].version

    def _load_artifact(self, path: Path) -> Any:
        import torch

        return torch._inductor.aoti_load_package(str(path))

    def _apply_weights(
        self,
        loaded: LoadedPipeline,
        engine: store.BuiltEngine,
        module: Any,
        weights: dict[str, Any],
        entries: str,
    ) -> None:
        names = set(module.get_constant_fqns())
        constants = {f"unet.{k}": v.detach() for k, v in weights.items()}
        missing = sorted(k for k in constants if k not in names)
        if missing:
            raise EngineError.about(
                entries,
                f"the inductor engine {engine.key[:12]} cannot take these LoRA "
                f"weights ({missing[0]} is not a replaceable constant); use `fallback: eager`",
            )
        module.load_constants(constants, check_full_update=False)


class TensorRTEngine(CompiledEngine):
    """SDXL with the UNet compiled by torch-tensorrt (NVIDIA GPUs; GB10 first).

    Written against torch-tensorrt's documented API (`torch_tensorrt.load`,
    `torch_tensorrt.dynamo.refit_module_weights`); not run on these machines (no TensorRT).
    """

    name = "tensorrt"
    compiler = "tensorrt"
    version = ENGINES[name].version

    def _load_artifact(self, path: Path) -> Any:
        import torch_tensorrt

        return torch_tensorrt.load(str(path)).module()

    def _apply_weights(
        self,
        loaded: LoadedPipeline,
        engine: store.BuiltEngine,
        module: Any,
        weights: dict[str, Any],
        entries: str,
    ) -> None:
        import torch
        from diffusers import UNet2DConditionModel
        from torch_tensorrt.dynamo import refit_module_weights

        from pixelbuild.engines.compiled.build import example_inputs, export_unet

        unet = loaded.pipe.unet
        # A plain UNet sharing the pipeline's tensors, with the fused LoRA weights swapped in:
        # built on the meta device and filled with assign=True, so nothing is copied.
        with torch.device("meta"):
            plain = UNet2DConditionModel.from_config(unet.config)
        state = fused_unet_state(unet)
        plain.load_state_dict(state, assign=True, strict=True)
        plain.eval()
        seq_len = int(engine.info.get("seq_len", 77))
        bucket = engine.bucket
        device = str(unet.device)
        program, _ = export_unet(plain, bucket, seq_len, device, unet.dtype)
        args = example_inputs(plain, bucket, seq_len, device, unet.dtype)
        refitted = refit_module_weights(
            compiled_module=module, new_weight_module=program, arg_inputs=list(args)
        )
        self._modules[engine.key] = refitted
