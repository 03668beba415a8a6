"""Frame alignment for one animation: feet on one row, one horizontal anchor, no resampling.

Generated frames drift: the feet of a walk land a pixel higher in one frame, the body slides
sideways in another. This module measures that and undoes it by whole-pixel shifts.

Definitions (a frame is RGBA uint8, shape (height, width, 4); a pixel is opaque when alpha > 0,
which for pixelized frames means alpha 255):

* baseline: the lowest row holding an opaque pixel (the feet).
* anchor: the mean column (pixel centres, x + 0.5) of the opaque pixels in the `foot_rows` rows
  ending at the baseline. The feet, not the bounding box: a swinging arm or a cape widens the box
  but leaves the feet; a walk's two feet move symmetrically, so their centre stays put.
* area: the number of opaque pixels (the silhouette). Its coefficient of variation (standard
  deviation over mean) over an animation says whether the figure shrinks or grows.

The reference of an animation is the lower median of its frames' baselines and of their anchors:
a value some frame has, so aligning shifted copies of one frame gives that frame back exactly.
`align` moves each frame by `round(reference - value)` on each axis, filling with transparent
pixels, and never pushes an opaque pixel off the canvas: a shift that would is cut to what fits,
and the `Shift` says what was wanted. Frames with no opaque pixel are left as they are and have
no baseline or anchor. Numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

N = TypeVar("N", int, float)

FOOT_ROWS = 3  # rows (ending at the baseline) whose opaque pixels place the anchor


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Above these an animation gets a warning: pixels for jitters, a ratio for the area."""

    baseline_px: int = 1
    anchor_px: float = 1.5
    area_variation: float = 0.15


@dataclass(frozen=True, slots=True)
class FrameMetrics:
    """One frame measured; `baseline` and `anchor` are None for a frame with nothing opaque.

    `box` is (top, left, bottom, right) of the opaque pixels, inclusive, or None.
    """

    baseline: int | None
    anchor: float | None
    area: int
    box: tuple[int, int, int, int] | None


@dataclass(frozen=True, slots=True)
class AnimationMetrics:
    """An animation measured: per frame, and how much the frames disagree.

    Jitters are max - min over the frames that have opaque pixels (0 with fewer than two);
    `area_variation` is the population standard deviation of the areas over their mean (0 when
    every frame is empty). `baseline` and `anchor` are the references `align` moves frames to.
    """

    frames: tuple[FrameMetrics, ...]
    baseline_jitter: int
    anchor_jitter: float
    area_variation: float
    baseline: int | None
    anchor: float | None


@dataclass(frozen=True, slots=True)
class Shift:
    """How `align` moved one frame: `dx` right and `dy` down, in pixels.

    `wanted_dx`/`wanted_dy` are the shifts that would have matched the reference; they differ
    from `dx`/`dy` only where the full shift would have pushed opaque pixels off the canvas.
    """

    dx: int
    dy: int
    wanted_dx: int
    wanted_dy: int

    @property
    def clamped(self) -> bool:
        return (self.dx, self.dy) != (self.wanted_dx, self.wanted_dy)


def frame_metrics(frame: np.ndarray, foot_rows: int = FOOT_ROWS) -> FrameMetrics:
    """Baseline, anchor, area and box of one RGBA frame (see the module docstring)."""
    opaque = _opaque(frame)
    area = int(opaque.sum())
    if area == 0:
        return FrameMetrics(None, None, 0, None)
    rows = np.flatnonzero(opaque.any(axis=1))
    cols = np.flatnonzero(opaque.any(axis=0))
    baseline = int(rows[-1])
    feet = opaque[max(0, baseline - max(1, foot_rows) + 1) : baseline + 1]
    anchor = float(np.nonzero(feet)[1].mean()) + 0.5
    return FrameMetrics(
        baseline, anchor, area, (int(rows[0]), int(cols[0]), baseline, int(cols[-1]))
    )


def measure(frames: Sequence[np.ndarray], foot_rows: int = FOOT_ROWS) -> AnimationMetrics:
    """Every frame's metrics and the animation's jitters, area variation and references."""
    _check(frames)
    each = tuple(frame_metrics(f, foot_rows) for f in frames)
    baselines = [m.baseline for m in each if m.baseline is not None]
    anchors = [m.anchor for m in each if m.anchor is not None]
    areas = np.array([m.area for m in each], np.float64)
    mean = float(areas.mean()) if areas.size else 0.0
    return AnimationMetrics(
        frames=each,
        baseline_jitter=max(baselines) - min(baselines) if baselines else 0,
        anchor_jitter=max(anchors) - min(anchors) if anchors else 0.0,
        area_variation=float(areas.std()) / mean if mean > 0 else 0.0,
        baseline=_lower_median(baselines),
        anchor=_lower_median(anchors),
    )


def align(
    frames: Sequence[np.ndarray],
    foot_rows: int = FOOT_ROWS,
    *,
    vertical: bool = True,
    horizontal: bool = True,
) -> tuple[list[np.ndarray], list[Shift]]:
    """Frames shifted by whole pixels onto the animation's baseline and anchor, and the shifts.

    `vertical=False` keeps every baseline (a jump), `horizontal=False` every anchor. The input
    frames are not changed; an unmoved frame is returned as a copy.
    """
    metrics = measure(frames, foot_rows)
    aligned, shifts = [], []
    for frame, m in zip(frames, metrics.frames, strict=True):
        if m.box is None or m.baseline is None or m.anchor is None:
            aligned.append(frame.copy())
            shifts.append(Shift(0, 0, 0, 0))
            continue
        assert metrics.baseline is not None and metrics.anchor is not None
        want_dy = metrics.baseline - m.baseline if vertical else 0
        want_dx = _round(metrics.anchor - m.anchor) if horizontal else 0
        top, left, bottom, right = m.box
        h, w = frame.shape[:2]
        dy = min(max(want_dy, -top), h - 1 - bottom)
        dx = min(max(want_dx, -left), w - 1 - right)
        aligned.append(shift_frame(frame, dx, dy))
        shifts.append(Shift(dx, dy, want_dx, want_dy))
    return aligned, shifts


def shift_frame(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`frame` moved `dx` right and `dy` down; what comes in is transparent, what leaves is lost."""
    out = np.zeros_like(frame)
    h, w = frame.shape[:2]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[dst_y, dst_x] = frame[src_y, src_x]
    return out


def warnings(
    name: str,
    frames: Sequence[np.ndarray],
    thresholds: Thresholds | None = None,
    foot_rows: int = FOOT_ROWS,
) -> list[str]:
    """What a person should hear about an animation's frames before alignment, one line each.

    E.g. "walk_s: feet jitter 3 px (baseline varies 29..32)". Empty when all is within
    `thresholds`. Also names empty frames and frames that alignment could not fully move.
    """
    t = thresholds or Thresholds()
    m = measure(frames, foot_rows)
    out = []
    empty = [i for i, f in enumerate(m.frames) if f.area == 0]
    if empty:
        out.append(f"{name}: frame{'s' * (len(empty) > 1)} {_list(empty)} empty")
    baselines = [f.baseline for f in m.frames if f.baseline is not None]
    anchors = [f.anchor for f in m.frames if f.anchor is not None]
    if m.baseline_jitter > t.baseline_px:
        out.append(
            f"{name}: feet jitter {m.baseline_jitter} px "
            f"(baseline varies {min(baselines)}..{max(baselines)})"
        )
    if m.anchor_jitter > t.anchor_px:
        out.append(
            f"{name}: feet drift {m.anchor_jitter:.1f} px sideways "
            f"(anchor x varies {min(anchors):.1f}..{max(anchors):.1f})"
        )
    if m.area_variation > t.area_variation:
        areas = [f.area for f in m.frames]
        out.append(
            f"{name}: silhouette area varies {m.area_variation:.0%} ({min(areas)}..{max(areas)} px)"
        )
    _, shifts = align(frames, foot_rows)
    cut = [i for i, s in enumerate(shifts) if s.clamped]
    if cut:
        out.append(f"{name}: frame{'s' * (len(cut) > 1)} {_list(cut)} only partly aligned: "
                   "moving them fully would push pixels off the canvas")  # fmt: skip
    return out


def _opaque(frame: np.ndarray) -> np.ndarray:
    return np.asarray(frame[..., 3] > 0)


def _check(frames: Sequence[np.ndarray]) -> None:
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise ValueError(f"frames of one animation must share a size, got {sorted(shapes)}")
    for f in frames:
        if f.ndim != 3 or f.shape[2] != 4 or f.dtype != np.uint8:
            raise ValueError(f"frames must be RGBA uint8 (h, w, 4), got {f.dtype} {f.shape}")


def _lower_median(values: Sequence[N]) -> N | None:
    return sorted(values)[(len(values) - 1) // 2] if values else None


def _round(x: float) -> int:
    """Half away from zero, so a shift and its mirror image round alike."""
    return int(np.sign(x) * np.floor(abs(x) + 0.5))


def _list(indices: Sequence[int]) -> str:
    return ", ".join(map(str, indices))
