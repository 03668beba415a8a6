"""The lock split along the manifest: one file per manifest file, each merged by git on its own.

`pixels.lock` holds the entries defined in `pixels.yaml` itself, the input files' digests and the
trained LoRAs, in the format it always had. An entry defined in an included manifest file (say
`art/forest.yaml`) is written to `pixels.lock.d/art/forest.yaml.lock`, a file of the same format.
So a team that keeps one manifest per folder of assets gets one lock per folder, and two
branches that edit different folders never touch the same lock file.

Within a file an entry is a block of lines of its own (lock.py), separated from its neighbours
by lines that do not change when either is rebuilt: git merges edits of two neighbouring entries
without a conflict. Where git does report one (both branches rebuilt the same entry, or added
entries at the same place), the file keeps git's conflict markers. Reading such a file takes
both sides (ours first where they differ); every entry is then checked against the manifest and
the assets as always, so `pixelbuild build` rebuilds (from the cache when it can) what the
merged manifest needs and writes a clean lock. `build --locked` reports the conflict as stale.

Writing rewrites only the files that hold an entry set or removed since the lock was read (or
an entry that moved to another manifest file), so one edit in a large project rewrites one
shard, not the whole lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from pixelbuild.cache.lock import Lock, LockEntries, LockEntry, parse_lock, write_text_if_changed

SHARDS_DIR = "pixels.lock.d"
SUFFIX = ".lock"
ROOT = ""  # the shard name of pixels.lock itself (entries of the root manifest)
_MARKERS = ("<<<<<<<", "|||||||", "=======", ">>>>>>>")


def shard_path(lock_path: Path, shard: str) -> Path:
    """The file of `shard` (a manifest file relative to the project; ROOT: pixels.lock)."""
    if shard == ROOT:
        return lock_path
    return lock_path.parent / SHARDS_DIR / f"{shard}{SUFFIX}"


def shard_files(lock_path: Path) -> dict[str, Path]:
    """Every shard file on disk under `pixels.lock.d`, by shard name."""
    folder = lock_path.parent / SHARDS_DIR
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.rglob(f"*{SUFFIX}")):
        if path.is_file():
            found[path.relative_to(folder).as_posix().removesuffix(SUFFIX)] = path
    return found


def read_tree(lock_path: Path) -> Lock:
    """pixels.lock and every shard, as one Lock (`read_from` says where each entry was)."""
    lock = _read_file(lock_path, ROOT) or Lock()
    entries: dict[str, LockEntry] = dict(lock.entries)  # not via LockEntries: nothing read
    texts = dict(lock.entries.texts)  # is "changed", and its index is made once, at the end
    for shard, path in shard_files(lock_path).items():
        part = _read_file(path, shard)
        if part is None:
            continue
        entries.update(part.entries)
        texts.update(part.entries.texts)
        lock.read_from |= part.read_from
        lock.files = part.files | lock.files
        lock.trained = part.trained | lock.trained
        lock.conflicts += part.conflicts
    lock.entries = LockEntries(entries, texts)
    return lock


def _read_file(path: Path, shard: str) -> Lock | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    sides = conflict_sides(text)
    if sides is None:
        lock = parse_lock(text, path)
    else:
        ours, theirs = (parse_lock(side, path) for side in sides)
        merged = dict(theirs.entries) | dict(ours.entries)
        lock = Lock(LockEntries(merged), theirs.files | ours.files, theirs.trained | ours.trained)
        line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(_MARKERS[0]))
        lock.conflicts.append(f"{path}:{line}")
    lock.read_from = dict.fromkeys(lock.entries, shard)
    return lock


def conflict_sides(text: str) -> tuple[str, str] | None:
    """Both sides of a text with git's conflict markers (merge or diff3 style), or None."""
    if not (text.startswith(_MARKERS[0]) or f"\n{_MARKERS[0]}" in text):
        return None
    ours: list[str] = []
    theirs: list[str] = []
    side = "both"
    for line in text.splitlines(keepends=True):
        marker = next((m for m in _MARKERS if line.startswith(m)), None)
        if marker is not None and (marker == _MARKERS[0]) == (side == "both"):
            side = {"<<<<<<<": "ours", "|||||||": "base", "=======": "theirs"}.get(marker, "both")
            continue
        if side in ("both", "ours"):
            ours.append(line)
        if side in ("both", "theirs"):
            theirs.append(line)
    return "".join(ours), "".join(theirs)


def write_tree(lock_path: Path, lock: Lock, staging: Path) -> bool:
    """Write the shards whose content changed since they were read; True when a file changed.

    pixels.lock is written whenever the lock's files or LoRAs may have changed (it is small
    unless the root manifest itself holds many entries).
    """
    shard_of = lock.shards
    names = lock.entries.changed | {
        n for n, shard in lock.read_from.items() if shard_of.get(n, ROOT) != shard
    }
    dirty = {shard_of.get(n, ROOT) for n in names} | {lock.read_from.get(n, ROOT) for n in names}
    dirty |= {ROOT} | {s for s in _conflicted(lock, lock_path)}
    on_disk = shard_files(lock_path)
    groups: dict[str, dict[str, LockEntry]] = {shard: {} for shard in dirty}
    for name, entry in lock.entries.items():
        shard = shard_of.get(name, ROOT)
        if shard in groups:
            groups[shard][name] = entry
    wrote = False
    for shard, entries in sorted(groups.items()):
        path = shard_path(lock_path, shard)
        texts = lock.entries.texts  # shared: what one shard serializes is kept for the next
        if shard == ROOT:
            part = Lock(LockEntries(entries, texts), lock.files, lock.trained)
        elif not entries:
            wrote |= _remove(path, lock_path.parent / SHARDS_DIR) if shard in on_disk else False
            continue
        else:
            part = Lock(LockEntries(entries, texts))
            path.parent.mkdir(parents=True, exist_ok=True)
        wrote |= write_text_if_changed(path, part.to_json(), staging)
    lock.read_from = {name: shard_of.get(name, ROOT) for name in lock.entries}
    lock.entries.changed.clear()
    lock.conflicts.clear()
    return wrote


def _conflicted(lock: Lock, lock_path: Path) -> set[str]:
    """The shards read with merge conflicts (they are rewritten whole)."""
    paths = {str(shard_path(lock_path, s)): s for s in {ROOT, *shard_files(lock_path)}}
    return {paths[c.rsplit(":", 1)[0]] for c in lock.conflicts if c.rsplit(":", 1)[0] in paths}


def _remove(path: Path, folder: Path) -> bool:
    """Delete a shard no entry uses any more, and the folders it leaves empty."""
    path.unlink(missing_ok=True)
    parent = path.parent
    while parent != folder.parent and parent.is_relative_to(folder):
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = parent.parent
    return True
