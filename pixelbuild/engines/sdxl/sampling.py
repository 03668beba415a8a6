"""Sampling helpers for the diffusers engine: schedulers by name, seamless tiles, images."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelbuild.errors import EngineError

if TYPE_CHECKING:
    import PIL.Image

# name -> (diffusers scheduler class, settings over the model's own scheduler config)
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {"use_karras_sigmas": False}),
    "euler_karras": ("EulerDiscreteScheduler", {"use_karras_sigmas": True}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {"use_karras_sigmas": False}),
    "ddim": ("DDIMScheduler", {}),
    "dpmpp_2m": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
    ),
    "dpmpp_2m_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "dpmpp_2m_sde": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
    ),
    "dpmpp_2m_sde_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "tcd": ("TCDScheduler", {}),
}


def check_scheduler(name: str, entry: str) -> None:
    """An EngineError naming the known schedulers unless `name` is one."""
    if name not in SCHEDULERS:
        known = ", ".join(sorted(SCHEDULERS))
        raise EngineError(f"{entry}: unknown scheduler {name!r} (known: {known})")


def make_scheduler(name: str, base_config: Any) -> Any:
    """A fresh scheduler `name` built on the model's scheduler config (schedulers keep state)."""
    import diffusers

    class_name, overrides = SCHEDULERS[name]
    return getattr(diffusers, class_name).from_config(base_config, **overrides)


@contextmanager
def circular_padding(modules: Iterable[Any]) -> Iterator[None]:
    """Every Conv2d in `modules` pads circularly (wrapping images) inside the block, then not."""
    import torch

    saved: list[tuple[Any, str]] = []
    try:
        for module in modules:
            for layer in module.modules():
                if isinstance(layer, torch.nn.Conv2d):
                    saved.append((layer, layer.padding_mode))
                    layer.padding_mode = "circular"
        yield
    finally:
        for layer, mode in saved:
            layer.padding_mode = mode


def to_rgba(images: np.ndarray) -> list[np.ndarray]:
    """Float images (N, H, W, 3) in [0, 1] -> uint8 RGBA arrays, alpha 255."""
    rgb = np.clip(np.rint(np.asarray(images, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    alpha = np.full((*rgb.shape[:3], 1), 255, dtype=np.uint8)
    return [np.ascontiguousarray(img) for img in np.concatenate([rgb, alpha], axis=-1)]


#: What transparent pixels become where a model takes RGB (img2img bases, reference images).
BACKGROUND = 255  # white


def flatten_alpha(array: np.ndarray, what: str) -> np.ndarray:
    """A uint8 grey/RGB/RGBA array -> a uint8 RGB array, alpha composited over `BACKGROUND`.

    `what` names the image in errors ('init_image', 'reference 2')."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise EngineError(f"{what} must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or 0 in arr.shape:
        raise EngineError(f"{what} must be (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.shape[2] == 4:
        a = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = np.rint(arr[:, :, :3] * a + float(BACKGROUND) * (1.0 - a)).astype(np.uint8)
    return np.ascontiguousarray(arr)


def init_image(array: np.ndarray, width: int, height: int) -> PIL.Image.Image:
    """A uint8 RGB/RGBA/grey array -> an RGB PIL image of the canvas size (alpha over white)."""
    from PIL import Image

    arr = flatten_alpha(array, "init_image")
    image = Image.fromarray(arr, "RGB")
    h, w = arr.shape[:2]
    if (w, h) != (width, height):
        exact = width % w == 0 and height % h == 0
        resample = Image.Resampling.NEAREST if exact else Image.Resampling.LANCZOS
        image = image.resize((width, height), resample)
    return image
