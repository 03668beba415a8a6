"""A real browser for the page tests: Debian's chromium, headless, driven by Playwright.

Playwright's own browser download cannot be reached here, so it launches the system browser
(`executable_path`); scripts/test.sh installs it. `Visit` records what a page did: console
errors, uncaught exceptions and failed requests, which the tests require to be none.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import tool_unavailable

ARTIFACTS = Path(os.environ.get("PIXELBUILD_ARTIFACTS", "/tmp/pixelbuild-artifacts"))
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str:
    for name in CHROMIUM:
        if found := shutil.which(name):
            return found
    tool_unavailable(
        "a headless chromium", "PIXELBUILD_REQUIRE_BROWSER", "no chromium on PATH (apt chromium)"
    )


@dataclass
class Visit:
    """One page opened in the browser, and everything that went wrong on it."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def images_broken(self) -> list[str]:
        """The images that did not decode."""
        return self.page.evaluate(
            "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => i.id || i.alt)"
        )

    def frames(self) -> list[str]:
        """The frame each playing canvas shows now."""
        return self.page.evaluate(
            "[...document.querySelectorAll('canvas[data-view]')].map(c => c.dataset.frame)"
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def visit(browser: Any, url: str) -> Visit:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = Visit(page)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: _failed(seen, r))
    page.goto(url, wait_until="load")
    return seen


def _failed(seen: Visit, request: Any) -> None:
    # The event stream that a reloading page closes itself ends "aborted": that is no failure.
    if request.url.endswith("/events") and request.failure == "net::ERR_ABORTED":
        return
    seen.errors.append(f"failed request: {request.url} ({request.failure})")
