"""Headless Chromium for the console's tests: Debian's browser (``chromium``), driven by
Playwright (its own browser download cannot work here, so ``executable_path`` names Debian's).

Without the browser the tests skip on a developer's machine and fail under ``CI=true``
(``.ci/run`` installs it). Screenshots go to ``test-artifacts/browser/`` at the top of the
checkout (``ARTIFACTS_DIR`` elsewhere), kept after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, _missing

# Flags for a closed network and a root user: no sandbox (root), no GPU, and none of the
# background connections Chromium makes to Google's hosts at every start.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("ARTIFACTS_DIR", REPO / "test-artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        _missing("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[test]')")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()
