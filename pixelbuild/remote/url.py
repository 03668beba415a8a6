"""Where the remote cache is: `--remote URL` or `PIXELBUILD_REMOTE`, checked before a build.

Only the location is given here. Credentials come from the environment the backend's own tools
read (AWS_*, GOOGLE_*, AZURE_*), never from the URL, the manifest or the lock: a URL is printed in
warnings and may be pasted into CI logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pixelbuild.errors import UsageError

ENV_URL = "PIXELBUILD_REMOTE"
ENV_READ_ONLY = "PIXELBUILD_REMOTE_READ_ONLY"

# scheme -> what it is, for messages (obstore reads every one of them)
SCHEMES = {
    "s3": "Amazon S3 or an S3-compatible store",
    "s3a": "Amazon S3 or an S3-compatible store",
    "gs": "Google Cloud Storage",
    "az": "Azure Blob Storage",
    "azure": "Azure Blob Storage",
    "abfs": "Azure Data Lake",
    "abfss": "Azure Data Lake",
    "http": "an HTTP/WebDAV server (PUT and GET, as Bazel's HTTP cache)",
    "https": "an HTTP/WebDAV server (PUT and GET, as Bazel's HTTP cache)",
    "file": "a folder, e.g. on a shared drive",
}
EXAMPLES = "s3://bucket/prefix, https://cache.example/pixelbuild or file:///mnt/shared/pixelbuild"


@dataclass(frozen=True, slots=True)
class RemoteSpec:
    """A checked remote URL, and whether this machine may write to it."""

    url: str
    read_only: bool = False

    @property
    def scheme(self) -> str:
        return self.url.split(":", 1)[0]


def remote_spec(url: str | None, *, read_only: bool = False) -> RemoteSpec | None:
    """The remote of a command: `url` (the option) or PIXELBUILD_REMOTE; None for neither
    (or an empty value, which turns a remote set in the environment off). UsageError for a
    URL pixelbuild cannot use."""
    value = (url if url is not None else os.environ.get(ENV_URL, "")).strip()
    if not value:
        if read_only:
            raise UsageError(f"--remote-read-only needs a remote (--remote URL or {ENV_URL})")
        return None
    env_read_only = os.environ.get(ENV_READ_ONLY, "").strip().lower() in ("1", "true", "yes")
    return RemoteSpec(_checked(value), read_only or env_read_only)


def _checked(value: str) -> str:
    from urllib.parse import urlsplit  # not at import: the CLI's parser imports this module

    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    where = f"remote cache {value!r}"
    if scheme not in SCHEMES:
        known = ", ".join(sorted(SCHEMES))
        raise UsageError(f"{where}: unknown kind of URL (use {known}; e.g. {EXAMPLES})")
    if parts.username or parts.password:
        raise UsageError(
            f"{where}: the URL holds credentials; give the address only and put credentials in "
            "the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for S3)"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"{where}: a remote URL takes no '?' or '#' part")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UsageError(f"{where}: a folder is written file:///absolute/path")
        if not parts.path.strip("/"):
            raise UsageError(f"{where}: give a folder for the cache, not the root folder")
    elif not parts.netloc:
        raise UsageError(f"{where}: no bucket or host after {scheme}://")
    return f"{scheme}:{value.split(':', 1)[1]}".rstrip("/")
