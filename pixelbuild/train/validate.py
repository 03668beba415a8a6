"""Validation during training: the validation prompts painted with the LoRA as it stands.

Each prompt i is painted with its own CPU generator seeded `validation_seed + i`, at the square
training resolution, in `validation_steps` steps: the same prompt at two steps differs only by
what the LoRA learned in between. Painting draws nothing from the training's random streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelbuild.engines.sdxl.sampling import to_rgba
from pixelbuild.train.sheet import contact_sheet

if TYPE_CHECKING:
    import PIL.Image

    from pixelbuild.train.model import LoraModel
    from pixelbuild.train.trainer import TrainConfig


def validation_sheet(model: LoraModel, config: TrainConfig, step: int) -> PIL.Image.Image:
    """A contact sheet of the validation prompts at `step`."""
    import torch

    prompts = list(config.validation_prompts)
    model.pipe.set_progress_bar_config(disable=True)
    parts: list[Any] = list(model.parts.values())
    for part in parts:
        part.eval()
    try:
        generators = [
            torch.Generator("cpu").manual_seed(config.validation_seed + i)
            for i in range(len(prompts))
        ]
        images = model.pipe(
            prompt=prompts,
            num_inference_steps=config.validation_steps,
            guidance_scale=config.validation_guidance,
            width=config.resolution,
            height=config.resolution,
            generator=generators,
            output_type="np",
        ).images
    finally:
        for part in parts:
            part.train()
    return contact_sheet(to_rgba(images), prompts, f"step {step} of {config.steps}")
