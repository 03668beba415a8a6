"""The diffusers engine's parts that need neither torch nor a model: import cost, batch keys,
request checks, precision rules and file refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pixelbuild.engines.base import GenerateRequest, LoraRef, ModelRef
from pixelbuild.errors import EngineError

MODEL = ModelRef("tiny", "folder", "/nowhere/tiny", "digest-1")


def req(**kw) -> GenerateRequest:
    base = dict(entry="hero", prompt="a knight", seed=1, width=64, height=64, model=MODEL)
    base.update(kw)
    return GenerateRequest(**base)


def test_importing_the_engine_does_not_import_torch():
    code = (
        "import sys\n"
        "from pixelbuild.engines import GenerateRequest, get_engine\n"
        "e = get_engine('diffusers', device='cpu')\n"
        "e.batch_key(GenerateRequest(entry='a', prompt='p', seed=1, width=64, height=64))\n"
        "bad = [n for n in ('torch', 'diffusers', 'transformers') if n in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_batch_key_groups_what_can_share_a_call():
    from pixelbuild.engines.sdxl import DiffusersEngine

    e = DiffusersEngine(device="cpu")
    lora = LoraRef("px", Path("/l.safetensors"), "abc", 1.0)
    key = e.batch_key(req())
    # seed, prompt, negative prompt and entry do not split a batch
    assert e.batch_key(req(seed=9, prompt="x", negative_prompt="y", entry="z")) == key
    # a weight-0 LoRA is no LoRA
    assert e.batch_key(req(loras=(LoraRef("px", Path("/l"), "abc", 0.0),))) == key
    for change in (
        dict(width=128),
        dict(steps=8),
        dict(guidance=1.5),
        dict(scheduler="ddim"),
        dict(tileable=True),
        dict(loras=(lora,)),
        dict(init_image=np.zeros((8, 8, 3), np.uint8)),
        dict(model=ModelRef("tiny", "folder", "/nowhere/tiny", "digest-2")),
    ):
        assert e.batch_key(req(**change)) != key, change
    img = np.zeros((8, 8, 3), np.uint8)
    assert e.batch_key(req(init_image=img, strength=0.3)) != e.batch_key(
        req(init_image=img, strength=0.6)
    )
    half = LoraRef("px", Path("/l.safetensors"), "abc", 0.5)
    assert e.batch_key(req(loras=(lora,))) != e.batch_key(req(loras=(half,)))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (dict(scheduler="nope"), ["unknown scheduler 'nope'", "euler_a", "dpmpp_2m_karras", "lcm"]),
        (dict(width=60), ["hero", "multiple of 8"]),
        (dict(model=None), ["hero", "needs a model"]),
        (dict(init_image=np.zeros((8, 8, 3), np.uint8), steps=2, strength=0.2), ["runs no step"]),
    ],
)
def test_bad_requests_fail_before_any_loading(change, words):
    from pixelbuild.engines.sdxl import DiffusersEngine

    with pytest.raises(EngineError) as err:
        DiffusersEngine(device="cpu").generate([req(**change)])
    for word in words:
        assert word in str(err.value)


def test_dtype_rules():
    from pixelbuild.engines.sdxl import resolve_dtype

    assert resolve_dtype("cuda", None, None) == "fp16"
    assert resolve_dtype("cuda", "bf16", "fp16") == "bf16"  # the engine (CLI) wins
    assert resolve_dtype("cuda", None, "bf16") == "bf16"
    assert resolve_dtype("cpu", None, None) == "fp32"
    assert resolve_dtype("cpu", None, "fp16") == "fp32"  # one manifest builds everywhere
    assert resolve_dtype("cpu", "bf16", None) == "bf16"
    with pytest.raises(EngineError, match="fp16 on the CPU"):
        resolve_dtype("cpu", "fp16", None)
    with pytest.raises(EngineError, match="unknown dtype"):
        resolve_dtype("cpu", "fp8", None)


def test_model_files_are_checked_without_loading(tmp_path: Path):
    from pixelbuild.engines.sdxl import check_model_files

    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not really a pickle")
    with pytest.raises(EngineError) as err:
        check_model_files(ModelRef("m", "file", str(ckpt), "d"))
    assert "pickle" in str(err.value) and "allow_pickle" in str(err.value)
    check_model_files(ModelRef("m", "file", str(ckpt), "d", allow_pickle=True))

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"x")
    with pytest.raises(EngineError, match="not a checkpoint this engine loads"):
        check_model_files(ModelRef("m", "file", str(gguf), "d"))
    with pytest.raises(EngineError, match="not found"):
        check_model_files(ModelRef("m", "file", str(tmp_path / "gone.safetensors"), "d"))
    with pytest.raises(EngineError, match="does not exist"):
        check_model_files(ModelRef("m", "folder", str(tmp_path / "gone"), "d"))
    with pytest.raises(EngineError, match=r"no model_index\.json"):
        check_model_files(ModelRef("m", "folder", str(tmp_path), "d"))
    vae = tmp_path / "vae.pt"
    vae.write_bytes(b"x")
    with pytest.raises(EngineError, match="VAE"):
        check_model_files(ModelRef("m", "hub", "org/repo", "d", vae=str(vae)))


def test_engine_options_are_checked():
    from pixelbuild.engines.sdxl import DiffusersEngine

    with pytest.raises(EngineError, match="max_batch"):
        DiffusersEngine(max_batch=0)
    DiffusersEngine().close()
    DiffusersEngine().close()
