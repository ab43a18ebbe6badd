"""A traveller signs up in a real browser, lands on the chat page and logs out.

Needs the `playwright` package and a Chromium binary (CHROMIUM_PATH, default
/usr/bin/chromium); skipped when either is missing. Screenshots of every step go
to E2E_SCREENSHOT_DIR (default /tmp/travelbot-e2e) for a human to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from django.contrib.auth.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page
    from pytest_django.live_server_helper import LiveServer

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOT_DIR", "/tmp/travelbot-e2e"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-sturdy-passphrase-42"


# Every page reports what the Content-Security-Policy blocked (an init script runs outside
# the page's policy); Chromium also logs each violation to the console itself.
CSP_WATCH = """document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`));"""


class _CspWatchedBrowser:
    """A browser whose pages and contexts record every CSP violation in `csp_violations`."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self.csp_violations: list[str] = []

    def new_context(self, **options: Any) -> BrowserContext:
        context = self._browser.new_context(**options)
        context.add_init_script(CSP_WATCH)
        context.on("console", self._console)
        return context

    def new_page(self, **options: Any) -> Page:
        return self.new_context(**options).new_page()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            self.csp_violations.append(f"{message.location.get('url')}: {message.text}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@contextmanager
def _chromium() -> Iterator[Browser]:
    """Chromium for one test; it fails the test if any page broke the CSP."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(f"no Chromium at {CHROMIUM_PATH}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        watched = _CspWatchedBrowser(browser)
        yield cast("Browser", watched)  # it has the Browser methods the tests call
        browser.close()
    assert watched.csp_violations == []


def _sign_up_and_log_out(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{base_url}/accounts/login/")
    page.screenshot(path=SCREENSHOTS / "login.png", full_page=True)

    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill("ines")
    page.get_by_label("Email").fill("ines@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD + "typo")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("The two passwords don’t match.").wait_for()
    page.screenshot(path=SCREENSHOTS / "signup-error.png", full_page=True)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/")
    page.get_by_text("Ask about flights, hotels, fares or our policies").first.wait_for()
    assert page.get_by_label("Message").is_enabled()
    page.screenshot(path=SCREENSHOTS / "chat-desktop.png", full_page=True)
    page.set_viewport_size({"width": 375, "height": 740})
    page.screenshot(path=SCREENSHOTS / "chat-375.png", full_page=True)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base_url}/accounts/login/")
    page.get_by_text("You have been logged out.").wait_for()
    page.screenshot(path=SCREENSHOTS / "logged-out-375.png", full_page=True)
    page.close()


# serialized_rollback restores the role groups the data migration made, which a
# transactional test's flush would otherwise delete for every later test.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_traveller_signs_up_lands_on_chat_and_logs_out(live_server: LiveServer) -> None:
    # Playwright's event loop must be closed before this thread touches the database.
    with _chromium() as browser:
        _sign_up_and_log_out(browser, live_server.url)

    assert User.objects.get(username="ines").groups.filter(name="travellers").exists()
