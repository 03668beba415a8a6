"""Animations: N frames of one subject on a grid sheet, with frame durations and a play mode.

On SDXL engines every frame after the first (or every frame, given a `base` sprite) is painted by
img2img from the base image, so the subject stays the same from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixelbuild import defaults
from pixelbuild.targets.base import Graph
from pixelbuild.targets.sheet import SheetTarget

if TYPE_CHECKING:
    from pixelbuild.assemble import RustAnimation, Tag
    from pixelbuild.manifest.resolve import Resolver
    from pixelbuild.manifest.schema import Animation
    from pixelbuild.plan.steps import Step

# Aseprite's frameTags directions; "once" differs from "loop" only in the Rust module's Playback.
DIRECTIONS = {"loop": "forward", "once": "forward", "pingpong": "pingpong"}


@dataclass(frozen=True)
class AnimationTarget(SheetTarget):
    kind = "animation"
    frame_durations: tuple[int, ...] = field(default=())
    mode: str = "loop"
    strength: float = defaults.STRENGTH
    base: str | None = None  # a sprite the frames derive from

    @classmethod
    def resolve(cls, name: str, entry: Animation, r: Resolver) -> AnimationTarget:
        n = entry.frame_count
        durations = entry.durations or [round(1000 / (entry.fps or defaults.FPS))] * n
        return cls(
            **r.image_fields(name, entry),
            columns=entry.columns,
            padding=entry.padding,
            frame_durations=tuple(durations),
            mode=entry.mode,
            strength=defaults.STRENGTH if entry.strength is None else entry.strength,
            base=entry.base,
        )

    def layout(self) -> dict[str, Any]:
        return {
            "durations": list(self.frame_durations),
            "mode": self.mode,
            "columns": self.columns,
            "padding": self.padding,
            "strength": self.strength,
        }

    def _layout_fields(self) -> dict[str, Any]:
        values = self.layout()
        values["fps/durations"] = values.pop("durations")  # as the manifest spells it
        return values

    def fields(self) -> dict[str, Any]:
        values = super().fields()
        if self.base:
            values["base"] = self.base
        return values

    def durations(self) -> list[int]:
        return list(self.frame_durations)

    def tags(self) -> list[Tag]:
        from pixelbuild.assemble import Tag

        return [Tag(self.name, 0, len(self.prompts) - 1, DIRECTIONS[self.mode])]

    def animations(self) -> list[dict[str, Any]]:
        return [
            {
                "name": self.name,
                "frames": self.frame_names(),
                "direction": DIRECTIONS[self.mode],
                "durations": self.durations(),
            }
        ]

    def _frame_params(self, i: int) -> dict[str, Any]:
        n = len(self.prompts)
        return {"seed": self.seed, "tileable": False, "frame": i, "frames": n}

    def _frame_inputs(self, i: int, earlier: list[Step], graph: Graph) -> tuple[Step, ...]:
        assert self.generation is not None
        if self.generation.engine == "procedural":
            return ()  # the procedural engine keeps frames coherent by itself
        if self.base is not None:
            base = graph.target(self.base)
            from pixelbuild.targets.base import ImageTarget

            assert isinstance(base, ImageTarget)
            return (graph.raw(base)[0],)
        return (earlier[0],) if i > 0 else ()

    def _strength(self) -> float:
        return self.strength

    def rust_animations(self, start: int) -> list[RustAnimation]:
        from pixelbuild.assemble import RustAnimation

        n = len(self.prompts)
        return [RustAnimation(self.name, start, start + n - 1, self.mode, self.durations())]
