"""`pixelbuild build --ray`: generation on a real local Ray cluster with two fake GPUs.

One head per module (`ray start --head`, in a network namespace where permitted: ray_local.py),
two generation actors on the procedural engine. A cluster build must leave the very bytes of a
local build (lock and assets), also when an actor is SIGKILLed in the middle of a batch. The
tests without a cluster (errors, the actors' file check) need no Ray.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import PALETTE, run
from ray_local import LocalCluster

from pixelbuild.cache.hashing import digest_file
from pixelbuild.cluster.actor import FileCheck
from pixelbuild.engines.base import GenerateRequest, LoraRef, ModelRef
from pixelbuild.errors import EngineError
from pixelbuild.targets.trained import TRAINED_FOLDER

SPRITES = 300  # with the animation: 304 generate steps, 5 batches of the engine's 64


def manifest(sprites: int = SPRITES, canvas: int = 192) -> str:
    lines = [
        "project:", "  size: 16", "  palette: x", f"  generate: {{canvas: {canvas}}}",
        "palettes:", "  x: {file: palettes/x.hex}", "sprites:",
    ]  # fmt: skip
    lines += [f"  s{i:03d}: {{prompt: a red slime number {i}, seed: {i}}}" for i in range(sprites)]
    lines += ["animations:", '  walk: {prompt: "a knight walking, frame {i}", frames: 4}']
    return "\n".join(lines) + "\n"


def new_project(root: Path, sprites: int = SPRITES) -> Path:
    (root / "palettes").mkdir(parents=True)
    (root / "palettes" / "x.hex").write_text(PALETTE)
    (root / "pixels.yaml").write_text(manifest(sprites))
    return root


def no_actors_left(cluster: LocalCluster, timeout: float = 60) -> bool:
    """Wait for the actors of finished builds to go (Ray ends them with their driver)."""
    deadline = time.monotonic() + timeout
    while cluster.actor_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    return not cluster.actor_pids()


def outputs(project: Path) -> dict[str, bytes]:
    """The lock and every asset, by path."""
    found = {"pixels.lock": (project / "pixels.lock").read_bytes()}
    for path in sorted((project / "assets").rglob("*")):
        if path.is_file():
            found[str(path.relative_to(project))] = path.read_bytes()
    return found


NEEDS_RAY = "needs Ray (the [ray] extra, which scripts/test.sh installs)"


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray", reason=NEEDS_RAY)
    c = LocalCluster(num_gpus=2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def local_build(tmp_path_factory) -> dict[str, bytes]:
    """What a local build of the project writes."""
    project = new_project(tmp_path_factory.mktemp("local") / "p")
    r = run(["build", "-C", str(project), "-q"])
    assert r.code == 0, r.err
    return outputs(project)


@pytest.mark.slow
def test_cluster_build_is_byte_identical_to_a_local_build(cluster, local_build, tmp_path):
    project = new_project(tmp_path / "p")
    r = cluster.pixelbuild(["build", "-C", str(project), "--json", "--ray", cluster.address])
    assert r.returncode == 0, r.stderr
    assert '"generate": 304' in r.stdout
    assert outputs(project) == local_build
    # nothing left to generate: the build never joins the cluster
    again = run(["build", "-C", str(project), "--ray", "127.0.0.1:1"])
    assert again.code == 0 and "up to date: 301 entries" in again.err, again.err


@pytest.mark.slow
def test_the_example_game_built_on_the_cluster_is_its_committed_bytes(cluster, tmp_path):
    """Characters, animations (img2img frames: several waves of batches), tilesets, atlases."""
    game = tmp_path / "mossgrove"
    ignore = shutil.ignore_patterns(".pixelbuild", "target")
    shutil.copytree(Path(__file__).parent.parent / "examples" / "mossgrove", game, ignore=ignore)
    committed = outputs(game)
    shutil.rmtree(game / "assets")
    (game / "pixels.lock").unlink()
    r = cluster.pixelbuild(["build", "-C", str(game), "--ray", cluster.address])
    assert r.returncode == 0, r.stderr
    assert outputs(game) == committed


@pytest.mark.slow
def test_an_actor_killed_mid_batch_is_restarted_and_the_result_unchanged(
    cluster, local_build, tmp_path
):
    project = new_project(tmp_path / "p")
    cmd = [sys.executable, "-m", "pixelbuild", "build", "-C", str(project), "--ray"]
    build = subprocess.Popen(
        cluster.command([*cmd, cluster.address]),
        env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and build.poll() is None and time.monotonic() < deadline:
        busy = cluster.actor_pids(busy=True)
        if busy:
            killed = busy[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.01)
    _, err = build.communicate(timeout=600)
    assert killed is not None, "the build finished before an actor could be killed"
    assert build.returncode == 0, err
    assert "died running" in err and "the batch runs again" in err, err
    assert outputs(project) == local_build
    assert killed not in cluster.actor_pids()


@pytest.mark.slow
def test_watch_keeps_its_actors_warm_between_passes(cluster, tmp_path):
    project = new_project(tmp_path / "p", sprites=8)
    assert no_actors_left(cluster)
    cmd = [sys.executable, "-m", "pixelbuild", "watch", "--json", "-C", str(project), "--ray"]
    watch = subprocess.Popen(
        cluster.command([*cmd, cluster.address]),
        env=cluster.env | {"PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    passes: queue.Queue[dict] = queue.Queue()

    def read() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            if line.startswith("{"):
                passes.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    try:
        first = passes.get(timeout=180)
        assert len(first["rebuilt"]) == 9 and not first["errors"], first
        actors = cluster.actor_pids()
        assert len(actors) == 2
        text = (project / "pixels.yaml").read_text()
        (project / "pixels.yaml").write_text(text.replace("a red slime number 0,", "a blue one,"))
        second = passes.get(timeout=180)
        assert second["rebuilt"] == ["s000"] and not second["errors"], second
        assert cluster.actor_pids() == actors  # the same actors, engines still loaded
    finally:
        watch.send_signal(signal.SIGINT)
        try:
            watch.wait(timeout=60)
        finally:
            if watch.poll() is None:
                watch.kill()
    assert watch.returncode == 0
    assert no_actors_left(cluster)  # the watcher's actors left with it


def test_an_unreachable_cluster_is_a_clear_error(tmp_path):
    pytest.importorskip("ray", reason=NEEDS_RAY)
    project = new_project(tmp_path / "p")
    r = run(["build", "-C", str(project), "--ray", "127.0.0.1:1"])
    assert r.code == 1
    assert "error: cannot reach the Ray cluster at 127.0.0.1:1" in r.err, r.err
    assert "ray start --head" in r.err and "Traceback" not in r.err


def test_without_ray_installed_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    project = new_project(tmp_path / "p", sprites=2)
    r = run(["build", "-C", str(project), "--ray", "127.0.0.1:1"])
    assert r.code == 1
    assert "--ray needs Ray, which is not installed" in r.err and '".[ray]"' in r.err, r.err


def test_device_does_not_go_with_ray(tmp_path):
    project = new_project(tmp_path / "p")
    r = run(["build", "-C", str(project), "--ray", "auto", "--device", "cuda:1"])
    assert r.code == 1
    assert "--device does not apply with --ray" in r.err, r.err


def _request(model: ModelRef | None = None, loras: tuple[LoraRef, ...] = ()) -> GenerateRequest:
    return GenerateRequest("hero", "a knight", 1, 64, 64, model=model, loras=loras)


def test_an_actor_checks_model_and_lora_files_by_digest(tmp_path):
    lora = tmp_path / "style.safetensors"
    lora.write_bytes(b"lora weights")
    folder = tmp_path / "model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "weights.bin").write_bytes(b"unet weights")
    (folder / "model_index.json").write_text("{}")
    from pixelbuild.cache.hashing import digest_folder

    model = ModelRef("base", "folder", str(folder), digest_folder(folder))
    good = LoraRef("style", lora, digest_file(lora), 1.0)
    check = FileCheck(tmp_path / "cache")
    check.check(_request(model, (good,)))  # all present and equal
    # a LoRA the build trained: named by its key (its digest), in the project cache
    trained = tmp_path / "cache" / TRAINED_FOLDER / "knight-0123456789abcdef.safetensors"
    key = LoraRef("knight", trained, "0123456789abcdef" * 2, 1.0)
    with pytest.raises(EngineError, match=r"trained LoRA 'knight': .* not on node .*cache folder"):
        check.check(_request(model, (key,)))
    trained.parent.mkdir(parents=True)
    trained.write_bytes(b"trained weights")
    check.check(_request(model, (key,)))

    moved = LoraRef("style", tmp_path / "elsewhere.safetensors", good.digest, 1.0)
    with pytest.raises(EngineError, match=r"LoRA 'style': .*elsewhere.safetensors cannot be read"):
        check.check(_request(model, (moved,)))
    lora.write_bytes(b"other weights")
    with pytest.raises(EngineError, match=r"LoRA 'style': .* differs from the file the build"):
        check.check(_request(model, (good,)))
    (folder / "unet" / "weights.bin").write_bytes(b"changed")
    with pytest.raises(EngineError, match=r"model 'base': .*every node of the cluster needs"):
        check.check(_request(model))
    hub = ModelRef("xl", "hub", "owner/not-cached", "0" * 40)
    with pytest.raises(EngineError, match="owner/not-cached is not in the Hugging Face cache"):
        check.check(_request(hub))
    shutil.rmtree(folder)


TINY_SDXL = """\
project:
  size: 16
  palette: db32
  generate: {engine: diffusers, model: tiny, loras: [px], steps: 2, scheduler: euler, canvas: 64}
models:
  tiny: {path: models/tiny}
loras:
  px: {file: loras/px.safetensors, weight: 0.8}
sprites:
  hero: {prompt: a red knight, seed: 7}
  slime: {prompt: a green slime, seed: 8}
  chest: {prompt: a wooden chest, seed: 9}
animations:
  walk: {prompt: "a knight walking, frame {i}", frames: 2, base: hero, strength: 0.7}
"""


def sdxl_project(root: Path, tiny) -> Path:
    (root / "loras").mkdir(parents=True)
    shutil.copytree(tiny.folder, root / "models" / "tiny")
    shutil.copy(tiny.lora_a, root / "loras" / "px.safetensors")
    (root / "pixels.yaml").write_text(TINY_SDXL)
    return root


@pytest.mark.slow
@pytest.mark.sdxl
def test_sdxl_on_the_cluster_gives_the_bytes_of_a_local_build(cluster, tiny_sdxl, tmp_path):
    """The diffusers engine in each actor (the model folder and LoRA checked by digest there),
    batches cut at the actors' own batch size: the same lock (provenance included) and pixels."""
    here = sdxl_project(tmp_path / "here", tiny_sdxl)
    # On a CPU torch's sums depend on its thread count, and Ray runs each actor with
    # OMP_NUM_THREADS=1 (its CPU share): the local build runs so too (on a GPU it does not matter).
    local = [sys.executable, "-m", "pixelbuild", "build", "-C", str(here), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(local, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr
    there = sdxl_project(tmp_path / "there", tiny_sdxl)
    r2 = cluster.pixelbuild(["build", "-C", str(there), "--json", "--ray", cluster.address])
    assert r2.returncode == 0, r2.stderr + r2.stdout
    assert json.loads(r2.stdout)["steps_run"]["generate"] == 5
    assert outputs(there) == outputs(here)

    # an engine error inside an actor reaches the user as the failure of the batch's entries
    failing = sdxl_project(tmp_path / "failing", tiny_sdxl)
    args = ["build", "-C", str(failing), "--dtype", "fp16", "--ray", cluster.address]
    r3 = cluster.pixelbuild(args)
    assert r3.returncode == 1
    assert "fp16 on the CPU is not supported" in r3.stderr and "Traceback" not in r3.stderr
