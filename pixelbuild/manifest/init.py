"""`pixelbuild init`: a starter manifest, its schema for editors, and a .gitignore line."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from pixelbuild.errors import PixelbuildError
from pixelbuild.manifest.jsonschema import schema_text

GITIGNORE_LINE = ".pixelbuild/"


def init_project(directory: Path, assets: str = "assets") -> list[str]:
    """Create the files of a new project in `directory`; returns what was done, line by line."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "pixels.yaml"
    if manifest.exists():
        raise PixelbuildError(f"{manifest} already exists; not overwriting it")
    template = files("pixelbuild.templates").joinpath("pixels.yaml").read_text(encoding="utf-8")
    manifest.write_text(template.replace("assets: assets", f"assets: {assets}"), encoding="utf-8")
    done = [f"wrote {manifest}"]
    (directory / "pixels.schema.json").write_text(schema_text(), encoding="utf-8")
    done.append(f"wrote {directory / 'pixels.schema.json'} (editor completion for pixels.yaml)")
    gitignore = directory / ".gitignore"
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if GITIGNORE_LINE not in lines and GITIGNORE_LINE.rstrip("/") not in lines:
        with gitignore.open("a", encoding="utf-8") as f:
            if lines and lines[-1] != "":
                f.write("\n")
            f.write(f"# pixelbuild's cache (pixels.lock is committed)\n{GITIGNORE_LINE}\n")
        done.append(f"added {GITIGNORE_LINE} to {gitignore}")
    done.append("next: edit pixels.yaml, then run `pixelbuild build`")
    return done
