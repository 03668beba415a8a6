"""Plan a build: every target becomes steps (generate -> pixelize -> assemble) with keys, and is
compared with the lock and the files on disk to say whether, and why, it must be rebuilt.

The planner is the `Graph` targets build their steps through: it memoizes each target's raw and
pixelize steps, so an atlas and its members share them, and one `auto` palette serves every
entry that names it. It also notes which entries were planned with another's steps (`entangled`):
the others stand alone, which is what plan/memo.py needs to skip their files next time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pixelbuild.cache.hashing import short_digest
from pixelbuild.cache.lock import Lock
from pixelbuild.cache.state import State
from pixelbuild.plan.memo import Unsettled
from pixelbuild.plan.steps import PALETTE, STEP_KINDS, TRAIN, Step
from pixelbuild.targets import ImageTarget, Target
from pixelbuild.targets.trained import TrainedLora


@dataclass
class EntryPlan:
    """A target, its final step, the files it writes, and whether (and why) it is stale."""

    target: Target
    final: Step
    member_keys: dict[str, list[str]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    checked: bool = True  # False for entries outside a `build ENTRY...` selection

    @property
    def name(self) -> str:
        return self.target.name

    @cached_property
    def outputs(self) -> list[str]:
        """Every file the entry writes, assets-relative, the image first."""
        return list(self.target.outputs().values())

    @cached_property
    def fields(self) -> dict[str, str]:
        """A short fingerprint per user-facing field (atlas members and code versions too).

        Only needed when the entry is rebuilt or its key changed, so a no-op never computes it.
        """
        fields = {k: short_digest(v) for k, v in self.target.fields().items()}
        fields |= {f"member:{m}": short_digest(keys) for m, keys in self.member_keys.items()}
        fields |= {f"code:{k.name}": k.version for k in STEP_KINDS.values() if k.in_lock}
        return fields

    @property
    def stale(self) -> bool:
        return bool(self.reasons)


@dataclass
class Plan:
    entries: list[EntryPlan]
    removed: dict[str, list[str]]  # entry -> its old outputs, for entries gone from the manifest
    settled: list[str] = field(default_factory=list)  # up to date, not planned (plan/memo.py)
    entangled: frozenset[str] = frozenset()  # entries planned with another entry's steps

    @property
    def stale(self) -> list[EntryPlan]:
        return [e for e in self.entries if e.stale]

    @property
    def fresh(self) -> list[EntryPlan]:
        """Entries checked and found up to date (a `build ENTRY...` checks only those named)."""
        return [e for e in self.entries if e.checked and not e.stale]

    @property
    def up_to_date(self) -> list[str]:
        """The names of every entry known to be up to date: fresh or settled."""
        return sorted([e.name for e in self.fresh] + self.settled)


class Planner:
    """Builds the step graph for targets and checks it against the lock and the assets tree."""

    def __init__(self, assets_root: Path, state: State, lock: Lock):
        self._assets = str(assets_root)  # outputs are joined to it as strings (see _check)
        self.state = state
        self.lock = lock
        self._by_name: dict[str, Target] = {}
        self._raw: dict[str, list[Step]] = {}
        self._pixelized: dict[str, list[Step]] = {}
        self._palettes: dict[str, Step] = {}
        self._trained: dict[str, Step] = {}
        self._settled: set[str] = set()
        self._current: str | None = None  # the target whose steps are being built
        self._entangled: set[str] = set()

    def plan(
        self, targets: list[Target], only: set[str] | None = None, settled: Iterable[str] = ()
    ) -> Plan:
        """Plan `targets` (only those in `only` are checked); `settled`: entries left out as
        known to be up to date (plan/memo.py), never removed, and Unsettled if one is asked for."""
        self._by_name = {t.name: t for t in targets}
        self._settled = set(settled)
        self._palettes = self._shared_palettes(targets)
        entries = []
        for target in targets:
            self._current = target.name
            final = target.final_step(self)
            members = {m: [s.key for s in self._member_steps(m)] for m in target.member_names()}
            self._current = None
            plan = EntryPlan(target, final, members)
            if only is None or target.name in only:
                self._check(plan)
            else:
                plan.checked = False
            entries.append(plan)
        removed = {
            name: sorted(entry.outputs)
            for name, entry in self.lock.entries.items()
            if name not in self._by_name
            and name not in self._settled
            and (only is None or name in only)
        }
        entries.sort(key=lambda e: e.name)
        return Plan(entries, removed, sorted(self._settled), frozenset(self._entangled))

    # -- the Graph targets build their steps through --

    def target(self, name: str) -> Target:
        if name not in self._by_name and name in self._settled:
            raise Unsettled(f"{self._current} reads {name}, whose file was not planned")
        self._touch(name)
        return self._by_name[name]

    def raw(self, target: ImageTarget) -> list[Step]:
        self._touch(target.name)
        if target.name not in self._raw:
            self._raw[target.name] = target.raw_steps(self)
        return self._raw[target.name]

    def pixelized(self, target: ImageTarget) -> list[Step]:
        self._touch(target.name)
        if target.name not in self._pixelized:
            self._pixelized[target.name] = target.pixel_steps(self)
        return self._pixelized[target.name]

    def shared_palette(self, name: str) -> Step | None:
        step = self._palettes.get(name)
        if step is not None and self._current is not None:
            self._entangled.add(self._current)
        return step

    def trained_lora(self, lora: TrainedLora, owner: Target) -> Step:
        """The one train step of `lora`, owned by the first target that uses it."""
        self._entangled.add(owner.name)
        if lora.name not in self._trained:
            params = lora.key_params()
            self._trained[lora.name] = Step(TRAIN, owner, params, label=f"lora:{lora.name}")
        return self._trained[lora.name]

    def _touch(self, name: str) -> None:
        """Note that the target being planned uses `name`'s steps (entangling both unless it
        is the target itself)."""
        if self._current is not None and name != self._current:
            self._entangled.update((name, self._current))

    def _member_steps(self, name: str) -> list[Step]:
        member = self.target(name)
        assert isinstance(member, ImageTarget), f"{name} has no frames of its own"
        return self.pixelized(member)

    def _shared_palettes(self, targets: list[Target]) -> dict[str, Step]:
        groups: dict[str, list[ImageTarget]] = {}
        for t in targets:
            if isinstance(t, ImageTarget) and t.palette.shared:
                groups.setdefault(t.palette.shared, []).append(t)
        shared = {}
        for name, members in groups.items():
            raws = tuple(s for t in members for s in self.raw(t))
            spec = dict(members[0].palette.spec)
            shared[name] = Step(PALETTE, members[0], spec, raws, label=f"palette:{name}")
        return shared

    # -- freshness --

    def _check(self, plan: EntryPlan) -> None:
        locked = self.lock.entries.get(plan.name)
        if locked is None:
            plan.reasons.append("new entry")
            return
        if locked.key != plan.final.key:
            plan.reasons.extend(_changed_fields(locked.fields, plan.fields))
        for out in plan.outputs:
            recorded = locked.outputs.get(out)
            path = f"{self._assets}/{out}"  # a string: 50,000 Paths cost a tenth of a plan
            if recorded is None:
                if not plan.reasons:
                    plan.reasons.append(f"new output {out}")
                continue
            try:
                on_disk = self.state.digest(path)
            except FileNotFoundError:
                plan.reasons.append(f"output missing: {out}")
                continue
            except OSError as exc:  # a folder in its place, no permission to read it
                plan.edited.append(out)
                plan.reasons.append(f"output unreadable: {out} ({exc.strerror or exc})")
                continue
            if on_disk == recorded.digest:
                continue
            if self.state.owned(path) == on_disk:
                plan.reasons.append(f"output written by an interrupted build: {out}")
            else:
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
