"""What a build did, entry by entry (standard library only: the no-op fast path reports it too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BuildResult:
    """What a build did, entry by entry."""

    rebuilt: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    files_written: int = 0
    steps_run: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "rebuilt": self.rebuilt,
            "up_to_date": self.up_to_date,
            "failed": sorted(self.failed),
            "errors": dict(sorted(self.failed.items())),
            "removed": self.removed,
            "files_written": self.files_written,
            "steps_run": self.steps_run,
            "seconds": round(self.seconds, 3),
        }
