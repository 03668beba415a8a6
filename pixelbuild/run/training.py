"""The `train` step: a LoRA trained on the game's own art, stored like any other result.

The step reads its dataset (checked as native pixel art), loads its base model on the build's
device, trains with checkpoints in the cache (a killed build resumes from the last one), and
stores the LoRA file and its last validation sheet as the step's files. Generate steps that use
the LoRA take this step as an input; `materialize` writes the file where the engine loads it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.cache.layout import TMP
from pixelbuild.cache.store import write_atomic
from pixelbuild.errors import UsageError
from pixelbuild.plan.plan import Plan
from pixelbuild.plan.steps import TRAIN, Step, ancestors
from pixelbuild.run.actions import Result
from pixelbuild.targets import ImageTarget
from pixelbuild.targets.trained import LORA_DIGEST, LORA_FILE, SHEET_FILE, TrainedLora
from pixelbuild.train.trainer import ProgressFn


def trained_lora(step: Step) -> TrainedLora:
    """The LoRA a train step trains (found on the target that owns the step)."""
    target = step.target
    assert isinstance(target, ImageTarget) and target.generation is not None
    name = step.label.removeprefix("lora:")
    return next(lora for lora in target.generation.trained if lora.name == name)


def train_step(plan: Plan, name: str) -> Step:
    """The step of `plan` that trains LoRA `name` (`pixelbuild train NAME`); UsageError naming
    the LoRAs trained here when it is not one of them."""
    found = {s.label: s for e in plan.entries for s in ancestors(e.final) if s.kind is TRAIN}
    step = found.get(f"lora:{name}")
    if step is None:
        trained = ", ".join(sorted(n.removeprefix("lora:") for n in found)) or "none"
        raise UsageError(
            f"no LoRA {name!r} is trained in this project (a `loras:` entry with `train:` "
            f"settings that an entry uses); trained here: {trained}"
        )
    return step


def run_train(
    step: Step,
    *,
    device: str | None = None,
    progress: ProgressFn | None = None,
    steps: int | None = None,
) -> Result:
    """Train the step's LoRA (resuming from its checkpoints) and return its files. `steps`
    overrides the manifest's for a quick try (`pixelbuild train --steps`)."""
    from pixelbuild.engines.sdxl.models import load_pipeline, resolve_device
    from pixelbuild.train import TrainConfig, load_dataset, lora_metadata, train_lora
    from pixelbuild.train.export import save_diffusers, save_kohya

    lora = trained_lora(step)
    s = lora.settings
    dataset = load_dataset(lora.folder, lora.trigger, lora.captions)
    validation = s.get("validation") or {}
    prompts = tuple(p.replace("{trigger}", lora.trigger) for p in validation.get("prompts", ()))
    config = TrainConfig(
        steps=steps or s["steps"],
        rank=s["rank"],
        alpha=s["alpha"],
        learning_rate=s["learning_rate"],
        batch_size=s["batch_size"],
        resolution=s["resolution"],
        seed=s["seed"],
        train_text_encoder=s["train_text_encoder"],
        flip=s["flip"],
        checkpoint_every=s["checkpoint_every"],
        validation_prompts=prompts,
        validate_every=validation.get("every", 0),
    )
    where = resolve_device(device)
    pipe = load_pipeline(lora.model, where, "bf16" if where.startswith("cuda") else "fp32", False)
    try:
        result = train_lora(
            pipe,
            dataset,
            config,
            checkpoints=lora.checkpoints if steps is None else lora.checkpoints / f"try-{steps}",
            validation_dir=lora.checkpoints / "validation",
            base_model=lora.model.digest,
            progress=progress,
        )
    finally:
        del pipe
    meta = lora_metadata(
        result, base_model=lora.model.digest, trigger=lora.trigger, dataset_digest=dataset.digest
    )
    tmp = lora.checkpoints / f"export-{lora.digest[:16]}.safetensors"
    (save_kohya if lora.format == "kohya" else save_diffusers)(result, tmp, meta)
    files = {LORA_FILE: tmp.read_bytes()}
    tmp.unlink(missing_ok=True)
    if result.sheets:
        buf = io.BytesIO()
        result.sheets[-1].image.save(buf, format="PNG")
        files[SHEET_FILE] = buf.getvalue()
    info: dict[str, Any] = {
        "steps": result.step,
        "loss": result.loss,
        "steps_per_s": round(result.steps_per_s, 3),
        "images": len(dataset.images),
        "dataset": dataset.digest,
    }
    return Result(files=files, meta={"train": info, LORA_DIGEST: digest_bytes(files[LORA_FILE])})


def materialize(lora: TrainedLora, files: dict[str, bytes]) -> Path:
    """Write the trained LoRA (and its sheet) where the engine loads it; returns its path."""
    for name, path in ((LORA_FILE, lora.path), (SHEET_FILE, lora.sheet)):
        if name in files and not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, files[name], lora.cache / TMP)
    return lora.path
