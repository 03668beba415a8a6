"""Plan a build: every target becomes steps (generate -> pixelize -> assemble) with keys, and is
compared with the lock and the files on disk to say whether, and why, it must be rebuilt.

A step's key is xxh3-128 over the canonical JSON of its kind, its code version, its own
parameters and the keys of its inputs. A palette change therefore changes the pixelize key and
everything after it, while the generate key (and its cached image) stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pixelbuild.build.versions import STEP_VERSIONS
from pixelbuild.cache.hashing import digest_json, short_digest
from pixelbuild.cache.lock import Lock
from pixelbuild.cache.state import State
from pixelbuild.engines import ENGINE_VERSIONS
from pixelbuild.manifest.resolve import Target


@dataclass(eq=False)
class Step:
    """One unit of cached work. `params` is hashed; `payload` is runtime data that is not."""

    kind: str
    entry: str
    params: dict[str, Any]
    inputs: tuple[Step, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)
    key: str = ""

    def __post_init__(self) -> None:
        version = STEP_VERSIONS[self.kind]
        if self.kind == "generate":
            version += "/" + ENGINE_VERSIONS.get(self.params["engine"], "?")
        self.key = digest_json(
            {
                "kind": self.kind,
                "version": version,
                "params": self.params,
                "inputs": [s.key for s in self.inputs],
            }
        )


@dataclass
class EntryPlan:
    """A target, its final step, the files it writes, and whether (and why) it is stale."""

    target: Target
    final: Step
    outputs: list[str]
    member_keys: dict[str, list[str]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    checked: bool = True  # False for entries outside a `build ENTRY...` selection

    @property
    def name(self) -> str:
        return self.target.name

    @cached_property
    def fields(self) -> dict[str, str]:
        """A short fingerprint per user-facing field (atlas members and code versions too).

        Only needed when the entry is rebuilt or its key changed, so a no-op never computes it.
        """
        fields = {k: short_digest(v) for k, v in self.target.fields().items()}
        fields |= {f"member:{m}": short_digest(keys) for m, keys in self.member_keys.items()}
        fields |= {f"code:{k}": v for k, v in STEP_VERSIONS.items() if k != "source"}
        return fields

    @property
    def stale(self) -> bool:
        return bool(self.reasons)


@dataclass
class Plan:
    entries: list[EntryPlan]
    removed: dict[str, list[str]]  # entry -> its old outputs, for entries gone from the manifest

    @property
    def stale(self) -> list[EntryPlan]:
        return [e for e in self.entries if e.stale]

    @property
    def fresh(self) -> list[EntryPlan]:
        """Entries checked and found up to date (a `build ENTRY...` checks only those named)."""
        return [e for e in self.entries if e.checked and not e.stale]


def output_paths(target: Target, meta_files: bool) -> list[str]:
    """Every file a target writes under the assets root, the image first."""
    stem = target.out[: -len(".png")] if target.out.lower().endswith(".png") else target.out
    paths = [target.out]
    if target.kind in ("animation", "tileset"):
        paths += [f"{stem}.assets.ron", f"{stem}.json"]
    elif target.kind == "atlas":
        paths += [f"{stem}.json", f"{stem}.atlas.ron"]
    if meta_files:
        paths.append(f"{target.out}.meta")
    return paths


class Planner:
    """Builds the step graph for targets and checks it against the lock and the assets tree."""

    def __init__(self, assets_root: Path, state: State, lock: Lock, *, meta_files: bool = False):
        self.assets = assets_root
        self.state = state
        self.lock = lock
        self.meta_files = meta_files
        self._pixel_steps: dict[str, list[Step]] = {}
        self._raw_steps: dict[str, list[Step]] = {}

    def plan(self, targets: list[Target], only: set[str] | None = None) -> Plan:
        by_name = {t.name: t for t in targets}
        shared = self._shared_palettes(targets, by_name)
        entries = []
        ordered = sorted(targets, key=lambda t: t.kind == "atlas")  # atlases use the others' steps
        for target in ordered:
            final = self._steps(target, by_name, shared)
            members = {m: [s.key for s in self._pixel_steps[m]] for m in target.members}
            plan = EntryPlan(target, final, output_paths(target, self.meta_files), members)
            if only is None or target.name in only:
                self._check(plan)
            else:
                plan.checked = False
            entries.append(plan)
        names = {t.name for t in targets}
        removed = {
            name: sorted(entry.get("outputs", {}))
            for name, entry in self.lock.entries.items()
            if name not in names and (only is None or name in only)
        }
        entries.sort(key=lambda e: e.name)
        return Plan(entries, removed)

    # -- step graph --

    def _raw(self, target: Target, by_name: dict[str, Target]) -> list[Step]:
        """The steps that produce a target's unprocessed images (generated or read from a file)."""
        if target.name in self._raw_steps:
            return self._raw_steps[target.name]
        if target.image is not None:
            steps = [
                Step(
                    "source",
                    target.name,
                    {"file": target.image.path, "digest": target.image.digest},
                    payload={"path": target.image.absolute},
                )
            ]
        else:
            gen = target.generation
            assert gen is not None
            base_steps: tuple[Step, ...] = ()
            if target.base is not None:
                base_steps = (self._raw(by_name[target.base], by_name)[0],)
            n = len(target.prompts)
            steps = []
            for i, prompt in enumerate(target.prompts):
                seed = target.seed + i if target.kind == "tileset" else target.seed
                params = gen.key_params() | {
                    "prompt": prompt,
                    "seed": seed,
                    "tileable": target.kind == "tileset",
                    "frame": i if target.kind == "animation" else 0,
                    "frames": n if target.kind == "animation" else 1,
                }
                inputs: tuple[Step, ...] = ()
                if (
                    target.kind == "animation"
                    and (base_steps or i > 0)
                    and gen.engine != "procedural"
                ):
                    # SDXL frames derive from the base frame by img2img, so they stay consistent.
                    inputs = base_steps or (steps[0],)
                    params["strength"] = target.layout["strength"]
                steps.append(
                    Step(
                        "generate",
                        target.name,
                        params,
                        inputs,
                        payload={"target": target},
                    )
                )
        self._raw_steps[target.name] = steps
        return steps

    def _shared_palettes(
        self, targets: list[Target], by_name: dict[str, Target]
    ) -> dict[str, Step]:
        groups: dict[str, list[Target]] = {}
        for t in targets:
            if t.palette is not None and t.palette.shared:
                groups.setdefault(t.palette.shared, []).append(t)
        shared = {}
        for name, members in groups.items():
            raws = tuple(s for t in members for s in self._raw(t, by_name))
            spec = members[0].palette.spec if members[0].palette else {}
            shared[name] = Step("palette", f"palette:{name}", dict(spec), raws)
        return shared

    def _pixelize(
        self, target: Target, by_name: dict[str, Target], shared: dict[str, Step]
    ) -> list[Step]:
        if target.name in self._pixel_steps:
            return self._pixel_steps[target.name]
        raws = self._raw(target, by_name)
        palette = target.palette
        assert palette is not None
        palette_inputs: tuple[Step, ...] = ()
        params: dict[str, Any] = {
            "size": list(target.size),
            "pixel": target.pixel,
            "tileable": target.kind == "tileset",
        }
        if "auto" in palette.spec:
            step = shared.get(palette.shared or "") or Step(
                "palette", target.name, dict(palette.spec), tuple(raws)
            )
            palette_inputs = (step,)
        else:
            params["palette"] = palette.spec
        payload = {"palette_file": palette.file.absolute if palette.file else None}
        steps = [
            Step("pixelize", target.name, params, (raw, *palette_inputs), payload=payload)
            for raw in raws
        ]
        self._pixel_steps[target.name] = steps
        return steps

    def _steps(self, target: Target, by_name: dict[str, Target], shared: dict[str, Step]) -> Step:
        params: dict[str, Any] = {
            "kind": target.kind,
            "out": target.out,
            "layout": target.layout,
            "outputs": output_paths(target, self.meta_files),
        }
        if target.kind == "atlas":
            inputs: list[Step] = []
            names: list[str] = []
            for member in target.members:
                frames = self._pixelize(by_name[member], by_name, shared)
                inputs.extend(frames)
                if by_name[member].kind == "animation":
                    names.extend(f"{member}/{i}" for i in range(len(frames)))
                else:
                    names.append(member)
            params["names"] = names
        else:
            inputs = self._pixelize(target, by_name, shared)
        return Step("assemble", target.name, params, tuple(inputs), payload={"target": target})

    # -- freshness --

    def _check(self, plan: EntryPlan) -> None:
        locked = self.lock.entries.get(plan.name)
        if locked is None:
            plan.reasons.append("new entry")
            return
        if locked.get("key") != plan.final.key:
            plan.reasons.extend(_changed_fields(locked.get("fields", {}), plan.fields))
        for out in plan.outputs:
            recorded = locked.get("outputs", {}).get(out)
            path = self.assets / out
            if recorded is None:
                if not plan.reasons:
                    plan.reasons.append(f"new output {out}")
                continue
            try:
                on_disk = self.state.digest(path)
            except FileNotFoundError:
                plan.reasons.append(f"output missing: {out}")
                continue
            if on_disk != recorded["digest"]:
                plan.edited.append(out)
                plan.reasons.append(f"output edited by hand: {out}")


def _changed_fields(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Human reasons for a key change: the fields whose fingerprints differ."""
    reasons = []
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) == new.get(name):
            continue
        if name.startswith("file:"):
            reasons.append(f"input file changed: {name[5:]}")
        elif name.startswith("member:"):
            reasons.append(f"atlas member changed: {name[7:]}")
        elif name.startswith("code:"):
            reasons.append(f"{name[5:]} code changed")
        elif name not in old:
            reasons.append(f"{name} added")
        elif name not in new:
            reasons.append(f"{name} removed")
        else:
            reasons.append(f"{name} changed")
    return reasons or ["inputs changed"]
