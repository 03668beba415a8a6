"""`pixelbuild adopt`: keep a file finished by hand as an entry's output.

The lock records the file's digest under the entry's current key and marks it hand-finished.
While the entry's inputs stay as they are, builds and `--locked` accept the file; when they
change, the build reports a conflict instead of painting over it (`adopt` again to keep the
file for the new inputs, or `--force` to replace it), and removing the entry keeps the file.
"""

from __future__ import annotations

from pixelbuild.cache.layout import TMP
from pixelbuild.cache.lock import LockedOutput, LockEntry, write_lock
from pixelbuild.errors import UsageError
from pixelbuild.run.project import Project


def adopt(project: Project, names: list[str]) -> list[str]:
    """Adopt the on-disk outputs of entries `names`; the files adopted, assets-relative."""
    plan = project.plan(set(names))
    adopted: list[str] = []
    for entry in (e for e in plan.entries if e.name in names):
        outputs: dict[str, LockedOutput] = {}
        for rel in entry.outputs:
            path = project.assets / rel
            if not path.is_file():
                raise UsageError(f"{entry.name}: {path} is not there to adopt; build it first")
            outputs[rel] = LockedOutput(project.state.digest(path), path.stat().st_size)
        old = project.lock.entries.get(entry.name)
        project.lock.entries[entry.name] = LockEntry(
            entry.target.kind,
            entry.final.key,
            entry.fields,
            outputs,
            seed=old.seed if old else None,
            engine=old.engine if old else None,
            provenance=old.provenance if old else None,
            hand_finished=True,
        )
        adopted += outputs
    write_lock(project.lock_path, project.lock, project.cache / TMP)
    project.state.commit()
    return adopted
