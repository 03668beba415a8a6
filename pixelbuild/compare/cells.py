"""The cells of a comparison: every combination of the axes' values, and where each one sits.

Axis 0 runs along the columns, axis 1 down the rows, and every further axis makes a grid of
such grids (the last axis outermost). Cells are numbered from 1 in reading order, the number
`pixelbuild pick ENTRY N` takes.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from pixelbuild import limits
from pixelbuild.compare.axes import Axis, Data
from pixelbuild.errors import UsageError

Change = tuple[tuple[str, ...], Any]  # a field path in the entry and its new value


@dataclass(frozen=True)
class Cell:
    """One combination: the value index per axis, the entry's fields with those values, and
    what differs from the entry as the manifest has it (what `pick` writes)."""

    number: int
    index: tuple[int, ...]  # per axis
    labels: tuple[str, ...]
    data: Data
    changes: tuple[Change, ...]

    @property
    def column(self) -> int:
        return self.index[0] if self.index else 0

    @property
    def row(self) -> int:
        return self.index[1] if len(self.index) > 1 else 0

    @property
    def group(self) -> tuple[int, ...]:
        """Which sub-grid it is in (the values of axes 2 and after)."""
        return self.index[2:]


def make_cells(axes: list[Axis], data: Data) -> list[Cell]:
    """Every combination of the axes' values, in reading order."""
    sizes = [len(a.values) for a in axes]
    total = 1
    for n in sizes:
        total *= n
    if total > limits.COMPARE_CELLS:
        raise UsageError(
            f"{' x '.join(map(str, sizes))} = {total} cells, over the {limits.COMPARE_CELLS} "
            "a comparison may hold; try fewer values"
        )
    cells = []
    for number, reversed_index in enumerate(itertools.product(*map(range, reversed(sizes))), 1):
        index = tuple(reversed(reversed_index))
        fields = copy.deepcopy(data)
        for axis, i in zip(axes, index, strict=True):
            axis.apply(fields, axis.values[i])
        labels = tuple(a.label(a.values[i]) for a, i in zip(axes, index, strict=True))
        cells.append(Cell(number, index, labels, fields, tuple(changes(data, fields))))
    return cells


def changes(old: Data, new: Data, path: tuple[str, ...] = ()) -> list[Change]:
    """The leaves of `new` that differ from `old` (mappings compared key by key, lists whole)."""
    found: list[Change] = []
    for key, value in new.items():
        here = (*path, key)
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            found.extend(changes(before, value, here))
        elif key not in old or before != value:
            found.append((here, value))
    return found
