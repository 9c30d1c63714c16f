"""Helpers of the browser page tests: Debian's Chromium driven by Playwright, and a tab that
records every JavaScript error (console errors and uncaught exceptions)."""

import re
import shutil
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page, expect
from tests.conftest import ADMIN_PASSWORD, Server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Debian's Chromium (`make test` installs it); Playwright's own browser download is not
used."""
NETWORK_FAILURE = re.compile(
    r"^console: (Failed to load resource: |WebSocket connection to '[^']*' failed)"
)
"""What the browser itself logs when a request or a WebSocket finds no server (or gets an
error status): not JavaScript errors, and expected while a test has the server down."""
TIMEOUT_MS = 20_000
"""How long a test waits for the page to show something (a deadline, never a measurement)."""


def chromium_path() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


class Tab:
    """A page of the trading page's origin, its JavaScript errors, and screenshots."""

    def __init__(self, page: Page, server: Server, screenshots: Path) -> None:
        self.page = page
        self.server = server
        self.screenshots = screenshots
        self.messages: list[str] = []
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text}")

    def open(self) -> None:
        self.page.goto(self.server.base_url + "/")

    def log_in(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        self.page.fill("#login-username", username)
        self.page.fill("#login-password", password)
        self.page.click("#login-form button[type=submit]")
        expect(self.page.locator("#link-state")).to_have_attribute("data-state", "up")
        expect(self.page.locator("#account-equity")).not_to_have_text("—")

    def errors(self, *, ignore_network: bool = False) -> list[str]:
        """JavaScript errors so far; with `ignore_network`, the browser's own lines about
        failed requests are left out (tests that provoke them on purpose)."""
        return [m for m in self.messages if not (ignore_network and NETWORK_FAILURE.match(m))]

    def shot(self, name: str) -> Path:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path
