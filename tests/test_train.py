"""LoRA training (pixelbuild.train): dataset checks, determinism, resume, both export formats.

The training tests run 4 steps at 64 px on three 16x16 sprites on the tiny random SDXL
(`tiny_sdxl`), a second or two each on a CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelbuild.train import (
    DatasetError,
    TrainConfig,
    TrainError,
    lora_metadata,
    read_metadata,
    save_diffusers,
    save_kohya,
)
from pixelbuild.train.dataset import choose_bucket, composite, load_dataset, prepare

PALETTE = np.array(
    [[20, 12, 28, 255], [190, 38, 51, 255], [68, 137, 26, 255], [49, 162, 242, 255],
     [247, 226, 107, 255], [0, 0, 0, 0]],
    np.uint8,
)  # fmt: skip
TRIGGER = "pxbuild"


def sprite(seed: int, size: tuple[int, int] = (16, 16)) -> np.ndarray:
    """A random RGBA sprite of PALETTE's colours (one transparent): native pixel art."""
    rng = np.random.default_rng(seed)
    return PALETTE[rng.integers(0, len(PALETTE), (size[1], size[0]))]


def write_sprites(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(sprite(i), "RGBA").save(folder / f"hero-{i}.png")
    return folder


# --- the dataset (no torch) ---------------------------------------------------------------


def test_upscale_is_grid_aligned_nearest(tmp_path):
    art = sprite(5, (12, 7))
    Image.fromarray(art, "RGBA").save(tmp_path / "wide.png")
    ds = load_dataset(tmp_path, TRIGGER, background=(255, 0, 255))
    (sample,) = prepare(ds, resolution=128)
    f, (bw, bh) = sample.factor, sample.bucket
    assert (bw, bh) == (128, 128) and f == 10  # 256x64 or 192x64 hold 12x7 only 9 times
    px = sample.pixels
    assert px.shape == (bh, bw, 3)
    cells_x, cells_y = bw // f, bh // f
    x0, y0 = (cells_x - 12) // 2, (cells_y - 7) // 2
    want = np.full((cells_y, cells_x, 3), (255, 0, 255), np.uint8)
    want[y0 : y0 + 7, x0 : x0 + 12] = composite(art, (255, 0, 255))
    blocks = px[: cells_y * f, : cells_x * f].reshape(cells_y, f, cells_x, f, 3)
    assert (blocks == blocks[:, :1, :, :1]).all(), "an upscaled block holds two colours"
    assert (blocks[:, 0, :, 0] == want).all()
    assert (px[cells_y * f :] == (255, 0, 255)).all() and (
        px[:, cells_x * f :] == (255, 0, 255)
    ).all()


def test_buckets_take_the_largest_integer_factor():
    assert choose_bucket((32, 48), 1024) == ((832, 1216), 25)  # a square canvas gives 21
    assert choose_bucket((16, 16), 1024) == ((1024, 1024), 64)
    assert choose_bucket((16, 16), 64) == ((64, 64), 4)
    assert choose_bucket((100, 100), 64)[1] == 0


def test_rejects_enlarged_and_photo_like_images_at_once(tmp_path):
    write_sprites(tmp_path, 1)
    big = np.repeat(np.repeat(sprite(9), 4, 0), 4, 1)
    Image.fromarray(big, "RGBA").save(tmp_path / "big.png")
    y, x = np.mgrid[0:48, 0:48]
    rng = np.random.default_rng(0)
    photo = np.stack([x * 5, y * 5, (x + y) * 2], -1) + rng.normal(0, 6, (48, 48, 3))
    Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB").save(tmp_path / "photo.png")
    with pytest.raises(DatasetError) as err:
        load_dataset(tmp_path, TRIGGER)
    text = str(err.value)
    assert [p.name for p, _ in err.value.problems] == ["big.png", "photo.png"]
    assert "big.png: is pixel art enlarged about 4 times (64x64 pixels for 16x16" in text
    assert "size: auto" in text
    assert "photo.png: does not look like pixel art" in text


def test_captions_and_digests(tmp_path):
    folder = write_sprites(tmp_path / "imgs", 2)
    ds = load_dataset(folder, TRIGGER, "{trigger} style, a {name}")
    assert [i.caption for i in ds.images] == ["pxbuild style, a hero 0", "pxbuild style, a hero 1"]
    assert load_dataset(folder, TRIGGER).images[0].caption == TRIGGER
    assert load_dataset(folder, TRIGGER, "a {name}").images[0].caption == "pxbuild, a hero 0"
    with pytest.raises(DatasetError, match=r"hero-0.png: has no caption file hero-0.txt"):
        load_dataset(folder, TRIGGER, "txt")
    for i in range(2):
        (folder / f"hero-{i}.txt").write_text(f"knight number {i}\n")
    txt = load_dataset(folder, TRIGGER, "txt")
    assert txt.images[1].caption == "pxbuild, knight number 1"

    again = load_dataset(folder, TRIGGER, "txt")
    assert again.digest == txt.digest and again.image_digests == txt.image_digests
    assert txt.digest != ds.digest  # captions count
    (folder / "hero-1.txt").write_text("a slime")
    assert load_dataset(folder, TRIGGER, "txt").first_changed(txt.image_digests) == "hero-1.png"
    Image.fromarray(sprite(7), "RGBA").save(folder / "hero-0.png")
    (folder / "hero-1.txt").write_text("knight number 1")
    assert load_dataset(folder, TRIGGER, "txt").first_changed(txt.image_digests) == "hero-0.png"
    assert load_dataset(folder, TRIGGER, "txt").first_changed(ds.image_digests) is not None


def test_importing_the_package_stays_light():
    heavy = "{'torch', 'diffusers', 'peft'}"
    code = f"import sys, pixelbuild.train; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="holds no training images"):
        load_dataset(tmp_path, TRIGGER)


# --- training on the tiny SDXL --------------------------------------------------------------

# A learning rate large enough that 4 steps change the images visibly; alpha != rank checks
# that both export formats carry the scale.
CONFIG = TrainConfig(steps=4, rank=4, alpha=8, learning_rate=2e-3, resolution=64, seed=3)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for this module: the tiny UNet's ops are too small to share, and on a
    loaded 2-core machine two threads ran a step ten times slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pipe(tiny_sdxl, one_thread):
    from pixelbuild.train import load_base

    return load_base(tiny_sdxl.folder, device="cpu")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return load_dataset(write_sprites(tmp_path_factory.mktemp("sprites")), TRIGGER, "a {name}")


@pytest.fixture(scope="module")
def trained(pipe, dataset):
    from pixelbuild.train import train_lora

    return train_lora(pipe, dataset, CONFIG, base_model="tiny")


def paint(pipe, seed: int = 11) -> np.ndarray:
    import torch

    out = pipe(
        prompt=f"{TRIGGER}, a hero",
        num_inference_steps=3,
        width=64,
        height=64,
        guidance_scale=1.0,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    )
    return np.asarray(out.images[0], np.float64)


def flat(result) -> dict:
    return {f"{part}.{k}": v for part, state in result.lora.items() for k, v in state.items()}


def test_training_moves_the_weights_and_is_deterministic(pipe, dataset, trained):
    from pixelbuild.train import train_lora

    init = flat(train_lora(pipe, dataset, TrainConfig(**{**CONFIG.__dict__, "steps": 0})))
    got = flat(trained)
    assert set(got) == set(init) and len(got) > 0
    assert all(not v[..., :].any() for k, v in init.items() if "lora_B" in k)
    assert all(v.abs().max() > 0 for k, v in got.items() if "lora_B" in k)
    assert trained.step == 4 and trained.complete and len(trained.losses) == 4
    assert all(np.isfinite(trained.losses))

    again = flat(train_lora(pipe, dataset, CONFIG, base_model="tiny"))
    assert all((again[k] == got[k]).all() for k in got), "same seed, different weights"
    other = flat(train_lora(pipe, dataset, TrainConfig(**{**CONFIG.__dict__, "seed": 4})))
    assert any((other[k] != got[k]).any() for k in got)


def test_resume_after_a_checkpoint_equals_an_uninterrupted_run(pipe, dataset, trained, tmp_path):
    from pixelbuild.train import train_lora

    ckpt = tmp_path / "ckpt"
    cfg = TrainConfig(**{**CONFIG.__dict__, "checkpoint_every": 2})
    first = train_lora(pipe, dataset, cfg, checkpoints=ckpt, base_model="tiny", stop_after=2)
    assert first.step == 2 and not first.complete
    assert sorted(p.name for p in ckpt.iterdir()) == ["step-00000002.safetensors"]
    seen: list[int] = []
    resumed = train_lora(
        pipe, dataset, cfg, checkpoints=ckpt, base_model="tiny",
        progress=lambda step, total, loss, rate: seen.append(step),
    )  # fmt: skip
    assert resumed.resumed_from == 2 and seen == [3, 4] and resumed.complete
    want = flat(trained)
    diff = max(float((v - want[k]).abs().max()) for k, v in flat(resumed).items())
    assert diff == 0.0, f"resumed weights differ from an uninterrupted run by {diff}"
    # a finished run's folder answers at once; another run's checkpoint is refused
    done = train_lora(pipe, dataset, cfg, checkpoints=ckpt, base_model="tiny")
    assert done.resumed_from == 4 and done.losses == []
    with pytest.raises(TrainError, match="checkpoint of another training run"):
        train_lora(pipe, dataset, cfg, checkpoints=ckpt, base_model="other")


def test_both_formats_load_and_paint_the_same(pipe, dataset, trained, tmp_path):
    from diffusers.utils import convert_all_state_dict_to_peft, convert_state_dict_to_kohya
    from safetensors.torch import load_file

    base = paint(pipe)
    meta = lora_metadata(trained, base_model="tiny", trigger=TRIGGER, dataset_digest=dataset.digest)
    diffusers_file = save_diffusers(trained, tmp_path / "hero.safetensors", meta)
    kohya_file = save_kohya(trained, tmp_path / "hero_kohya.safetensors", meta)

    kohya = load_file(str(kohya_file))
    assert all(k.startswith("lora_unet_") for k in kohya)
    assert float(kohya[next(k for k in kohya if k.endswith(".alpha"))]) == 8.0
    reference = convert_state_dict_to_kohya(
        convert_all_state_dict_to_peft(load_file(str(diffusers_file)))
    )
    assert set(reference) == set(kohya)  # diffusers' own converter, from the saved file

    images = {}
    for name, path in (("diffusers", diffusers_file), ("kohya", kohya_file)):
        pipe.load_lora_weights(str(path), adapter_name=name)
        pipe.set_adapters([name])
        images[name] = paint(pipe)
        pipe.delete_adapters(name)
    assert np.abs(paint(pipe) - base).max() == 0  # the pipeline is back to no LoRA
    same = np.abs(images["diffusers"] - images["kohya"]).max()
    changed = np.abs(images["diffusers"] - base).max()
    assert same < 1e-5 and changed > 1e-3, (same, changed)

    for path in (diffusers_file, kohya_file):
        header = read_metadata(path)
        assert {k: header[k] for k in meta} == meta
        assert header["pixelbuild.steps"] == "4" and header["pixelbuild.alpha"] == "8"
    assert "lora_adapter_metadata" in read_metadata(diffusers_file)


def test_training_gives_the_pipeline_back_and_validates(pipe, dataset, tmp_path):
    from pixelbuild.train import train_lora

    before = paint(pipe)
    cfg = TrainConfig(
        **{**CONFIG.__dict__, "steps": 2, "validate_every": 1, "validation_steps": 2,
           "validation_prompts": (f"{TRIGGER}, a hero", "a slime")},
    )  # fmt: skip
    result = train_lora(pipe, dataset, cfg, validation_dir=tmp_path / "val")
    assert [s.step for s in result.sheets] == [1, 2]
    assert sorted(p.name for p in (tmp_path / "val").iterdir()) == [
        "step-00000001.png",
        "step-00000002.png",
    ]
    assert result.sheets[-1].image.width >= 2 * 128
    assert np.abs(paint(pipe) - before).max() == 0


KILLED_RUN = """
import sys, time
from pathlib import Path
from pixelbuild.train import TrainConfig, load_base, load_dataset, train_lora

folder, sprites, ckpt = map(Path, sys.argv[1:4])
pipe = load_base(folder, device="cpu")
ds = load_dataset(sprites, {trigger!r}, "a {{name}}")
cfg = TrainConfig(**{{**{config!r}, "steps": 1000, "checkpoint_every": 2}})
def progress(step, total, loss, rate):
    print("step", step, flush=True)
    time.sleep(0.2)
train_lora(pipe, ds, cfg, checkpoints=ckpt, base_model="tiny", progress=progress)
"""


@pytest.mark.slow
def test_a_sigkilled_run_resumes_to_the_same_weights(pipe, dataset, trained, tiny_sdxl, tmp_path):
    """A training process killed with SIGKILL mid-run resumes from its last checkpoint."""
    from pixelbuild.train import train_lora

    ckpt = tmp_path / "ckpt"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(KILLED_RUN.format(trigger=TRIGGER, config=CONFIG.__dict__)))
    import torch

    # the same thread count as this process: float sums (and so the weights) depend on it
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tiny_sdxl.folder), str(dataset.folder), str(ckpt)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.strip() == "step 3" or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (ckpt / "step-00000002.safetensors").is_file()
    cfg = TrainConfig(**{**CONFIG.__dict__, "checkpoint_every": 2})
    resumed = train_lora(pipe, dataset, cfg, checkpoints=ckpt, base_model="tiny")
    assert resumed.resumed_from == 2
    want = flat(trained)
    diff = max(float((v - want[k]).abs().max()) for k, v in flat(resumed).items())
    assert diff == 0.0, f"resumed weights differ from an uninterrupted run by {diff}"
