"""`pixelbuild doctor`: the machine, the engines, the project's models and LoRAs, compiled engines.

Real files only: a fake Hugging Face cache in a temporary folder (HF_HUB_CACHE), project files on
disk, compiled-engine folders laid out the way the engine store writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest

from pixelbuild.doctor import (
    NO_MANIFEST,
    add_doctor_command,
    run_doctor,
    torch_facts,
    torch_status,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MANIFEST = """\
models:
  base: {repo: acme/pixel-xl}
  gone: {repo: acme/not-here}
  local: {path: models/local-xl}
loras:
  style: {file: loras/style.safetensors}
sprites:
  hero: {prompt: a knight, engine: diffusers, model: base}
  slime: {prompt: a green slime}
"""


def fake_hub_model(cache: Path, repo: str, weights: bool = True) -> Path:
    """A repository as huggingface_hub caches it: refs/main naming a snapshot folder."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    snapshot = folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "model_index.json").write_text("{}")
    if weights:
        (snapshot / "unet").mkdir()
        (snapshot / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 16)
    return snapshot


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def project(tmp_path: Path, hub: Path) -> Path:
    """One hub model cached, one not; a diffusers folder present; the LoRA file missing."""
    root = tmp_path / "game"
    (root / "models" / "local-xl").mkdir(parents=True)
    (root / "models" / "local-xl" / "model_index.json").write_text("{}")
    (root / "pixels.yaml").write_text(MANIFEST)
    fake_hub_model(hub, "acme/pixel-xl")
    return root


def doctor_json(capsys: pytest.CaptureFixture[str], directory: Path) -> tuple[dict, str]:
    assert run_doctor(directory, None, as_json=True) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def doctor_text(capsys: pytest.CaptureFixture[str], directory: Path) -> str:
    assert run_doctor(directory, None, as_json=False) == 0
    return capsys.readouterr().out


def test_models_and_loras_present_or_missing(project: Path, hub: Path, capsys) -> None:
    report, _ = doctor_json(capsys, project)
    proj = report["project"]
    assert proj["found"] and proj["error"] is None
    assert proj["engines_used"] == {"diffusers": 1, "procedural": 1}
    models = proj["models"]
    assert models["base"]["present"] and models["base"]["status"] == "ok"
    assert models["base"]["revision"] == COMMIT and models["base"]["used_by"] == 1
    assert models["base"]["path"] == str(hub / "models--acme--pixel-xl" / "snapshots" / COMMIT)
    assert not models["gone"]["present"] and models["gone"]["status"] == "missing"
    assert models["gone"]["fetch"].endswith("download acme/not-here")
    assert models["gone"]["used_by"] == 0 and "no entry uses it" in models["gone"]["message"]
    assert models["local"]["present"] and models["local"]["source"] == "folder"
    assert not proj["loras"]["style"]["present"]
    assert proj["loras"]["style"]["status"] == "missing"
    missing = [p["message"] for p in report["problems"] if p["status"] == "missing"]
    assert any("acme/not-here" in m for m in missing)
    assert any("lora style" in m for m in missing)
    assert report["summary"]["missing"] == len(missing)


def test_text_names_what_is_missing_and_how_to_fetch_it(project: Path, capsys) -> None:
    out = doctor_text(capsys, project)
    lines = out.splitlines()
    gone = next(line for line in lines if "acme/not-here" in line)
    assert gone.split()[0] == "missing"
    assert "download acme/not-here" in out
    assert "--allow-download" in out
    style = next(line for line in lines if "lora style" in line)
    assert style.split()[0] == "missing" and "loras/style.safetensors" in style
    base = next(line for line in lines if "model base" in line)
    assert base.split()[0] == "ok"
    assert "summary:" in lines[-1] and "missing" in lines[-1]


def test_cached_repo_without_weights_is_a_warning(project: Path, hub: Path, capsys) -> None:
    fake_hub_model(hub, "acme/not-here", weights=False)
    report, _ = doctor_json(capsys, project)
    gone = report["project"]["models"]["gone"]
    assert gone["present"] and gone["status"] == "warning"
    assert "no weight files" in gone["message"]


def test_no_manifest_still_reports_the_machine(tmp_path: Path, hub: Path, capsys) -> None:
    report, _ = doctor_json(capsys, tmp_path)
    assert report["project"]["found"] is False
    assert report["project"]["message"] == NO_MANIFEST
    assert "python" in report["machine"] and set(report["engines"]) >= {"procedural"}
    assert report["engines"]["procedural"]["usable"]
    assert NO_MANIFEST in doctor_text(capsys, tmp_path)


def test_broken_manifest_is_shown_and_the_machine_still_reported(
    tmp_path: Path, hub: Path, capsys
) -> None:
    (tmp_path / "pixels.yaml").write_text("sprites:\n  hero: {prompt: a knight, bogus: 3}\n")
    report, err = doctor_json(capsys, tmp_path)
    proj = report["project"]
    assert proj["status"] == "error" and "bogus" in proj["error"]
    assert err.startswith("error: ") and "bogus" in err
    assert report["machine"]["python"]["status"] == "ok"
    out = doctor_text(capsys, tmp_path)
    assert "error: " in out and "bogus" in out
    assert "Machine" in out and "Python" in out


def test_torch_version_and_devices(tmp_path: Path, hub: Path, capsys) -> None:
    torch = pytest.importorskip("torch")
    report, _ = doctor_json(capsys, tmp_path)
    info = report["machine"]["torch"]
    assert info["installed"] and info["version"] == torch.__version__
    assert info["version"] == metadata.version("torch")
    assert info["cuda_available"] == torch.cuda.is_available()
    assert info["build"] == ("cuda" if torch.version.cuda else "cpu")
    if not info["cuda_available"]:
        assert info["gpus"] == []
        assert report["machine"]["device"]["device"] in ("cpu", "mps")
    else:
        assert all(g["capability"].startswith("sm_") for g in info["gpus"])
    assert report["machine"]["packages"]["diffusers"]["version"] == metadata.version("diffusers")


def cuda_torch(arch_list: list[str]) -> SimpleNamespace:
    """What a CUDA build of torch answers on a GB10 (this test machine has no GPU)."""
    props = SimpleNamespace(name="NVIDIA GB10", total_memory=120 * 2**30, major=12, minor=1)
    cuda = SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 1,
        get_device_properties=lambda index: props,
        get_arch_list=lambda: arch_list,
    )
    mps = SimpleNamespace(is_built=lambda: False, is_available=lambda: False)
    backends = SimpleNamespace(cudnn=SimpleNamespace(version=lambda: 91002), mps=mps)
    version = SimpleNamespace(cuda="12.9", hip=None)
    return SimpleNamespace(__version__="2.9.0+cu129", version=version, cuda=cuda, backends=backends)


def test_gpu_name_memory_and_compute_capability() -> None:
    facts = torch_facts(cuda_torch(["sm_90", "sm_100", "sm_120", "compute_120"]))
    assert facts["build"] == "cuda" and facts["cuda_runtime"] == "12.9"
    (gpu,) = facts["gpus"]
    assert gpu["status"] == "ok" and gpu["capability"] == "sm_121" and gpu["supported"]
    assert gpu["memory_bytes"] == 120 * 2**30
    assert gpu["message"] == "GPU 0: NVIDIA GB10, 120.0 GiB, sm_121"
    status, message, _ = torch_status(facts)
    assert status == "ok" and "CUDA 12.9" in message and "1 GPU" in message
    old = torch_facts(cuda_torch(["sm_80", "sm_90", "sm_90a"]))["gpus"][0]
    assert old["status"] == "warning" and not old["supported"]
    assert "sm_80, sm_90, sm_90a" in old["hint"][0]


def write_engine(cache: Path, key: str, **info: object) -> None:
    """A compiled engine as the engine store publishes it: engine.json beside its artifact."""
    folder = cache / "engines" / key
    folder.mkdir(parents=True)
    (folder / "unet.pt2").write_bytes(b"\0")
    body = {
        "artifact": "unet.pt2",
        "profile": "cpu-fp32",
        "model_name": "base",
        "compiler": "inductor",
        "precision": "fp32",
        "bucket": {"width": 512, "height": 512, "unet_batch": 2, "padding": "zeros"},
        **info,
    }
    (folder / "engine.json").write_text(json.dumps(body))


def test_compiled_engines_match_this_machine_or_not(project: Path, capsys) -> None:
    torch = pytest.importorskip("torch")
    from pixelbuild.engines.compiled.store import system_name

    cache = project / ".pixelbuild"
    here = {"system": system_name(), "torch": torch.__version__}
    write_engine(cache, "a" * 32, target="cpu", **here)
    write_engine(cache, "b" * 32, target="sm_999", **here)
    report, _ = doctor_json(capsys, project)
    compiled = report["compiled"]
    assert compiled["cache"] == str(cache.resolve()) and compiled["built"] == 2
    by_key = {e["key"]: e for e in compiled["engines"]}
    assert by_key["a" * 32]["matches"] and by_key["a" * 32]["status"] == "ok"
    assert not by_key["b" * 32]["matches"]
    assert "sm_999" in by_key["b" * 32]["mismatches"][0]
    assert compiled["matching"] == 1


def test_add_doctor_command_parses_like_the_cli(project: Path, capsys) -> None:
    parser = argparse.ArgumentParser(prog="pixelbuild")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-C", dest="directory", type=Path, default=Path("."))
    common.add_argument("-f", "--manifest", type=Path)
    common.add_argument("--json", action="store_true")
    add_doctor_command(parser.add_subparsers(), common)
    args = parser.parse_args(["doctor", "-C", str(project), "--json"])
    assert args.run(args) == 0
    assert json.loads(capsys.readouterr().out)["project"]["models"]["base"]["present"]
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["doctor", "--no-such-option"])
    assert exc.value.code == 2


def _wired() -> bool:
    probe = [sys.executable, "-m", "pixelbuild", "doctor", "--help"]
    return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(not _wired(), reason="doctor not wired into the CLI yet")
def test_cli_doctor_json_with_a_broken_torch(project: Path, tmp_path: Path) -> None:
    """The console path, with a torch that fails to import (and so without torch's 2-3 s)."""
    broken = tmp_path / "site" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise OSError('libcudart.so.12: cannot open')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken.parent), *sys.path])}
    env.pop("PIXELBUILD_CACHE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pixelbuild", "doctor", "-C", str(project), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    torch = report["machine"]["torch"]
    assert torch["status"] == "warning" and "libcudart" in torch["error"]
    assert not report["engines"]["diffusers"]["usable"]
    assert report["engines"]["procedural"]["usable"]
    assert report["project"]["models"]["gone"]["status"] == "missing"
    assert report["project"]["loras"]["style"]["status"] == "missing"


def test_a_manifest_file_of_many_entries_gets_the_include_hint(tmp_path: Path, hub, capsys):
    from pixelbuild.doctor import LARGE_FILE

    root = tmp_path / "big"
    root.mkdir()
    n = LARGE_FILE + 1
    sprites = "".join(f"  s{i}: {{prompt: p}}\n" for i in range(n))
    (root / "pixels.yaml").write_text("include: [art/more.yaml]\nsprites:\n" + sprites)
    (root / "art").mkdir()
    (root / "art" / "more.yaml").write_text("sprites:\n  extra: {prompt: p}\n")
    report, _ = doctor_json(capsys, root)
    assert report["project"]["entries_in_manifest_file"] == n
    assert "include:" in report["project"]["hint"][0]
    (root / "pixels.yaml").write_text("include: [art/more.yaml]\nsprites:\n  one: {prompt: p}\n")
    report, _ = doctor_json(capsys, root)
    assert report["project"]["entries_in_manifest_file"] == 1 and not report["project"]["hint"]
