"""`/` and `/static/…` over plain HTTP: the page and its files, their cache and security
headers, the rate limiter leaving the files alone, and the page staying out of the API's
OpenAPI document (so the route policy test, which walks that document, has nothing to
declare for it: the page needs no credentials, the API behind it does)."""

from pathlib import Path

import httpx
from tests.conftest import Server, start_server, write_config

STATIC = Path(__file__).parents[2] / "src" / "tradebridge" / "api" / "static"


def test_the_page_is_served_at_the_root(page_server: Server) -> None:
    response = httpx.get(page_server.base_url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="static/js/main.js">' in response.text
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert httpx.head(page_server.base_url + "/").status_code == 200

    spec = httpx.get(page_server.base_url + "/openapi.json").json()
    assert "/" not in spec["paths"]
    assert not [path for path in spec["paths"] if path.startswith("/static")]


def test_files_are_revalidated_and_missing_ones_are_json_errors(page_server: Server) -> None:
    url = page_server.base_url + "/static/js/main.js"
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == (STATIC / "js" / "main.js").read_text()
    again = httpx.get(url, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304

    missing = httpx.get(page_server.base_url + "/static/js/nothing.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_the_rate_limiter_leaves_the_files_alone(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[rate_limits]\nenabled = true\napi = "3/minute"')
    server = start_server(config)
    try:
        with httpx.Client(base_url=server.base_url) as client:
            files = [client.get("/static/style.css") for _ in range(6)]
            assert [r.status_code for r in files] == [200] * 6
            assert not [r for r in files if "ratelimit-limit" in r.headers]
            counted = client.get("/api/v1/accounts")
            assert counted.headers["ratelimit-limit"] == "3"
    finally:
        assert server.stop() == 0
