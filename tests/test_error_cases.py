"""Located errors as data: each folder of tests/errors/ holds a manifest and the exact text
`pixelbuild plan` prints for it (exit 2, nothing written). Add a case by adding a folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run

CASES = sorted(p for p in (Path(__file__).parent / "errors").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("command", ["plan", "build"])
def test_error_case(case, command, tmp_path, monkeypatch):
    project = tmp_path / case.name
    shutil.copytree(case, project, ignore=shutil.ignore_patterns("expected.txt"))
    monkeypatch.chdir(project)  # locations are shown relative to the working directory
    r = run([command])
    assert r.code == 2
    assert r.err == (case / "expected.txt").read_text(encoding="utf-8")
    assert sorted(p.name for p in project.iterdir()) == ["pixels.yaml"]  # nothing written
