"""Compiled engines without compiling: profiles, keys, the store, CLI help, missing TensorRT.

Nothing here needs torch, diffusers or TensorRT (the TensorRT compile test skips with a reason).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pixelbuild.engines.compiled import store
from pixelbuild.engines.compiled.profile import Bucket, load_profile, resolve_profile
from pixelbuild.errors import EngineError, ManifestError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_profiles_parse():
    gb10 = load_profile(ROOT / "engines" / "gb10-sdxl-fp16.yaml")
    assert (gb10.profile.compiler, gb10.profile.target, gb10.profile.precision) == (
        "tensorrt",
        "sm_121",
        "fp16",
    )
    assert gb10.profile.refittable and gb10.profile.components == ["unet"]
    labels = [b.label for b in gb10.buckets()]
    assert "1024x1024 x1 (unet batch 2)" in labels and "768x768 x8 (unet batch 16)" in labels
    h100 = load_profile(ROOT / "engines" / "h100-sdxl-fp16.yaml")
    assert h100.profile.target == "sm_90"
    cpu = load_profile(ROOT / "engines" / "cpu-tiny-inductor.yaml")
    assert cpu.buckets() == [Bucket(64, 64, 1, 2, "zeros")]


def test_buckets_double_under_cfg_and_add_tile_variants(tmp_path):
    path = write(
        tmp_path,
        "model: m\ncompiler: inductor\ntarget: cpu\nprecision: fp32\ncfg: false\ntiles: true\n"
        "buckets:\n  - {canvas: [96, 64], batch: [2, 1, 2]}\n",
    )
    buckets = load_profile(path).buckets()
    assert [(b.width, b.height, b.images, b.unet_batch, b.padding) for b in buckets] == [
        (96, 64, 1, 1, "circular"),
        (96, 64, 1, 1, "zeros"),
        (96, 64, 2, 2, "circular"),
        (96, 64, 2, 2, "zeros"),
    ]


def test_profile_errors_are_located_with_hints(tmp_path):
    path = write(
        tmp_path,
        "model: sdxl\n"
        "compiler: tensorrt\n"
        "target: sm_121\n"
        "precison: fp16\n"  # line 4: typo
        "buckets:\n"
        "  - canvas: 100\n"  # line 6: not a multiple of 8
        "    batch: [1]\n"
        "  - canvs: 64\n",  # line 8: typo inside a bucket
    )
    with pytest.raises(ManifestError) as info:
        load_profile(path)
    text = str(info.value)
    assert "engine profile p.yaml" in text
    assert f"{path}:4:1: unknown key 'precison' (did you mean 'precision'?)" in text
    assert f"{path}:6:13: " in text and "multiples of 8" in text
    assert f"{path}:8:5: unknown key 'canvs' (did you mean 'canvas'?)" in text
    assert len(info.value.issues) >= 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("compiler: tensorrt\ntarget: cpu\nprecision: fp32\n", "needs a GPU target"),
        ("compiler: inductor\ntarget: cpu\nprecision: fp16\n", "fp16 on the cpu"),
        ("compiler: inductor\ntarget: gb10\n", "'gb10' is not a GPU architecture: use sm_XY"),
        ("compiler: onnx\ntarget: cpu\n", "'tensorrt' or 'inductor'"),
        ("compiler: inductor\ntarget: cpu\ncomponents: [vae]\n", "must start with 'unet'"),
        ("compiler: inductor\ntarget: cpu\ncomponents: [unet, vae]\n", "only the UNet"),
    ],
)
def test_profile_rejects_inconsistent_settings(tmp_path, body, message):
    path = write(tmp_path, "model: m\n" + body + "buckets: [{canvas: 64}]\n")
    with pytest.raises(ManifestError, match=message):
        load_profile(path)


def test_missing_profile_names_the_ones_there(tmp_path):
    (tmp_path / "engines").mkdir()
    write(tmp_path / "engines", "x: 1\n", "gb10-sdxl-fp16.yaml")
    assert resolve_profile(tmp_path, "gb10-sdxl-fp16").name == "gb10-sdxl-fp16.yaml"
    with pytest.raises(ManifestError, match="did you mean 'gb10-sdxl-fp16'"):
        resolve_profile(tmp_path, "gb10-sdxl")


TOOLS = store.Toolchain("inductor", "inductor (torch 2.13.0)", "2.13.0", "cpu", "linux-x86_64")


def test_engine_keys_change_with_every_field_they_depend_on():
    bucket = Bucket(64, 64, 1, 2)
    base = store.key_fields("digest-a", "unet", TOOLS, "fp32", bucket)
    assert store.engine_key(base) == store.engine_key(
        store.key_fields("digest-a", "unet", TOOLS, "fp32", Bucket(64, 64, 1, 2))
    )
    variants = [
        store.key_fields("digest-b", "unet", TOOLS, "fp32", bucket),  # another model
        store.key_fields("digest-a", "vae", TOOLS, "fp32", bucket),
        store.key_fields("digest-a", "unet", TOOLS, "bf16", bucket),
        store.key_fields("digest-a", "unet", TOOLS, "fp32", Bucket(64, 64, 2, 4)),  # batch
        store.key_fields("digest-a", "unet", TOOLS, "fp32", Bucket(72, 64, 1, 2)),  # canvas
        store.key_fields("digest-a", "unet", TOOLS, "fp32", Bucket(64, 64, 1, 2, "circular")),
    ]
    for change in (
        {"compiler": "tensorrt"},
        {"compiler_version": "inductor (torch 2.14.0)"},
        {"torch": "2.14.0"},
        {"target": "sm_121"},
        {"system": "linux-aarch64"},
    ):
        tools = store.Toolchain(**{**TOOLS.fields(), **change})
        variants.append(store.key_fields("digest-a", "unet", tools, "fp32", bucket))
    keys = {store.engine_key(v) for v in variants} | {store.engine_key(base)}
    assert len(keys) == len(variants) + 1


def test_store_publishes_lists_and_cleans(tmp_path):
    fields = store.key_fields("d", "unet", TOOLS, "fp32", Bucket(64, 64, 1, 2))
    key = store.engine_key(fields)
    staging = store.staging_dir(tmp_path, key)
    (staging / "unet.pt2").write_bytes(b"x" * 10)
    info = {**fields, "key": key, "artifact": "unet.pt2", "images": 1, "profile": "p"}
    store.publish(tmp_path, key, staging, info)
    leftover = store.staging_dir(tmp_path, "other")  # an interrupted build's folder
    found = store.find_engine(tmp_path, fields)
    assert found is not None and found.bucket == Bucket(64, 64, 1, 2)
    assert json.loads((found.dir / "engine.json").read_text())["target"] == "cpu"
    assert [e.key for e in store.read_engines(tmp_path)] == [key]
    assert store.clean(tmp_path, keep={key}) == [] and not leftover.exists()
    assert [e.key for e in store.clean(tmp_path)] == [key]
    assert store.read_engines(tmp_path) == []


def test_missing_tensorrt_is_a_clear_error(monkeypatch):
    from pixelbuild.engines.compiled.build import tensorrt_versions

    monkeypatch.setitem(sys.modules, "torch_tensorrt", None)  # import fails as if absent
    with pytest.raises(EngineError) as info:
        tensorrt_versions()
    message = str(info.value)
    assert "torch-tensorrt and TensorRT" in message
    assert "pip install -e" in message and "[sdxl,tensorrt]" in message
    assert "docs/gb10.md" in message


def test_engines_help_teaches_and_imports_no_torch():
    code = (
        "import sys, contextlib, io\n"
        "from pixelbuild.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try: main(['engines', 'build', '--help'])\n"
        "    except SystemExit: pass\n"
        "assert 'torch' not in sys.modules, 'help imported torch'\n"
        "print(out.getvalue())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "PROFILE" in proc.stdout and "compiler: tensorrt" in proc.stdout
    assert "engines list" in proc.stdout


def test_every_table_of_compilers_names_the_same_ones():
    """The compiler names live in the profile's `Compiler` type; everything keyed by a compiler
    (artifact files, compile functions, compiled engines and their classes) covers exactly them."""
    from pixelbuild.engines.compiled import build
    from pixelbuild.engines.compiled.engine import InductorEngine, TensorRTEngine
    from pixelbuild.engines.compiled.profile import COMPILERS
    from pixelbuild.engines.registry import COMPILED_ENGINES, ENGINES

    assert set(store.ARTIFACTS) == set(build.COMPILERS) == set(COMPILERS) == COMPILED_ENGINES
    for cls in (InductorEngine, TensorRTEngine):
        assert cls.compiler == cls.name and cls.version == ENGINES[cls.name].version


@pytest.mark.skipif(
    importlib.util.find_spec("torch_tensorrt") is None,
    reason="torch-tensorrt/TensorRT are not installable on these machines (DESIGN.md)",
)
def test_tensorrt_compiles_a_tiny_unet(tmp_path):  # pragma: no cover - needs TensorRT + CUDA
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("TensorRT engines need a CUDA GPU")
    sys.path.insert(0, str(Path(__file__).parent))
    from sdxl_tiny import build_pipeline

    from pixelbuild.engines.compiled.build import COMPILERS, device_target, export_unet

    unet = build_pipeline("tiny").unet.to("cuda", torch.float16)
    bucket = Bucket(64, 64, 1, 2)
    program, args = export_unet(unet, bucket, 77, "cuda", torch.float16)
    path = COMPILERS["tensorrt"](program, args, tmp_path, True)
    import torch_tensorrt

    module = torch_tensorrt.load(str(path)).module()
    with torch.no_grad():
        ref = program.module()(*args)
        out = module(*args)
    assert device_target("cuda").startswith("sm_")
    assert (ref - out).abs().max().item() < 5e-2
