"""Where compiled engines live in the project cache, what their keys hold, and how to find them.

    <cache>/engines/<key>/engine.json    the description (every key field, plus where it came from)
    <cache>/engines/<key>/unet.pt2       AOTInductor package   (compiler: inductor)
    <cache>/engines/<key>/unet.ep        torch-tensorrt save   (compiler: tensorrt)

The key is xxh3-128 of the canonical JSON of `key_fields`: the model's content digest, the
component, the compiler and its version, torch's version, the GPU architecture (or "cpu"), the OS
and machine, the precision and the shape bucket. An engine is written into a temporary folder and
renamed into place, so a folder with an `engine.json` is always complete.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelbuild.cache.hashing import digest_json
from pixelbuild.engines.compiled.profile import Bucket, Compiler

ENGINES_DIR = "engines"
DESCRIPTION = "engine.json"
#: Bumped when the exported module's inputs or the file layout change.
FORMAT = "1"
ARTIFACTS: dict[Compiler, str] = {"inductor": "unet.pt2", "tensorrt": "unet.ep"}


@dataclass(frozen=True, slots=True)
class Toolchain:
    """The machine and libraries an engine is built for: part of every key."""

    compiler: str
    compiler_version: str
    torch: str
    target: str  # "sm_121", "sm_90", ... or "cpu"
    system: str  # "linux-x86_64", "linux-aarch64", ...

    def fields(self) -> dict[str, str]:
        return {
            "compiler": self.compiler,
            "compiler_version": self.compiler_version,
            "torch": self.torch,
            "target": self.target,
            "system": self.system,
        }


def system_name() -> str:
    return f"{sys.platform}-{platform.machine().lower()}"


def key_fields(
    model_digest: str, component: str, toolchain: Toolchain, precision: str, bucket: Bucket
) -> dict[str, Any]:
    """Everything a compiled engine depends on; its key is the digest of this."""
    return {
        "format": FORMAT,
        "model": model_digest,
        "component": component,
        **toolchain.fields(),
        "precision": precision,
        "bucket": {
            "width": bucket.width,
            "height": bucket.height,
            "unet_batch": bucket.unet_batch,
            "padding": bucket.padding,
        },
    }


def engine_key(fields: dict[str, Any]) -> str:
    return digest_json(fields)


def engines_root(cache: Path) -> Path:
    return Path(cache) / ENGINES_DIR


def engine_dir(cache: Path, key: str) -> Path:
    return engines_root(cache) / key


@dataclass(frozen=True)
class BuiltEngine:
    """One engine found in the cache: its folder and description."""

    key: str
    dir: Path
    info: dict[str, Any]

    @property
    def artifact(self) -> Path:
        return self.dir / self.info["artifact"]

    @property
    def bucket(self) -> Bucket:
        b = self.info["bucket"]
        images = int(self.info.get("images", b["unet_batch"]))
        return Bucket(b["width"], b["height"], images, b["unet_batch"], b["padding"])

    def same_except(self, fields: dict[str, Any], *names: str) -> bool:
        """Whether this engine's key fields equal `fields` on everything but `names`."""
        return all(self.info.get(k) == v for k, v in fields.items() if k not in names)


def read_engines(cache: Path) -> list[BuiltEngine]:
    """Every complete engine in the cache (folders with a readable description)."""
    root = engines_root(cache)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        desc = folder / DESCRIPTION
        if folder.name.startswith(".") or not desc.is_file():
            continue
        try:
            info = json.loads(desc.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and (folder / str(info.get("artifact", ""))).is_file():
            found.append(BuiltEngine(folder.name, folder, info))
    return found


def find_engine(cache: Path, fields: dict[str, Any]) -> BuiltEngine | None:
    key = engine_key(fields)
    for engine in read_engines(cache):
        if engine.key == key:
            return engine
    return None


def staging_dir(cache: Path, key: str) -> Path:
    """A fresh temporary folder beside the engines, on the same filesystem."""
    path = engines_root(cache) / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def publish(cache: Path, key: str, staging: Path, info: dict[str, Any]) -> BuiltEngine:
    """Write the description and rename the staging folder into place."""
    (staging / DESCRIPTION).write_text(
        json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    final = engine_dir(cache, key)
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    return BuiltEngine(key, final, info)


def clean(cache: Path, keep: set[str] | None = None) -> list[BuiltEngine]:
    """Remove engines (all, or all but `keep`) and leftover staging folders; return the removed."""
    root = engines_root(cache)
    removed = []
    for engine in read_engines(cache):
        if keep is None or engine.key not in keep:
            shutil.rmtree(engine.dir, ignore_errors=True)
            removed.append(engine)
    if root.is_dir():
        for folder in root.iterdir():
            if folder.name.startswith(".tmp-") or not (folder / DESCRIPTION).is_file():
                shutil.rmtree(folder, ignore_errors=True)
    return removed


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
