"""Tilesets: N seamless tile variants of one size on a grid sheet; each tile wraps at its edges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixelbuild import defaults
from pixelbuild.targets.sheet import SheetTarget

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.manifest.resolve import Resolver
    from pixelbuild.manifest.schema import Tileset


@dataclass(frozen=True)
class TilesetTarget(SheetTarget):
    kind = "tileset"
    tileable = True

    @classmethod
    def resolve(cls, name: str, entry: Tileset, r: Resolver) -> TilesetTarget:
        if entry.autotile is not None:
            from pixelbuild.targets.autotile import AutotileTarget

            return AutotileTarget.resolve(name, entry, r)
        return cls(**cls.sheet_fields(name, entry, r))

    @staticmethod
    def sheet_fields(name: str, entry: Tileset, r: Resolver) -> dict[str, Any]:
        """The fields of a tileset (or autotile set) target, resolved."""
        fields = r.image_fields(name, entry)
        if entry.pixel is None or entry.pixel.background is None:  # tiles fill their cell
            fields["pixel"]["background"] = defaults.TILE_BACKGROUND
        return fields | {"columns": entry.columns, "padding": entry.padding}

    def layout(self) -> dict[str, Any]:
        return {"columns": self.columns, "padding": self.padding}

    def _frame_params(self, i: int) -> dict[str, Any]:
        return {"seed": self.seed + i, "tileable": True, "frame": 0, "frames": 1}

    def _seams(self, frames: list[np.ndarray]) -> tuple[float, ...]:
        from pixelbuild.assemble import seam_metric

        return tuple(round(float(seam_metric(f)), 3) for f in frames)
