"""Fixtures of the browser page tests: Chromium under Playwright, a server per module, and
tabs in fresh browser contexts (no stored login, language or theme)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright
from tests.conftest import Server, paper_api, start_server, write_config
from tests.web.browser_support import CHROMIUM_ARGS, TIMEOUT_MS, Tab, chromium_path

OpenTab = Callable[..., Tab]

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(write_config(tmp_path_factory.mktemp("page")))
    yield server
    assert server.stop() == 0


@pytest.fixture
def rest(page_server: Server) -> Iterator[httpx.Client]:
    """The admin's REST client; the paper account starts from its configured cash."""
    with paper_api(page_server, page_server.login()) as client:
        yield client


@pytest.fixture
def open_tab(browser: Browser, tmp_path: Path) -> Iterator[OpenTab]:
    """`open_tab(server, width=1280, color_scheme="light")`: the page at `/` in a new
    context; screenshots go to the test's tmp dir."""
    contexts: list[BrowserContext] = []

    def open_new(server: Server, width: int = 1280, color_scheme: str = "light") -> Tab:
        context = browser.new_context(
            viewport={"width": width, "height": 900},
            color_scheme=color_scheme,  # type: ignore[arg-type]
            locale="en-US",
        )
        contexts.append(context)
        tab = Tab(context.new_page(), server, tmp_path / "screenshots")
        tab.open()
        return tab

    yield open_new
    for context in contexts:
        context.close()
