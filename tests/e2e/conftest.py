"""The browser tests' fixtures: a running `mixlab serve`, Debian's Chromium driven by PyPI
playwright (never `playwright install`), a page, the synthesised stems, the screenshots folder.

Without ``/usr/bin/chromium`` the tests skip, unless ``MIXLAB_REQUIRE_BROWSER=1``, which makes them
fail. ``MIXLAB_E2E_URL`` points the tests at a server already running instead of starting one;
``MIXLAB_SCREENSHOTS_DIR`` is where the screenshots of the main screens go (``docs/screenshots``
via ``tests/e2e/screenshots.py``; a temporary folder otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.server import running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
STEM_SECONDS = 20.0


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("MIXLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and MIXLAB_REQUIRE_BROWSER=1: install Debian's chromium (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The base URL of a running `mixlab serve` with an empty data folder."""
    _require_browser()
    if os.environ.get("MIXLAB_E2E_URL"):
        yield os.environ["MIXLAB_E2E_URL"].rstrip("/")
        return
    data = tmp_path_factory.mktemp("mixlab-data")
    try:
        with running_server(data) as (url, _):
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def stems(tmp_path_factory) -> list[Path]:
    """Six synthesised stems (kick, snare, hats, bass, pad, lead), 20 s, 16-bit WAV."""
    from tests.fixtures.multitrack import write_session

    folder = tmp_path_factory.mktemp("stems")
    return sorted(write_session(folder, sr=44100, duration_s=STEM_SECONDS, subtype="PCM_16").values())


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("MIXLAB_SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()


