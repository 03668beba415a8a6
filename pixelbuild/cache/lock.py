"""`pixels.lock`: what was built from what, committed beside the manifest.

Sorted and indented so a diff reads as "entry X: key and outputs changed". Per entry: its key, seed,
engine, a short fingerprint per field (so `plan` can say which field changed even on a fresh
clone with no cache), and each output's path, digest and size. `files` keeps the digest of every
input file, so a CI machine without a 7 GB checkpoint can still check the lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelbuild.cache.store import write_atomic
from pixelbuild.errors import Issue, Location, ManifestError

LOCK_NAME = "pixels.lock"
LOCK_VERSION = 1


@dataclass(frozen=True, slots=True)
class LockedOutput:
    """A file an entry wrote: its content digest and size in bytes."""

    digest: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "size": self.size}


@dataclass(slots=True)
class LockEntry:
    """What the lock records of one entry.

    `key` is the entry's final step key; `fields` a short fingerprint per user-facing field (so
    `plan` names what changed even without a cache); `seed`, `engine` and `provenance` are there
    for people and for CI (atlases have none of them). `hand_finished`: the outputs are files a
    person finished after the build (`pixelbuild adopt`); when the key changes, the build
    reports a conflict instead of replacing them, and removing the entry keeps them.
    """

    kind: str
    key: str
    fields: dict[str, str]
    outputs: dict[str, LockedOutput]
    seed: int | None = None
    engine: str | None = None
    provenance: dict[str, Any] | None = None
    hand_finished: bool = False
    report: dict[str, Any] | None = None  # what assembly measured (a character's alignment)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "fields": self.fields,
            "outputs": {path: out.to_json() for path, out in self.outputs.items()},
        }
        for name in ("seed", "engine", "provenance", "report"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.hand_finished:
            body["hand_finished"] = True
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LockEntry:
        """An entry as the lock file holds it; KeyError/TypeError/ValueError when malformed."""
        outputs = {
            str(path): LockedOutput(str(out["digest"]), int(out["size"]))
            for path, out in dict(data.get("outputs", {})).items()
        }
        return cls(
            kind=str(data["kind"]),
            key=str(data["key"]),
            fields={str(k): str(v) for k, v in dict(data.get("fields", {})).items()},
            outputs=outputs,
            seed=None if data.get("seed") is None else int(data["seed"]),
            engine=None if data.get("engine") is None else str(data["engine"]),
            provenance=None if data.get("provenance") is None else dict(data["provenance"]),
            hand_finished=data.get("hand_finished") is True,
            report=None if data.get("report") is None else dict(data["report"]),
        )


@dataclass(frozen=True, slots=True)
class LockedLora:
    """A LoRA trained in the build: its train step's key, the trained file's digest, and where
    it is exported into the project (a fresh clone uses that file instead of training)."""

    key: str
    digest: str
    export: str | None = None

    def to_json(self) -> dict[str, Any]:
        body = {"key": self.key, "digest": self.digest}
        return body | ({"export": self.export} if self.export else {})


@dataclass
class Lock:
    entries: dict[str, LockEntry] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    trained: dict[str, LockedLora] = field(default_factory=dict)

    def owner_of(self, output: str) -> str | None:
        """The entry that wrote `output` (assets-relative), if the lock says one did."""
        for name, entry in self.entries.items():
            if output in entry.outputs:
                return name
        return None

    def to_json(self) -> str:
        """Sorted JSON with one line per entry field: a rebuilt entry diffs as a few lines.

        Inner values are written compactly by the C encoder (an indented dump uses the pure
        Python one, which is slow for large projects).
        """

        def compact(value: Any) -> str:
            return json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)

        lines = [
            "{",
            f'  "version": {LOCK_VERSION},',
            '  "generator": "pixelbuild",',
            '  "entries": {',
        ]
        names = sorted(self.entries)
        for i, name in enumerate(names):
            entry = self.entries[name].to_json()
            lines.append(f"    {compact(name)}: {{")
            keys = sorted(entry)
            for j, key in enumerate(keys):
                comma = "," if j < len(keys) - 1 else ""
                lines.append(f"      {compact(key)}: {compact(entry[key])}{comma}")
            lines.append("    }" + ("," if i < len(names) - 1 else ""))
        lines.append("  },")
        if self.trained:
            trained = {name: lora.to_json() for name, lora in sorted(self.trained.items())}
            lines.append(f'  "trained_loras": {compact(trained)},')
        lines.append(f'  "files": {compact(dict(sorted(self.files.items())))}')
        lines.append("}")
        return "\n".join(lines) + "\n"


def read_lock(path: Path) -> Lock:
    """The lock at `path`, or an empty one when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = Location(path, exc.lineno, exc.colno)
        hint = "fix the merge conflict or delete the file and rebuild"
        raise ManifestError([Issue(f"unreadable lock file ({exc.msg}); {hint}", where)]) from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise ManifestError(
            [
                Issue(
                    f"lock version {data.get('version') if isinstance(data, dict) else None!r} "
                    f"is not {LOCK_VERSION}",
                    Location(path, 1, 1),
                )
            ]
        )
    entries: dict[str, LockEntry] = {}
    raw = data.get("entries", {})
    try:
        for name, entry in dict(raw).items():
            entries[str(name)] = LockEntry.from_json(entry)
        files = {str(k): str(v) for k, v in dict(data.get("files", {})).items()}
        trained = {
            str(name): LockedLora(
                str(lora["key"]),
                str(lora["digest"]),
                None if lora.get("export") is None else str(lora["export"]),
            )
            for name, lora in dict(data.get("trained_loras", {})).items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        hint = "delete it and rebuild (nothing built is lost: outputs are adopted)"
        raise ManifestError(
            [
                Issue(
                    f"malformed lock file ({type(exc).__name__}: {exc}); {hint}",
                    Location(path, 1, 1),
                )
            ]
        ) from None
    return Lock(entries=entries, files=files, trained=trained)


def write_lock(path: Path, lock: Lock, staging: Path) -> bool:
    """Write the lock if its text changed; True when it did."""
    text = lock.to_json()
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, text.encode(), staging)
    return True
