"""Sprites: one image, from a prompt or from an image file brought onto the palette."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixelbuild.targets.base import Assembled, ImageTarget, Target

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.assemble import RustTexture
    from pixelbuild.manifest.resolve import Resolver
    from pixelbuild.manifest.schema import Sprite


@dataclass(frozen=True)
class SpriteTarget(ImageTarget):
    kind = "sprite"

    @classmethod
    def resolve(cls, name: str, entry: Sprite, r: Resolver) -> SpriteTarget:
        return cls(**r.image_fields(name, entry))

    def assemble(self, frames: list[np.ndarray], params: dict[str, Any]) -> Assembled:
        from pixelbuild.images import encode_png

        return Assembled(self._with_meta({self.out: encode_png(frames[0])}))

    def rust_texture(self, by_name: dict[str, Target]) -> RustTexture:
        from pixelbuild.assemble import RustTexture

        return RustTexture(self.name, self.out)
