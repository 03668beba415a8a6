"""What a project and this machine offer: palettes (built-in and the manifest's), models and
LoRAs found or missing, the doctor's report. Read only."""

from __future__ import annotations

import difflib
from typing import Any

from pixelbuild.errors import UsageError
from pixelbuild.mcp.actions import Place
from pixelbuild.mcp.models import PaletteColors, PaletteList, PaletteSummary
from pixelbuild.run.project import Project


def palettes(place: Place) -> PaletteList:
    from pixelbuild.pixel.builtin import BUILTIN_PALETTES

    found = [PaletteSummary(name=n, source="builtin", colors=len(c)) for n, c in
             sorted(BUILTIN_PALETTES.items())]  # fmt: skip
    with place.opened(readonly=True) as project:
        for name in sorted(project.manifest.palettes):
            colors = palette(place, name, project)
            count = len(colors.colors) if colors.source != "auto" else None
            found.append(PaletteSummary(name=name, source=colors.source, colors=count))
    return PaletteList(palettes=found)


def palette(place: Place, name: str, project: Project | None = None) -> PaletteColors:
    """The colours of a built-in palette or one of the manifest's `palettes:`."""
    from pixelbuild.pixel.builtin import BUILTIN_PALETTES
    from pixelbuild.pixel.palettes import colors_array, load_palette_file

    if project is None:
        with place.opened(readonly=True) as opened:
            return palette(place, name, opened)
    spec = project.manifest.palettes.get(name)
    if spec is None:
        if name not in BUILTIN_PALETTES:
            known = sorted(project.manifest.palettes) + sorted(BUILTIN_PALETTES)
            match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            raise UsageError(f"no palette {name!r}{hint}")
        colors = colors_array(BUILTIN_PALETTES[name])
        return PaletteColors(name=name, source="builtin", colors=_hex(colors))
    if spec.builtin is not None:
        colors = colors_array(BUILTIN_PALETTES[spec.builtin])
        return PaletteColors(name=name, source="builtin", colors=_hex(colors))
    if spec.colors is not None:
        return PaletteColors(name=name, source="colors", colors=_hex(colors_array(spec.colors)))
    if spec.file is not None:  # a path the manifest's validation confined to the project
        colors = load_palette_file(project.dir / spec.file)
        return PaletteColors(name=name, source="file", colors=_hex(colors))
    return PaletteColors(name=name, source="auto", colors=[])


def _hex(colors: Any) -> list[str]:
    return [f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b in colors[:, :3]]


def models(place: Place) -> dict[str, Any]:
    """The manifest's models and LoRAs, found or missing here, and where the hub cache is."""
    from pixelbuild.doctor import hf_cache_report, project_report

    report, _ = project_report(place.directory, place.manifest)
    return {
        "hub_cache": hf_cache_report(),
        "models": report.get("models", {}),
        "loras": report.get("loras", {}),
        "error": report.get("error"),
    }


def doctor(place: Place) -> dict[str, Any]:
    from pixelbuild.doctor import doctor_report

    return doctor_report(place.directory, place.manifest)
