"""LoRA training as a build step: a folder of native pixel art -> a LoRA for the SDXL engine.

`load_dataset` reads and checks the images (pure numpy/Pillow); `train_lora` trains on a loaded
pipeline, checkpointing and resuming; `save_diffusers` / `save_kohya` write the result. Importing
this package does not import torch, diffusers or peft; training does.
"""

from pixelbuild.train.dataset import Dataset, Sample, TrainImage, load_dataset, prepare
from pixelbuild.train.errors import DatasetError, TrainError
from pixelbuild.train.export import lora_metadata, read_metadata, save_diffusers, save_kohya
from pixelbuild.train.trainer import (
    Sheet,
    TrainConfig,
    TrainResult,
    fingerprint,
    load_base,
    train_lora,
)

__all__ = [
    "Dataset",
    "DatasetError",
    "Sample",
    "Sheet",
    "TrainConfig",
    "TrainError",
    "TrainImage",
    "TrainResult",
    "fingerprint",
    "load_base",
    "load_dataset",
    "lora_metadata",
    "prepare",
    "read_metadata",
    "save_diffusers",
    "save_kohya",
    "train_lora",
]
