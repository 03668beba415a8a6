"""`pixelbuild doctor`: what this machine can do for a pixelbuild project, and what is missing.

Informational only: versions come from importlib.metadata, torch is imported (when installed)
to ask about GPUs, the project's models are looked up in the local Hugging Face cache and on
disk, and compiled engines are read from the project cache. Nothing is downloaded or written.

Every checked fact is a dict with a `status` ("ok", "missing", "warning", "error" or "info")
and a human `message` (plus `hint` lines where there is something to run); the text output
prints those in order, `--json` prints the whole report.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pixelbuild import __version__

REPORT_VERSION = 1
SDXL_PACKAGES = ("torch", "diffusers", "transformers", "peft", "safetensors", "accelerate")
TENSORRT_PACKAGES = ("torch_tensorrt", "tensorrt")
WEIGHT_SUFFIXES = frozenset({".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".gguf"})
PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl"})
NO_MANIFEST = "no pixels.yaml here (run `pixelbuild init`, or pass -C DIR)"
NO_DOWNLOAD = "pixelbuild never downloads a model unless run with --allow-download"
CUDA_TORCH = "install a CUDA build of torch: see https://pytorch.org/get-started/locally/"
PROBLEMS = ("missing", "warning", "error")

DOCTOR_HELP = "show what this machine can do: torch, GPUs, engines, the project's models"
DOCTOR_DESCRIPTION = """\
Report what this machine can do for a pixelbuild project: Python, torch (CUDA build or CPU),
the GPUs torch sees, the SDXL libraries, which engines are usable, whether the models and LoRAs
of pixels.yaml are present (the local Hugging Face cache, project files), and which compiled
engines in the project cache match this machine. Lines are marked ok / missing / warning.
Nothing is downloaded or changed; the exit status is 0 whatever it finds.
"""
DOCTOR_EPILOG = """\
examples:
  pixelbuild doctor                 this machine and the project in the current directory
  pixelbuild doctor -C game/        the project in game/
  pixelbuild doctor --json          the same facts as one JSON object
"""


def item(status: str, message: str, hint: list[str] | None = None, **facts: Any) -> dict[str, Any]:
    """One checked fact: a status, a sentence for the text output, and the facts themselves."""
    return {"status": status, "message": message, "hint": hint or [], **facts}


# --- the machine -----------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    from importlib import metadata  # not at import: it costs the CLI's start 20 ms

    try:
        return metadata.version(dist)
    except Exception:  # PackageNotFoundError, or a broken dist-info
        return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except Exception:  # ValueError for a module set to None, a broken parent package
        return False


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver is installed here (so a CUDA GPU is expected), torch aside."""
    return Path("/proc/driver/nvidia").is_dir() or shutil.which("nvidia-smi") is not None


def package(name: str, optional: bool = False) -> dict[str, Any]:
    """A library's version, and whether it can be imported (a half-install is a warning)."""
    version, importable = _version(name), _importable(name)
    if version and importable:
        return item("ok", f"{name} {version}", version=version, importable=True)
    if version:
        message = f"{name} {version} is installed but cannot be found by import (reinstall it)"
        return item("warning", message, version=version, importable=False)
    if importable:
        message = f"{name} imports but has no package metadata (a copy on sys.path?)"
        return item("warning", message, version=None, importable=True)
    if optional:
        message = f"{name}: not installed (only the tensorrt engine needs it, on NVIDIA GPUs)"
        return item("info", message, version=None, importable=False)
    return item("missing", f"{name}: not installed", version=None, importable=False)


def _pixelbuild() -> dict[str, Any]:
    import pixelbuild

    location = str(Path(pixelbuild.__file__).parent)
    installed = _version("pixelbuild")
    if installed is not None and installed != __version__:
        message = (
            f"pixelbuild {__version__} runs from {location}, but the installed package is "
            f"{installed} (an old install shadowing it?)"
        )
        return item("warning", message, version=__version__, location=location)
    return item(
        "ok", f"pixelbuild {__version__} ({location})", version=__version__, location=location
    )


def _python() -> dict[str, Any]:
    version = platform.python_version()
    system = f"{sys.platform}-{platform.machine().lower()}"
    message = f"Python {version} ({platform.python_implementation()}, {sys.executable}) on {system}"
    return item(
        "ok",
        message,
        version=version,
        implementation=platform.python_implementation(),
        executable=sys.executable,
        platform=platform.platform(),
    )


def _driver() -> str | None:
    """The NVIDIA kernel driver's version, read from /proc (Linux), or None."""
    try:
        text = Path("/proc/driver/nvidia/version").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]+)", text)
    return found.group(1) if found else text.splitlines()[0].strip() if text else None


def _gpu(torch: Any, index: int, arch_list: list[str]) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(index)
    major, minor = int(props.major), int(props.minor)
    target = f"sm_{major}{minor}"
    gib = props.total_memory / 2**30
    supported = _arch_supported(major, minor, arch_list)
    message = f"GPU {index}: {props.name}, {gib:.1f} GiB, {target}"
    facts: dict[str, Any] = {
        "index": index,
        "name": str(props.name),
        "memory_bytes": int(props.total_memory),
        "capability": target,
        "supported": supported,
    }
    if not supported:
        hint = [f"this torch has kernels for {', '.join(arch_list)} only; {CUDA_TORCH}"]
        return item("warning", message + ": not supported by this torch build", hint, **facts)
    return item("ok", message, **facts)


def _arch_supported(major: int, minor: int, arch_list: list[str]) -> bool:
    """Whether a build's arch list runs on sm_XY: a same-major cubin <= it, or older PTX.

    'sm_90a'-style (architecture-specific) cubins run on that exact capability only.
    """
    if not arch_list:
        return True  # unknown: do not claim a problem
    for arch in arch_list:
        found = re.fullmatch(r"(sm|compute)_(\d+?)(\d)([a-z]?)", arch)
        if found is None:
            continue
        kind, a, b, suffix = found.group(1), int(found.group(2)), int(found.group(3)), found[4]
        if suffix == "a" and (a, b) != (major, minor):
            continue
        if kind == "sm" and a == major and b <= minor:
            return True
        if kind == "compute" and (a, b) <= (major, minor):
            return True
    return False


def _call(fn: Any, default: Any = None) -> Any:
    try:
        return fn()
    except Exception:
        return default


def torch_facts(torch: Any) -> dict[str, Any]:
    """What an imported torch says about its build and the devices it sees."""
    cuda_build = getattr(torch.version, "cuda", None)
    hip = getattr(torch.version, "hip", None)
    available = bool(_call(torch.cuda.is_available, False))
    arch_list = list(_call(torch.cuda.get_arch_list, []) or []) if available else []
    gpus = []
    for index in range(int(_call(torch.cuda.device_count, 0)) if available else 0):
        try:
            gpus.append(_gpu(torch, index, arch_list))
        except Exception as exc:
            gpus.append(
                item("warning", f"GPU {index}: cannot be queried ({_why(exc)})", index=index)
            )
    mps = getattr(torch.backends, "mps", None)
    return {
        "version": str(torch.__version__),
        "build": "rocm" if hip else "cuda" if cuda_build else "cpu",
        "cuda_runtime": cuda_build,
        "hip": hip,
        "cudnn": _call(torch.backends.cudnn.version) if available else None,
        "cuda_available": available,
        "arch_list": arch_list,
        "gpus": gpus,
        "mps_built": bool(_call(mps.is_built, False)) if mps else False,
        "mps_available": bool(_call(mps.is_available, False)) if mps else False,
    }


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def torch_report() -> dict[str, Any]:
    """torch's version, build and devices; imported only here, and only when installed."""
    version = _version("torch")
    blank: dict[str, Any] = {
        "version": version,
        "build": None,
        "cuda_runtime": None,
        "cuda_available": False,
        "gpus": [],
        "mps_available": False,
    }
    if not _importable("torch"):
        status = "warning" if version else "missing"
        message = (
            f"torch {version} is installed but cannot be found by import"
            if version
            else "torch: not installed: only the procedural engine can run"
        )
        return item(status, message, _install_hint("sdxl"), installed=False, **blank)
    try:
        import torch

        facts = torch_facts(torch)
    except Exception as exc:  # a half-installed torch: missing shared libraries, bad CUDA, ...
        message = f"torch {version or ''} is installed but fails to import ({_why(exc)})"
        return item("warning", message, [CUDA_TORCH], installed=True, error=_why(exc), **blank)
    return item(*torch_status(facts), installed=True, error=None, **facts)


def torch_status(facts: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(status, message, hint) of torch's line: a build or a driver that cannot use the GPU."""
    head = f"torch {facts['version']}"
    if facts["cuda_available"]:
        n = len(facts["gpus"])
        return "ok", f"{head} (CUDA {facts['cuda_runtime']} build), sees {n} GPU(s)", []
    if facts["build"] == "cpu":
        if _nvidia_driver():
            why = (
                "is a CPU-only build, but this machine has an NVIDIA driver: it cannot use the GPU"
            )
            return "warning", f"{head} {why}", [CUDA_TORCH]
        return "ok", f"{head} (CPU-only build)", []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    hint = [f"CUDA_VISIBLE_DEVICES={visible!r} hides GPUs"] if visible is not None else []
    if not _nvidia_driver():
        hint.append("no NVIDIA driver found (/proc/driver/nvidia, nvidia-smi)")
    hint.append(f"check `nvidia-smi`; the driver must support CUDA {facts['cuda_runtime']}")
    build = f"{facts['build'].upper()} {facts['cuda_runtime'] or facts.get('hip')}"
    return "warning", f"{head} ({build} build) sees no GPU", hint


def _device(torch_item: dict[str, Any]) -> dict[str, Any]:
    """Where `device: auto` runs SDXL here, as the diffusers engine picks it."""
    if torch_item["cuda_available"] and torch_item["gpus"]:
        first = torch_item["gpus"][0]
        return item("ok", f"SDXL runs on: cuda ({first.get('name', 'GPU 0')})", device="cuda")
    if torch_item["mps_available"]:
        return item("ok", "SDXL runs on: mps (Apple GPU)", device="mps")
    if not torch_item.get("installed"):
        return item("info", "SDXL cannot run (no usable torch)", device=None)
    return item("info", "SDXL runs on: cpu (slow; no CUDA GPU or MPS visible)", device="cpu")


def _mps(torch_item: dict[str, Any]) -> dict[str, Any]:
    if torch_item.get("mps_available"):
        return item("ok", "MPS (Apple GPU): available", available=True)
    if sys.platform == "darwin" and platform.machine() == "arm64" and torch_item.get("installed"):
        return item("warning", "MPS (Apple GPU): not available to this torch", available=False)
    return item("info", "MPS (Apple GPU): not available", available=False)


def hf_cache_report() -> dict[str, Any]:
    """Where models from the hub are looked for, and which variable chose it."""
    from pixelbuild.cache.hub import hub_cache

    path = hub_cache()
    source = next(
        (v for v in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME") if os.environ.get(v)),
        "default",
    )
    exists = path.is_dir()
    where = f"Hugging Face cache: {path} (from {source})"
    if exists:
        return item("ok", where, path=str(path), source=source, exists=True)
    where += ": does not exist (no hub model downloaded here yet)"
    return item("info", where, path=str(path), source=source, exists=False)


def machine_report() -> dict[str, Any]:
    """Python, pixelbuild, torch and its devices, the libraries SDXL needs."""
    torch_item = torch_report()
    nvidia = _nvidia_driver()
    driver = _driver()
    packages = {name: package(name) for name in SDXL_PACKAGES[1:]}
    packages["huggingface_hub"] = package("huggingface_hub")
    for name in TENSORRT_PACKAGES:  # NVIDIA only: absent is normal elsewhere
        packages[name] = package(name, optional=not torch_item["cuda_available"])
    return {
        "python": _python(),
        "pixelbuild": _pixelbuild(),
        "system": f"{sys.platform}-{platform.machine().lower()}",
        "nvidia_driver": driver if driver else ("present" if nvidia else None),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "torch": torch_item,
        "mps": _mps(torch_item),
        "device": _device(torch_item),
        "packages": packages,
        "hf_cache": hf_cache_report(),
    }


# --- engines ---------------------------------------------------------------------------------


def _install_hint(extra: str | None) -> list[str]:
    from pixelbuild.engines.registry import SDXL_INSTALL

    if extra == "sdxl":
        return [line.strip() for line in SDXL_INSTALL.splitlines()]
    if extra == "tensorrt":
        return [
            'pip install "pixelbuild[tensorrt]"   # TensorRT matching your torch and CUDA',
            "see docs/gb10.md for the constraints file",
        ]
    return [f'pip install "pixelbuild[{extra}]"'] if extra else []


def engine_report(spec: Any, machine: dict[str, Any], used: int) -> dict[str, Any]:
    """Whether one engine of the registry can run here, and what to install when not."""
    try:
        missing = list(spec.missing_modules())
    except Exception as exc:
        missing = [f"? ({_why(exc)})"]
    if "torch" in spec.modules and "torch" not in missing and machine["torch"].get("error"):
        missing.append("torch (installed, but it fails to import)")
    cuda = bool(machine["torch"]["cuda_available"])
    needs_cuda = spec.name == "tensorrt"
    use = f", used by {used} entr{'y' if used == 1 else 'ies'}" if used else ""
    facts: dict[str, Any] = {
        "summary": spec.summary,
        "missing": missing,
        "extra": spec.extra,
        "used_by": used,
    }
    if missing:
        status = "info" if needs_cuda and not cuda and not used else "missing"
        message = f"{spec.name}: not usable{use}: needs {', '.join(missing)}"
        return item(status, message, _install_hint(spec.extra), usable=False, **facts)
    if needs_cuda and not cuda:
        message = f"{spec.name}: installed, but needs an NVIDIA GPU and torch sees none{use}"
        return item("warning" if used else "info", message, usable=False, **facts)
    if spec.needs_model and machine["device"]["device"] == "cpu":
        message = f"{spec.name}: usable on the cpu (slow){use} - {spec.summary}"
        return item("ok", message, usable=True, **facts)
    return item("ok", f"{spec.name}: usable{use} - {spec.summary}", usable=True, **facts)


def engines_report(machine: dict[str, Any], used: dict[str, int]) -> dict[str, Any]:
    """Every engine of `pixelbuild.engines.registry.ENGINES`, usable or not."""
    from pixelbuild.engines.registry import ENGINES

    return {name: engine_report(spec, machine, used.get(name, 0)) for name, spec in ENGINES.items()}


# --- the project -----------------------------------------------------------------------------


def _fetch_command(repo: str, config_only: bool = False) -> str:
    """The command that puts `repo` into the local Hugging Face cache."""
    old = shutil.which("huggingface-cli") and not shutil.which("hf")
    include = " --include '*.json' '*.txt'" if config_only else ""
    return f"{'huggingface-cli' if old else 'hf'} download {repo}{include}"


def _has_weights(folder: Path) -> bool:
    """Whether a snapshot holds weight files (links into the cache's blobs that resolve)."""
    for pattern in ("*", "*/*"):
        if any(p.suffix in WEIGHT_SUFFIXES and p.exists() for p in folder.glob(pattern)):
            return True
    return False


def hub_report(repo: str, what: str, config_only: bool = False) -> dict[str, Any]:
    """Whether the hub repository `repo` is in the local Hugging Face cache."""
    from pixelbuild.cache.hub import hub_cache, hub_revision, hub_snapshot

    snapshot, commit = hub_snapshot(repo), hub_revision(repo)
    cmd = _fetch_command(repo, config_only)
    facts: dict[str, Any] = {"source": "hub", "location": repo, "revision": commit, "fetch": cmd}
    if snapshot is None or commit is None:
        other = cmd.replace("hf download", "huggingface-cli download", 1)
        hint = [f"fetch it: {cmd}", f"(older huggingface_hub: {other})", NO_DOWNLOAD]
        message = f"{what}: {repo} is not in the local Hugging Face cache ({hub_cache()})"
        return item("missing", message, hint, present=False, path=None, **facts)
    if not config_only and not _has_weights(snapshot):
        message = f"{what}: {repo} is cached ({commit[:12]}) but has no weight files"
        hint = [f"a configs-only or interrupted download? fetch it: {cmd}"]
        return item("warning", message, hint, present=True, path=str(snapshot), **facts)
    message = f"{what}: {repo} (in the Hugging Face cache, revision {commit[:12]})"
    return item("ok", message, present=True, path=str(snapshot), **facts)


def _repo_shaped(text: str) -> bool:
    return text.count("/") == 1 and not text.startswith((".", "~", "/"))


def _local_report(what: str, rel: str, base: Path, folder: bool) -> dict[str, Any]:
    """Whether the project file (or folder) `rel` exists."""
    path = (base / rel).expanduser()
    facts: dict[str, Any] = {
        "source": "folder" if folder else "file",
        "location": rel,
        "path": str(path),
    }
    kind = "folder" if folder else "file"
    if not (path.is_dir() if folder else path.is_file()):
        message = f"{what}: {kind} {rel} not found ({path})"
        return item("missing", message, present=False, **facts)
    if folder and not (path / "model_index.json").is_file():
        message = f"{what}: {rel} has no model_index.json (not a diffusers folder?)"
        return item("warning", message, present=True, **facts)
    size = "" if folder else f", {path.stat().st_size / 2**20:.1f} MB"
    return item("ok", f"{what}: {kind} {rel}{size}", present=True, **facts)


def _base_repo() -> str:
    for module in ("pixelbuild.engines.sdxl.models", "pixelbuild.engines.sdxl_models"):
        try:
            return str(importlib.import_module(module).SDXL_BASE_REPO)
        except Exception:
            continue
    return "stabilityai/stable-diffusion-xl-base-1.0"


def _config_report(name: str, config: str | None, base: Path) -> dict[str, Any]:
    """Where a single-file checkpoint's component configs come from, and whether they are here."""
    if config:
        return _local_report(f"model {name} config", config, base, folder=True)
    found = hub_report(_base_repo(), f"model {name} configs (single file: SDXL base)", True)
    if not found["present"]:
        found["hint"].insert(
            0,
            "a single-file checkpoint needs SDXL's component configs: set "
            "`config:` to a local diffusers folder, or",
        )
    return found


def _vae_report(name: str, vae: str, base: Path) -> dict[str, Any]:
    local = (base / vae).expanduser()
    if local.exists() or not _repo_shaped(vae):
        return _local_report(f"model {name} vae", vae, base, folder=local.is_dir())
    return hub_report(vae, f"model {name} vae")


def model_report(name: str, model: Any, base: Path) -> dict[str, Any]:
    """Whether a `models:` entry's weights (and VAE, configs) are present on this machine."""
    what = f"model {name}"
    if model.repo is not None:
        found = hub_report(model.repo, what)
    elif model.path is not None:
        found = _local_report(what, model.path, base, folder=True)
    else:
        found = _local_report(what, model.file, base, folder=False)
        suffix = Path(model.file).suffix.lower()
        if found["present"] and suffix in PICKLE_SUFFIXES and not model.allow_pickle:
            found["status"] = "warning"
            found["message"] += f": a pickle ({suffix}) is refused unless `allow_pickle: true`"
            found["hint"] = ["convert it to .safetensors, or set allow_pickle if you trust it"]
    found["name"] = name
    found["vae"] = _vae_report(name, model.vae, base) if model.vae else None
    found["config"] = _config_report(name, model.config, base) if model.file else None
    return found


def lora_report(name: str, lora: Any, base: Path) -> dict[str, Any]:
    """Whether a `loras:` entry's file exists."""
    found = _local_report(f"lora {name}", lora.file, base, folder=False)
    found["name"] = name
    return found


def usage(manifest: Any) -> dict[str, dict[str, int]]:
    """How many generated entries use each engine, model and LoRA (own setting, else project's)."""
    from pixelbuild.defaults import GENERATION
    from pixelbuild.engines.registry import ENGINES
    from pixelbuild.manifest.schema import ENTRY_SECTIONS

    project = manifest.project.generate
    counts: dict[str, dict[str, int]] = {"engines": {}, "models": {}, "loras": {}}

    def count(kind: str, name: str) -> None:
        counts[kind][name] = counts[kind].get(name, 0) + 1

    for section in ENTRY_SECTIONS:
        for entry in getattr(manifest, section, {}).values():
            if not hasattr(entry, "engine") or getattr(entry, "image", None) is not None:
                continue  # atlases, and sprites pixelized from an image file
            engine = entry.engine or project.engine or GENERATION["engine"]
            count("engines", engine)
            if engine not in ENGINES or not ENGINES[engine].needs_model:
                continue  # the procedural engine takes no model or LoRAs
            if model := entry.model or project.model:
                count("models", model)
            for lora in entry.loras or project.loras or ():
                count("loras", getattr(lora, "name", lora))
    return {kind: dict(sorted(c.items())) for kind, c in counts.items()}


def _checked(check: Any, name: str, value: Any, base: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = check(name, value, base)
    except Exception as exc:  # a schema that moved under us: say so, do not crash
        found = item("warning", f"{name}: cannot be checked ({_why(exc)})", name=name)
    return found


LARGE_FILE = 5000  # entries in pixels.yaml itself past which doctor suggests `include:`


def project_report(directory: Path, manifest: Path | None) -> tuple[dict[str, Any], Any]:
    """The manifest's models and LoRAs, present or missing; also the parsed manifest (or None)."""
    path = (manifest or directory / "pixels.yaml").resolve()
    facts: dict[str, Any] = {
        "directory": str(directory),
        "manifest": str(path),
        "found": False,
        "error": None,
        "engines_used": {},
        "models": {},
        "loras": {},
    }
    if manifest is None and not path.is_file():
        message = NO_MANIFEST if directory.is_dir() else f"{directory} is not a folder"
        return item("missing", message, **facts), None
    try:
        from pixelbuild.manifest.load import load_manifest

        parsed, doc = load_manifest(path)
    except Exception as exc:  # ManifestError (printed as the CLI does), or a broken install
        from pixelbuild.errors import PixelbuildError

        error = str(exc) if isinstance(exc, PixelbuildError) else f"cannot load {path}: {_why(exc)}"
        facts.update(found=path.is_file(), error=error)
        return item("error", f"error: {error}", **facts), None
    base = path.parent
    facts["found"] = True
    uses = usage(parsed)
    facts["engines_used"] = used = uses["engines"]
    for kind, check in (("models", model_report), ("loras", lora_report)):
        for name, value in getattr(parsed, kind).items():
            found = facts[kind][name] = _checked(check, name, value, base)
            found["used_by"] = n = uses[kind].get(name, 0)
            if not n and "message" in found:
                found["message"] += " (no entry uses it)"
    engines = ", ".join(f"{name} {n}" for name, n in used.items()) or "none"
    message = f"{path} ({sum(used.values())} generated entries; engines: {engines})"
    from pixelbuild.manifest.schema import ENTRY_SECTIONS

    total = sum(len(getattr(parsed, section)) for section in ENTRY_SECTIONS)
    facts["entries_in_manifest_file"] = own = total - len(doc.parts)
    hint = []
    if own > LARGE_FILE:  # every edit of that file plans all of its entries
        hint.append(
            f"{path.name} itself holds {own:,} entries: an edit there plans every one of them "
            "(seconds at tens of thousands); keep them in included files, say one per folder "
            "of assets (`include:`), and an edit plans only the file it touches"
        )
    return item("ok", message, hint, **facts), parsed


# --- compiled engines ------------------------------------------------------------------------


def project_cache(directory: Path, manifest: Any) -> Path:
    """The project cache folder, as `open_project` picks it (PIXELBUILD_CACHE wins)."""
    cache: Path | None = None
    for module in ("pixelbuild.run.snapshot", "pixelbuild.build.snapshot"):
        try:
            cache = Path(importlib.import_module(module).default_cache(directory))
            break
        except Exception:
            continue
    if cache is None:
        env = os.environ.get("PIXELBUILD_CACHE")
        cache = (Path(env) if os.path.isabs(env) else directory / env) if env else None
        cache = cache or directory / ".pixelbuild"
    if manifest is not None and manifest.project.cache and "PIXELBUILD_CACHE" not in os.environ:
        cache = directory / manifest.project.cache
    return cache


def _bare(version: str) -> str:
    """A version string without local parts ('2.5.0+cu124' -> '2.5.0')."""
    return re.sub(r"\+[\w.]+", "", version)


def _mismatches(info: dict[str, Any], here: dict[str, Any]) -> list[str]:
    """Why a built engine cannot run here (empty when it matches this machine)."""
    why = []
    target = info.get("target")
    if target != "cpu" and target not in here["targets"]:
        has = ", ".join(here["targets"]) or "no CUDA GPU"
        why.append(f"built for {target}, this machine has {has}")
    if info.get("system") != here["system"]:
        why.append(f"built on {info.get('system')}, this is {here['system']}")
    if info.get("torch") != here["torch"]:
        why.append(
            f"built with torch {info.get('torch')}, here torch {here['torch'] or 'is absent'}"
        )
    if info.get("compiler") == "tensorrt":
        built = str(info.get("compiler_version"))
        if here["tensorrt"] is None:
            why.append("torch_tensorrt and tensorrt are not installed here")
        elif _bare(built) != _bare(here["tensorrt"]):
            why.append(f"built with {built}, here {here['tensorrt']}")
    return why


def _compiled_row(engine: Any, here: dict[str, Any]) -> dict[str, Any]:
    info = engine.info
    bucket = _call(lambda: engine.bucket.label, "?")
    keys = ("profile", "model_name", "compiler", "target", "system", "precision", "torch")
    facts: dict[str, Any] = {k: info.get(k) for k in keys}
    facts.update(
        key=engine.key,
        bucket=bucket,
        compiler_version=info.get("compiler_version"),
        path=str(engine.dir),
    )
    label = (
        f"{engine.key[:12]} {info.get('profile')}: model {info.get('model_name')}, "
        f"{info.get('compiler')} {info.get('target')} {info.get('precision')}, {bucket}"
    )
    why = _mismatches(info, here)
    if why:
        hint = ["rebuild for this machine: pixelbuild engines build"]
        return item(
            "warning",
            f"{label}: does not match ({'; '.join(why)})",
            hint,
            matches=False,
            mismatches=why,
            **facts,
        )
    return item("ok", f"{label}: matches this machine", matches=True, mismatches=[], **facts)


def _here(machine: dict[str, Any], system: str) -> dict[str, Any]:
    torch_item = machine["torch"]
    targets = sorted({g["capability"] for g in torch_item["gpus"] if g.get("capability")})
    trt, rt = _version("torch_tensorrt"), _version("tensorrt")
    return {
        "targets": targets,
        "system": system,
        "torch": torch_item.get("version"),
        "tensorrt": f"torch_tensorrt {trt}; tensorrt {rt}" if trt and rt else None,
    }


def compiled_report(
    cache: Path, project_dir: Path | None, machine: dict[str, Any], used: dict[str, int]
) -> dict[str, Any]:
    """The compiled engines in the project cache, and whether each matches this machine."""
    facts: dict[str, Any] = {"cache": str(cache), "built": 0, "matching": 0, "engines": []}
    try:
        from pixelbuild.engines.compiled import store

        found = store.read_engines(cache)
        here = _here(machine, store.system_name())
    except Exception as exc:
        return item("warning", f"cannot read compiled engines in {cache} ({_why(exc)})", **facts)
    rows = [_compiled_row(e, here) for e in found]
    matching = sum(1 for r in rows if r["matches"])
    profiles = []
    if project_dir is not None and (project_dir / "engines").is_dir():
        profiles = sorted(p.stem for p in (project_dir / "engines").glob("*.y*ml"))
    facts.update(built=len(rows), matching=matching, engines=rows, profiles=profiles)
    needed = sum(n for name, n in used.items() if name in ("inductor", "tensorrt"))
    message = f"{len(rows)} built in {cache}, {matching} match this machine"
    if not rows:
        message = f"0 built (cache: {cache})"
    hint = []
    if profiles and not matching:
        hint.append(f"profiles in engines/: {', '.join(profiles)}; run `pixelbuild engines build`")
    if needed and not matching:
        return item(
            "warning", message + f" ({needed} entries use a compiled engine)", hint, **facts
        )
    status = "info" if not rows else "ok" if matching else "warning"
    return item(status, message, hint, **facts)


# --- the report ------------------------------------------------------------------------------


def _guarded(title: str, build: Any, *args: Any) -> Any:
    """Run one part of the report; an unexpected failure becomes an error line, not a crash."""
    try:
        return build(*args)
    except Exception as exc:
        return item("error", f"{title}: cannot be checked ({_why(exc)})")


def doctor_report(directory: Path, manifest: Path | None = None) -> dict[str, Any]:
    """Every fact `pixelbuild doctor` reports, as one JSON-ready dict with stable keys."""
    directory = directory.resolve()
    machine = _guarded("this machine", machine_report)
    project, parsed = _guarded("the project", project_report, directory, manifest), None
    if isinstance(project, tuple):
        project, parsed = project
    used = project.get("engines_used", {})
    if "torch" in machine:
        engines = _guarded("engines", engines_report, machine, used)
        cache = project_cache(directory, parsed)
        base = directory if project.get("found") is False else Path(project["manifest"]).parent
        compiled = _guarded("compiled engines", compiled_report, cache, base, machine, used)
    else:
        engines = compiled = item("error", "not checked: the machine could not be examined")
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "machine": machine,
        "engines": engines,
        "project": project,
        "compiled": compiled,
    }
    problems = [
        {"status": found["status"], "message": found["message"]}
        for _, found in walk(report)
        if found["status"] in PROBLEMS
    ]
    report["problems"] = problems
    report["summary"] = {s: sum(1 for p in problems if p["status"] == s) for s in PROBLEMS}
    return report


def walk(value: Any, depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every checked fact (a dict with status and message) in report order, with its depth."""
    if isinstance(value, dict):
        if "status" in value and "message" in value:
            yield depth, value
            depth += 1
        for key, child in value.items():
            if key not in ("hint", "problems"):
                yield from walk(child, depth)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child, depth)


SECTIONS = (
    ("machine", "Machine"),
    ("engines", "Engines"),
    ("project", "Project"),
    ("compiled", "Compiled engines"),
)
STYLES = {
    "ok": "green",
    "missing": "bold red",
    "error": "bold red",
    "warning": "yellow",
    "info": "dim",
}


def text_lines(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The report as (status, text) lines; status is "" for headings and hints."""
    lines = [("", "pixelbuild doctor: what this machine can do for pixelbuild")]
    for key, title in SECTIONS:
        lines += [("", ""), ("", title)]
        for depth, found in walk(report[key]):
            pad = "  " * depth
            first, *rest = str(found["message"]).splitlines() or [""]
            lines.append((found["status"], pad + first))
            lines += [("", f"{pad}  {line}") for line in rest]
            lines += [("", f"{pad}  -> {hint}") for hint in found["hint"]]
    counts = report["summary"]
    if any(counts.values()):
        found_text = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        lines += [("", ""), ("", f"summary: {found_text} (the lines marked above)")]
    else:
        lines += [("", ""), ("", "summary: nothing missing")]
    return lines


def print_text(lines: list[tuple[str, str]], color: bool) -> None:
    """Print the lines: status in a column of its own, coloured on a terminal."""
    if not color:
        for status, text in lines:
            print(f"  {status:<8} {text}" if status or text.startswith(" ") else text)
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    for status, text in lines:
        if status or text.startswith(" "):
            console.print(Text.assemble("  ", (f"{status:<8}", STYLES.get(status, "")), " ", text))
        else:
            console.print(Text(text, style="bold"))


def run_doctor(directory: Path, manifest: Path | None, as_json: bool) -> int:
    """Print the report (text, or JSON with --json); 0 whatever it finds."""
    report = doctor_report(directory, manifest)
    error = report["project"].get("error")
    if as_json:
        if error:
            print(f"error: {error}", file=sys.stderr)
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print_text(text_lines(report), color=sys.stdout.isatty())
    return 0


def add_doctor_command(subparsers: Any, common_parent: argparse.ArgumentParser) -> None:
    """Add `doctor` to the CLI's sub-parsers (`common_parent` brings -C, -f and --json)."""
    doctor = subparsers.add_parser(
        "doctor",
        parents=[common_parent],
        help=DOCTOR_HELP,
        description=DOCTOR_DESCRIPTION,
        epilog=DOCTOR_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.set_defaults(run=lambda args: run_doctor(args.directory, args.manifest, args.json))
