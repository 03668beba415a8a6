"""Errors pixelbuild reports to the user, each with a place to point at."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Location:
    """A position in a text file, 1-based, as editors show it."""

    file: Path
    line: int
    column: int

    def __str__(self) -> str:
        try:
            shown = self.file.relative_to(Path.cwd())
        except ValueError:
            shown = self.file
        return f"{shown}:{self.line}:{self.column}"


class PixelbuildError(Exception):
    """Base of every error that is the user's to fix; the CLI prints it without a traceback."""

    exit_code = 1


class Issue(PixelbuildError):
    """One problem at one place, e.g. a bad field of the manifest or a broken line of a palette."""

    def __init__(self, message: str, location: Location | None = None, entry: str | None = None):
        self.message = message
        self.location = location
        self.entry = entry
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        entry = f"{self.entry}: " if self.entry else ""
        return f"{where}{entry}{self.message}"


class ManifestError(PixelbuildError):
    """All problems found in a manifest (or a profile), reported at once."""

    exit_code = 2

    def __init__(self, issues: list[Issue], where: str = "the manifest"):
        self.issues = issues
        noun = "error" if len(issues) == 1 else "errors"
        body = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"{len(issues)} {noun} in {where}:\n{body}")


class EngineError(PixelbuildError):
    """An engine could not produce an image: no GPU, missing model, out of memory, ...

    `entries` names the entries of the failed request(s) when the message is about them; the
    build reports the message once per failed batch, under those entries' names.
    """

    def __init__(self, message: str, entries: str | None = None):
        self.message = message
        self.entries = entries
        super().__init__(f"{entries}: {message}" if entries else message)

    @classmethod
    def about(cls, entries: str, message: str) -> EngineError:
        """An error about the requests of `entries` (as `describe_entries` names them)."""
        return cls(message, entries)


class OwnershipError(PixelbuildError):
    """A write would clobber a file pixelbuild did not write (or one edited by hand)."""


class UsageError(PixelbuildError):
    """The command line asks for something that is not there (an unknown entry, no project)."""

    exit_code = 2


class CacheError(PixelbuildError):
    """The cache cannot be read or written: permissions, a full disk, an I/O error."""


class DiskFull(CacheError):
    """A filesystem the build writes to is full: the build stops, nothing written is lost."""


def as_disk_full(exc: BaseException, fallback: Path) -> DiskFull | None:
    """`exc` as DiskFull when it means a full filesystem (ENOSPC, EDQUOT), else None."""
    import errno

    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(disk_full_message(Path(exc.filename) if exc.filename else fallback))
    return None


def disk_full_message(path: Path, needed: int | None = None) -> str:
    """What to tell the user when a write to `path` found its filesystem full."""
    import shutil

    try:
        free = f"{shutil.disk_usage(path if path.is_dir() else path.parent).free / 1e6:.1f} MB free"
    except OSError:
        free = "free space unknown"
    need = f"; this write needed {needed / 1e6:.2f} MB" if needed else ""
    return (
        f"no space left on the device of {path} ({free}{need}); free some space and build "
        "again: finished entries are kept, previous outputs are intact"
    )
