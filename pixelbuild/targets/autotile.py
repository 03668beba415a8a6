"""Autotile sets: two terrains, each generated as a seamless tile, and every transition tile
between them, blended at the pixel level (`assemble/autotile.py`), on one grid sheet.

The step graph is the tileset's: one generate and one pixelize step per terrain tile (each
terrain's `variants` seeds, on the entry's one palette), then the assemble step blends the
transitions from the first tile of each terrain and writes the sheet, a Tiled tileset with a Wang
set, a JSON bitmask -> tile table, and (in the Rust module) `tile_for(mask)`. Sheet order: the
layout's tiles (wang16: tile = corner mask; blob47: the 47 by reduced mask, then the ground's
fill tile), then the alternative full tiles of the ground, then those of the second terrain.

On the SDXL engines (unless the entry sets `inpaint: false`) each transition tile also gets an
inpaint generate step from the two terrains' raw images (`assemble/inpaint.py`: the band around
its terrain border is repainted, the outer ring kept), pixelized onto the same palette; the
assemble step takes the band from it and everything else from the blend. On by default: a blend
alone is two textures cut along a line, the border a model can paint, and the flag keeps the
cheaper blend for drafts; a wang16 set costs 14 more images, a blob47 set up to 46 (fewer in
small tiles, whose ground may show only within the kept ring). The procedural engine always
blends (its outputs and keys are those of a plain blend).

Every pair of tiles the rules allow side by side is scored for a seam (`allowed_seams`); the pairs
above `defaults.SEAM_WARNING` are named in a warning, and the lock keeps the worst and the mean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pixelbuild import defaults
from pixelbuild.engines.registry import ENGINES
from pixelbuild.plan.steps import GENERATE, PIXELIZE, Step
from pixelbuild.targets.base import IMAGE, Assembled, Graph, Target
from pixelbuild.targets.tileset import TilesetTarget

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.assemble import RustTexture
    from pixelbuild.assemble.autotile import AutotileSet, PairSeam
    from pixelbuild.manifest.resolve import Resolver
    from pixelbuild.manifest.schema import AutotileLayout, Tileset

TSX, TABLE = "tsx", "autotile"  # output roles: the Tiled tileset, the bitmask table
SHOWN = 5  # pairs a seam warning names


@dataclass(frozen=True)
class AutotileTarget(TilesetTarget):
    kind = "autotile"
    layout_name: AutotileLayout = "wang16"
    terrains: tuple[str, ...] = ()
    variants: int = 1  # full tiles per terrain; the first is blended into the transitions
    inpaint: bool = False  # regenerate each transition's border band (SDXL engines)

    @classmethod
    def resolve(cls, name: str, entry: Tileset, r: Resolver) -> TilesetTarget:
        assert entry.autotile is not None and entry.terrains is not None
        fields = TilesetTarget.sheet_fields(name, entry, r)
        gen = fields["generation"]
        spec = ENGINES.get(gen.engine) if gen is not None else None
        return cls(
            **fields,
            layout_name=entry.autotile,
            terrains=tuple(entry.terrains),
            variants=entry.variants or 1,
            inpaint=entry.inpaint is not False and spec is not None and spec.needs_model,
        )

    @property
    def autotile(self) -> AutotileSet:
        from pixelbuild.assemble.autotile import autotile_set

        return autotile_set(self.layout_name)

    def _extra_outputs(self) -> dict[str, str]:
        return super()._extra_outputs() | {
            TSX: f"{self.stem}.tsx",
            TABLE: f"{self.stem}.autotile.json",
        }

    def layout(self) -> dict[str, Any]:
        found = super().layout() | {
            "autotile": self.layout_name,
            "terrains": list(self.terrains),
            "variants": self.variants,
        }
        if self.inpaint:  # only then: the keys of blended sets stay as they were
            from pixelbuild.assemble.inpaint import INPAINT_VERSION

            found["inpaint"] = INPAINT_VERSION
        return found

    def final_step(self, graph: Graph) -> Step:
        from pixelbuild.assemble.autotile import BLEND_VERSION

        pixelized = graph.pixelized(self)
        inpainted = self._inpaint_steps(graph, pixelized) if self.inpaint else []
        return self._assemble_step([*pixelized, *inpainted], blend=[BLEND_VERSION, self.seed])

    def _inpaint_steps(self, graph: Graph, pixelized: list[Step]) -> list[Step]:
        """Per transition tile: an inpaint generate step from the raw images of the two terrain
        tiles that are blended, pixelized as the terrains are (same palette), not wrapping."""
        from pixelbuild.assemble.autotile import BLEND_VERSION
        from pixelbuild.assemble.inpaint import INPAINT_VERSION, STRENGTH, transitions

        gen = self.generation
        assert gen is not None and self.size is not None
        raws = graph.raw(self)
        v = self.variants
        terrains = (raws[0], raws[v])
        trained = tuple(graph.trained_lora(lora, self) for lora in gen.trained)
        prompt = f"{self.prompts[0]}, meeting {self.prompts[v]}"
        pixel = pixelized[0]
        tiles = transitions(self.autotile, *self.size, self.seed)
        steps = []
        for n, tile in enumerate(tiles):
            params = gen.key_params() | {
                "prompt": prompt,
                "seed": self.seed + tile,
                "tileable": False,
                "frame": n,
                "frames": len(tiles),
                "strength": STRENGTH,
                "inpaint": {
                    "layout": self.layout_name,
                    "tile": tile,
                    "art": list(self.size),
                    "blend_seed": self.seed,
                    "version": [BLEND_VERSION, INPAINT_VERSION],  # the labels and the band
                },
            }
            raw = Step(GENERATE, self, params, terrains + trained)
            pixel_params = pixel.params | {"tileable": False}
            steps.append(Step(PIXELIZE, self, pixel_params, (raw, *pixel.inputs[1:])))
        return steps

    def init_images(
        self, params: dict[str, Any], images: list[np.ndarray]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """An inpaint step's init image and mask, from the two terrains' raw images."""
        if "inpaint" not in params:
            return super().init_images(params, images)
        from pixelbuild.assemble.inpaint import inpaint_inputs

        p = params["inpaint"]
        art = (int(p["art"][0]), int(p["art"][1]))
        return inpaint_inputs(self.autotile, int(p["tile"]), art, int(p["blend_seed"]), images)

    # -- the sheet --

    def alternatives(self) -> list[list[int]]:
        """Per terrain, the sheet indices of its full tiles: the set's fill, then its variants."""
        first = len(self.autotile)
        extra = self.variants - 1
        return [
            [self.autotile.fill[t], *range(first + t * extra, first + (t + 1) * extra)]
            for t in range(2)
        ]

    def cells(self) -> int:
        return len(self.autotile) + 2 * (self.variants - 1)

    def frame_names(self) -> list[str]:
        """'<entry>/<mask>' per tile of the set ('<entry>/<ground>' for blob47's fill), then
        '<entry>/<terrain>-<n>' per alternative (the schema keeps them distinct)."""
        names = [f"{self.name}/{self.terrains[0] if m is None else m}" for m in self.autotile.masks]
        for terrain in self.terrains:
            names += [f"{self.name}/{terrain}-{v}" for v in range(1, self.variants)]
        return names

    def durations(self) -> list[int]:
        return [100] * self.cells()

    def assemble(self, frames: list[np.ndarray], params: dict[str, Any]) -> Assembled:
        """Blend the transitions, add the alternatives, and write the sheet and its metadata."""
        from pixelbuild.assemble.autotile import allowed_seams, paint_set, vary

        v = self.variants
        factor = int(self.pixel.get("upscale", 1))  # blend art pixels, not enlarged ones
        art = [f[::factor, ::factor] for f in frames]
        tiles = paint_set(self.autotile, art[0], art[v], self.seed)
        if self.inpaint:
            tiles = self._inpainted(tiles, art[2 * v :])
        tiles += [vary(art[0], f, self.seed) for f in art[1:v]]
        tiles += [vary(art[v], f, self.seed) for f in art[v + 1 : 2 * v]]
        tiles = [_enlarged(t, factor) for t in tiles]
        sheet = super().assemble(tiles, params)
        controls = [self.autotile.control(self._fill_of(i)) for i in range(len(tiles))]
        seams = allowed_seams(controls, tiles)
        files = dict(sheet.files)
        outputs = self.outputs()
        files[outputs[TSX]] = self._tsx(tiles).encode()
        files[outputs[TABLE]] = self._table().encode()
        notes, report = self._seam_findings(seams, [art[0], art[v]])
        return Assembled(files, (), notes, {"seams": report})

    def _inpainted(self, tiles: list[np.ndarray], inpainted: list[np.ndarray]) -> list[np.ndarray]:
        """The blended set with each transition's band taken from its inpainted tile."""
        from pixelbuild.assemble.inpaint import compose, transitions

        h, w = tiles[0].shape[:2]
        out = list(tiles)
        for tile, image in zip(transitions(self.autotile, w, h, self.seed), inpainted, strict=True):
            out[tile] = compose(self.autotile, tile, tiles[tile], image, self.seed)
        return out

    def _fill_of(self, tile: int) -> int:
        """The set's tile whose rules `tile` follows (an alternative: its terrain's fill)."""
        if tile < len(self.autotile):
            return tile
        return self.autotile.fill[(tile - len(self.autotile)) // max(self.variants - 1, 1)]

    def _seams(self, frames: list[np.ndarray]) -> tuple[float, ...]:
        return ()  # transition tiles do not wrap; pairs are scored in `assemble`

    def _seam_findings(
        self, seams: list[PairSeam], bases: list[np.ndarray]
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        """Warnings: a terrain tile that does not wrap (every pair meeting in it inherits its
        seam), then the worst pairs over the threshold; and the numbers for the lock."""
        from pixelbuild.assemble import seam_metric

        limit = defaults.SEAM_WARNING
        pairs = zip(self.terrains, bases, strict=True)
        wraps = {t: round(float(seam_metric(b)), 3) for t, b in pairs}
        notes = [
            f"terrain {t!r}: its tile does not wrap cleanly (seam {score}), so tiles that meet "
            "in it show that seam; another seed or prompt may wrap better"
            for t, score in wraps.items()
            if score > limit
        ]
        names = self.frame_names()
        side = {1: "west of", 0: "above"}
        over = sorted((p for p in seams if p.score > limit), key=lambda p: -p.score)
        shown = [f"{names[p.first]} {side[p.axis]} {names[p.second]} ({p.score})" for p in over]
        if over:
            more = f", and {len(over) - SHOWN} more" if len(over) > SHOWN else ""
            notes.append(
                f"{len(over)} of the {len(seams)} tile pairs that may meet show a seam (score over "
                f"{limit}): {', '.join(shown[:SHOWN])}{more}"
            )
        scores = [p.score for p in seams]
        report = {
            "pairs": len(seams),
            "max": max(scores),
            "mean": round(sum(scores) / len(scores), 3),
            "over_warning": len(over),
            "worst": shown[:SHOWN],
            "terrains": wraps,
        }
        return tuple(notes), report

    # -- metadata --

    def _tsx(self, tiles: list[np.ndarray]) -> str:
        from pathlib import PurePosixPath

        from pixelbuild.assemble.tiled import WangColor, WangSet, tileset_tsx

        s = self.autotile
        colours = [
            WangColor(t, _main_colour(tiles[s.fill[i]]), s.fill[i])
            for i, t in enumerate(self.terrains)
        ]
        wang_tiles = [
            (i, s.wang_id(self._fill_of(i)))
            for i in range(len(tiles))
            if s.in_wang_set(self._fill_of(i))
        ]
        kind = "corner" if s.layout == "wang16" else "mixed"
        wang = WangSet(self.name, kind, colours, wang_tiles, tile=s.fill[1])
        image = PurePosixPath(self.out).name
        return tileset_tsx(self.name, image, self.grid(), len(tiles), [wang])

    def _table(self) -> str:
        """The JSON bitmask table: bits, the tile of every mask, each tile's mask, fills."""
        from pixelbuild.assemble.autotile import CORNER_BITS, NEIGHBOUR_BITS

        s = self.autotile
        g = self.grid()
        table = {
            "autotile": s.layout,
            "image": self.outputs()[IMAGE],
            "tile_size": [g.tile_width, g.tile_height],
            "columns": g.columns,
            "terrains": list(self.terrains),
            "bits": CORNER_BITS if s.layout == "wang16" else NEIGHBOUR_BITS,
            "tile_for_mask": list(s.lookup),
            "mask_of_tile": list(s.masks),
            "full_tiles": {
                t: alt for t, alt in zip(self.terrains, self.alternatives(), strict=True)
            },
        }
        fields = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in table.items())
        return "{\n" + fields + "\n}\n"  # one line per key

    def rust_texture(self, by_name: dict[str, Target]) -> RustTexture:
        from pixelbuild.assemble.autotile import rust_items

        texture = super().rust_texture(by_name)
        strings = dict(texture.strings) | {
            "tsx": self.outputs()[TSX],
            "table": self.outputs()[TABLE],
        }
        items = rust_items(self.autotile, self.terrains, self.alternatives())
        return replace(texture, strings=strings, items=items)


def _enlarged(tile: np.ndarray, factor: int) -> np.ndarray:
    from pixelbuild.pixel import upscale

    return upscale(tile, factor) if factor > 1 else tile


def _main_colour(tile: np.ndarray) -> str:
    """The most common colour of a tile, '#rrggbb' (a terrain's colour in Tiled)."""
    import numpy as np

    colours, counts = np.unique(tile.reshape(-1, tile.shape[-1])[:, :3], axis=0, return_counts=True)
    r, g, b = (int(c) for c in colours[int(np.argmax(counts))])
    return f"#{r:02x}{g:02x}{b:02x}"
