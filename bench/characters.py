"""Characters: build time, images generated, engine calls and the consistency of the frames.

A character of 4 and of 8 directions x 3 animations (idle 4, walk 6, attack 5 frames), built
through the CLI on the procedural engine and, when torch and diffusers are installed, on the tiny
random-weight SDXL (built offline; 2 steps at 64 px on the CPU). Per case: wall time of a cold
build, images generated, engine calls (the batches the engine ran: images per call is the
batching), how many rows were mirrored instead of generated, and per animation and direction the
feet jitter, sideways drift and silhouette-area variation measured on the written sheet (after
alignment). Prints a table; writes bench/results/characters.json.

    python bench/characters.py [--no-sdxl]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent / "tests")]

from common import machine, table, write_json  # noqa: E402

from pixelbuild.assemble.alignment import measure  # noqa: E402
from pixelbuild.cli import main as cli  # noqa: E402

ANIMATIONS = {"idle": 4, "walk": 6, "attack": 5}
SIZE = 24


def manifest(directions: int, sdxl: bool) -> str:
    generate = "{engine: diffusers, model: tiny, steps: 2, canvas: 64}" if sdxl else "{canvas: 96}"
    models = "models:\n  tiny: {path: models/tiny}\n" if sdxl else ""
    anims = "".join(f"      {a}: {{frames: {n}}}\n" for a, n in ANIMATIONS.items())
    return (
        f"project: {{palette: db32, generate: {generate}}}\n{models}characters:\n  hero:\n"
        f"    prompt: a small knight with a red cape\n    size: {SIZE}\n"
        f"    directions: {directions}\n    animations:\n{anims}"
    )


class CallCounter:
    """Counts the engine's generate calls (each call is one batch)."""

    def __init__(self) -> None:
        self.calls = 0
        self.images = 0

    def install(self) -> None:
        from pixelbuild.engines import procedural

        targets: list[Any] = [procedural.ProceduralEngine]
        try:
            from pixelbuild.engines.sdxl.engine import DiffusersEngine

            targets.append(DiffusersEngine)
        except ImportError:
            pass
        for cls in targets:
            original = cls.generate

            def counted(self: Any, requests: Any, progress: Any = None, _o: Any = original) -> Any:
                counter.calls += 1
                counter.images += len(requests)
                return _o(self, requests, progress)

            cls.generate = counted


counter = CallCounter()


def build(project: Path, *args: str) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli(["build", "-C", str(project), "--json", *args])
    if code != 0:
        raise SystemExit(f"build failed ({code}): {err.getvalue()[-2000:]}")
    return dict(json.loads(out.getvalue()))


def consistency(sheet: Path, directions: int) -> dict[str, dict[str, float]]:
    """Per animation_direction row of the written sheet: jitter, drift, area variation."""
    img = np.asarray(Image.open(sheet).convert("RGBA"))
    names = (
        ("s", "w", "n", "e") if directions == 4 else ("s", "sw", "w", "nw", "n", "ne", "e", "se")
    )
    rows = [(d, a) for d in names for a in ANIMATIONS]
    out = {}
    for r, (d, a) in enumerate(rows):
        frames = [
            img[r * SIZE : (r + 1) * SIZE, i * SIZE : (i + 1) * SIZE] for i in range(ANIMATIONS[a])
        ]
        m = measure(frames)
        out[f"{a}_{d}"] = {
            "feet_jitter_px": float(m.baseline_jitter),
            "drift_px": float(m.anchor_jitter),
            "area_variation": round(float(m.area_variation), 4),
        }
    return out


def run_case(root: Path, directions: int, sdxl: bool, tiny: Any) -> dict[str, Any]:
    project = root / f"{'sdxl' if sdxl else 'procedural'}-{directions}"
    project.mkdir(parents=True)
    if sdxl:
        import shutil

        shutil.copytree(tiny.folder, project / "models" / "tiny")
    (project / "pixels.yaml").write_text(manifest(directions, sdxl))
    counter.calls = counter.images = 0
    t = time.perf_counter()
    result = build(project, *(["--device", "cpu"] if sdxl else []))
    seconds = time.perf_counter() - t
    painted = 3 if directions == 4 else 5
    metrics = consistency(project / "assets" / "characters" / "hero.png", directions)
    return {
        "engine": "tiny sdxl" if sdxl else "procedural",
        "directions": directions,
        "seconds": round(seconds, 2),
        "images": result["steps_run"].get("generate", 0),
        "engine_calls": counter.calls,
        "images_per_call": round(counter.images / max(counter.calls, 1), 2),
        "mirrored_rows": (directions - painted) * len(ANIMATIONS),
        "worst_feet_jitter_px": max(v["feet_jitter_px"] for v in metrics.values()),
        "worst_drift_px": max(v["drift_px"] for v in metrics.values()),
        "worst_area_variation": max(v["area_variation"] for v in metrics.values()),
        "rows": metrics,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--no-sdxl", action="store_true", help="the procedural engine only")
    args = ap.parse_args()
    counter.install()
    tiny = None
    if not args.no_sdxl:
        try:
            from sdxl_tiny import build_tiny_assets

            tiny = build_tiny_assets(Path(tempfile.mkdtemp()) / "tiny")
        except ImportError:
            print("torch/diffusers not installed: procedural engine only")
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for sdxl in (False, True) if tiny is not None else (False,):
            for directions in (4, 8):
                cases.append(run_case(Path(tmp), directions, sdxl, tiny))
    cols = ["engine", "directions", "seconds", "images", "engine_calls", "images_per_call"]
    cols += ["mirrored_rows", "worst_feet_jitter_px", "worst_drift_px", "worst_area_variation"]
    print(table(cols, [[c[k] for k in cols] for c in cases]))
    write_json(HERE / "results" / "characters.json", {"machine": machine(), "cases": cases})


if __name__ == "__main__":
    main()
