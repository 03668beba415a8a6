"""Training checkpoints: one `.safetensors` file per saved step, written whole or not at all.

A checkpoint holds the trainable (LoRA) parameters, the optimizer's state flattened to tensors
(its non-tensor values and param groups as JSON in the header), and a JSON header `state` with
the step, the run's fingerprint and the smoothed loss. No RNG state is needed: the trainer draws
each step's noise, timesteps and epoch order from generators seeded by (seed, step) or
(seed, epoch), so the step number alone says where the random streams stand. No pickle: loading a
checkpoint cannot run code.

Files are `step-00000100.safetensors`, written to a temporary name in the same folder and moved
into place with `os.replace`, so a run killed while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATTERN = re.compile(r"step-(\d{8})\.safetensors")


@dataclass
class Checkpoint:
    """A checkpoint read back: parameters by name, the optimizer's state dict, the header."""

    path: Path
    step: int
    params: dict[str, Any]  # name -> torch.Tensor (CPU)
    optimizer: dict[str, Any]
    state: dict[str, Any]


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step-{step:08d}.safetensors"


def save_checkpoint(
    folder: Path,
    step: int,
    params: dict[str, Any],
    optimizer_state: dict[str, Any],
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write the checkpoint of `step` atomically and delete all but the newest `keep`."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"param.{k}": v.detach().cpu().contiguous() for k, v in params.items()}
    extra: dict[str, Any] = {}
    for index, values in optimizer_state["state"].items():
        for key, value in values.items():
            if hasattr(value, "detach"):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                extra[f"{index}.{key}"] = value
    header = {
        "state": json.dumps({**state, "step": step}),
        "param_groups": json.dumps(optimizer_state["param_groups"]),
        "optim_extra": json.dumps(extra),
    }
    final = checkpoint_path(folder, step)
    tmp = folder / f".{final.name}.tmp-{os.getpid()}"
    try:
        save_file(tensors, str(tmp), metadata=header)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    for old in saved_steps(folder)[:-keep] if keep > 0 else []:
        with contextlib.suppress(FileNotFoundError):
            checkpoint_path(folder, old).unlink()
    return final


def saved_steps(folder: Path) -> list[int]:
    """The steps of the checkpoints in `folder`, ascending."""
    if not folder.is_dir():
        return []
    return sorted(int(m[1]) for p in folder.iterdir() if (m := PATTERN.fullmatch(p.name)))


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`."""
    from safetensors import safe_open

    params: dict[str, Any] = {}
    optim: dict[int, dict[str, Any]] = {}
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
        for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
            kind, _, rest = key.partition(".")
            if kind == "param":
                params[rest] = f.get_tensor(key)
            else:
                index, _, name = rest.partition(".")
                optim.setdefault(int(index), {})[name] = f.get_tensor(key)
    for key, value in json.loads(header["optim_extra"]).items():
        index, _, name = key.partition(".")
        optim.setdefault(int(index), {})[name] = value
    state = json.loads(header["state"])
    optimizer = {"state": optim, "param_groups": json.loads(header["param_groups"])}
    return Checkpoint(path, int(state["step"]), params, optimizer, state)


def latest_checkpoint(folder: Path, max_step: int) -> Checkpoint | None:
    """The newest readable checkpoint in `folder` at or before `max_step`, or None."""
    for step in reversed(saved_steps(folder)):
        if step > max_step:
            continue
        try:
            return load_checkpoint(checkpoint_path(folder, step))
        except Exception:  # unreadable (a foreign or damaged file): try the one before
            continue
    return None
