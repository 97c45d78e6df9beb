"""A headless Chromium (the system's, driven by Playwright) against the sandbox.

No browser is downloaded: Playwright drives Debian's `chromium` package, which `make setup`
installs where it can (as root). Where there is neither, the browser tests are skipped and say why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.plugins import ROOT

SCREENSHOTS = ROOT / ".browser-screenshots"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("VS_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser(request):
    request.getfixturevalue("sandbox")  # set up first, so the browser closes before the sandbox stops
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (make setup installs it from requirements.txt)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium here: as root, make setup installs Debian's chromium package")
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium refuses its own sandbox when run as root (CI runs as root).
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
