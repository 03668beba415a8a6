"""The diffusers SDXL engine on a tiny random-weight SDXL, built offline (tests/sdxl_tiny.py).

Every test goes through the engine's real loading and generation code; the model is tiny
(64x64 canvas, 2-4 steps), so the whole file runs in well under two minutes on two CPU cores.
"""

from __future__ import annotations

import shutil
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch (the [sdxl] extra)")
pytest.importorskip("diffusers", reason="needs diffusers (the [sdxl] extra)")
pytest.importorskip("transformers", reason="needs transformers (the [sdxl] extra)")
pytest.importorskip("peft", reason="needs peft (the [sdxl] extra)")
pytest.importorskip("safetensors", reason="needs safetensors (the [sdxl] extra)")

from pixelbuild.engines.base import GenerateRequest, LoraRef, ModelRef  # noqa: E402
from pixelbuild.engines.sdxl import SCHEDULERS, DiffusersEngine, circular_padding  # noqa: E402
from pixelbuild.errors import EngineError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from sdxl_tiny import TinyAssets  # noqa: E402

pytestmark = pytest.mark.sdxl


@pytest.fixture(scope="session")
def tiny(tiny_sdxl) -> TinyAssets:
    return tiny_sdxl  # built once per session (conftest.py), shared with the other SDXL tests


@pytest.fixture(scope="session")
def folder_model(tiny: TinyAssets) -> ModelRef:
    return ModelRef("tiny", "folder", str(tiny.folder), "folder-digest")


@pytest.fixture(scope="session")
def file_model(tiny: TinyAssets) -> ModelRef:
    return ModelRef(
        "tiny-file", "file", str(tiny.single_file), "file-digest", config=str(tiny.config)
    )


@pytest.fixture(scope="module")
def engine():
    e = DiffusersEngine(device="cpu", max_batch=4)
    yield e
    e.close()


def lora(path: Path, weight: float, name: str | None = None) -> LoraRef:
    return LoraRef(name or path.stem, path, path.stem + "-digest", weight)


def make(model: ModelRef, seed: int = 1, **kw) -> GenerateRequest:
    base = dict(
        entry=f"sprite-{seed}",
        prompt="a red potion, pixel art",
        seed=seed,
        width=64,
        height=64,
        steps=3,
        guidance=5.0,
        scheduler="euler",
        model=model,
    )
    base.update(kw)
    return GenerateRequest(**base)


def use_hub_cache(monkeypatch: pytest.MonkeyPatch, folder: str) -> None:
    """Point the Hugging Face cache at `folder`: for pixelbuild (which reads the environment when
    it looks) and for huggingface_hub (which read it when it was imported)."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HUB_CACHE", folder)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", folder)


def diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


# --- loading -------------------------------------------------------------------------------


def test_folder_and_single_file_load_and_paint_the_same(engine, folder_model, file_model):
    (a,) = engine.generate([make(folder_model)])
    (b,) = engine.generate([make(file_model)])
    assert a.shape == (64, 64, 4) and a.dtype == np.uint8
    assert (a[:, :, 3] == 255).all()
    assert a[:, :, :3].std() > 5  # an image, not a flat colour
    # The single file holds the same weights in the SGM layout; loaded tensors may differ in
    # memory layout, so kernels may round differently: at most one level.
    assert diff(a, b) <= 1


def test_pickle_checkpoint_is_refused_unless_allowed(engine, tiny, file_model):
    model = ModelRef("pickled", "file", str(tiny.pickle_file), "p", config=str(tiny.config))
    with pytest.raises(EngineError) as err:
        engine.generate([make(model)])
    text = str(err.value)
    assert "sprite-1" in text and "pickled" in text and "allow_pickle" in text
    allowed = ModelRef(
        "pickled", "file", str(tiny.pickle_file), "p", config=str(tiny.config), allow_pickle=True
    )
    (a,) = engine.generate([make(allowed)])
    (b,) = engine.generate([make(file_model)])
    assert diff(a, b) <= 1


def test_missing_models_say_what_was_looked_for_and_how_to_fix(engine, tmp_path, monkeypatch):
    use_hub_cache(monkeypatch, str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cases = [
        (ModelRef("m", "folder", str(tmp_path / "nope"), "d"), [str(tmp_path / "nope")]),
        (ModelRef("m", "file", str(tmp_path / "x.safetensors"), "d"), ["x.safetensors"]),
        (ModelRef("m", "hub", "someone/some-sdxl", "d"), ["someone/some-sdxl", "hf download"]),
    ]
    for model, words in cases:
        with pytest.raises(EngineError) as err:
            engine.generate([make(model, entry="hero")])
        text = str(err.value)
        for word in ["hero", "'m'", *words]:
            assert word in text, (word, text)
    assert "allow_download" in str(err.value)


def test_single_file_without_config_needs_cached_configs(engine, tiny, tmp_path, monkeypatch):
    use_hub_cache(monkeypatch, str(tmp_path / "empty-cache"))
    model = ModelRef("bare", "file", str(tiny.single_file), "d")
    with pytest.raises(EngineError) as err:
        engine.generate([make(model)])
    assert "config" in str(err.value) and "stable-diffusion-xl-base-1.0" in str(err.value)


def test_hub_model_loads_from_the_local_cache_only(
    engine, tiny, folder_model, tmp_path, monkeypatch
):
    cache = tmp_path / "hub"
    repo = cache / "models--pixel--tiny-sdxl"
    shutil.copytree(tiny.folder, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    use_hub_cache(monkeypatch, str(cache))
    (a,) = engine.generate([make(ModelRef("hubbed", "hub", "pixel/tiny-sdxl", "h"))])
    (b,) = engine.generate([make(folder_model)])
    assert np.array_equal(a, b)


def test_vae_override_from_a_folder(engine, tiny, folder_model):
    with_vae = ModelRef("tiny", "folder", str(tiny.folder), "v", vae=str(tiny.folder / "vae"))
    (a,) = engine.generate([make(with_vae)])
    (b,) = engine.generate([make(folder_model)])
    assert np.array_equal(a, b)  # the same VAE weights, loaded separately


def test_cuda_without_a_gpu_is_a_clear_error(folder_model):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(EngineError, match="no CUDA GPU"):
        DiffusersEngine(device="cuda").generate([make(folder_model)])


# --- determinism and batching --------------------------------------------------------------


def test_same_request_same_bytes_across_engines(engine, folder_model):
    (a,) = engine.generate([make(folder_model, seed=7)])
    (b,) = engine.generate([make(folder_model, seed=7)])
    fresh = DiffusersEngine(device="cpu")
    (c,) = fresh.generate([make(folder_model, seed=7)])
    fresh.close()
    assert np.array_equal(a, b) and np.array_equal(a, c)
    (d,) = engine.generate([make(folder_model, seed=8)])
    assert diff(a, d) > 10


def test_batched_matches_single_within_one_level(engine, folder_model):
    reqs = [
        make(folder_model, seed=1),
        make(folder_model, seed=2, prompt="a blue shield"),
        make(folder_model, seed=3, negative_prompt="blurry"),
    ]
    batched = engine.generate(reqs)
    for r, b in zip(reqs, batched, strict=True):
        (single,) = engine.generate([r])
        assert diff(single, b) <= 1
    assert diff(batched[0], batched[1]) > 10


def test_batches_larger_than_max_batch_are_chunked(folder_model):
    small = DiffusersEngine(device="cpu", max_batch=2)
    reqs = [make(folder_model, seed=s) for s in range(5)]
    seen: list[tuple[int, int, int]] = []
    out = small.generate(reqs, progress=lambda i, s, n: seen.append((i, s, n)))
    small.close()
    assert len(out) == 5
    assert sorted(seen) == sorted((i, s, 3) for i in range(5) for s in (1, 2, 3))


def test_mixed_requests_come_back_in_request_order(engine, folder_model):
    reqs = [
        make(folder_model, seed=1),
        make(folder_model, seed=1, scheduler="ddim"),
        make(folder_model, seed=2),
    ]
    out = engine.generate(reqs)
    for r, image in zip(reqs, out, strict=True):
        (alone,) = engine.generate([r])
        assert diff(alone, image) <= 1


def test_out_of_memory_halves_the_batch_then_reports(folder_model, monkeypatch):
    e = DiffusersEngine(device="cpu", max_batch=4)
    real = e.run_batch
    sizes: list[int] = []

    def flaky(loaded, reqs, idx, progress):
        sizes.append(len(reqs))
        if len(reqs) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(loaded, reqs, idx, progress)

    monkeypatch.setattr(e, "run_batch", flaky)
    out = e.generate([make(folder_model, seed=s) for s in range(3)])
    assert len(out) == 3 and sizes[:3] == [3, 2, 1]

    def always(loaded, reqs, idx, progress):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(e, "run_batch", always)
    with pytest.raises(EngineError) as err:
        e.generate([make(folder_model, entry="big-boss")])
    assert "big-boss" in str(err.value) and "smaller canvas" in str(err.value)
    e.close()


# --- LoRAs ---------------------------------------------------------------------------------


def test_lora_weight_changes_output_and_zero_does_not(engine, tiny, folder_model):
    (plain,) = engine.generate([make(folder_model)])
    (full,) = engine.generate([make(folder_model, loras=(lora(tiny.lora_a, 1.0),))])
    (half,) = engine.generate([make(folder_model, loras=(lora(tiny.lora_a, 0.5),))])
    (zero,) = engine.generate([make(folder_model, loras=(lora(tiny.lora_a, 0.0),))])
    assert diff(plain, full) > 10 and diff(full, half) > 5 and diff(plain, half) > 5
    assert np.array_equal(plain, zero)


def test_adapters_switch_between_batches_without_leaking(engine, tiny, folder_model):
    a, b = lora(tiny.lora_a, 1.0), lora(tiny.lora_b, 0.8)
    reqs = [
        make(folder_model, loras=(a,)),
        make(folder_model, loras=(b,)),
        make(folder_model),
        make(folder_model, loras=(a, b)),
    ]
    together = engine.generate(reqs)
    apart = [engine.generate([r])[0] for r in reversed(reqs)][::-1]
    for x, y in zip(together, apart, strict=True):
        assert np.array_equal(x, y)
    for i in range(4):
        for j in range(i + 1, 4):
            assert diff(together[i], together[j]) > 5, (i, j)


def test_kohya_lora_paints_like_the_diffusers_one(engine, tiny, folder_model):
    (d,) = engine.generate([make(folder_model, loras=(lora(tiny.lora_a, 1.0),))])
    (k,) = engine.generate([make(folder_model, loras=(lora(tiny.lora_kohya, 1.0),))])
    assert diff(d, k) <= 1


def test_pickled_lora_is_refused(engine, tiny, folder_model, tmp_path):
    bad = tmp_path / "style.bin"
    bad.write_bytes(b"x")
    with pytest.raises(EngineError, match=r"hero: LoRA 'style'.*\.safetensors"):
        engine.generate([make(folder_model, entry="hero", loras=(lora(bad, 1.0, "style"),))])


# --- sampling ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_runs(engine, folder_model, name):
    few_step = name in ("lcm", "tcd")
    (image,) = engine.generate(
        [make(folder_model, scheduler=name, steps=2, guidance=1.5 if few_step else 5.0)]
    )
    assert image.shape == (64, 64, 4) and image[:, :, :3].std() > 5


def test_guidance_one_runs_without_cfg(engine, folder_model):
    (a,) = engine.generate([make(folder_model, guidance=1.0)])
    (b,) = engine.generate([make(folder_model, guidance=5.0)])
    assert diff(a, b) > 5


def test_tiles_wrap_and_padding_is_restored(engine, folder_model):
    (tiled,) = engine.generate([make(folder_model, tileable=True)])
    (plain,) = engine.generate([make(folder_model)])
    assert diff(tiled, plain) > 5
    pipe = engine.loaded.pipe
    convs = [
        m for m in [*pipe.unet.modules(), *pipe.vae.modules()] if isinstance(m, torch.nn.Conv2d)
    ]
    assert convs and all(m.padding_mode == "zeros" for m in convs)

    # With circular padding the whole pipeline commutes with a circular shift of the latent
    # grid: the image is one period of an endless texture, so its edges join without a seam.
    # Without it, the borders break the symmetry.
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    shifted = torch.roll(latents, (2, 4), (2, 3))  # 2 and 4 latents = 16 and 32 pixels

    def paint(lat, tiles: bool):
        with circular_padding([pipe.unet, pipe.vae]) if tiles else nullcontext():
            return pipe(
                "a stone wall", latents=lat, num_inference_steps=3, width=64, height=64,
                output_type="np",
            ).images[0]  # fmt: skip

    for tiles, bound in ((True, 1e-4), (False, None)):
        error = np.abs(np.roll(paint(latents, tiles), (16, 32), (0, 1)) - paint(shifted, tiles))
        if bound is None:
            assert error.max() > 0.05
        else:
            assert error.max() < bound
    assert all(m.padding_mode == "zeros" for m in convs)


def test_padding_is_restored_after_a_failure(engine, folder_model, monkeypatch):
    engine.generate([make(folder_model)])
    pipe = engine.loaded.pipe

    def broken(*args, **kwargs):
        raise ValueError("broken on purpose")

    monkeypatch.setattr(type(pipe), "__call__", broken)
    with pytest.raises(EngineError, match="generation failed"):
        engine.generate([make(folder_model, tileable=True)])
    monkeypatch.undo()
    assert all(
        m.padding_mode == "zeros" for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d)
    )


def test_img2img_runs_and_is_deterministic(engine, folder_model):
    (base,) = engine.generate([make(folder_model, seed=1)])
    rgb = base[:, :, :3].copy()
    small = base[::2, ::2].copy()  # a 32x32 RGBA base, scaled up to the canvas
    reqs = [
        make(folder_model, seed=5, init_image=base, strength=0.5, steps=4),
        make(folder_model, seed=6, init_image=rgb, strength=0.5, steps=4),
        make(folder_model, seed=7, init_image=small, strength=0.5, steps=4),
    ]
    seen: list[tuple[int, int, int]] = []
    out = engine.generate(reqs, progress=lambda i, s, n: seen.append((i, s, n)))
    again = engine.generate(reqs[:1])
    assert all(o.shape == (64, 64, 4) for o in out)
    assert diff(out[0], again[0]) <= 1
    (txt2img,) = engine.generate([make(folder_model, seed=5, steps=4)])
    assert diff(out[0], txt2img) > 5
    assert {n for _, _, n in seen} == {2}  # int(4 steps x 0.5 strength)


def test_progress_reports_each_step_of_each_image(engine, folder_model):
    seen: list[tuple[int, int, int]] = []
    engine.generate(
        [make(folder_model, seed=1), make(folder_model, seed=2)],
        progress=lambda i, s, n: seen.append((i, s, n)),
    )
    assert sorted(seen) == [(i, s, 3) for i in (0, 1) for s in (1, 2, 3)]


def test_provenance_names_versions_device_and_precision(engine, folder_model):
    engine.generate([make(folder_model)])
    info = engine.provenance()
    assert info["torch"].startswith(torch.__version__.split("+")[0])
    assert info["dtype"] == "fp32" and info["device"].startswith("CPU")
    assert {"diffusers", "transformers", "peft", "engine_version"} <= set(info)
