"""Generation on a Ray cluster: `pixelbuild build --ray ADDRESS`.

The driver (this process) plans, forms the batches (the same as a local build's: see
run/schedule.py), verifies what comes back and is the only writer of the cache state and the
lock. The cluster only paints: one `GenerationActor` per GPU holds its engines warm, and about
`IN_FLIGHT` batches per actor are out at a time so no GPU waits for the driver.

Invariants:
- A batch's size is the smallest any actor's engine asks for (fixed per engine and batch key,
  never the free memory of the moment), so the batches are a function of the plan and the
  cluster's GPU model: on one GPU model a cluster build and a local build give identical pixels.
- What an actor returns is checked before it is stored: one PNG per request whose bytes match
  the digest the actor computed, of the request's size, made by the same pixelbuild and engine
  versions as the driver's (a node with other code would paint other pixels under the same key).
- An actor that dies is restarted by Ray (`max_restarts`) and its batches run again, up to
  `ATTEMPTS` times each; the build's result does not change.
- Ray is imported on the first batch only: a build with nothing to generate never touches it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelbuild.errors import EngineError, PixelbuildError
from pixelbuild.run.generation import Batch, Finished, Generated, code_of

if TYPE_CHECKING:
    from pixelbuild.engines.base import Engine, GenerateRequest

RAY_INSTALL = (
    "install the [ray] extra, the same on the driver and on every node of the cluster:\n"
    '  from the pixelbuild checkout: pip install -e ".[ray]"'
)
ADDRESS_HINT = (
    "ADDRESS is the head node's host:port (6379 by default, what `ray start --head` prints), "
    "ray://host:10001 for Ray Client, or auto; a cluster with token authentication needs its "
    "token here too (RAY_AUTH_TOKEN, or ~/.ray/auth_token)"
)
IN_FLIGHT = 2  # batches out per actor: one running, one queued behind it
ATTEMPTS = 3  # runs of one batch before its actor's deaths fail it
START_SECONDS = 300.0  # for the actors to start (a busy cluster, a slow import)
PROBE_SECONDS = 5.0  # for the head's port to answer before Ray is asked to connect


@dataclass
class _Flight:
    """A batch out on an actor."""

    batch: Batch
    actor: int
    attempt: int = 1


class RayRunner:
    """Runs batches on the GPUs of the Ray cluster at `address` (a `GenerationRunner`)."""

    def __init__(
        self,
        address: str,
        engine_options: dict[str, dict[str, Any]],
        cache_dir: Path,
        warn: Callable[[str], None],
    ):
        if any(o.get("device") for o in engine_options.values()):
            raise EngineError(
                "--device does not apply with --ray: each actor paints on the GPU Ray gives it"
            )
        self.address = address
        self.engine_options = engine_options
        self.cache_dir = cache_dir
        self.warn = warn
        self._ray: Any = None  # the ray module, once connected
        self._actors: list[Any] = []
        self._flight: dict[Any, _Flight] = {}  # object ref -> the batch it paints
        self._sizes: dict[tuple[str, Any], int] = {}

    # -- GenerationRunner --

    def batch_size(self, engine: Engine, request: GenerateRequest) -> int:
        key = (engine.name, engine.batch_key(request))
        if key not in self._sizes:
            self._connect()
            refs = [a.batch_size.remote(engine.name, request) for a in self._actors]
            self._sizes[key] = min(self._get(refs))
        return self._sizes[key]

    def room(self) -> bool:
        return len(self._flight) < IN_FLIGHT * max(1, len(self._actors))

    def submit(self, batch: Batch) -> None:
        self._connect()
        load = [0] * len(self._actors)
        for flight in self._flight.values():
            load[flight.actor] += 1
        self._send(_Flight(batch, load.index(min(load))))

    def wait(self) -> list[Finished]:
        if not self._flight:
            return []
        ray = self._ray
        ready, _ = ray.wait(list(self._flight), num_returns=1)
        more, _ = ray.wait([r for r in self._flight if r not in ready], timeout=0)
        finished = []
        for ref in [*ready, *more]:
            done = self._collect(ref, self._flight.pop(ref))
            if done is not None:
                finished.append(done)
        return finished or self.wait()

    def close(self) -> None:
        """Leave the cluster; the actors (owned by this driver) go with it."""
        if self._ray is not None:
            self._ray.shutdown()
        self._ray, self._actors, self._flight = None, [], {}

    # -- the cluster --

    def _connect(self) -> None:
        if self._ray is not None:
            return
        try:
            import ray
        except ImportError:
            raise EngineError(f"--ray needs Ray, which is not installed; {RAY_INSTALL}") from None
        self._probe()
        try:
            ray.init(
                address=self.address,
                namespace="pixelbuild",
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EngineError(
                f"cannot join the Ray cluster at {self.address}: {exc}; {ADDRESS_HINT}"
            ) from None
        self._ray = ray
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus < 1:
            self.close()
            raise EngineError(
                f"the Ray cluster at {self.address} has no GPUs (`ray status` lists its "
                "resources); start its nodes on GPU machines, or with --num-gpus"
            )
        from pixelbuild.cluster.actor import GenerationActor

        remote = ray.remote(num_gpus=1, max_restarts=-1, max_task_retries=0)(GenerationActor)
        options = {name: dict(o) for name, o in self.engine_options.items()}
        self._actors = [remote.remote(options, str(self.cache_dir)) for _ in range(gpus)]
        ready, _ = ray.wait(
            [a.__ray_ready__.remote() for a in self._actors],
            num_returns=gpus,
            timeout=START_SECONDS,
        )
        if len(ready) < gpus:
            self.close()
            raise EngineError(
                f"only {len(ready)} of {gpus} generation actors started on the Ray cluster at "
                f"{self.address} within {START_SECONDS:.0f}s; are its GPUs held by another job?"
            )
        try:
            self._get(ready)  # an actor that could not start (pixelbuild missing on a node)
        except PixelbuildError:
            self.close()
            raise

    def _probe(self) -> None:
        """Fail in seconds, not minutes, when nothing listens at a host:port address (Ray
        itself retries for minutes)."""
        host, _, port = self.address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            return  # "auto", or an address Ray resolves itself
        try:
            socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
        except OSError as exc:
            raise EngineError(
                f"cannot reach the Ray cluster at {self.address} ({exc.strerror or exc}); "
                f"is `ray start --head` running there? {ADDRESS_HINT}"
            ) from None

    def _get(self, refs: list[Any]) -> list[Any]:
        """The values of calls that do not paint (a dead actor here is an error)."""
        ray = self._ray
        try:
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None
        except ray.exceptions.RayActorError as exc:
            raise EngineError(f"a generation actor died: {exc}") from None

    def _send(self, flight: _Flight) -> None:
        actor = self._actors[flight.actor]
        batch = flight.batch
        self._flight[actor.generate.remote(batch.engine.name, batch.requests)] = flight

    def _collect(self, ref: Any, flight: _Flight) -> Finished | None:
        """A batch that came back; None when its actor died and it was sent again."""
        ray = self._ray
        batch = flight.batch
        try:
            out = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            return Finished(batch, _cause(exc))
        except ray.exceptions.RayActorError as exc:
            names = ", ".join(s.label for s in batch.steps[:3])
            more = f" and {len(batch.steps) - 3} more" if len(batch.steps) > 3 else ""
            if flight.attempt >= ATTEMPTS:
                why = f"its generation actor died {ATTEMPTS} times running it ({_first_line(exc)})"
                return Finished(batch, EngineError(why))
            self.warn(
                f"generation actor {flight.actor} died running {names}{more}; Ray restarts it "
                "and the batch runs again"
            )
            self._send(_Flight(batch, flight.actor, flight.attempt + 1))
            return None
        except ray.exceptions.RayError as exc:  # the cluster lost the batch (a node, its object)
            return Finished(
                batch, EngineError(f"the Ray cluster lost this batch: {_first_line(exc)}")
            )
        try:
            return Finished(batch, verified(batch, out))
        except EngineError as exc:
            return Finished(batch, exc)


def verified(batch: Batch, out: dict[str, Any]) -> Generated:
    """An actor's answer as the batch's images, once it is checked (EngineError otherwise)."""
    from pixelbuild.cache.hashing import digest_bytes
    from pixelbuild.images import decode_png

    node = out.get("node", "?")
    ours, theirs = code_of(batch.engine), out["code"]
    if theirs != ours:
        raise EngineError(
            f"node {node} runs {theirs}, the driver {ours}: install the same pixelbuild on "
            "every node of the cluster (it would paint other pixels under the same keys)"
        )
    pngs, digests = out["pngs"], out["digests"]
    if len(pngs) != len(batch.requests) or len(digests) != len(pngs):
        raise EngineError(
            f"node {node} returned {len(pngs)} images for {len(batch.requests)} requests"
        )
    images = []
    for request, png, digest in zip(batch.requests, pngs, digests, strict=True):
        if digest_bytes(png) != digest:
            raise EngineError(f"an image of {request.entry!r} from node {node} arrived corrupt")
        try:
            image = decode_png(png)
        except (OSError, ValueError):  # Pillow's errors for bytes that are not a PNG
            raise EngineError(f"an image of {request.entry!r} from node {node} is no PNG") from None
        if image.shape != (request.height, request.width, 4):
            raise EngineError(
                f"node {node} painted {request.entry!r} at {image.shape[1]}x{image.shape[0]}, "
                f"not {request.width}x{request.height}"
            )
        images.append(image)
    return Generated(images, dict(out["provenance"]), float(out["seconds"]))


def _cause(exc: Any) -> PixelbuildError | OSError:
    """The error an actor's call raised, as the build reports it (a bug of ours stays one)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, (PixelbuildError, OSError)):
        return cause
    raise RuntimeError(f"a generation actor failed: {_first_line(exc)}") from cause


def _first_line(exc: BaseException) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def ray_runner(
    address: str | None,
    engine_options: dict[str, dict[str, Any]],
    cache_dir: Path,
    warn: Callable[[str], None],
) -> RayRunner | None:
    """The runner for `--ray ADDRESS`, or None to generate here."""
    return RayRunner(address, engine_options, cache_dir, warn) if address else None
