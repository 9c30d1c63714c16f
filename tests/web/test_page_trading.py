"""The browser page at `/` in Chromium against a real server: login, the account, placing and
canceling orders from the page, orders placed over the API showing up live, field errors,
and the narrow, dark and Chinese layouts. Screenshots of each state are saved under the
test's tmp dir."""

import httpx
from playwright.sync_api import expect
from tests.api.auth_support import PASSWORD, add_user
from tests.conftest import Server
from tests.web.browser_support import Tab
from tests.web.conftest import OpenTab

ORDERS = "/api/v1/accounts/paper/orders"
SYMBOL = "600519.SH"
QUOTE = {
    "symbol": SYMBOL,
    "last": "1500.00",
    "bid": "1499.99",
    "ask": "1500.01",
    "bid_size": 10000,
    "ask_size": 10000,
    "pre_close": "1500.00",
}


def set_quote(rest: httpx.Client) -> None:
    rest.post("/api/v1/paper/paper/quotes", json=QUOTE).raise_for_status()


def logged_in(open_tab: OpenTab, server: Server, **options: object) -> Tab:
    tab = open_tab(server, **options)
    tab.log_in()
    return tab


def latest_orders(rest: httpx.Client, count: int) -> list[dict[str, object]]:
    """The account's last `count` orders, oldest first (orders outlive a paper reset)."""
    orders: list[dict[str, object]] = rest.get(ORDERS, params={"limit": count}).json()
    return orders


def show_tab(tab: Tab, name: str) -> None:
    tab.page.click(f"#tab-{name}")


def fill_ticket(tab: Tab, qty: str, price: str, side: str = "buy") -> None:
    page = tab.page
    page.fill("#ticket-symbol", "600519")
    page.click("#symbol-results li:has-text('600519.SH')")
    expect(page.locator("#ticket-tick-hint")).to_have_text("Tick 0.01")
    page.check(f"#ticket input[name=side][value={side}]")
    page.fill("#ticket-qty", qty)
    page.fill("#ticket-price", price)


def submit_large_order(tab: Tab, screenshot: str | None = None) -> None:
    """Submit the ticket and confirm the large-order dialog."""
    page = tab.page
    page.click("#ticket-submit")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text(SYMBOL)
    if screenshot:
        tab.shot(screenshot)
    page.click("#confirm-ok")
    expect(page.locator("#confirm-dialog")).to_be_hidden()


def test_page_shows_a_login_form_then_the_account_with_its_cash(
    open_tab: OpenTab, page_server: Server, rest: httpx.Client
) -> None:
    tab = open_tab(page_server)
    page = tab.page
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#trade-view")).to_be_hidden()
    tab.shot("login")

    page.fill("#login-username", "admin")
    page.fill("#login-password", "wrong password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")

    tab.log_in()
    expect(page.locator("#login-form")).to_be_hidden()
    expect(page.locator("#account-equity")).to_have_text("1,000,000.00")
    expect(page.locator("#account-cash")).to_have_text("1,000,000.00")
    expect(page.locator("#balances-table tbody tr")).to_have_count(3)
    expect(page.locator("#balances-table tr[data-currency=HKD] td").nth(1)).to_have_text(
        "1,000,000.00"
    )
    expect(page.locator("#engine-state")).to_have_attribute("data-state", "up")
    expect(page.locator("#market-status li[data-venue=SH]")).to_contain_text("open")
    expect(page.locator("#admin-panel")).to_be_visible()
    expect(page.locator("#quote-symbol")).to_have_text(SYMBOL)
    tab.shot("main-light")

    page.click("#logout")
    expect(page.locator("#login-form")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('tradebridge.token')") is None
    assert tab.errors(ignore_network=True) == []  # the browser logs the wrong password's 401


def test_order_from_the_ticket_fills_and_the_position_appears(
    open_tab: OpenTab, page_server: Server, rest: httpx.Client
) -> None:
    set_quote(rest)
    tab = logged_in(open_tab, page_server)
    page = tab.page
    expect(page.locator("#quote-ask")).to_have_text("1,500.01")
    fill_ticket(tab, "100", "1500.01")
    expect(page.locator("#ticket-notional")).to_have_text("Notional ≈ 150,001.00 CNY")
    submit_large_order(tab, screenshot="confirm-large-order")
    expect(page.locator("#ticket-result")).to_contain_text("Filled")

    position = page.locator(f"#positions-table tr[data-symbol='{SYMBOL}']")
    expect(position.locator("td").nth(1)).to_have_text("100")
    [order] = latest_orders(rest, 1)
    assert order["status"] == "filled"
    show_tab(tab, "history")
    expect(page.locator(f"#history-table tr[data-order-id='{order['id']}']")).to_have_attribute(
        "data-status", "filled"
    )
    show_tab(tab, "trades")
    trade = page.locator(f"#trades-table tr[data-order-id='{order['id']}']")
    expect(trade.locator("td").nth(4)).to_have_text("1,500.01")

    cash = rest.get("/api/v1/accounts/paper").json()["cash"]
    assert cash < 1_000_000 - 150_001
    expect(page.locator("#account-cash")).to_have_text(f"{cash:,.2f}")
    show_tab(tab, "positions")
    tab.shot("order-filled")
    assert tab.errors() == []


def test_resting_order_is_canceled_from_the_table(
    open_tab: OpenTab, page_server: Server, rest: httpx.Client
) -> None:
    set_quote(rest)
    tab = logged_in(open_tab, page_server)
    page = tab.page
    fill_ticket(tab, "100", "1490.00")
    submit_large_order(tab)
    show_tab(tab, "open")
    row = page.locator("#open-orders-table tbody tr[data-order-id]")
    expect(row).to_have_count(1)
    expect(row.locator("td.status")).to_have_text("New")
    expect(page.locator("#count-open")).to_have_text("1")
    tab.shot("resting-order")

    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(0)
    [order] = latest_orders(rest, 1)
    assert order["status"] == "canceled"
    show_tab(tab, "history")
    expect(page.locator(f"#history-table tr[data-order-id='{order['id']}']")).to_have_attribute(
        "data-status", "canceled"
    )
    assert tab.errors() == []


def test_orders_placed_over_the_api_appear_and_follow_without_reload(
    open_tab: OpenTab, page_server: Server, rest: httpx.Client
) -> None:
    set_quote(rest)
    tab = logged_in(open_tab, page_server)
    page = tab.page
    show_tab(tab, "open")
    expect(page.locator("#open-orders-table tbody tr.empty")).to_have_text("No open orders")

    body = {"symbol": SYMBOL, "side": "buy", "qty": 100, "limit_price": "1480.00"}
    placed = rest.post(ORDERS, json=body).json()
    row = page.locator(f"#open-orders-table tr[data-order-id='{placed['id']}']")
    expect(row).to_be_visible()
    expect(row.locator("td").nth(4)).to_have_text("1,480.00")
    tab.shot("order-from-api")

    rest.delete(f"{ORDERS}/{placed['id']}").raise_for_status()
    expect(row).to_have_count(0)
    show_tab(tab, "history")
    expect(page.locator(f"#history-table tr[data-order-id='{placed['id']}']")).to_have_attribute(
        "data-status", "canceled"
    )

    show_tab(tab, "open")
    for price in ("1470.00", "1460.00"):
        rest.post(ORDERS, json={**body, "limit_price": price}).raise_for_status()
    expect(page.locator("#open-orders-table tbody tr[data-order-id]")).to_have_count(2)
    page.click("#cancel-all")
    expect(page.locator("#confirm-text")).to_contain_text("2")
    page.click("#confirm-ok")
    expect(page.locator("#open-orders-table tbody tr[data-order-id]")).to_have_count(0)
    assert rest.get(ORDERS, params={"status": "open"}).json() == []
    assert tab.errors() == []


def test_api_errors_show_next_to_their_field(
    open_tab: OpenTab, page_server: Server, rest: httpx.Client
) -> None:
    set_quote(rest)
    tab = logged_in(open_tab, page_server)
    page = tab.page
    fill_ticket(tab, "150", "1500.00")
    submit_large_order(tab)
    qty_error = page.locator("#ticket [data-error-for=qty]")
    expect(qty_error).to_contain_text("Not a whole lot")
    expect(page.locator("#ticket [data-error-for=limit_price]")).to_have_text("")

    page.fill("#ticket-qty", "10")
    page.fill("#ticket-price", "1500.005")
    page.click("#ticket-submit")
    expect(page.locator("#ticket [data-error-for=limit_price]")).to_contain_text("Not on the tick")
    expect(qty_error).to_have_text("")

    page.fill("#ticket-qty", "")
    page.click("#ticket-submit")
    expect(qty_error).to_contain_text("required")
    tab.shot("field-errors")
    show_tab(tab, "history")
    for order in latest_orders(rest, 2):
        assert order["status"] == "rejected"
        row = page.locator(f"#history-table tr[data-order-id='{order['id']}']")
        expect(row).to_have_attribute("data-status", "rejected")
    # The browser logs each refused request (422) itself; no JavaScript error besides.
    assert tab.errors(ignore_network=True) == []


def test_admin_strip_moves_the_paper_market_and_viewers_get_no_controls(
    open_tab: OpenTab, page_server: Server, rest: httpx.Client
) -> None:
    set_quote(rest)
    tab = logged_in(open_tab, page_server)
    page = tab.page
    strip = page.locator("#admin-quote")
    expect(strip.locator("[name=symbol]")).to_have_value(SYMBOL)
    for name, value in (("last", "1510.00"), ("bid", "1509.99"), ("ask", "1510.01")):
        strip.locator(f"[name={name}]").fill(value)
    strip.locator("[name=ask_size]").fill("500")
    strip.get_by_role("button", name="Set quote").click()
    expect(page.locator("#quote-last")).to_have_text("1,510.00")
    expect(page.locator("#quote-change")).to_have_text("+10.00 (+0.67%)")
    expect(page.locator("#quote-ask-size")).to_have_text("× 500")
    expect(page.locator("#quote-limit-up")).to_have_text("1,650.00")

    order = {"symbol": SYMBOL, "side": "buy", "qty": 100, "limit_price": "1510.01"}
    rest.post(ORDERS, json=order).raise_for_status()
    position = page.locator(f"#positions-table tr[data-symbol='{SYMBOL}']")
    expect(position).to_be_visible()
    tab.shot("admin-strip")
    page.click("#paper-reset")
    page.click("#confirm-ok")
    expect(position).to_have_count(0)
    expect(page.locator("#account-cash")).to_have_text("1,000,000.00")
    page.click("#clock-day")
    expect(page.locator("#toasts")).to_contain_text("Clock advanced")
    assert tab.errors() == []

    viewer = open_tab(page_server)
    viewer.log_in(add_user(page_server, "viewer"), PASSWORD)
    expect(viewer.page.locator("#account-cash")).to_have_text("1,000,000.00")
    expect(viewer.page.locator("#admin-panel")).to_be_hidden()
    expect(viewer.page.locator("#ticket-panel")).to_be_hidden()
    viewer.shot("viewer")
    assert viewer.errors() == []


def test_narrow_dark_layout_and_chinese_labels(
    open_tab: OpenTab, page_server: Server, rest: httpx.Client
) -> None:
    set_quote(rest)
    tab = logged_in(open_tab, page_server, width=375, color_scheme="dark")
    page = tab.page
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(14, 19, 24)"  # the dark theme's --bg
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for panel in ("#account-panel", "#quote-panel", "#ticket-panel", "#tables-panel"):
        box = page.locator(panel).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375
    tab.shot("narrow-dark-en")

    page.click("#lang-toggle")
    expect(page.locator("#account-title")).to_contain_text("账户")
    expect(page.locator("#ticket-submit")).to_have_text(f"买入 {SYMBOL}")
    expect(page.locator("#link-label")).to_have_text("实时")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    tab.shot("narrow-dark-zh")

    page.reload()
    expect(page.locator("#account-title")).to_contain_text("账户")  # remembered, still logged in
    page.click("#theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(243, 245, 248)"
    tab.shot("narrow-light-zh")
    page.click("#lang-toggle")
    expect(page.locator("#account-title")).to_contain_text("Account")
    assert tab.errors() == []
