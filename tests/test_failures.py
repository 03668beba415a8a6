"""Failures are typed: the user's (or the machine's) mistakes are reported as such, a bug of
pixelbuild's is reported as a bug (no traceback, a request to report it), and one failure stops
only the entries that depend on it.

The bugs are injected (a step action or the loader that raises), since a real one is not known.
"""

from __future__ import annotations

import re

from conftest import pb

import pixelbuild.run.actions as actions
import pixelbuild.run.project as project_module


def test_a_bug_in_one_step_fails_that_entry_only_and_says_it_is_a_bug(proj, monkeypatch):
    real = actions.run_pixelize

    def broken(step, inputs):
        if step.label == "slime":
            raise ZeroDivisionError("division by zero")
        return real(step, inputs)

    monkeypatch.setattr(actions, "run_pixelize", broken)
    r = pb(proj, "build")
    assert r.code == 1
    assert "Traceback" not in r.err
    assert "error: slime: internal error in the pixelize step: ZeroDivisionError" in r.err
    assert "bugs in pixelbuild" in r.err and "report" in r.err
    assert len(re.findall(r"^error: ", r.err, re.M)) == 1, r.err
    assert len(re.findall(r"^failed: ", r.err, re.M)) == 1, r.err  # where it failed, once
    built = {p.stem for p in proj.pngs()}
    assert {"hero", "walk", "grass"} <= built and "slime" not in built
    lock = proj.lock["entries"]
    assert "slime" not in lock and {"hero", "walk", "grass"} <= set(lock)

    monkeypatch.setattr(actions, "run_pixelize", real)
    again = pb(proj, "build", "--json")
    assert again.code == 0 and again.json["rebuilt"] == ["slime"], again.err


def test_the_machines_failure_is_reported_once_for_all_it_stopped(proj, monkeypatch):
    def io_error(step, inputs):  # a full disk stops the build instead: tests/faults
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(actions, "run_pixelize", io_error)
    r = pb(proj, "build")
    assert r.code == 1
    assert "internal error" not in r.err  # the machine's problem, not a bug
    # One distinct failure: one error line naming every entry it stopped.
    lines = re.findall(r"^error: (.*)$", r.err, re.M)
    assert lines == ["grass, hero, slime, walk: the pixelize step failed: Input/output error"]


def test_a_bug_outside_any_step_is_reported_without_a_traceback(proj, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(project_module, "Planner", broken)
    r = pb(proj, "build")
    assert r.code == 1
    assert "Traceback" not in r.err
    assert r.err.startswith("internal error: KeyError: 'surprise'")
    report = re.search(r"the details are in (\S+)\.", r.err)
    assert report, r.err
    with open(report.group(1), encoding="utf-8") as f:
        text = f.read()
    assert "Traceback" in text and "KeyError" in text  # the bug report has what we need
    assert not proj.pngs()
