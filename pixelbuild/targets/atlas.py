"""Atlases: sprites and animation frames packed into one texture (MaxRects, no rotation), with
Aseprite/TexturePacker JSON and a Bevy `TextureAtlasLayout` RON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelbuild import defaults
from pixelbuild.targets.base import IMAGE, JSON, RON, Assembled, Graph, ImageTarget, Target
from pixelbuild.targets.sheet import SheetTarget

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.assemble import RustTexture
    from pixelbuild.manifest.resolve import Resolver
    from pixelbuild.manifest.schema import Atlas
    from pixelbuild.plan.steps import Step


@dataclass(frozen=True)
class AtlasTarget(Target):
    kind = "atlas"
    members: tuple[str, ...] = ()
    padding: int = defaults.ATLAS_PADDING
    extrude: int = 0
    power_of_two: bool = False
    max_size: int = defaults.ATLAS_MAX_SIZE
    json_format: str = "hash"

    @classmethod
    def resolve(cls, name: str, entry: Atlas, r: Resolver) -> AtlasTarget:
        return cls(
            name=name,
            out=r.out_path(name, entry),
            meta_file=r.meta_files,
            members=tuple(r.atlas_members(entry.include)),
            padding=entry.padding,
            extrude=entry.extrude,
            power_of_two=entry.power_of_two,
            max_size=entry.max_size,
            json_format=entry.json_format,
        )

    def _extra_outputs(self) -> dict[str, str]:
        return {JSON: f"{self.stem}.json", RON: f"{self.stem}.atlas.ron"}

    def layout(self) -> dict[str, Any]:
        return {
            "padding": self.padding,
            "extrude": self.extrude,
            "power_of_two": self.power_of_two,
            "max_size": self.max_size,
            "json_format": self.json_format,
        }

    def fields(self) -> dict[str, Any]:
        return super().fields() | self.layout() | {"include": list(self.members)}

    def member_names(self) -> tuple[str, ...]:
        return self.members

    def member_targets(self, by_name: dict[str, Target]) -> list[ImageTarget]:
        found = [by_name[m] for m in self.members]
        assert all(isinstance(t, ImageTarget) for t in found)
        return found  # type: ignore[return-value]

    def final_step(self, graph: Graph) -> Step:
        inputs: list[Step] = []
        names: list[str] = []
        animations: list[dict[str, Any]] = []  # in the key: a member's fps or mode shows here
        for member in self.members:
            target = graph.target(member)
            assert isinstance(target, ImageTarget)
            inputs.extend(graph.pixelized(target))
            names.extend(target.frame_names())
            animations.extend(target.animations())
        return self._assemble_step(inputs, names=names, animations=animations)

    def assemble(self, frames: list[np.ndarray], params: dict[str, Any]) -> Assembled:
        from pixelbuild import assemble
        from pixelbuild.images import encode_png

        names: list[str] = params["names"]
        size, places = assemble.pack_rects(
            [(f.shape[1], f.shape[0]) for f in frames],
            padding=self.padding,
            extrude=self.extrude,
            power_of_two=self.power_of_two,
            max_size=self.max_size,
        )
        frame_list = [
            assemble.Frame(name, p.x, p.y, p.width, p.height)
            for name, p in zip(names, places, strict=True)
        ]
        animations = [
            assemble.SheetAnimation(a["name"], a["frames"], a["direction"], a["durations"])
            for a in params.get("animations", [])
        ]
        outputs = self.outputs()
        image = Path(self.out).name
        files = {
            outputs[IMAGE]: encode_png(assemble.atlas_image(frames, size, places, self.extrude)),
            outputs[JSON]: assemble.aseprite_json(
                image, size, frame_list, form=self.json_format, animations=animations
            ).encode(),
            outputs[RON]: assemble.atlas_layout_ron(size, places).encode(),
        }
        return Assembled(self._with_meta(files))

    def rust_texture(self, by_name: dict[str, Target]) -> RustTexture:
        from pixelbuild.assemble import RustTexture

        names: list[str] = []
        animations = []
        for member in self.member_targets(by_name):
            if isinstance(member, SheetTarget):
                animations.extend(member.rust_animations(len(names)))
            names.extend(member.frame_names())
        outputs = self.outputs()
        strings = {"json": outputs[JSON], "layout": outputs[RON]}
        return RustTexture(self.name, self.out, names, None, animations, strings)
