"""Targets: manifest entries resolved to concrete values, one class per entry kind.

`TARGET_KINDS` maps each manifest section to its target class (in build order: atlases use the
other kinds' frames). A new kind is a model in `manifest/schema.py` and a module here.
"""

from __future__ import annotations

from pixelbuild.targets.animation import AnimationTarget
from pixelbuild.targets.atlas import AtlasTarget
from pixelbuild.targets.base import (
    Assembled,
    FileInput,
    Generation,
    Graph,
    ImageTarget,
    PaletteChoice,
    Target,
)
from pixelbuild.targets.character import CharacterTarget
from pixelbuild.targets.sheet import SheetTarget
from pixelbuild.targets.sprite import SpriteTarget
from pixelbuild.targets.tileset import TilesetTarget

TARGET_KINDS: dict[
    str, type[SpriteTarget | AnimationTarget | TilesetTarget | CharacterTarget | AtlasTarget]
] = {
    "sprites": SpriteTarget,
    "animations": AnimationTarget,
    "tilesets": TilesetTarget,
    "characters": CharacterTarget,
    "atlases": AtlasTarget,
}

__all__ = [
    "TARGET_KINDS",
    "AnimationTarget",
    "Assembled",
    "AtlasTarget",
    "CharacterTarget",
    "FileInput",
    "Generation",
    "Graph",
    "ImageTarget",
    "PaletteChoice",
    "SheetTarget",
    "SpriteTarget",
    "Target",
    "TilesetTarget",
]
