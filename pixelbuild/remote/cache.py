"""A remote cache shared by a team and its CI, in Bazel's remote-cache layout.

    ac/<step key>   the step's record as JSON: {"format", "kind", "record", "producer"}
    cas/<digest>    a blob (an image or a file) named by the xxh3-128 of its bytes

`record` is exactly what the local state holds for the step (its blobs' digests and its meta,
provenance included: a final step's record carries the provenance the lock needs, so a hit on
it alone fills the lock as a local build would). `producer` says which pixelbuild on which
platform pushed it, for people; nothing reads it back.

Invariants:
- Keys name results, not machines: a step key covers its parameters, inputs and code versions,
  and PNG bytes are the same on every platform (pixelbuild/png.py), so a record is valid for
  any machine that plans the same key.
- Integrity is ours: every blob fetched is hashed and compared with its name before use (an S3
  mock accepts uploads whose checksums are wrong; a disk or a proxy can flip bits). A record
  or blob that fails is a miss, with one warning, and the walk goes on below it; a rebuilt
  blob is uploaded over the bad one.
- Pull walks down from the stale final steps, one level of the graph at a time with every
  lookup of the level in flight together; a hit ends the walk on that branch. A fresh clone
  thus fetches the final outputs (KB), never the raw 1024² images below them (MB).
- Push sends a step's blobs first (each once per build, and only when the remote lacks it),
  then its record, create-only where the backend has it: the first writer wins, and a later
  writer adopts the winner's record into its local state (its own outputs of this build are
  already written; any next build here agrees with the team's).
- The remote is an accelerator, never a requirement: unreachable or refusing, it is left
  alone for the rest of the build after one warning, and the build goes on locally.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pixelbuild import __version__
from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.cache.state import State
from pixelbuild.cache.store import BlobStore
from pixelbuild.plan.steps import Step
from pixelbuild.remote.client import ObjectClient, RemoteRefused, RemoteUnavailable
from pixelbuild.remote.url import RemoteSpec

FORMAT = 1
LOOKUPS_IN_FLIGHT = 32  # requests at once (each thread waits on the network)
_DIGEST = re.compile("[0-9a-f]{32}")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pushed:
    """What pushing a record did: whether it wrote it, and the different record another
    writer had put there first (to adopt)."""

    wrote: bool
    theirs: dict[str, Any] | None = None


class RemoteCache:
    """The remote of one command (a build, or every pass of a watch)."""

    def __init__(self, spec: RemoteSpec):
        self.spec = spec
        self.client = ObjectClient(spec)

    def session(self, state: State, store: BlobStore, warn: Callable[[str], None]) -> Session:
        return Session(self, state, store, warn)


class Session:
    """The remote's part in one build: pull before steps run, push as they are stored, and
    `finish` (waits for the pushes) at the end."""

    def __init__(
        self, remote: RemoteCache, state: State, store: BlobStore, warn: Callable[[str], None]
    ):
        self.url = remote.spec.url
        self.client = remote.client
        self.state = state
        self.store = store
        self.warn = warn
        self.reading = True
        self.writing = not remote.spec.read_only
        self.counts = {"hits": 0, "misses": 0, "records_pushed": 0, "adopted": 0}
        self._warned: set[str] = set()
        self._pending: list[tuple[str, str]] = []  # warnings from worker threads, said in order
        self._bad: set[str] = set()  # digests whose remote copy failed verification
        self._uploads: dict[str, Future[bool]] = {}  # each blob's one upload of this build
        self._pool = ThreadPoolExecutor(LOOKUPS_IN_FLIGHT, thread_name_prefix="pixelbuild-remote")
        self._pushes: list[tuple[Step, Future[Pushed]]] = []
        self._before = remote.client.traffic.to_json()

    # -- pull --

    def pull(self, finals: list[Step], cached: Callable[[Step], bool]) -> None:
        """Fetch into the local cache what the remote has for `finals` and below, level by
        level, stopping at steps cached here and at remote hits."""
        seen: set[str] = set()
        level = [s for s in _unique(finals, seen) if not cached(s)]
        while level and self.reading:
            found = self._all(self._record_of, level)
            if found is None:
                return
            records = dict(zip((s.key for s in level), found, strict=True))
            blobs = self._blobs({d for r in records.values() if r for d in _digests(r)})
            if blobs is None:
                return
            below: list[Step] = []
            for step in level:
                record = records[step.key]
                if record is not None and all(d in blobs for d in _digests(record)):
                    self._keep(step, record, blobs)
                    self.counts["hits"] += 1
                else:
                    self.counts["misses"] += 1
                    below.extend(s for s in _unique(step.inputs, seen) if not cached(s))
            level = below

    def _record_of(self, step: Step) -> dict[str, Any] | None:
        data = self.client.get(f"ac/{step.key}")
        if data is None:
            return None
        record = parse_record(data, step.kind.name)
        if record is None:
            self._warn_once(
                f"ac/{step.key}",
                f"remote cache: the record ac/{step.key} ({step.kind.name} of {step.label!r}) "
                "is unreadable; running the step here",
            )
        return record

    def _blobs(self, digests: set[str]) -> dict[str, bytes | None] | None:
        """The verified bytes of each digest (None: already in the local store); a digest
        that is absent or fails verification is left out. None when the remote failed."""
        wanted = sorted(d for d in digests if not self.store.has(d))
        got = self._all(self._blob, wanted)
        if got is None:
            return None
        found: dict[str, bytes | None] = {d: None for d in digests if d not in wanted}
        found |= {d: data for d, data in zip(wanted, got, strict=True) if data is not None}
        return found

    def _blob(self, digest: str) -> bytes | None:
        data = self.client.get(f"cas/{digest}")
        if data is None or digest_bytes(data) == digest:
            return data
        self._bad.add(digest)
        self._warn_once(
            f"cas/{digest}",
            f"remote cache: the blob cas/{digest} does not match its digest (corrupt upload or "
            "storage); ignored, the steps that need it run here",
        )
        return None

    def _keep(self, step: Step, record: dict[str, Any], blobs: dict[str, bytes | None]) -> None:
        for digest in _digests(record):
            data = blobs[digest]
            if data is not None:
                self.store.put(data)
        self.state.put_record(step.key, step.kind.name, record)

    # -- push --

    def push(self, step: Step, record: dict[str, Any]) -> None:
        """Send a step just stored here (in the background; `finish` waits). Each blob is
        sent once per build; the record goes only after all of its blobs are there."""
        if not self.writing:
            return
        blobs = [self._send(d) for d in dict.fromkeys(_digests(record))]
        self._pushes.append((step, self._pool.submit(self._upload, step, record, blobs)))

    def _send(self, digest: str) -> Future[bool]:
        if digest not in self._uploads:
            self._uploads[digest] = self._pool.submit(self._upload_blob, digest)
        return self._uploads[digest]

    def _upload_blob(self, digest: str) -> bool:
        """Upload a blob the remote lacks (or holds a bad copy of); False when it is gone from
        the local store meanwhile."""
        if digest in self._bad or not self.client.exists(f"cas/{digest}"):
            data = self.store.get(digest)
            if data is None:
                return False
            self.client.put(f"cas/{digest}", data)
        return True

    def _upload(self, step: Step, record: dict[str, Any], blobs: list[Future[bool]]) -> Pushed:
        """The record, once its blobs are up (they were queued first, so waiting here never
        holds up a blob); create-only, so a record another writer put first stays."""
        if not all(blob.result() for blob in blobs):
            return Pushed(False)
        key, body = step.key, record_body(step.kind.name, record)
        if self.client.put(f"ac/{key}", body, create=True):
            return Pushed(True)
        data = self.client.get(f"ac/{key}")
        theirs = None if data is None else parse_record(data, step.kind.name)
        if theirs is None:  # vanished, or unreadable: ours replaces it
            return Pushed(self.client.put(f"ac/{key}", body))
        return Pushed(False, None if theirs == record else theirs)

    def finish(self) -> dict[str, Any]:
        """Wait for the pushes, adopt the records other writers won with, and say what the
        remote did in this build."""
        for step, future in self._pushes:
            try:
                pushed = future.result()
            except (RemoteUnavailable, RemoteRefused) as exc:
                self._failed(exc, writing=True)
                continue
            self.counts["records_pushed"] += pushed.wrote
            if pushed.theirs is not None:
                self._adopt(step, pushed.theirs)
        self._pushes.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._say()
        now = self.client.traffic.to_json()
        moved = {name: now[name] - self._before[name] for name in now}
        return {"url": self.url, **self.counts, **moved}

    def _adopt(self, step: Step, record: dict[str, Any]) -> None:
        """Take the first writer's record for `step` (with its blobs, verified)."""
        blobs = self._blobs(set(_digests(record)))
        if blobs is not None and all(d in blobs for d in _digests(record)):
            self._keep(step, record, blobs)
            self.counts["adopted"] += 1

    # -- failures --

    def _all(self, fetch: Callable[[T], Any], items: list[T]) -> list[Any] | None:
        """`fetch` of every item, all in flight together; None (after one warning) when the
        remote failed, which ends reading for this build."""
        try:
            return list(self._pool.map(fetch, items))
        except (RemoteUnavailable, RemoteRefused) as exc:
            self._failed(exc, writing=False)
            return None
        finally:
            self._say()

    def _failed(self, exc: Exception, *, writing: bool) -> None:
        if isinstance(exc, RemoteRefused):
            if writing:
                self.writing = False
                self._warn_once(
                    "refused-write",
                    f"remote cache {self.url} refused a write ({exc}); nothing more is pushed "
                    "in this build (check the credentials, or pass --remote-read-only)",
                )
            else:
                self.reading = False
                self._warn_once(
                    "refused-read",
                    f"remote cache {self.url} refused a read ({exc}); building locally "
                    "(check the credentials in the environment)",
                )
            return
        self.reading = self.writing = False
        self._warn_once("down", f"remote cache {self.url} is unreachable ({exc}); building locally")

    def _warn_once(self, key: str, message: str) -> None:
        """Queue a warning (any thread); the build's thread says it (`_say`), once per key."""
        self._pending.append((key, message))

    def _say(self) -> None:
        while self._pending:
            key, message = self._pending.pop(0)
            if key not in self._warned:
                self._warned.add(key)
                self.warn(message)


def record_body(kind: str, record: dict[str, Any]) -> bytes:
    """The bytes of `ac/<key>` for a step's record (sorted JSON: equal records, equal bytes)."""
    body = {"format": FORMAT, "kind": kind, "record": record, "producer": PRODUCER}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def parse_record(data: bytes, kind: str | None) -> dict[str, Any] | None:
    """The step record in `ac/<key>` bytes, or None when it is not one we can use (another
    format, another kind of step, digests that are not digests)."""
    try:
        body = json.loads(data)
        record = body["record"]
        ok = body["format"] == FORMAT and (kind is None or body["kind"] == kind)
        ok = ok and isinstance(record, dict) and isinstance(record.get("meta", {}), dict)
        blobs = record.get("blobs", [])
        files = record.get("files", {})
        ok = ok and isinstance(blobs, list) and isinstance(files, dict)
        ok = ok and all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in _digests(record))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return record if ok else None


def _digests(record: dict[str, Any]) -> list[str]:
    return [*record.get("blobs", []), *record.get("files", {}).values()]


def _unique(steps: Iterable[Step], seen: set[str]) -> list[Step]:
    """The steps whose keys are not in `seen` yet (added to it), each once."""
    out = []
    for step in steps:
        if step.key not in seen:
            seen.add(step.key)
            out.append(step)
    return out


PRODUCER = {
    "pixelbuild": __version__,
    "python": platform.python_version(),
    "platform": f"{platform.system()}-{platform.machine()}",
}
