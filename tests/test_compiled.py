"""The compiled-engine path for real on the CPU: profile -> export -> AOTInductor -> cache -> load
-> generate, with the tiny offline SDXL (tests/sdxl_tiny.py).

One engine (64x64 canvas, one image with CFG = UNet batch 2) is compiled once per session and shared
by every test here (the compile is most of this file's time, ~45-90 s on two cores). Tests that
need *another* engine to be built (a changed bucket or model) swap the compile step for a stub that
writes a placeholder file: they test keys and caching, not the compiler, which the shared build
already exercised.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs torch (the [sdxl] extra)")
pytest.importorskip("diffusers", reason="needs diffusers (the [sdxl] extra)")
pytest.importorskip("peft", reason="needs peft (the [sdxl] extra)")

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run
from sdxl_tiny import TinyAssets

from pixelbuild.engines.base import GenerateRequest, LoraRef, ModelRef
from pixelbuild.engines.compiled import store
from pixelbuild.errors import EngineError

pytestmark = [pytest.mark.sdxl, pytest.mark.slow]  # a real AOTInductor compile (~1 min)

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = """\
project:
  size: 16
  palette: db32
  generate: {engine: inductor, model: tiny, steps: 3, guidance: 5.0, scheduler: euler, canvas: 64}
models:
  tiny: {path: models/tiny}
sprites:
  hero: {prompt: a red knight, seed: 7}
"""


@dataclass
class Compiled:
    dir: Path
    cache: Path
    tiny: TinyAssets
    model: ModelRef
    first: dict
    build_seconds: float


@pytest.fixture(scope="session")
def compiled(tmp_path_factory, tiny_sdxl) -> Compiled:
    root = tmp_path_factory.mktemp("compiled")
    tiny = tiny_sdxl
    game = root / "game"
    (game / "engines").mkdir(parents=True)
    shutil.copytree(tiny.folder, game / "models" / "tiny")
    shutil.copy(ROOT / "engines" / "cpu-tiny-inductor.yaml", game / "engines")
    (game / "pixels.yaml").write_text(MANIFEST, encoding="utf-8")
    start = time.perf_counter()
    result = run(["engines", "build", "-C", str(game), "--json"])
    seconds = time.perf_counter() - start
    assert result.code == 0, result.err
    from pixelbuild.run.project import open_project

    project = open_project(game)
    model = project.targets[0].generation.model
    project.close()
    return Compiled(game, game / ".pixelbuild", tiny, model, result.json, seconds)


def request(model: ModelRef, **kw) -> GenerateRequest:
    base = dict(
        entry="hero",
        prompt="a red knight",
        seed=7,
        width=64,
        height=64,
        steps=3,
        guidance=5.0,
        scheduler="euler",
        model=model,
    )
    return GenerateRequest(**{**base, **kw})


@pytest.fixture(scope="session")
def eager():
    from pixelbuild.engines.sdxl import DiffusersEngine

    engine = DiffusersEngine(device="cpu")
    yield engine
    engine.close()


@pytest.fixture
def inductor(compiled):
    from pixelbuild.engines.compiled.engine import InductorEngine

    engine = InductorEngine(cache_dir=compiled.cache, device="cpu")
    yield engine
    engine.close()


def close(a: np.ndarray, b: np.ndarray, levels: int = 2) -> bool:
    return int(np.abs(a.astype(int) - b.astype(int)).max()) <= levels


# --- building ---------------------------------------------------------------------------------


def test_build_stores_one_described_engine(compiled):
    (profile,) = compiled.first["profiles"]
    assert profile["profile"] == "cpu-tiny-inductor"
    assert len(profile["built"]) == 1 and profile["cached"] == []
    (engine,) = store.read_engines(compiled.cache)
    info = engine.info
    assert engine.key == profile["built"][0]["key"] == info["key"]
    assert (info["compiler"], info["target"], info["precision"]) == ("inductor", "cpu", "fp32")
    assert info["model"] == compiled.model.digest and info["model_name"] == "tiny"
    assert info["bucket"] == {"width": 64, "height": 64, "unet_batch": 2, "padding": "zeros"}
    assert info["torch"] in info["compiler_version"]
    assert engine.artifact.name == "unet.pt2" and engine.artifact.stat().st_size > 0
    assert engine.dir.parent == compiled.cache / "engines"
    print(f"compile of the shared engine: {compiled.build_seconds:.1f}s")


def test_second_build_is_a_cache_hit(compiled):
    start = time.perf_counter()
    again = run(["engines", "build", "cpu-tiny-inductor", "-C", str(compiled.dir), "--json"])
    assert again.code == 0, again.err
    (profile,) = again.json["profiles"]
    assert profile["built"] == [] and len(profile["cached"]) == 1
    assert time.perf_counter() - start < 10  # no export, no compile
    text = run(["engines", "build", "-C", str(compiled.dir)])
    assert "0 engine(s) built, 1 already in the cache" in text.out


def _stub_compile(program, args, out: Path, refittable: bool) -> Path:
    path = out / "unet.pt2"
    path.write_bytes(b"placeholder: the shared build compiled for real")
    return path


def test_changed_bucket_or_model_makes_a_new_engine(compiled, tmp_path, monkeypatch):
    from pixelbuild.engines.compiled import build

    game = tmp_path / "game"
    shutil.copytree(compiled.dir, game, ignore=shutil.ignore_patterns("state.db*"))
    monkeypatch.setitem(build.COMPILERS, "inductor", _stub_compile)
    profile = game / "engines" / "cpu-tiny-inductor.yaml"
    profile.write_text(profile.read_text().replace("canvas: 64", "canvas: [64, [64, 72]]"))
    out = run(["engines", "build", "-C", str(game), "--json"])
    assert out.code == 0, out.err
    (result,) = out.json["profiles"]
    assert [b["bucket"] for b in result["built"]] == ["64x72 x1 (unet batch 2)"]
    assert len(result["cached"]) == 1  # the 64x64 engine is still the compiled one
    keys_before = {e.key for e in store.read_engines(game / ".pixelbuild")}

    weights = next((game / "models" / "tiny" / "unet").glob("*.safetensors"))
    from safetensors.torch import load_file, save_file

    state = load_file(str(weights))
    name = sorted(state)[0]
    state[name] = state[name] + 0.5
    save_file(state, str(weights))
    out = run(["engines", "build", "-C", str(game), "--json"])
    assert out.code == 0, out.err
    (result,) = out.json["profiles"]
    assert len(result["built"]) == 2 and result["cached"] == []  # new model digest: all new
    keys_after = {e.key for e in store.read_engines(game / ".pixelbuild")}
    assert keys_before < keys_after and len(keys_after) == 4
    listing = run(["engines", "list", "-C", str(game), "--json"]).json["engines"]
    assert len({e["key"] for e in listing}) == 4
    cleaned = run(["engines", "clean", "-C", str(game), "--json"])
    assert cleaned.code == 0 and len(cleaned.json["removed"]) == 4
    assert store.read_engines(game / ".pixelbuild") == []


# --- generating -------------------------------------------------------------------------------


def test_compiled_images_match_eager(compiled, eager, inductor):
    req = request(compiled.model)
    (want,) = eager.generate([req])
    (got,) = inductor.generate([req])
    assert len(inductor.used) == 1 and inductor.eager_calls == 0  # the compiled UNet ran
    assert close(got, want), np.abs(got.astype(int) - want.astype(int)).max()
    assert "forward" not in vars(inductor.loaded.pipe.unet)  # the eager forward is back
    # Same request again: same bytes (the module is loaded once and reused).
    (again,) = inductor.generate([req])
    assert np.array_equal(again, got) and len(inductor._modules) == 1


def test_short_batch_is_padded_to_the_bucket(compiled, eager, inductor):
    # guidance 1: no CFG, so the UNet batch is 1 and the engine (batch 2) runs padded.
    req = request(compiled.model, guidance=1.0, seed=11)
    (want,) = eager.generate([req])
    (got,) = inductor.generate([req])
    assert len(inductor.used) == 1
    assert close(got, want)


def test_several_requests_run_in_bucket_sized_chunks(compiled, eager, inductor):
    reqs = [request(compiled.model, entry=f"e{i}", seed=100 + i) for i in range(3)]
    got = inductor.generate(reqs)
    want = [eager.generate([r])[0] for r in reqs]
    assert len(inductor.used) == 3  # one image per call: the bucket holds batch 1 with CFG
    assert all(close(g, w) for g, w in zip(got, want, strict=True))


def test_lora_is_a_refit_of_the_compiled_weights(compiled, eager, inductor):
    lora = LoraRef("px", compiled.tiny.lora_a, "lora-a-digest", 0.8)
    with_lora = request(compiled.model, loras=(lora,))
    plain = request(compiled.model)
    (want_lora,) = eager.generate([with_lora])
    (want_plain,) = eager.generate([plain])
    assert not close(want_lora, want_plain, levels=4)  # the LoRA changes the picture
    got_lora, got_plain = inductor.generate([with_lora]), inductor.generate([plain])
    assert close(got_lora[0], want_lora) and close(got_plain[0], want_plain)
    assert inductor.eager_calls == 0 and len(inductor.used) == 2


def test_inpainting_runs_the_compiled_unet(compiled, eager, inductor):
    """An autotile transition's inpaint request (init image and mask) runs the compiled UNet
    through the inpainting pipeline, like eager."""
    init = np.zeros((64, 64, 4), np.uint8)
    init[:, 32:] = (40, 160, 60, 255)
    init[:, :32] = (120, 90, 50, 255)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 24:40] = 255
    req = request(compiled.model, init_image=init, strength=0.75, mask=mask, seed=5)
    (want,) = eager.generate([req])
    (got,) = inductor.generate([req])
    assert len(inductor.used) == 1 and inductor.eager_calls == 0
    assert close(got, want), np.abs(got.astype(int) - want.astype(int)).max()
    (plain,) = eager.generate([request(compiled.model, init_image=init, strength=0.75, seed=5)])
    assert not close(want, plain, levels=4)  # inpainting, not img2img


def test_request_outside_every_bucket_names_the_build_command(compiled, inductor):
    with pytest.raises(EngineError) as info:
        inductor.generate([request(compiled.model, width=80, height=80)])
    message = str(info.value)
    assert "hero: no inductor engine covers canvas 80x80, unet batch 2" in message
    assert "outside every bucket" in message and "64x64 x1 (unet batch 2)" in message
    assert "`pixelbuild engines build cpu-tiny-inductor`" in message
    assert "fallback: eager" in message


def test_fallback_eager_runs_the_eager_unet_with_a_warning(compiled, eager, inductor):
    req = request(compiled.model, width=80, height=80, fallback="eager")
    with pytest.warns(UserWarning, match="outside every bucket.*running the eager UNet"):
        (got,) = inductor.generate([req])
    (want,) = eager.generate([req])
    assert np.array_equal(got, want) and inductor.eager_calls == 1 and inductor.used == []


def test_tiles_run_eager_unless_built_for_them(compiled, eager, inductor):
    req = request(compiled.model, tileable=True)
    with pytest.warns(UserWarning, match="circular padding.*running the eager UNet"):
        (got,) = inductor.generate([req])
    (want,) = eager.generate([req])
    assert np.array_equal(got, want) and inductor.used == []


def test_engine_built_elsewhere_is_refused_with_the_command(compiled, tmp_path):
    from pixelbuild.engines.compiled.engine import InductorEngine

    # The same engine, described as built on a GB10 with other versions.
    cache = tmp_path / "cache"
    (engine,) = store.read_engines(compiled.cache)
    info = {**engine.info, "target": "sm_121", "system": "linux-aarch64", "torch": "2.99.0"}
    info["compiler_version"] = "inductor (torch 2.99.0)"
    fields = {k: info[k] for k in store.key_fields("x", "unet", _tools(), "fp32", engine.bucket)}
    key = store.engine_key(fields)
    staging = store.staging_dir(cache, key)
    shutil.copy(engine.artifact, staging)
    store.publish(cache, key, staging, {**info, "key": key})
    elsewhere = InductorEngine(cache_dir=cache, device="cpu")
    try:
        with pytest.raises(EngineError) as err:
            elsewhere.generate([request(compiled.model)])
    finally:
        elsewhere.close()
    message = str(err.value)
    assert "built for sm_121 / linux-aarch64 with inductor (torch 2.99.0)" in message
    assert "this machine is cpu" in message
    assert "rebuild them here with `pixelbuild engines build cpu-tiny-inductor`" in message


def _tools():
    return store.Toolchain("inductor", "v", "t", "cpu", "s")


def test_missing_tensorrt_names_the_build_command_or_falls_back(compiled, eager, monkeypatch):
    from pixelbuild.engines.compiled.engine import TensorRTEngine

    monkeypatch.setitem(sys.modules, "torch_tensorrt", None)  # as on these machines
    game_profile = compiled.dir / "engines" / "gb10-tiny.yaml"
    game_profile.write_text(
        "model: tiny\ncompiler: tensorrt\ntarget: sm_121\nprecision: fp16\n"
        "buckets: [{canvas: 64}]\n"
    )
    engine = TensorRTEngine(cache_dir=compiled.cache, device="cpu")
    try:
        with pytest.raises(EngineError) as err:
            engine.generate([request(compiled.model)])
        message = str(err.value)
        assert "torch-tensorrt and TensorRT" in message and ".[sdxl,tensorrt]" in message
        assert "then run `pixelbuild engines build gb10-tiny`" in message
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (got,) = engine.generate([request(compiled.model, fallback="eager")])
        assert any("fallback: eager" in str(w.message) for w in caught)
        (want,) = eager.generate([request(compiled.model)])
        assert np.array_equal(got, want)
    finally:
        engine.close()
        game_profile.unlink()


def test_pixelbuild_build_runs_the_compiled_engine(compiled, tmp_path, monkeypatch):
    from pixelbuild.engines.compiled.engine import InductorEngine

    game = tmp_path / "game"
    shutil.copytree(compiled.dir, game, ignore=shutil.ignore_patterns("state.db*"))
    calls: list[str] = []
    original = InductorEngine.run_batch

    def spy(self, *args, **kw):
        images = original(self, *args, **kw)
        calls.extend(self.used)
        return images

    monkeypatch.setattr(InductorEngine, "run_batch", spy)
    out = run(["build", "-C", str(game)])
    assert out.code == 0, out.err
    assert calls, "the build did not run the compiled UNet"
    assert (game / "assets").is_dir()
    # A manifest asking for a canvas no engine covers fails with the command to run...
    text = (game / "pixels.yaml").read_text().replace("canvas: 64", "canvas: 80")
    (game / "pixels.yaml").write_text(text)
    failed = run(["build", "-C", str(game)])
    assert failed.code == 1 and "pixelbuild engines build cpu-tiny-inductor" in failed.err
    # ...unless it allows the eager fallback.
    (game / "pixels.yaml").write_text(text.replace("canvas: 80", "canvas: 80, fallback: eager"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run(["build", "-C", str(game)]).code == 0


def test_engines_list_shows_what_and_for_which_gpu(compiled):
    out = run(["engines", "list", "-C", str(compiled.dir)])
    assert out.code == 0
    assert "cpu-tiny-inductor" in out.out and "cpu (" in out.out and "64x64 x1" in out.out
    rows = run(["engines", "list", "-C", str(compiled.dir), "--json"]).json["engines"]
    assert [r["target"] for r in rows] == ["cpu"] and rows[0]["model"] == "tiny"


def test_description_json_is_valid(compiled):
    (engine,) = store.read_engines(compiled.cache)
    data = json.loads((engine.dir / store.DESCRIPTION).read_text())
    assert data["artifact"] == "unet.pt2" and data["compile_seconds"] > 0


def test_fused_lora_state_makes_a_plain_unet_paint_like_the_peft_one(compiled):
    # What TensorRT refits with (and what AOTInductor's load_constants takes): the peft-wrapped
    # UNet's weights with the LoRA fused in, under a plain UNet's parameter names.
    import torch
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

    from pixelbuild.engines.compiled.engine import fused_unet_state

    pipe = StableDiffusionXLPipeline.from_pretrained(compiled.dir / "models" / "tiny")
    pipe.load_lora_weights(str(compiled.tiny.lora_a), adapter_name="a")
    pipe.set_adapters(["a"], adapter_weights=[0.7])
    unet = pipe.unet
    with torch.device("meta"):
        plain = UNet2DConditionModel.from_config(unet.config)
    plain.load_state_dict(fused_unet_state(unet), assign=True, strict=True)
    gen = torch.Generator("cpu").manual_seed(0)
    args = (torch.randn(2, 4, 8, 8, generator=gen), torch.tensor(400.0))
    kwargs = dict(
        encoder_hidden_states=torch.randn(2, 77, 80, generator=gen),
        added_cond_kwargs={
            "text_embeds": torch.randn(2, 32, generator=gen),
            "time_ids": torch.randn(2, 6, generator=gen),
        },
        return_dict=False,
    )
    with torch.no_grad():
        want = unet(*args, **kwargs)[0]
        got = plain.eval()(*args, **kwargs)[0]
        pipe.disable_lora()
        base = unet(*args, **kwargs)[0]
    assert (got - want).abs().max().item() < 1e-4
    assert (base - want).abs().max().item() > 1e-3  # the LoRA mattered
    only = fused_unet_state(unet, only_lora=True)
    assert only and all(k.endswith((".weight", ".bias")) and "lora" not in k for k in only)


def test_profile_naming_an_unknown_model_is_located(compiled, tmp_path):
    profile = tmp_path / "other.yaml"
    profile.write_text(
        "compiler: inductor\ntarget: cpu\nprecision: fp32\nmodel: tiyn\nbuckets: [{canvas: 64}]\n"
    )
    out = run(["engines", "build", str(profile), "-C", str(compiled.dir)])
    assert out.code == 2
    assert f"{profile}:4:8: unknown model 'tiyn' (models in the manifest: tiny)" in out.err
