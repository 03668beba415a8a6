"""`pixelbuild engines build`: export a model's UNet at every bucket and compile it.

The exported module (`UNetStep`) takes plain tensors, so the same signature serves AOTInductor,
torch-tensorrt and the engine that calls it: (sample, timestep, encoder_hidden_states, text_embeds,
time_ids) -> noise prediction; the timestep is a float32 scalar tensor. torch is imported inside
the functions only.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from pixelbuild.engines.base import ModelRef
from pixelbuild.engines.compiled import store
from pixelbuild.engines.compiled.profile import Bucket, Compiler, LoadedProfile
from pixelbuild.errors import EngineError

COMPONENT = "unet"
TENSORRT_INSTALL = (
    "install torch-tensorrt and TensorRT matching your torch and CUDA as docs/gb10.md describes "
    '(from the pixelbuild checkout: `pip install -e ".[sdxl,tensorrt]"` with a constraints file '
    "pinning torch, torch-tensorrt and tensorrt)"
)


# --- the machine and its libraries ----------------------------------------------------------


def device_target(device: str) -> str:
    """'sm_XY' of a CUDA device, or 'cpu'."""
    if not device.startswith("cuda"):
        return device.split(":", 1)[0]
    import torch

    index = torch.device(device).index or 0
    major, minor = torch.cuda.get_device_capability(index)
    return f"sm_{major}{minor}"


def tensorrt_versions() -> str:
    """'torch_tensorrt X; tensorrt Y', or EngineError when TensorRT cannot be imported."""
    try:
        import torch_tensorrt

        # TensorRT has no type stubs (and no mypy override): imported by name, it is a module.
        tensorrt = import_module("tensorrt")
    except Exception as exc:  # ImportError, or a broken install failing to load its libraries
        raise EngineError(
            f"the tensorrt compiler needs torch-tensorrt and TensorRT, which cannot be imported "
            f"here ({type(exc).__name__}: {exc}); {TENSORRT_INSTALL}"
        ) from exc
    return f"torch_tensorrt {torch_tensorrt.__version__}; tensorrt {tensorrt.__version__}"


def toolchain(compiler: str, device: str) -> store.Toolchain:
    """What engines built (or run) here with `compiler` are keyed on."""
    import torch

    if compiler == "inductor":
        version = f"inductor (torch {torch.__version__})"
    elif compiler == "tensorrt":
        version = tensorrt_versions()
    else:
        raise EngineError(f"unknown compiler {compiler!r} (use tensorrt or inductor)")
    return store.Toolchain(
        compiler=compiler,
        compiler_version=version,
        torch=torch.__version__,
        target=device_target(device),
        system=store.system_name(),
    )


def device_for_target(target: str) -> str:
    """The device that builds engines for `target`: this machine must be that target."""
    if target == "cpu":
        return "cpu"
    import torch

    if not torch.cuda.is_available():
        raise EngineError(
            f"the profile targets {target}, but torch {torch.__version__} sees no CUDA GPU here; "
            "engines must be built on the GPU they run on (TensorRT engines are tied to the GPU "
            "architecture): run `pixelbuild engines build` on that machine"
        )
    here = device_target("cuda")
    if here != target:
        raise EngineError(
            f"the profile targets {target}, but this machine's GPU is {here}; build the engines "
            f"on a {target} machine, or set `target: {here}` in a profile for this one"
        )
    return "cuda"


# --- the exported module ------------------------------------------------------------------


def unet_step_class():
    """The nn.Module wrapper that is exported (defined lazily: it subclasses torch.nn.Module)."""
    import torch

    class UNetStep(torch.nn.Module):
        """The UNet with plain tensor inputs and one tensor output."""

        def __init__(self, unet: Any) -> None:
            super().__init__()
            self.unet = unet

        def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
            return self.unet(
                sample,
                timestep,
                encoder_hidden_states=encoder_hidden_states,
                added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids},
                return_dict=False,
            )[0]

    return UNetStep


def example_inputs(unet: Any, bucket: Bucket, seq_len: int, device: str, dtype: Any):
    """Random inputs of the bucket's static shapes, as the pipeline passes them."""
    import torch

    cfg = unet.config
    text_dim = int(cfg.projection_class_embeddings_input_dim) - 6 * int(cfg.addition_time_embed_dim)
    gen = torch.Generator("cpu").manual_seed(0)
    n = bucket.unet_batch

    def randn(*shape):
        return torch.randn(shape, generator=gen).to(device=device, dtype=dtype)

    return (
        randn(n, int(cfg.in_channels), bucket.height // 8, bucket.width // 8),
        torch.tensor(500.0, dtype=torch.float32, device=device),
        randn(n, seq_len, int(cfg.cross_attention_dim)),
        randn(n, text_dim),
        randn(n, 6),
    )


def export_unet(unet: Any, bucket: Bucket, seq_len: int, device: str, dtype: Any):
    """torch.export the UNet at one static bucket (circular padding for tile buckets)."""
    import torch

    from pixelbuild.engines.sdxl import circular_padding

    module = unet_step_class()(unet).eval()
    args = example_inputs(unet, bucket, seq_len, device, dtype)
    tiles = circular_padding([unet]) if bucket.padding == "circular" else nullcontext()
    with tiles, torch.no_grad():
        program = torch.export.export(module, args, strict=False)
    return program, args


def compile_inductor(program: Any, args: tuple, out: Path, refittable: bool) -> Path:
    """AOTInductor: a .pt2 package with the weights inside (refit with `load_constants`)."""
    import torch

    path = out / store.ARTIFACTS["inductor"]
    torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    return path


def compile_tensorrt(program: Any, args: tuple, out: Path, refittable: bool) -> Path:
    """torch-tensorrt: compile the exported program to TensorRT engines and save it.

    Written against torch-tensorrt's documented dynamo API (`torch_tensorrt.dynamo.compile`,
    `torch_tensorrt.save`); not run on these machines (no TensorRT here).
    """
    import torch
    import torch_tensorrt

    dtype = args[0].dtype
    compiled = torch_tensorrt.dynamo.compile(
        program,
        arg_inputs=list(args),
        enabled_precisions={dtype} if dtype != torch.float32 else {torch.float32},
        immutable_weights=not refittable,
        min_block_size=1,
    )
    path = out / store.ARTIFACTS["tensorrt"]
    torch_tensorrt.save(compiled, str(path), arg_inputs=list(args))
    return path


COMPILERS: dict[Compiler, Callable[[Any, tuple[Any, ...], Path, bool], Path]] = {
    "inductor": compile_inductor,
    "tensorrt": compile_tensorrt,
}


# --- a whole profile ------------------------------------------------------------------------


@dataclass
class BuildResult:
    """What one profile's build did, bucket by bucket."""

    profile: str
    built: list[store.BuiltEngine] = field(default_factory=list)
    cached: list[store.BuiltEngine] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def row(e: store.BuiltEngine) -> dict[str, Any]:
            return {"key": e.key, "bucket": e.bucket.label, "path": str(e.dir)}

        return {
            "profile": self.profile,
            "built": [row(e) for e in self.built],
            "cached": [row(e) for e in self.cached],
        }


def build_profile(
    loaded: LoadedProfile,
    model: ModelRef,
    cache: Path,
    *,
    allow_download: bool = False,
    say: Callable[[str], None] = lambda _: None,
    pipeline: Any = None,
) -> BuildResult:
    """Build every missing engine of `loaded` for `model` into `cache`; existing ones are hits."""
    profile = loaded.profile
    if model.digest in ("", "missing"):
        raise EngineError(
            f"model {model.name!r} has no content digest (its files are missing or not cached): "
            "make the model available before building engines for it"
        )
    device = device_for_target(profile.target)
    tools = toolchain(profile.compiler, device)
    result = BuildResult(loaded.name)
    todo: list[tuple[Bucket, dict[str, Any]]] = []
    for bucket in loaded.buckets():
        fields = store.key_fields(model.digest, COMPONENT, tools, profile.precision, bucket)
        found = store.find_engine(cache, fields)
        if found is not None:
            result.cached.append(found)
            say(f"cached   {loaded.name}: {bucket.label} [{found.key[:12]}]")
        else:
            todo.append((bucket, fields))
    if not todo:
        return result

    import torch

    from pixelbuild.engines.sdxl import load_pipeline, torch_dtype

    pipe = pipeline or load_pipeline(model, device, profile.precision, allow_download)
    unet = pipe.unet
    seq_len = int(getattr(pipe.tokenizer, "model_max_length", 77) or 77)
    dtype = torch_dtype(profile.precision)
    compile_fn = COMPILERS[profile.compiler]
    for bucket, fields in todo:
        key = store.engine_key(fields)
        say(f"building {loaded.name}: {bucket.label} [{key[:12]}] with {profile.compiler} ...")
        start = time.perf_counter()
        staging = store.staging_dir(cache, key)
        try:
            program, args = export_unet(unet, bucket, seq_len, device, dtype)
            exported = time.perf_counter()
            artifact = compile_fn(program, args, staging, profile.refittable)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, EngineError) or not isinstance(exc, Exception):
                raise
            raise EngineError(
                f"{loaded.name}: building the {profile.compiler} engine for {bucket.label} "
                f"failed: {type(exc).__name__}: {exc}"
            ) from exc
        done = time.perf_counter()
        info = {
            **fields,
            "key": key,
            "artifact": artifact.name,
            "images": bucket.images,
            "cfg": profile.cfg,
            "refittable": profile.refittable,
            "model_name": model.name,
            "profile": loaded.name,
            "profile_path": str(loaded.path),
            "seq_len": seq_len,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "export_seconds": round(exported - start, 2),
            "compile_seconds": round(done - exported, 2),
            "size_bytes": artifact.stat().st_size,
        }
        result.built.append(store.publish(cache, key, staging, info))
        say(f"built    {loaded.name}: {bucket.label} in {done - start:.1f}s")
        del program
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return result
