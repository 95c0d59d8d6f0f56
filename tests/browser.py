"""Headless Chromium for the browser tests: Playwright driving the system's Chromium (Debian's
``chromium`` package, which ``.ci/run`` installs), so no browser is downloaded.

Screenshots go to ``build/screenshots/`` at the top of the checkout (or to the directory named
by ``HONEYCOMB_EVENTS_SCREENSHOTS``), where a person can look at what the tests saw.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
_FLAGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
SCREENSHOTS = Path(
    os.environ.get("HONEYCOMB_EVENTS_SCREENSHOTS")
    or Path(__file__).resolve().parent.parent / "build" / "screenshots"
)


def chromium_path() -> str | None:
    """The installed Chromium's path, or None."""
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium for a test module (a Playwright ``Browser``); skips without one.

    Not for the session: Playwright's sync API keeps an asyncio loop marked running in the main
    thread while it is open, and the asyncio tests of later modules could not run theirs."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium installed (.ci/run installs Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: object) -> Iterator[object]:
    """A fresh page (a Playwright ``Page``) 1280x800, closed after the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: object, name: str) -> Path:
    """Save the whole page as ``<SCREENSHOTS>/<name>.png`` and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
