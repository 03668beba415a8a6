"""`include:` — a manifest split into files, say one per folder of assets.

```yaml
# pixels.yaml
include: [art/forest.yaml, "art/*/pixels.yaml"]
```

An included file holds entry sections (`sprites:`, `animations:`, ...) and may include more
files. Every path in every file is relative to the project folder (where pixels.yaml is), so an
entry means the same wherever it is written. The entries of all files are merged into the one
manifest that is validated; each keeps its own file:line for errors (Document.parts). A file
included twice, a cycle, a missing file and a name defined in two files are located errors.
Each included file gets its own lock shard (cache/lockshards.py), named by its path.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from pixelbuild.errors import Issue, ManifestError
from pixelbuild.manifest.schema import ENTRY_SECTIONS, SINGULAR
from pixelbuild.manifest.source import Document, load_yaml

INCLUDE = "include"
_ALLOWED = (INCLUDE, *ENTRY_SECTIONS)


def expand(doc: Document, skip: frozenset[Path] = frozenset()) -> Document:
    """`doc` with the entries of every file it includes (recursively) merged in. Files in `skip`
    (resolved paths: files a build need not plan, plan/memo.py) are listed but not read."""
    data = doc.data
    if not isinstance(data, dict) or INCLUDE not in data:
        return doc
    merger = _Merger(doc, skip)
    merger.include_from(doc, [doc.path.resolve()])
    if merger.issues:
        raise ManifestError(merger.issues)
    return Document(doc.path, merger.data, doc.root, merger.parts, tuple(merger.files))


def shard_of(doc: Document) -> dict[str, str]:
    """The included file (project-relative, POSIX) each included entry is written in."""
    base = doc.path.parent.resolve()
    rel = {p: p.relative_to(base).as_posix() for p in {part.path for part in doc.parts.values()}}
    return {name: rel[part.path] for (_, name), part in doc.parts.items()}


class _Merger:
    """Reads the included files depth first, in `include:` order, merging their entries into a
    copy of the root's data; every problem is collected (all reported at once)."""

    def __init__(self, root: Document, skip: frozenset[Path]):
        self.root = root
        self.skip = skip
        self.base = root.path.parent.resolve()
        self.data: dict[str, Any] = dict(root.data)
        self.issues: list[Issue] = []
        self.files: list[Path] = []
        self.parts: dict[tuple[str, str], Document] = {}
        self.defined: dict[tuple[str, str], Document] = {}  # (section, name) -> its file
        for section in ENTRY_SECTIONS:
            value = self.data.get(section)
            if isinstance(value, dict):
                self.data[section] = dict(value)
                self.defined.update(dict.fromkeys(((section, n) for n in value), root))

    def include_from(self, doc: Document, chain: list[Path]) -> None:
        """Merge the files `doc` includes; `chain` is the path of includes that led to it."""
        items = doc.data.get(INCLUDE)
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            where = doc.locate((INCLUDE,))
            self.issues.append(Issue("include: must be a list of file paths or patterns", where))
            return
        for i, item in enumerate(items):
            for path in self._paths(doc, i, item):
                if path in chain:
                    cycle = " -> ".join(self._rel(p) for p in [*chain[chain.index(path) :], path])
                    self.issues.append(Issue(f"include cycle: {cycle}", doc.locate((INCLUDE, i))))
                elif path in self.files:
                    message = f"{self._rel(path)} is included twice (once is enough)"
                    self.issues.append(Issue(message, doc.locate((INCLUDE, i))))
                else:
                    self.files.append(path)
                    if path not in self.skip:
                        self._merge(path, chain)

    def _paths(self, doc: Document, i: int, item: str) -> list[Path]:
        """The files one `include:` item names: a path, or a glob pattern (sorted)."""
        from pixelbuild.manifest.load import unsafe_project_path

        where = doc.locate((INCLUDE, i))
        reason = unsafe_project_path(item)
        if reason:
            self.issues.append(Issue(f"include: {reason}", where))
            return []
        if glob.has_magic(item):
            found = [(self.base / p).resolve() for p in sorted(glob.glob(item, root_dir=self.base))]
            files = [p for p in found if p.is_file() and p.is_relative_to(self.base)]
            if not files:
                self.issues.append(Issue(f"include: {item!r} matches no file", where))
            return files
        path = (self.base / item).resolve()
        if not path.is_file():
            what = "is not a file" if path.exists() else "not found"
            self.issues.append(Issue(f"included file {what}: {item}", where))
            return []
        if not path.is_relative_to(self.base):
            self.issues.append(Issue(f"include: {item!r} leaves the project folder", where))
            return []
        return [path]

    def _merge(self, path: Path, chain: list[Path]) -> None:
        try:
            part = load_yaml(path)
        except ManifestError as exc:
            self.issues.extend(exc.issues)
            return
        data = part.data if part.data is not None else {}
        if not isinstance(data, dict):
            message = "an included file must be a mapping of entry sections"
            self.issues.append(Issue(message, part.locate(())))
            return
        part = Document(part.path, data, part.root)
        for key in data:
            if key not in _ALLOWED:
                message = (
                    f"{key!r} cannot be in an included file (only {', '.join(_ALLOWED)}); "
                    "project settings, models, LoRAs and palettes belong in pixels.yaml"
                )
                self.issues.append(Issue(message, part.locate((str(key),), key=True)))
        for section in ENTRY_SECTIONS:
            self._merge_section(part, section)
        if INCLUDE in data:
            self.include_from(part, [*chain, path])

    def _merge_section(self, part: Document, section: str) -> None:
        entries = part.data.get(section)
        if entries is None:
            return
        if not isinstance(entries, dict):
            message = f"{section}: must be a mapping of entry names to entries"
            self.issues.append(Issue(message, part.locate((section,))))
            return
        target = self.data.setdefault(section, {})
        if not isinstance(target, dict):
            return  # pixels.yaml's own section is malformed: validation reports it there
        for name, entry in entries.items():
            first = self.defined.get((section, str(name)))
            if first is not None:
                where = first.locate((section, str(name)), key=True)
                message = (
                    f"{SINGULAR[section]} {name!r} is already defined in "
                    f"{self._rel(where.file)}:{where.line}"
                )
                self.issues.append(Issue(message, part.locate((section, str(name)), key=True)))
                continue
            self.defined[(section, str(name))] = part
            self.parts[(section, str(name))] = part
            target[name] = entry

    def _rel(self, path: Path) -> str:
        resolved = Path(path).resolve()
        if resolved.is_relative_to(self.base):
            return resolved.relative_to(self.base).as_posix()
        return str(path)
