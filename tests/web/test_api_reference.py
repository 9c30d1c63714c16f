"""`/docs` in Chromium with no network beyond the server: Swagger UI renders from the files
the package ships, lists the routes, offers "Authorize", and logs in through it."""

from playwright.sync_api import Browser, Route, expect
from tests.conftest import ADMIN_PASSWORD, Server


def test_the_reference_works_offline_and_authorizes(browser: Browser, page_server: Server) -> None:
    context = browser.new_context(locale="en-US")
    elsewhere: list[str] = []

    def offline(route: Route) -> None:
        url = route.request.url
        if url.startswith(page_server.base_url + "/"):
            route.continue_()
        else:  # the network beyond this server is off
            elsewhere.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    page = context.new_page()
    page.goto(page_server.base_url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("tradebridge")
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible()
    paths = {text.strip() for text in operations.all_inner_texts()}
    assert "/api/v1/accounts/{account}/orders" in "".join(paths).replace("\u200b", "")
    assert operations.count() >= 30

    page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("input#oauth_username").fill("admin")
    dialog.locator("input#oauth_password").fill(ADMIN_PASSWORD)
    dialog.get_by_role("button", name="Apply given OAuth2 credentials").click()
    # Swagger UI posted the password form to /api/v1/auth/token and keeps the token.
    expect(dialog.get_by_role("button", name="Remove authorization").first).to_be_visible()
    assert elsewhere == []
    context.close()
