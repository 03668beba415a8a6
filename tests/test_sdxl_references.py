"""Reference images through an IP-Adapter, on the tiny SDXL with a tiny random IP-Adapter.

Both are built offline (tests/sdxl_tiny.py, tests/ipadapter_tiny.py); every test goes through the
engine's real adapter loading, switching and generation (64x64 canvas, 3 steps, CPU).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch (the [sdxl] extra)")
pytest.importorskip("diffusers", reason="needs diffusers (the [sdxl] extra)")
pytest.importorskip("transformers", reason="needs transformers (the [sdxl] extra)")
pytest.importorskip("safetensors", reason="needs safetensors (the [sdxl] extra)")

from pixelbuild.engines.base import GenerateRequest, LoraRef, ModelRef  # noqa: E402
from pixelbuild.engines.sdxl import DiffusersEngine  # noqa: E402
from pixelbuild.errors import EngineError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from ipadapter_tiny import (  # noqa: E402
    WEIGHTS,
    build_image_encoder,
    build_ip_adapter_weights,
    build_tiny_ip_adapter,
)
from sdxl_tiny import _configs  # noqa: E402

pytestmark = pytest.mark.sdxl


@pytest.fixture(scope="session")
def tiny_ip_adapter(tmp_path_factory) -> Path:
    """The tiny IP-Adapter's folder (weights + image_encoder/), built once per session."""
    return build_tiny_ip_adapter(tmp_path_factory.mktemp("tiny-ip-adapter"))


@pytest.fixture(scope="module")
def model(tiny_sdxl) -> ModelRef:
    return ModelRef("tiny", "folder", str(tiny_sdxl.folder), "folder-digest")


@pytest.fixture(scope="module")
def adapter(tiny_ip_adapter) -> ModelRef:
    return ModelRef("ipa", "file", str(tiny_ip_adapter / WEIGHTS), "ipa-digest")


@pytest.fixture(scope="module")
def engine():
    e = DiffusersEngine(device="cpu", max_batch=8)
    yield e
    e.close()


def sprite(seed: int, size: tuple[int, int] = (16, 16)) -> np.ndarray:
    """A random RGBA sprite with a transparent border (as pixel-art references come)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*size, 4), dtype=np.uint8)
    image[:, :, 3] = 255
    image[:2, :, 3] = image[-2:, :, 3] = 0
    return image


REF_A, REF_B, REF_TALL = sprite(1), sprite(2), sprite(3, (24, 12))


def make(model: ModelRef, seed: int = 1, **kw) -> GenerateRequest:
    base = dict(
        entry=f"hero-{seed}",
        prompt="a knight, pixel art",
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


def ref(model: ModelRef, adapter: ModelRef, *images: np.ndarray, scale: float = 1.0, **kw):
    return make(model, references=images, reference_scale=scale, ip_adapter=adapter, **kw)


def diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def test_references_change_the_image_and_scale_zero_is_bit_identical(model, adapter, tiny_sdxl):
    e = DiffusersEngine(device="cpu")  # fresh: `plain` is painted before any adapter loads
    style = (LoraRef("a", tiny_sdxl.lora_a, "lora-a", 1.0),)
    (plain,) = e.generate([make(model)])
    (plain_lora,) = e.generate([make(model, loras=style)])
    (plain_img2img,) = e.generate([make(model, init_image=plain, strength=0.6)])
    assert e.loaded.references.adapter is None
    (a,) = e.generate([ref(model, adapter, REF_A)])
    (b,) = e.generate([ref(model, adapter, REF_B)])
    (half,) = e.generate([ref(model, adapter, REF_A, scale=0.5)])
    (two,) = e.generate([ref(model, adapter, REF_A, REF_TALL)])
    assert e.loaded.references.adapter is not None
    assert diff(plain, a) > 10 and diff(a, b) > 5 and diff(a, half) > 5 and diff(a, two) > 5
    (a_lora,) = e.generate([ref(model, adapter, REF_A, loras=style)])
    (a_img2img,) = e.generate([ref(model, adapter, REF_A, init_image=plain, strength=0.6)])
    assert diff(a, a_lora) > 5 and diff(plain_lora, a_lora) > 5
    assert diff(plain_img2img, a_img2img) > 5
    # With the adapter loaded, scale 0 and no references paint exactly what they did before.
    (zero,) = e.generate([ref(model, adapter, REF_A, scale=0.0)])
    (again,) = e.generate([make(model)])
    (again_lora,) = e.generate([make(model, loras=style)])
    (again_img2img,) = e.generate([make(model, init_image=plain, strength=0.6)])
    assert np.array_equal(plain, zero) and np.array_equal(plain, again)
    assert np.array_equal(plain_lora, again_lora)
    assert np.array_equal(plain_img2img, again_img2img)
    # Scale 0 even without an adapter is ignored, not an error.
    (no_adapter,) = e.generate([make(model, references=(REF_A,), reference_scale=0.0)])
    assert np.array_equal(plain, no_adapter)
    e.close()


def test_same_request_same_bytes_across_engines(engine, model, adapter):
    request = ref(model, adapter, REF_A, seed=7)
    (a,) = engine.generate([request])
    (b,) = engine.generate([request])
    fresh = DiffusersEngine(device="cpu")
    (c,) = fresh.generate([request])
    fresh.close()
    assert np.array_equal(a, b) and np.array_equal(a, c)
    # Without classifier-free guidance the embeddings have no negative half.
    (plain_1,) = engine.generate([make(model, seed=7, guidance=1.0)])
    (ref_1,) = engine.generate([ref(model, adapter, REF_A, seed=7, guidance=1.0)])
    (ref_1_again,) = engine.generate([ref(model, adapter, REF_A, seed=7, guidance=1.0)])
    assert diff(plain_1, ref_1) > 5 and np.array_equal(ref_1, ref_1_again)


def test_batches_with_and_without_references_match_one_by_one(engine, model, adapter):
    reqs = [
        make(model, seed=1),
        ref(model, adapter, REF_A, seed=2),
        ref(model, adapter, REF_B, seed=2),  # same seed and prompt: only the reference differs
        ref(model, adapter, REF_A, seed=3, scale=0.0),
        ref(model, adapter, REF_A, seed=4, prompt="a slime"),
        ref(model, adapter, REF_A, seed=5, scale=0.5),
        make(model, seed=6),
        ref(model, adapter, REF_A.copy(), seed=7),  # equal content, another array
    ]
    key = engine.batch_key
    # One call holds one reference set (diffusers repeats it over the batch): requests share a
    # call when adapter, scale and the references' content are equal.
    assert key(reqs[1]) == key(reqs[4]) == key(reqs[7])
    assert key(reqs[0]) == key(reqs[3]) == key(reqs[6])
    assert len({key(reqs[0]), key(reqs[1]), key(reqs[2]), key(reqs[5])}) == 4
    assert key(ref(model, adapter, REF_A, REF_B)) != key(reqs[1])
    calls: list[int] = []
    real = engine.run_batch

    def counting(loaded, requests, indices, progress):
        calls.append(len(requests))
        return real(loaded, requests, indices, progress)

    engine.run_batch = counting
    try:
        together = engine.generate(reqs)
    finally:
        del engine.run_batch
    assert sorted(calls) == [1, 1, 3, 3]  # plain x3, REF_A x3, REF_B, REF_A at 0.5
    apart = [engine.generate([r])[0] for r in reversed(reqs)][::-1]
    for i, (x, y) in enumerate(zip(together, apart, strict=True)):
        assert diff(x, y) <= 1, i  # batched matmuls round differently: one level at most
    assert diff(together[1], together[2]) > 5
    (plain,) = engine.generate([make(model, seed=3)])
    assert np.array_equal(apart[3], plain)


def test_folder_and_hub_adapters_paint_like_the_file(
    engine, model, adapter, tiny_ip_adapter, tmp_path, monkeypatch
):
    import huggingface_hub.constants as hub_constants

    (by_file,) = engine.generate([ref(model, adapter, REF_A)])
    folder = ModelRef("ipa-dir", "folder", str(tiny_ip_adapter), "ipa-digest")
    (by_folder,) = engine.generate([ref(model, folder, REF_A)])
    snapshot = tmp_path / "hub" / "models--pixel--tiny-ip" / "snapshots" / "c0ffee"
    shutil.copytree(tiny_ip_adapter, snapshot / "sdxl_models")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("c0ffee")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    hub = ModelRef("ipa-hub", "hub", f"pixel/tiny-ip/sdxl_models/{WEIGHTS}", "ipa-digest")
    (by_hub,) = engine.generate([ref(model, hub, REF_A)])
    assert np.array_equal(by_file, by_folder) and np.array_equal(by_file, by_hub)
    missing = ModelRef("ipa-hub", "hub", "pixel/tiny-ip/sdxl_models/nope.safetensors", "d")
    with pytest.raises(EngineError, match=r"hero-1: .*nope\.safetensors.*hf download"):
        engine.generate([ref(model, missing, REF_A)])


def test_adapter_errors_are_clear_and_leave_the_pipeline_as_it_was(
    engine, model, adapter, tiny_ip_adapter, tmp_path
):
    (plain,) = engine.generate([make(model)])
    gone = ModelRef("ipa", "file", str(tmp_path / "ip-adapter.safetensors"), "d")
    with pytest.raises(EngineError) as err:
        engine.generate([ref(model, gone, REF_A, entry="hero")])
    text = str(err.value)
    assert text.startswith("hero: IP-Adapter 'ipa'") and "ip-adapter.safetensors" in text
    assert "not found" in text

    with pytest.raises(EngineError, match=r"hero: reference images need an IP-Adapter"):
        engine.generate([make(model, entry="hero", references=(REF_A,), reference_scale=0.7)])
    with pytest.raises(EngineError, match=r"hero: reference 1 must be uint8"):
        engine.generate([ref(model, adapter, REF_A.astype(np.float32), entry="hero")])

    lonely = tmp_path / "lonely" / WEIGHTS
    lonely.parent.mkdir()
    shutil.copy(tiny_ip_adapter / WEIGHTS, lonely)
    no_encoder = ModelRef("lonely", "file", str(lonely), "d")
    with pytest.raises(EngineError, match=r"hero: IP-Adapter 'lonely': no image encoder"):
        engine.generate([ref(model, no_encoder, REF_A, entry="hero")])

    pickled = ModelRef("pickled", "file", str(tmp_path / "ip-adapter.bin"), "d")
    (tmp_path / "ip-adapter.bin").write_bytes(b"x")
    with pytest.raises(EngineError, match=r"pickle.*allow_pickle"):
        engine.generate([ref(model, pickled, REF_A)])

    # An adapter made for another UNet (cross-attention 64 wide, not 80).
    other_unet = dict(_configs("tiny")["unet"], cross_attention_dim=64)
    wrong = build_ip_adapter_weights(tmp_path / "wrong" / WEIGHTS, other_unet)
    shutil.copytree(tiny_ip_adapter / "image_encoder", wrong.parent / "image_encoder")
    with pytest.raises(EngineError) as err:
        engine.generate([ref(model, ModelRef("wrong", "file", str(wrong), "w"), REF_A)])
    assert "IP-Adapter 'wrong'" in str(err.value) and "does not fit" in str(err.value)

    # An image encoder of another width than the adapter's image projection takes.
    misfit = tmp_path / "misfit"
    build_image_encoder(misfit / "image_encoder", projection_dim=24)
    shutil.copy(tiny_ip_adapter / WEIGHTS, misfit / WEIGHTS)
    with pytest.raises(EngineError, match=r"takes 32-wide image embeddings.*gives 24"):
        engine.generate([ref(model, ModelRef("misfit", "folder", str(misfit), "m"), REF_A)])

    (after,) = engine.generate([make(model)])
    assert np.array_equal(plain, after)  # a failed load left the UNet's own attention
    (works,) = engine.generate([ref(model, adapter, REF_A)])
    assert diff(plain, works) > 10


def test_compiled_engines_run_references_eager_or_refuse(tmp_path, model, adapter):
    from dataclasses import replace

    from pixelbuild.engines.compiled.engine import CompiledEngine, CompiledEngineWarning

    compiled = CompiledEngine(cache_dir=tmp_path, device="cpu")
    request = ref(model, adapter, REF_A, entry="hero")
    with pytest.raises(EngineError, match=r"hero: reference images \(IP-Adapter\) need the eager"):
        compiled._select(None, [request])
    with pytest.warns(CompiledEngineWarning, match="reference images"):
        assert compiled._select(None, [replace(request, fallback="eager")]) is None
