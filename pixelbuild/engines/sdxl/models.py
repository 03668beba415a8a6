"""Devices, precisions and SDXL model loading for the diffusers engine.

Models come from the local Hugging Face cache ("hub"), a diffusers folder ("folder") or one
`.safetensors` checkpoint ("file"). Nothing is downloaded unless the engine was created with
`allow_download=True`; pickle formats are refused unless the manifest allows them. Every failure
is an `EngineError` that names the entries, the model and what to do. torch and diffusers are
imported inside the functions only.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Literal, get_args

from pixelbuild.engines.base import ModelRef
from pixelbuild.errors import EngineError

#: Where a single-file checkpoint's component configs come from when the manifest gives none.
SDXL_BASE_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl"})
#: The precisions a model runs in (engine profiles compile for the same ones).
Precision = Literal["fp16", "bf16", "fp32"]
DTYPES: tuple[Precision, ...] = get_args(Precision)


def model_key(model: ModelRef | None) -> Hashable:
    """What identifies a loaded model: two requests with equal keys share one pipeline."""
    if model is None:
        return None
    return (
        model.name, model.source, model.location, model.digest, model.vae, model.config,
        model.allow_pickle, model.dtype,
    )  # fmt: skip


def _download_hint(repo: str, config_only: bool = False) -> str:
    include = " --include '*.json' '*.txt'" if config_only else ""
    return (
        f"download it once with `hf download {repo}{include}` (formerly `huggingface-cli "
        f"download`), or let the engine download it (allow_download / --allow-download)"
    )


def quiet_libraries() -> None:
    """Keep diffusers' and transformers' per-call warnings and progress bars off the console.

    pixelbuild draws its own progress; the libraries' warnings about float32 upcasts and LoRAs
    without text-encoder keys repeat on every batch and say nothing the user can act on.
    """
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def resolve_device(device: str | None) -> str:
    """'cuda', 'cuda:N', 'mps' or 'cpu'; None or 'auto' picks the best available."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":", 1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise EngineError(
            f"device {device!r} was asked for, but torch {torch.__version__} ({build}) sees no "
            "CUDA GPU: install a CUDA build of torch and a driver, or use device 'cpu' / 'auto'"
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise EngineError(f"device {device!r} was asked for, but MPS is not available here")
    if kind not in ("cuda", "mps", "cpu"):
        raise EngineError(f"unknown device {device!r} (use cuda, cuda:N, mps, cpu or auto)")
    return device


def resolve_dtype(device: str, engine_dtype: str | None, model_dtype: str | None) -> str:
    """The precision to run a model in: 'fp16', 'bf16' or 'fp32'.

    The engine's setting (CLI) wins over the model's (manifest); 'auto' means fp16 on a GPU and
    fp32 on the CPU. A manifest asking for fp16 still runs in fp32 on a CPU, so one manifest builds
    everywhere; asking the engine itself for fp16 on a CPU is an error.
    """
    for given in (engine_dtype, model_dtype):
        if given not in (None, "auto", *DTYPES):
            raise EngineError(f"unknown dtype {given!r} (use auto, fp16, bf16 or fp32)")
    on_cpu = device.startswith("cpu")
    if engine_dtype not in (None, "auto"):
        if on_cpu and engine_dtype == "fp16":
            raise EngineError("fp16 on the CPU is not supported: use fp32 or bf16")
        return engine_dtype
    if model_dtype not in (None, "auto"):
        return "fp32" if on_cpu and model_dtype == "fp16" else model_dtype
    return "fp32" if on_cpu else "fp16"


def torch_dtype(name: str) -> Any:
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[name]


def _refuse_pickle(path: Path, what: str, allow_pickle: bool) -> None:
    if path.suffix.lower() in PICKLE_SUFFIXES and not allow_pickle:
        raise EngineError(
            f"{what} {path} is a pickle ({path.suffix}): loading a pickle can run arbitrary code. "
            "Convert it to .safetensors, or set `allow_pickle: true` on the model if you trust it"
        )


def _hub_snapshot(
    repo: str,
    allow_download: bool,
    config_only: bool = False,
    patterns: list[str] | None = None,
) -> Path | None:
    """The local snapshot folder of a hub repository, or None when it is not cached.

    With `patterns` (or `config_only`: the configs), a download fetches only those files."""
    from huggingface_hub import snapshot_download

    from pixelbuild.cache.hub import hub_cache

    if config_only:
        patterns = ["*.json", "*.txt"]
    try:  # the cache the resolver fingerprinted, read when called (not when the hub imported)
        return Path(
            snapshot_download(
                repo,
                allow_patterns=patterns,
                local_files_only=not allow_download,
                cache_dir=hub_cache(),
            )
        )
    except Exception:  # LocalEntryNotFoundError, offline errors, bad repo ids
        return None


def _config_folder(model: ModelRef, allow_download: bool) -> Path:
    """A local diffusers folder holding the component configs of a single-file model."""
    if model.config:
        local = Path(model.config).expanduser()
        if local.is_dir():
            if not (local / "model_index.json").is_file():
                raise EngineError(
                    f"model {model.name!r}: config folder {local} has no model_index.json "
                    "(it must be a diffusers SDXL folder; weights are not needed)"
                )
            return local
        snapshot = _hub_snapshot(model.config, allow_download, config_only=True)
        if snapshot is None:
            raise EngineError(
                f"model {model.name!r}: config {model.config!r} is neither a local folder nor "
                f"a cached hub repository; {_download_hint(model.config, config_only=True)}"
            )
        return snapshot
    snapshot = _hub_snapshot(SDXL_BASE_REPO, allow_download, config_only=True)
    if snapshot is None:
        raise EngineError(
            f"model {model.name!r}: a single-file checkpoint needs SDXL's component configs. "
            "Set `config:` to a local diffusers SDXL folder, or "
            + _download_hint(SDXL_BASE_REPO, config_only=True)
        )
    return snapshot


def _load_vae(model: ModelRef, dtype: Any, allow_download: bool, config: Path | None) -> Any:
    from diffusers import AutoencoderKL

    assert model.vae is not None
    local = Path(model.vae).expanduser()
    if local.is_file():
        _refuse_pickle(local, f"model {model.name!r}: VAE", model.allow_pickle)
        if config is None:
            raise EngineError(
                f"model {model.name!r}: a single-file VAE needs a config; use a VAE folder instead"
            )
        return AutoencoderKL.from_single_file(
            str(local),
            config=str(config),
            subfolder="vae",
            torch_dtype=dtype,
            local_files_only=True,
        )
    if local.is_dir():
        sub = "vae" if (local / "vae" / "config.json").is_file() else None
        return AutoencoderKL.from_pretrained(
            local,
            subfolder=sub,
            torch_dtype=dtype,
            local_files_only=True,
            use_safetensors=None if model.allow_pickle else True,
        )
    if local.is_absolute() or model.vae.startswith((".", "~")) or model.vae.count("/") != 1:
        raise EngineError(f"model {model.name!r}: VAE {model.vae!r} not found")
    if _hub_snapshot(model.vae, allow_download) is None:
        raise EngineError(
            f"model {model.name!r}: VAE {model.vae!r} is not in the local Hugging Face cache; "
            + _download_hint(model.vae)
        )
    return AutoencoderKL.from_pretrained(
        model.vae,
        torch_dtype=dtype,
        local_files_only=not allow_download,
        use_safetensors=None if model.allow_pickle else True,
    )


def check_model_files(model: ModelRef) -> None:
    """Refuse a missing, pickled or foreign model file before importing anything heavy."""
    if model.source == "file":
        path = Path(model.location).expanduser()
        if not path.is_file():
            raise EngineError(
                f"model {model.name!r}: checkpoint file {path} not found (check `file:`)"
            )
        _refuse_pickle(path, f"model {model.name!r}: checkpoint", model.allow_pickle)
        if path.suffix.lower() not in PICKLE_SUFFIXES | {".safetensors"}:
            raise EngineError(
                f"model {model.name!r}: {path.name} is not a checkpoint this engine loads "
                "(expected an SDXL .safetensors file)"
            )
    elif model.source == "folder":
        folder = Path(model.location).expanduser()
        if not (folder / "model_index.json").is_file():
            what = "does not exist" if not folder.exists() else "has no model_index.json"
            raise EngineError(
                f"model {model.name!r}: diffusers folder {folder} {what}; point `path:` at a "
                "diffusers SDXL folder, or use `file:` for a single .safetensors checkpoint"
            )
    elif model.source != "hub":
        raise EngineError(f"model {model.name!r}: unknown source {model.source!r}")
    if model.vae:
        vae = Path(model.vae).expanduser()
        if vae.is_file():
            _refuse_pickle(vae, f"model {model.name!r}: VAE", model.allow_pickle)


def load_pipeline(model: ModelRef, device: str, dtype_name: str, allow_download: bool) -> Any:
    """Load `model` as a StableDiffusionXLPipeline on `device` in `dtype_name`."""
    check_model_files(model)
    quiet_libraries()
    with warnings.catch_warnings():
        # diffusers >= 0.40 renames torch_dtype to dtype; older ones only know torch_dtype.
        warnings.filterwarnings("ignore", message=".*torch_dtype.*")
        warnings.filterwarnings("ignore", message=".*should be kept in float32.*")
        pipe = _load(model, dtype_name, allow_download)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _load(model: ModelRef, dtype_name: str, allow_download: bool) -> Any:
    from diffusers import StableDiffusionXLPipeline

    dtype = torch_dtype(dtype_name)
    safetensors_only = None if model.allow_pickle else True
    kwargs: dict[str, Any] = {"torch_dtype": dtype}
    try:
        if model.source == "file":
            config = _config_folder(model, allow_download)
            if model.vae:
                kwargs["vae"] = _load_vae(model, dtype, allow_download, config)
            return StableDiffusionXLPipeline.from_single_file(
                str(Path(model.location).expanduser()),
                config=str(config),
                local_files_only=True,
                **kwargs,
            )
        if model.source == "folder":
            folder = Path(model.location).expanduser()
            if model.vae:
                kwargs["vae"] = _load_vae(model, dtype, allow_download, folder)
            return _from_pretrained(folder, dtype_name, safetensors_only, True, kwargs)
        snapshot = _hub_snapshot(model.location, allow_download=False)
        if snapshot is None and not allow_download:
            raise EngineError(
                f"model {model.name!r}: {model.location!r} is not in the local Hugging Face "
                f"cache; {_download_hint(model.location)}"
            )
        if model.vae:
            kwargs["vae"] = _load_vae(model, dtype, allow_download, snapshot)
        if snapshot is not None:  # load the very snapshot the resolver fingerprinted
            return _from_pretrained(snapshot, dtype_name, safetensors_only, True, kwargs)
        from pixelbuild.cache.hub import hub_cache

        kwargs["cache_dir"] = str(hub_cache())
        return _from_pretrained(model.location, dtype_name, safetensors_only, False, kwargs)
    except EngineError:
        raise
    except Exception as exc:
        hint = ""
        if model.source != "file" and not model.allow_pickle:
            hint = " (only .safetensors weights are loaded unless `allow_pickle: true`)"
        raise EngineError(
            f"model {model.name!r}: could not load {model.location}: {type(exc).__name__}: "
            f"{exc}{hint}"
        ) from exc


def _from_pretrained(
    where: Any,
    dtype_name: str,
    safetensors_only: bool | None,
    local_only: bool,
    kwargs: dict[str, Any],
) -> Any:
    """from_pretrained, trying the fp16 weight variant first for half precision (and after)."""
    from diffusers import StableDiffusionXLPipeline

    variants = ["fp16", None] if dtype_name != "fp32" else [None, "fp16"]
    last: Exception | None = None
    for variant in variants:
        try:
            return StableDiffusionXLPipeline.from_pretrained(
                where,
                variant=variant,
                use_safetensors=safetensors_only,
                local_files_only=local_only,
                **kwargs,
            )
        except (OSError, ValueError) as exc:  # that variant's files are not there
            last = exc
    assert last is not None
    raise last
