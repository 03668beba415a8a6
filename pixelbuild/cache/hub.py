"""The local Hugging Face cache, read the way huggingface_hub lays it out, without importing it.

`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`; a repository lives in
`models--{owner}--{name}/` with `refs/{branch}` naming a commit and `snapshots/{commit}/` holding
its files. A hub model's digest is that commit: its weights are addressed by it.
"""

from __future__ import annotations

import os
from pathlib import Path


def hub_cache() -> Path:
    """The folder of the local Hugging Face hub cache."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def repo_folder(repo: str) -> Path:
    """Where the cache keeps the model repository `repo` ('owner/name')."""
    return hub_cache() / f"models--{repo.replace('/', '--')}"


def hub_revision(repo: str, ref: str = "main") -> str | None:
    """The commit the cached `ref` of `repo` points at, or None when it is not cached here."""
    try:
        commit = (repo_folder(repo) / "refs" / ref).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError, ValueError):  # ValueError: a NUL in the id
        return None
    if not commit or not (repo_folder(repo) / "snapshots" / commit).is_dir():
        return None
    return commit


def hub_snapshot(repo: str, ref: str = "main") -> Path | None:
    """The snapshot folder of the cached `ref` of `repo`, or None when it is not cached here."""
    commit = hub_revision(repo, ref)
    return None if commit is None else repo_folder(repo) / "snapshots" / commit
