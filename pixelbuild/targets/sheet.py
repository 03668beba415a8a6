"""Grid sheets: frames on a grid that `TextureAtlasLayout::from_grid` reads, with a
bevy_asset_loader `.assets.ron` and Aseprite JSON beside the image (animations and tilesets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelbuild.targets.base import IMAGE, JSON, RON, Assembled, ImageTarget, Target

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.assemble import GridLayout, RustAnimation, RustTexture, Tag


@dataclass(frozen=True)
class SheetTarget(ImageTarget):
    """Base of the kinds that write a grid sheet."""

    columns: int | None = None
    padding: int = 0

    def _extra_outputs(self) -> dict[str, str]:
        return {RON: f"{self.stem}.assets.ron", JSON: f"{self.stem}.json"}

    def cells(self) -> int:
        """Cells of the sheet's grid: one per frame."""
        return len(self.prompts)

    def frame_names(self) -> list[str]:
        return [f"{self.name}/{i}" for i in range(len(self.prompts))]

    def durations(self) -> list[int]:
        return [100] * len(self.prompts)

    def tags(self) -> list[Tag]:
        return []

    def assemble(self, frames: list[np.ndarray], params: dict[str, Any]) -> Assembled:
        from pixelbuild import assemble
        from pixelbuild.images import encode_png

        sheet, grid = assemble.grid_sheet(frames, self.columns, self.padding)
        durations = self.durations()
        frame_list = [
            assemble.Frame(name, *grid.rect(i), duration_ms=durations[i])
            for i, name in enumerate(self.frame_names())
        ]
        outputs = self.outputs()
        image = Path(self.out).name
        files = {
            outputs[IMAGE]: encode_png(sheet),
            outputs[RON]: assemble.bevy_assets_ron({self.name: (self.out, grid)}).encode(),
            outputs[JSON]: assemble.aseprite_json(
                image, grid.image_size, frame_list, self.tags()
            ).encode(),
        }
        return Assembled(self._with_meta(files), self._seams(frames))

    def _seams(self, frames: list[np.ndarray]) -> tuple[float, ...]:
        return ()

    def grid(self) -> GridLayout:
        """The sheet's grid, as assemble lays it out (known before anything is built)."""
        from pixelbuild.assemble import GridLayout, default_columns

        scale = int(self.pixel.get("upscale", 1))
        assert self.size is not None, "only sprites take size 'auto'"
        w, h = self.size[0] * scale, self.size[1] * scale
        n = self.cells()
        columns = self.columns or default_columns(n, w, h)
        return GridLayout(w, h, columns, -(-n // columns), self.padding)

    def rust_animations(self, start: int) -> list[RustAnimation]:
        """Its animations as Rust constants, frames counted from `start` (in an atlas)."""
        return []

    def rust_texture(self, by_name: dict[str, Target]) -> RustTexture:
        from pixelbuild.assemble import RustTexture

        outputs = self.outputs()
        strings = {"layout": outputs[RON], "json": outputs[JSON]}
        return RustTexture(
            self.name, self.out, self.frame_names(), self.grid(), self.rust_animations(0), strings
        )
