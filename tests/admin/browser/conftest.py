"""End-to-end tests in a real headless Chromium: Playwright for Python driving Debian's chromium.

No browser is ever downloaded: the tests use /usr/bin/chromium (``apt-get
install chromium``; .ci/run installs it). Screenshots of each step go to
test-artifacts/screenshots/.
"""

import itertools
import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the tests still use
# the ORM synchronously between browser calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page, request):
    """``screenshot("step")`` saves test-artifacts/screenshots/<test>-<n>-<step>.png."""
    counter = itertools.count(1)
    name = re.sub(r"[^\w-]+", "-", request.node.name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(step: str) -> Path:
        path = SCREENSHOTS / f"{name}-{next(counter):02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take
