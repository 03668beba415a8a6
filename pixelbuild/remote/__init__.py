"""A shared remote cache of step results (see remote/cache.py for its layout and invariants).

`add_remote_options` puts `--remote URL` and `--remote-read-only` on a command; `from_args`
turns them (or PIXELBUILD_REMOTE) into the RemoteCache the Builder uses. obstore is imported
only when a remote is given, so the core and the no-op path never load it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pixelbuild.remote.url import ENV_READ_ONLY, ENV_URL, remote_spec

if TYPE_CHECKING:
    from pixelbuild.remote.cache import RemoteCache


def add_remote_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "remote cache",
        "Share step results with a team and CI: steps found there are fetched instead of run,\n"
        "steps run here are pushed. Credentials come from the environment (AWS_* for S3).",
    )
    g.add_argument(
        "--remote", metavar="URL", default=None,
        help=f"s3://bucket/prefix, https://host/path (WebDAV) or file:///shared/folder "
        f"(default: ${ENV_URL}; an empty value turns it off)",
    )  # fmt: skip
    g.add_argument(
        "--remote-read-only", action="store_true",
        help=f"fetch from the remote but never write to it (also {ENV_READ_ONLY}=1)",
    )  # fmt: skip


def from_args(args: argparse.Namespace) -> RemoteCache | None:
    """The remote of a command line, or None; UsageError for an unusable URL or no obstore."""
    spec = remote_spec(args.remote, read_only=args.remote_read_only)
    if spec is None:
        return None
    from pixelbuild.remote.cache import RemoteCache

    return RemoteCache(spec)
