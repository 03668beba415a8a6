"""`train_lora`: a LoRA trained on a loaded SDXL pipeline, resumable from its checkpoints.

Determinism: the same dataset, config, seed and base model on one machine give identical
weights. Every random draw comes from a CPU `torch.Generator` seeded by a digest of (seed, what):
the LoRA init by (seed, "init"), each epoch's order by (seed, "epoch", e), each step's noise and
timesteps by (seed, "step", s). So the step number alone says where every random stream stands, a
checkpoint needs no RNG state, and a run resumed from step k redoes exactly the steps an
uninterrupted run would (on the CPU the weights come out bit-identical; tests/test_train.py
checks it). `torch.use_deterministic_algorithms` is on for the run (warn-only) and restored
after. The learning rate is constant after an optional linear warmup and never depends on
`steps`, so raising `steps` resumes a finished run instead of starting over.

Batches hold samples of one aspect bucket: each epoch's shuffled order is grouped by bucket and
cut into batches of `batch_size` (a bucket's last batch may be smaller).

Precision: fp32 on the CPU; on CUDA "auto" means bf16 where supported (else fp16 with a grad
scaler), under autocast, with the LoRA weights themselves in fp32. Gradient checkpointing is on
by default on CUDA; the 8-bit AdamW of bitsandbytes is used there when it is installed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pixelbuild.cache.hashing import digest_json
from pixelbuild.train.checkpoint import latest_checkpoint, save_checkpoint
from pixelbuild.train.dataset import Dataset, Sample, prepare
from pixelbuild.train.errors import TrainError

#: progress(step, total, loss_smoothed, steps_per_s), called after every step.
ProgressFn = Callable[[int, int, float, float], None]
SMOOTHING = 0.9


@dataclass(frozen=True)
class TrainConfig:
    """How to train. `alpha` None means alpha = rank; `text_encoder_lr` None means
    `learning_rate`; `gradient_checkpointing` None means on CUDA only."""

    steps: int = 1000
    rank: int = 16
    alpha: float | None = None
    learning_rate: float = 1e-4
    text_encoder_lr: float | None = None
    batch_size: int = 1
    resolution: int = 1024
    seed: int = 0
    train_text_encoder: bool = False
    flip: bool = False
    snr_gamma: float | None = 5.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    weight_decay: float = 1e-2
    precision: str = "auto"  # auto, fp32, bf16, fp16
    optimizer: str = "auto"  # auto (8-bit on CUDA when bitsandbytes is there), adamw, adamw8bit
    gradient_checkpointing: bool | None = None
    checkpoint_every: int = 0  # 0: only the last step
    keep_checkpoints: int = 2
    validation_prompts: tuple[str, ...] = ()
    validate_every: int = 0  # 0: only at the end
    validation_steps: int = 20
    validation_seed: int = 0
    validation_guidance: float = 5.0

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be at least {least} (got {getattr(self, name)})"
            for name, least in (("steps", 0), ("rank", 1), ("batch_size", 1), ("resolution", 64))
            if getattr(self, name) < least
        ]
        if self.resolution % 64:
            problems.append(f"resolution must be a multiple of 64 (got {self.resolution})")
        if problems:
            raise TrainError("; ".join(problems))

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha) if self.alpha is not None else float(self.rank)

    def trajectory(self) -> dict[str, Any]:
        """The settings that decide the weights at a given step (not `steps`, checkpointing,
        validation or gradient checkpointing)."""
        skip = {"steps", "checkpoint_every", "keep_checkpoints", "gradient_checkpointing"}
        return {
            k: v for k, v in asdict(self).items() if k not in skip and not k.startswith("valid")
        }


@dataclass(frozen=True)
class Sheet:
    """A validation contact sheet: the step it shows, the image, where it was saved."""

    step: int
    image: Any  # PIL.Image.Image
    path: Path | None


@dataclass
class TrainResult:
    """What a run trained: LoRA weights per part ("unet", and "text_encoder", "text_encoder_2"
    when they trained) in peft's names, fp32 on the CPU; the step reached and how it went."""

    lora: dict[str, dict[str, Any]]
    rank: int
    alpha: float
    step: int
    total: int
    fingerprint: str
    resumed_from: int | None
    losses: list[float] = field(default_factory=list)  # this session's, one per step
    loss: float | None = None  # smoothed, at `step`
    steps_per_s: float = 0.0
    sheets: list[Sheet] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.step >= self.total


def seeded(*parts: Any) -> Any:
    """A CPU torch.Generator seeded by a digest of `parts`."""
    import torch

    return torch.Generator("cpu").manual_seed(int(digest_json(list(parts))[:15], 16))


def fingerprint(
    dataset: Dataset, config: TrainConfig, base_model: str, runtime: dict[str, str]
) -> str:
    """What a checkpoint must match to be resumed: dataset, base model, trajectory settings and
    the resolved device kind, precision and optimizer."""
    return digest_json(
        {"dataset": dataset.digest, "base": base_model, "config": config.trajectory(), **runtime}
    )


def batches(samples: list[Sample], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch: a shuffled order grouped by bucket, cut to `batch_size`."""
    import torch

    order = torch.randperm(len(samples), generator=seeded(seed, "epoch", epoch)).tolist()
    groups: dict[tuple[int, int], list[int]] = {}
    for i in order:
        groups.setdefault(samples[i].bucket, []).append(i)
    return [g[j : j + batch_size] for g in groups.values() for j in range(0, len(g), batch_size)]


def runtime_for(pipe: Any, config: TrainConfig) -> dict[str, str]:
    """The device kind, precision and optimizer this run will use on `pipe`'s device."""
    device = pipe.unet.device
    cuda = device.type == "cuda"
    precision = config.precision
    if precision == "auto":
        precision = _cuda_precision() if cuda else "fp32"
    if precision not in ("fp32", "bf16", "fp16"):
        raise TrainError(f"unknown precision {config.precision!r} (use auto, fp32, bf16 or fp16)")
    if not cuda and precision != "fp32":
        raise TrainError(f"training in {precision} needs a CUDA GPU; on {device} use fp32")
    optimizer = config.optimizer
    if optimizer == "auto":
        optimizer = "adamw8bit" if cuda and _has_bitsandbytes() else "adamw"
    if optimizer not in ("adamw", "adamw8bit"):
        raise TrainError(f"unknown optimizer {config.optimizer!r} (use auto, adamw, adamw8bit)")
    if optimizer == "adamw8bit" and not (cuda and _has_bitsandbytes()):
        raise TrainError("the 8-bit AdamW needs bitsandbytes and a CUDA GPU")
    return {"device": device.type, "precision": precision, "optimizer": optimizer}


def _has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def _optimizer(model: Any, config: TrainConfig, kind: str) -> Any:
    import torch

    unet = [p for n, p in model.params.items() if n.startswith("unet.")]
    text = [p for n, p in model.params.items() if not n.startswith("unet.")]
    groups = [{"params": unet, "lr": config.learning_rate}]
    if text:
        groups.append({"params": text, "lr": config.text_encoder_lr or config.learning_rate})
    for g in groups:
        g["initial_lr"] = g["lr"]
    if kind == "adamw8bit":
        import importlib

        bnb = importlib.import_module("bitsandbytes")  # optional, and without type stubs
        return bnb.optim.AdamW8bit(groups, weight_decay=config.weight_decay)
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def train_lora(
    pipe: Any,
    dataset: Dataset,
    config: TrainConfig,
    *,
    checkpoints: Path | None = None,
    validation_dir: Path | None = None,
    base_model: str = "",
    progress: ProgressFn | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train a LoRA on `pipe` (a StableDiffusionXLPipeline, already on its device) and return it.

    `checkpoints`: a folder to save checkpoints in (every `checkpoint_every` steps and at the
    last one) and to resume from: the newest one there at or before `config.steps` whose
    fingerprint matches; one of another run raises TrainError. `validation_dir`: where contact
    sheets go (`step-00000100.png`). `base_model`: the base model's name or digest (part of the
    fingerprint). `stop_after`: stop after that step (and its checkpoint), as if killed there.
    The pipeline is given back without the training adapter.
    """
    import torch

    from pixelbuild.engines.sdxl.models import quiet_libraries, torch_dtype
    from pixelbuild.train.model import LoraModel

    quiet_libraries()
    samples = prepare(dataset, config.resolution, config.flip)
    runtime = runtime_for(pipe, config)
    run_id = fingerprint(dataset, config, base_model, runtime)
    checkpointing = config.gradient_checkpointing
    if checkpointing is None:
        checkpointing = runtime["device"] == "cuda"
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    model = None
    try:
        model = LoraModel(
            pipe,
            config.rank,
            config.lora_alpha,
            config.train_text_encoder,
            seeded(config.seed, "init"),
            torch_dtype(runtime["precision"]),
        )
        if checkpointing:
            _gradient_checkpointing(model, True)
        model.cache(samples)
        loop = _Loop(model, samples, config, runtime, run_id, checkpoints, validation_dir)
        return loop.run(progress, stop_after)
    finally:
        if model is not None:
            if checkpointing:
                _gradient_checkpointing(model, False)
            model.close()
        torch.use_deterministic_algorithms(was_deterministic)


def _gradient_checkpointing(model: Any, on: bool) -> None:
    for prefix, part in model.parts.items():
        if prefix == "unet":
            (part.enable_gradient_checkpointing if on else part.disable_gradient_checkpointing)()
        else:
            (part.gradient_checkpointing_enable if on else part.gradient_checkpointing_disable)()


class _Loop:
    """The step loop of one `train_lora` call: optimizer, resume, checkpoints, validation."""

    def __init__(
        self,
        model: Any,
        samples: list[Sample],
        config: TrainConfig,
        runtime: dict[str, str],
        run_id: str,
        checkpoints: Path | None,
        validation_dir: Path | None,
    ) -> None:
        import torch

        self.model, self.samples, self.config, self.run_id = model, samples, config, run_id
        self.checkpoints, self.validation_dir = checkpoints, validation_dir
        self.optimizer = _optimizer(model, config, runtime["optimizer"])
        fp16 = runtime["device"] == "cuda" and runtime["precision"] == "fp16"
        self.scaler = torch.amp.GradScaler("cuda") if fp16 else None
        self.per_epoch = len(batches(samples, config.batch_size, config.seed, 0))
        self.result = TrainResult(
            lora={}, rank=config.rank, alpha=config.lora_alpha, step=0, total=config.steps,
            fingerprint=run_id, resumed_from=None,
        )  # fmt: skip

    def run(self, progress: ProgressFn | None, stop_after: int | None) -> TrainResult:
        cfg, result = self.config, self.result
        start = self._resume()
        begun = time.perf_counter()
        for step in range(start + 1, cfg.steps + 1):
            loss = self._step(step)
            result.losses.append(loss)
            smooth = (
                loss if result.loss is None else SMOOTHING * result.loss + (1 - SMOOTHING) * loss
            )
            result.loss, result.step = smooth, step
            result.steps_per_s = (step - start) / max(time.perf_counter() - begun, 1e-9)
            if progress is not None:
                progress(step, cfg.steps, smooth, result.steps_per_s)
            last = step == cfg.steps
            if self.checkpoints is not None and (last or _every(step, cfg.checkpoint_every)):
                self._save(step)
            if cfg.validation_prompts and (last or _every(step, cfg.validate_every)):
                result.sheets.append(self._validate(step))
            if step == stop_after:
                break
        if start == cfg.steps and cfg.validation_prompts:  # finished before: its last sheet
            result.sheets.append(self._validate(start, reuse=True))
        result.lora = self.model.lora_state()
        return result

    def _step(self, step: int) -> float:
        import torch

        cfg, model = self.config, self.model
        epoch, index = divmod(step - 1, self.per_epoch)
        batch = batches(self.samples, cfg.batch_size, cfg.seed, epoch)[index]
        warm = min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * warm
        loss = model.loss(self.samples, batch, seeded(cfg.seed, "step", step), cfg.snr_gamma)
        params = list(model.params.values())
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainError(
                f"the loss became {value} at step {step}: lower the learning rate "
                f"({cfg.learning_rate:g}) or train in fp32/bf16"
            )
        return value

    def _resume(self) -> int:
        """Load the newest matching checkpoint; the step it holds, or 0."""
        import torch

        if self.checkpoints is None:
            return 0
        found = latest_checkpoint(self.checkpoints, self.config.steps)
        if found is None:
            return 0
        if found.state.get("fingerprint") != self.run_id:
            raise TrainError(
                f"{found.path} is a checkpoint of another training run (other images, base "
                "model or settings); delete it, or give this run its own checkpoint folder"
            )
        with torch.no_grad():
            for name, p in self.model.params.items():
                if name not in found.params:
                    raise TrainError(f"{found.path} has no weights for {name}")
                p.copy_(found.params[name])
        self.optimizer.load_state_dict(found.optimizer)
        if self.scaler is not None and "scaler" in found.state:
            self.scaler.load_state_dict(found.state["scaler"])
        self.result.loss = found.state.get("loss")
        self.result.step = self.result.resumed_from = found.step
        return found.step

    def _save(self, step: int) -> None:
        assert self.checkpoints is not None
        state: dict[str, Any] = {"fingerprint": self.run_id, "loss": self.result.loss}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        save_checkpoint(
            self.checkpoints,
            step,
            self.model.params,
            self.optimizer.state_dict(),
            state,
            self.config.keep_checkpoints,
        )

    def _validate(self, step: int, reuse: bool = False) -> Sheet:
        from PIL import Image

        from pixelbuild.train.validate import validation_sheet

        path = None if self.validation_dir is None else self.validation_dir / f"step-{step:08d}.png"
        if reuse and path is not None and path.is_file():
            with Image.open(path) as saved:
                return Sheet(step, saved.convert("RGB"), path)
        image = validation_sheet(self.model, self.config, step)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            image.save(tmp, format="PNG")
            tmp.replace(path)
        return Sheet(step, image, path)


def _every(step: int, n: int) -> bool:
    return n > 0 and step % n == 0


def load_base(folder: Path, device: str | None = None, precision: str = "auto") -> Any:
    """A StableDiffusionXLPipeline from a local diffusers folder, on `device` (None: the best
    there is), in the weights precision training uses there (fp32 on the CPU)."""
    from pixelbuild.engines.base import ModelRef
    from pixelbuild.engines.sdxl.models import load_pipeline, resolve_device

    where = resolve_device(device)
    if precision == "auto":
        precision = "fp32" if not where.startswith("cuda") else _cuda_precision()
    model = ModelRef(name=Path(folder).name, source="folder", location=str(folder), digest="")
    return load_pipeline(model, where, precision, allow_download=False)


def _cuda_precision() -> str:
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
