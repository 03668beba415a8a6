"""The remote side of a cluster build: one actor per GPU, holding its engines warm.

A task that asks Ray for a GPU runs in a fresh process per call (SDXL would reload per batch),
so each GPU gets one long-lived actor instead (runner.py creates them). An actor only paints:
it checks that the model and LoRA files a request names are here with the digests the driver
planned with, runs the batch through its engine, and returns PNG bytes, their digests and its
own provenance. It never touches the project's cache or lock (the driver alone writes them).
Plain Python: runner.py wraps the class with `ray.remote`, so this module never imports Ray.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelbuild.cache.hashing import digest_bytes, digest_file, digest_folder
from pixelbuild.cache.hub import hub_cache, hub_revision
from pixelbuild.cache.signature import Signature, signature
from pixelbuild.errors import EngineError
from pixelbuild.plan.steps import GENERATE
from pixelbuild.run.generation import Batch, code_of, generate, make_engine
from pixelbuild.targets.trained import TRAINED_FOLDER

if TYPE_CHECKING:
    from pixelbuild.engines.base import Engine, GenerateRequest, ModelRef

STAGE_HINT = (
    "every node of the cluster needs the project's model and LoRA files at the same paths "
    "(a shared filesystem, or the files and the Hugging Face cache staged on each node)"
)


class GenerationActor:
    """One GPU's engines, loaded on first use and kept for the actor's life.

    Restarted by Ray after a crash (`max_restarts`): a restarted actor is a fresh instance,
    whose engines load again on its next batch.
    """

    def __init__(self, engine_options: dict[str, dict[str, Any]], cache_dir: str):
        self.engine_options = engine_options
        self.cache_dir = Path(cache_dir)
        self.engines: dict[str, Engine] = {}
        self.files = FileCheck(self.cache_dir)

    def batch_size(self, engine: str, request: GenerateRequest) -> int:
        """What this GPU's engine says one call should carry (the driver takes the minimum
        over the actors, so every batch fits every GPU)."""
        return self._engine(engine).batch_size(request)

    def generate(self, engine: str, requests: list[GenerateRequest]) -> dict[str, Any]:
        """Paint a batch: {"pngs", "digests", "provenance", "code", "seconds", "node"}."""
        from pixelbuild.images import encode_png

        for request in requests:
            self.files.check(request)
        loaded = self._engine(engine)
        made = generate(Batch([], loaded, requests))
        pngs = [encode_png(image, fast=GENERATE.raw_blobs) for image in made.images]
        return {
            "pngs": pngs,
            "digests": [digest_bytes(png) for png in pngs],
            "provenance": made.provenance,
            "code": code_of(loaded),
            "seconds": made.seconds,
            "node": socket.gethostname(),
        }

    def _engine(self, name: str) -> Engine:
        if name not in self.engines:
            self.engines[name] = make_engine(name, self.engine_options, self.cache_dir)
        return self.engines[name]


class FileCheck:
    """Checks that a request's model, IP-Adapter and LoRA files are on this node with the
    digests the driver planned with; each file is read once while its stat is unchanged.

    A LoRA trained by the build lives in the project cache (`cache_dir`), named by its key (its
    `digest` is that key, not the file's): it only has to be there.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.trained = cache_dir / TRAINED_FOLDER
        self._known: dict[tuple[str, Signature], str] = {}

    def check(self, request: GenerateRequest) -> None:
        """EngineError naming the first file that is missing here or differs."""
        for model in (request.model, request.ip_adapter):
            if model is not None:
                self._model(model, request.entry)
        for lora in request.loras:
            if lora.path.is_relative_to(self.trained):
                self._trained(lora.name, lora.path, request.entry)
            else:
                self._expect(f"LoRA {lora.name!r}", lora.path, lora.digest, request.entry)

    def _model(self, model: ModelRef, entry: str) -> None:
        what = f"model {model.name!r}"
        if model.source != "hub":
            self._expect(what, Path(model.location), model.digest, entry)
            return
        commit = hub_revision(model.location)
        if commit is None:
            raise EngineError.about(
                entry,
                f"{what}: {model.location} is not in the Hugging Face cache of node "
                f"{socket.gethostname()} ({hub_cache()}); {STAGE_HINT}",
            )
        if commit != model.digest:
            raise EngineError.about(
                entry,
                f"{what}: node {socket.gethostname()} has {model.location} at commit {commit}, "
                f"the build planned with {model.digest}; {STAGE_HINT}",
            )

    def _trained(self, name: str, path: Path, entry: str) -> None:
        if not path.is_file():
            raise EngineError.about(
                entry,
                f"trained LoRA {name!r}: {path} is not on node {socket.gethostname()}; the "
                "build writes the LoRAs it trains into the project's cache folder: put that "
                "folder on a filesystem every node shares (PIXELBUILD_CACHE)",
            )

    def _expect(self, what: str, path: Path, digest: str, entry: str) -> None:
        node = socket.gethostname()
        try:
            found = digest_folder(path, self._digest) if path.is_dir() else self._digest(path)
        except OSError as exc:
            raise EngineError.about(
                entry,
                f"{what}: {path} cannot be read on node {node} ({exc.strerror or exc}); "
                f"{STAGE_HINT}",
            ) from None
        if found != digest:
            raise EngineError.about(
                entry,
                f"{what}: {path} on node {node} differs from the file the build planned with "
                f"(digest {found}, expected {digest}); {STAGE_HINT}",
            )

    def _digest(self, path: Path) -> str:
        key = (str(path), signature(path))
        if key not in self._known:
            self._known[key] = digest_file(path)
        return self._known[key]
