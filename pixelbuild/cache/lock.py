"""`pixels.lock`: what was built from what, committed beside the manifest.

Sorted and indented so a diff reads as "entry X: key and outputs changed". Per entry: its key, seed,
engine, a short fingerprint per field (so `plan` can say which field changed even on a fresh
clone with no cache), and each output's path, digest and size. `files` keeps the digest of every
input file, so a CI machine without a 7 GB checkpoint can still check the lock. Entries of
included manifest files live in shards of the same format (lockshards.py).
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
        fields = data.get("fields", {})
        if not isinstance(fields, dict) or not set(map(type, fields.values())) <= {str}:
            raise TypeError("'fields' must map names to fingerprints")  # JSON keys are strings
        return cls(
            kind=str(data["kind"]),
            key=str(data["key"]),
            fields=fields,
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


class LockEntries(dict[str, LockEntry]):
    """The lock's entries by name, with an index output -> entry kept in step with every change
    (so `Lock.owner_of` is one lookup, not a scan), and the names set or removed since the lock
    was read (so writing touches only the shards that hold them). An entry is replaced whole,
    never changed in place once set (its index and its written text are kept by name). Change
    the entries by item assignment, `del`, `pop` or `update` (`|=` would bypass the index)."""

    def __init__(
        self, entries: dict[str, LockEntry] | None = None, texts: dict[str, str] | None = None
    ):
        super().__init__(entries or {})
        self.owners = {out: name for name, e in self.items() for out in e.outputs}
        self.changed: set[str] = set()
        # name -> the entry's lines as the file holds them (read or last written): an entry
        # not set since is written back from here, not serialized again
        self.texts: dict[str, str] = texts if texts is not None else {}

    def __setitem__(self, name: str, entry: LockEntry) -> None:
        if name in self:
            self._forget(name)
        super().__setitem__(name, entry)
        self.owners.update(dict.fromkeys(entry.outputs, name))
        self.changed.add(name)
        self.texts.pop(name, None)

    def __delitem__(self, name: str) -> None:
        self._forget(name)
        super().__delitem__(name)
        self.changed.add(name)
        self.texts.pop(name, None)

    def pop(self, name: str, *default: Any) -> Any:
        if name not in self:
            return super().pop(name, *default)
        entry = self[name]
        del self[name]
        return entry

    def _forget(self, name: str) -> None:
        for out in self[name].outputs:
            if self.owners.get(out) == name:
                del self.owners[out]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, entry in dict(*args, **kwargs).items():
            self[name] = entry

    def setdefault(self, name: str, entry: LockEntry) -> LockEntry:
        if name not in self:
            self[name] = entry
        return self[name]

    def clear(self) -> None:
        self.changed.update(self)
        self.owners.clear()
        super().clear()

    def popitem(self) -> tuple[str, LockEntry]:
        name = next(reversed(self))
        return name, self.pop(name)


@dataclass
class Lock:
    """`entries` by name; `shards` (entry -> the included manifest file it is written for, see
    lockshards.py) is the manifest's, set by the project; `read_from` is where each entry was
    read; `conflicts` says where the file read held unresolved merge conflicts."""

    entries: LockEntries = field(default_factory=LockEntries)
    files: dict[str, str] = field(default_factory=dict)
    trained: dict[str, LockedLora] = field(default_factory=dict)
    shards: dict[str, str] = field(default_factory=dict)
    read_from: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.entries, LockEntries):
            self.entries = LockEntries(self.entries)

    def owner_of(self, output: str) -> str | None:
        """The entry that wrote `output` (assets-relative), if the lock says one did."""
        return self.entries.owners.get(output)

    def to_json(self) -> str:
        """Sorted JSON with one line per entry field: a rebuilt entry diffs as a few lines, and
        the lines of two neighbouring entries that change are apart (git merges them).

        Inner values are written compactly by the C encoder (an indented dump uses the pure
        Python one, which is slow for large projects); an entry unchanged since it was read is
        written back as it was read (LockEntries.texts).
        """
        texts = self.entries.texts
        lines = [_HEADER]
        names = sorted(self.entries)
        for i, name in enumerate(names):
            body = texts.get(name)
            if body is None:
                body = texts[name] = _entry_lines(self.entries[name])
            comma = "," if i < len(names) - 1 else ""
            lines.append(f"    {_compact(name)}: {{\n{body}\n    }}{comma}")
        lines.append("  },")
        if self.trained:
            trained = {name: lora.to_json() for name, lora in sorted(self.trained.items())}
            lines.append(f'  "trained_loras": {_compact(trained)},')
        lines.append(f'  "files": {_compact(dict(sorted(self.files.items())))}')
        lines.append("}")
        return "\n".join(lines) + "\n"


_HEADER = f'{{\n  "version": {LOCK_VERSION},\n  "generator": "pixelbuild",\n  "entries": {{'


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)


def _entry_lines(entry: LockEntry) -> str:
    body = entry.to_json()
    keys = sorted(body)
    return "\n".join(
        f"      {_compact(k)}: {_compact(body[k])}{',' if j < len(keys) - 1 else ''}"
        for j, k in enumerate(keys)
    )


def _entry_texts(text: str, names: dict[str, LockEntry]) -> dict[str, str]:
    """The field lines of each entry in a lock text written by to_json (none from others).

    Each block is `    "NAME": {` newline, its field lines (6 spaces in, one JSON value each,
    so no line of it starts with `    }`), and `    }`: found with str.find, not a regex.
    """
    if not text.startswith(_HEADER + "\n"):
        return {}
    found = {}
    pos = len(_HEADER) + 1
    while text.startswith('    "', pos):
        head = text.find('": {\n', pos)
        close = text.find("\n    }", head)
        if head < 0 or close < 0:
            return {}
        raw = text[pos + 5 : head]
        name = json.loads(f'"{raw}"') if "\\" in raw else raw
        if name in names:
            found[name] = text[head + 5 : close]
        pos = close + 6
        pos += 2 if text.startswith(",\n", pos) else 1
    return found


def read_lock(path: Path) -> Lock:
    """The lock at `path` with its shards (lockshards.py), or an empty one when there is none."""
    from pixelbuild.cache.lockshards import read_tree

    return read_tree(path)


def parse_lock(text: str, path: Path) -> Lock:
    """One lock file's text (`path` locates its errors); its entries are not marked changed."""
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
    return Lock(LockEntries(entries, _entry_texts(text, entries)), files, trained)


def write_lock(path: Path, lock: Lock, staging: Path) -> bool:
    """Write the lock's files whose text changed (lockshards.py); True when one did."""
    from pixelbuild.cache.lockshards import write_tree

    return write_tree(path, lock, staging)


def write_text_if_changed(path: Path, text: str, staging: Path) -> bool:
    """Write `text` to `path` atomically unless it already holds it; True when it did."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, text.encode(), staging)
    return True
