"""What a build did, entry by entry (standard library only: the no-op fast path reports it too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an entry (or a step) was not built.

    `internal` marks a bug in pixelbuild rather than something the user or the machine did; the
    CLI asks for a bug report. The message does not name the entry: the report does.
    """

    message: str
    internal: bool = False

    def __str__(self) -> str:
        return self.message

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """The failure an exception stands for (PixelbuildError: the user's or the machine's)."""
        from pixelbuild.errors import EngineError, PixelbuildError

        if isinstance(exc, EngineError):
            return cls(exc.message)
        if isinstance(exc, PixelbuildError):
            return cls(str(exc))
        if isinstance(exc, OSError):  # disk full, permissions, a file that vanished
            return cls(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return cls(f"{type(exc).__name__}: {exc}", internal=True)


@dataclass
class BuildResult:
    """What a build did, entry by entry."""

    rebuilt: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: dict[str, Failure] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    files_written: int = 0
    steps_run: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    remote: dict[str, Any] = field(default_factory=dict)  # what a remote cache did (counts)

    def to_json(self) -> dict[str, Any]:
        return {
            "rebuilt": self.rebuilt,
            "up_to_date": self.up_to_date,
            "failed": sorted(self.failed),
            "errors": {name: str(f) for name, f in sorted(self.failed.items())},
            "removed": self.removed,
            "files_written": self.files_written,
            "steps_run": self.steps_run,
            "seconds": round(self.seconds, 3),
        } | ({"remote": self.remote} if self.remote else {})
