"""Characters: one identity in 4 or 8 directions and every animation, on one sheet.

The step graph is base -> direction views -> frames. The front view ("s") is the base; on SDXL
engines every other direction is painted by img2img from it, and each animation frame from its
direction's view, with direction and frame phrases added to the prompt (the procedural engine
draws every view of one design by itself). With `mirror`, e, ne and se are the exact mirror of w,
nw and sw: not generated, flipped at assembly. Every frame goes through one pixelize palette; the
frames of each animation and direction are aligned on one baseline and horizontal anchor (feet
do not jitter), and what alignment measured is reported.

The sheet has one row per direction x animation (directions outermost), frames along the columns;
its Aseprite JSON has a tag per `animation_direction` (`walk_s`), and the Rust module a frame
range per tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixelbuild import defaults
from pixelbuild.plan.steps import GENERATE, Step
from pixelbuild.targets.base import Assembled, Graph, Target
from pixelbuild.targets.sheet import SheetTarget

if TYPE_CHECKING:
    import numpy as np

    from pixelbuild.assemble import RustAnimation, RustTexture, Tag
    from pixelbuild.manifest.resolve import Resolver
    from pixelbuild.manifest.schema import Character

DIRECTIONS = {4: ("s", "w", "n", "e"), 8: ("s", "sw", "w", "nw", "n", "ne", "e", "se")}
MIRRORS = {"e": "w", "ne": "nw", "se": "sw"}  # a mirrored direction -> the one it flips
PHRASES = {
    "s": "seen from the front",
    "n": "seen from the back",
    "w": "facing left, side view",
    "e": "facing right, side view",
    "sw": "facing down-left, three-quarter view",
    "se": "facing down-right, three-quarter view",
    "nw": "facing up-left, three-quarter back view",
    "ne": "facing up-right, three-quarter back view",
}
PLAY = {"loop": "forward", "once": "forward", "pingpong": "pingpong"}  # Aseprite's directions


@dataclass(frozen=True, slots=True)
class Motion:
    """One animation of a character: its frame count, frame time, play mode and action words."""

    name: str
    frames: int
    frame_ms: int
    mode: str
    action: str


@dataclass(frozen=True)
class CharacterTarget(SheetTarget):
    kind = "character"
    subject: str = ""  # the character's own prompt, before direction and frame phrases
    directions: tuple[str, ...] = DIRECTIONS[4]
    mirror: bool = True
    motions: tuple[Motion, ...] = field(default=())
    strength: float = defaults.STRENGTH

    @classmethod
    def resolve(cls, name: str, entry: Character, r: Resolver) -> CharacterTarget:
        motions = tuple(
            Motion(
                a,
                m.frames,
                round(1000 / (m.fps or defaults.FPS)),
                m.mode,
                m.prompt or a.replace("_", " ").replace("-", " "),
            )
            for a, m in entry.animations.items()
        )
        return cls(
            **r.image_fields(name, entry),
            columns=max(m.frames for m in motions),
            padding=entry.padding,
            subject=entry.prompt,
            directions=DIRECTIONS[entry.directions],
            mirror=entry.mirror,
            motions=motions,
            strength=defaults.STRENGTH if entry.strength is None else entry.strength,
        )

    # -- what it paints --

    @property
    def painted(self) -> tuple[str, ...]:
        """The directions that are generated (the others are mirrored)."""
        return tuple(d for d in self.directions if not (self.mirror and d in MIRRORS))

    def layout(self) -> dict[str, Any]:
        return {
            "directions": list(self.directions),
            "mirror": self.mirror,
            "animations": [[m.name, m.frames, m.frame_ms, m.mode, m.action] for m in self.motions],
            "padding": self.padding,
            "strength": self.strength,
        }

    def raw_steps(self, graph: Graph) -> list[Step]:
        """Views (the base first), then every frame of every painted direction."""
        gen = self.generation
        assert gen is not None, f"{self.name}: characters are generated"
        trained = tuple(graph.trained_lora(lora, self) for lora in gen.trained)
        sdxl = gen.engine != "procedural"
        prefix = "".join(f"{t}, " for t in gen.triggers)  # the LoRAs' trigger words, in front

        def paint(view: str, extra: str, frame: int, frames: int, inputs: tuple[Step, ...]) -> Step:
            words = f"{prefix}{self.subject}, {PHRASES[view]}" + (f", {extra}" if extra else "")
            params = gen.key_params() | {
                "prompt": words,
                "seed": self.seed,
                "tileable": False,
                "frame": frame,
                "frames": frames,
                "view": view,
            }
            if sdxl and inputs:
                params["strength"] = self.strength
            return Step(GENERATE, self, params, (inputs if sdxl else ()) + trained)

        base = paint(self.painted[0], "", 0, 1, ())
        views = {self.painted[0]: base}
        for d in self.painted[1:]:
            views[d] = paint(d, "", 0, 1, (base,))
        frames = []
        for d in self.painted:
            for m in self.motions:
                for i in range(m.frames):
                    frame_words = f"{m.action}, frame {i + 1} of {m.frames}"
                    frames.append(paint(d, frame_words, i, m.frames, (views[d],)))
        return frames

    # -- the sheet --

    def rows(self) -> list[tuple[str, Motion]]:
        return [(d, m) for d in self.directions for m in self.motions]

    def cells(self) -> int:
        return len(self.rows()) * (self.columns or 1)

    def tag_names(self) -> list[str]:
        return [f"{m.name}_{d}" for d, m in self.rows()]

    def frame_names(self) -> list[str]:
        cols = self.columns or 1
        names = []
        for d, m in self.rows():
            names += [f"{self.name}/{m.name}_{d}/{i}" for i in range(m.frames)]
            names += [f"{self.name}/{m.name}_{d}/blank{i}" for i in range(cols - m.frames)]
        return names

    def durations(self) -> list[int]:
        cols = self.columns or 1
        return [m.frame_ms for _, m in self.rows() for _ in range(cols)]

    def tags(self) -> list[Tag]:
        from pixelbuild.assemble import Tag

        cols = self.columns or 1
        return [
            Tag(name, r * cols, r * cols + m.frames - 1, PLAY[m.mode])
            for r, (name, (_, m)) in enumerate(zip(self.tag_names(), self.rows(), strict=True))
        ]

    def assemble(self, frames: list[np.ndarray], params: dict[str, Any]) -> Assembled:
        """The painted frames, aligned per row, mirrored rows added, rows padded to the grid."""
        import numpy as np

        from pixelbuild.assemble.alignment import align, measure, warnings

        cols = self.columns or 1
        painted: dict[tuple[str, str], list[np.ndarray]] = {}
        notes: list[str] = []
        report: dict[str, Any] = {}
        at = 0
        for d in self.painted:
            for m in self.motions:
                row = frames[at : at + m.frames]
                at += m.frames
                aligned, _ = align(row)
                notes += warnings(f"{m.name}_{d}", aligned)
                painted[d, m.name] = aligned
                before, after = measure(row), measure(aligned)
                report[f"{m.name}_{d}"] = {
                    "feet_jitter_px": [before.baseline_jitter, after.baseline_jitter],
                    "drift_px": [round(before.anchor_jitter, 2), round(after.anchor_jitter, 2)],
                    "area_variation": round(after.area_variation, 4),
                }
        blank = np.zeros_like(frames[0])
        cells: list[np.ndarray] = []
        for d, m in self.rows():
            source = MIRRORS[d] if self.mirror and d in MIRRORS else d
            row = painted[source, m.name]
            if source != d:
                row = [np.ascontiguousarray(f[:, ::-1]) for f in row]
            cells += row + [blank] * (cols - m.frames)
        sheet = super().assemble(cells, params)
        return Assembled(sheet.files, sheet.seams, tuple(notes), {"alignment": report})

    def animations(self) -> list[dict[str, Any]]:
        names = self.frame_names()
        cols = self.columns or 1
        return [
            {
                "name": tag,
                "frames": names[r * cols : r * cols + m.frames],
                "direction": PLAY[m.mode],
                "durations": [m.frame_ms] * m.frames,
            }
            for r, (tag, (_, m)) in enumerate(zip(self.tag_names(), self.rows(), strict=True))
        ]

    def rust_texture(self, by_name: dict[str, Target]) -> RustTexture:
        from dataclasses import replace

        texture = super().rust_texture(by_name)
        return replace(
            texture, directions=list(self.directions), motions=[m.name for m in self.motions]
        )

    def rust_animations(self, start: int) -> list[RustAnimation]:
        from pixelbuild.assemble import RustAnimation

        cols = self.columns or 1
        return [
            RustAnimation(tag, first, first + m.frames - 1, m.mode, [m.frame_ms] * m.frames)
            for r, (tag, (_, m)) in enumerate(zip(self.tag_names(), self.rows(), strict=True))
            for first in [start + r * cols]
        ]
