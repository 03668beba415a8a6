"""One object store, through `obstore` (the `[remote]` extra, imported only when a remote is
used): get, exists and put of whole objects, with every backend's errors sorted into three
answers the cache acts on.

- absent (None / False): an ordinary miss;
- `RemoteRefused`: the store answered but will not let us (credentials, permissions): reads
  or writes stop for this build;
- `RemoteUnavailable`: no answer (offline, DNS, timeouts, 5xx after retries): the remote is
  left alone for this build.

`put(create=True)` is create-only where the backend has it (S3 `If-None-Match: *`, GCS, Azure,
local folders) and answers False when the object was there first. HTTP/WebDAV has no
conditional PUT: there it is a HEAD then a PUT, so two writers racing within that window both
write and the last one stays (each wrote a valid record for the key; see remote/cache.py).
Counters say how many objects and bytes went each way (the bench and the tests read them).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pixelbuild.errors import PixelbuildError, UsageError
from pixelbuild.remote.url import RemoteSpec

CONNECT_TIMEOUT = "3s"
REQUEST_TIMEOUT = "60s"  # one object: the largest are raw 1024² images and LoRA files
RETRIES = 2
RETRY_WITHIN = timedelta(seconds=10)


class RemoteUnavailable(PixelbuildError):
    """The remote did not answer (network, timeout, server error)."""


class RemoteRefused(PixelbuildError):
    """The remote answered no: credentials missing or wrong, or no permission."""


@dataclass
class Traffic:
    """Objects and bytes moved, each way (thread-safe through the client's lock)."""

    fetched: int = 0
    fetched_bytes: int = 0
    pushed: int = 0
    pushed_bytes: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "fetched_bytes": self.fetched_bytes,
            "pushed": self.pushed,
            "pushed_bytes": self.pushed_bytes,
        }


class ObjectClient:
    """Whole-object access to the store at `spec.url`; safe to call from several threads."""

    def __init__(self, spec: RemoteSpec):
        self.spec = spec
        self.traffic = Traffic()
        self._lock = threading.Lock()
        self._opened: Any = None
        self.create_only = spec.scheme not in ("http", "https")
        with contextlib.suppress(RemoteUnavailable):  # said at first use, as a miss
            self._opened = _open_store(spec)  # a wrong setting is the user's to fix first

    @property
    def _store(self) -> Any:
        """The store (a folder that was not there when the command started: opened now)."""
        with self._lock:
            if self._opened is None:
                self._opened = _open_store(self.spec)
            return self._opened

    def get(self, path: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        import obstore

        try:
            data = bytes(_call(obstore.get, self._store, path).bytes())
        except FileNotFoundError:
            return None
        with self._lock:
            self.traffic.fetched += 1
            self.traffic.fetched_bytes += len(data)
        return data

    def exists(self, path: str) -> bool:
        import obstore

        try:
            _call(obstore.head, self._store, path)
        except FileNotFoundError:
            return False
        return True

    def put(self, path: str, data: bytes, *, create: bool = False) -> bool:
        """Write the object; with `create`, only if absent (False when it was there)."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        if create and not self.create_only and self.exists(path):
            return False
        try:
            if create and self.create_only:
                _call(obstore.put, self._store, path, data, mode="create", use_multipart=False)
            else:
                _call(obstore.put, self._store, path, data)
        except (AlreadyExistsError, PreconditionError):
            return False
        with self._lock:
            self.traffic.pushed += 1
            self.traffic.pushed_bytes += len(data)
        return True


def _obstore(spec: RemoteSpec) -> Any:
    try:
        import obstore.store
    except ImportError:
        raise UsageError(
            f"the remote cache {spec.url} needs obstore: pip install 'pixelbuild[remote]'"
        ) from None
    return obstore.store


def _open_store(spec: RemoteSpec) -> Any:
    """The obstore store for a URL; credentials and settings from the environment."""
    from urllib.parse import unquote, urlsplit

    if spec.scheme == "file" and spec.read_only:
        folder = unquote(urlsplit(spec.url).path)
        if not os.path.isdir(folder):
            raise RemoteUnavailable(f"no folder {folder}")
    options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "timeout": REQUEST_TIMEOUT}
    if spec.scheme == "http":
        options["allow_http"] = True  # the user wrote http:// (a cache on the local network)
    elif os.environ.get("AWS_ALLOW_HTTP", "").lower() == "true" and spec.scheme.startswith("s3"):
        options["allow_http"] = True  # an S3-compatible server at an http:// AWS_ENDPOINT_URL
    retry: dict[str, Any] = {"max_retries": RETRIES, "retry_timeout": RETRY_WITHIN}
    open_url: Any = _obstore(spec).from_url  # its overloads want TypedDicts per backend
    try:
        if spec.scheme == "file":
            return open_url(spec.url, mkdir=not spec.read_only)
        return open_url(spec.url, client_options=options, retry_config=retry)
    except Exception as exc:  # obstore's configuration errors carry no common base
        raise UsageError(f"cannot use the remote cache {spec.url}: {_first_line(exc)}") from None


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call an obstore function, turning its failures into ours (absence stays
    FileNotFoundError, a lost create stays AlreadyExistsError/PreconditionError)."""
    from obstore import exceptions as errors

    try:
        return method(*args, **kwargs)
    except FileNotFoundError:
        raise
    except (errors.AlreadyExistsError, errors.PreconditionError):
        raise
    except (errors.PermissionDeniedError, errors.UnauthenticatedError, PermissionError) as exc:
        raise RemoteRefused(_first_line(exc)) from None
    except (errors.BaseError, OSError, NotImplementedError, TimeoutError) as exc:
        raise RemoteUnavailable(_first_line(exc)) from None


def _first_line(exc: BaseException) -> str:
    """obstore's messages carry a debug dump after the first line: keep the first."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
