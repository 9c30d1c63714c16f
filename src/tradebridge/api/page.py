"""The browser trading page: `/` and its files under `/static`.

Plain HTML, CSS and JavaScript modules shipped inside the package: no build step, nothing
fetched from elsewhere (the page must work on machines without internet). The rate limiter
leaves the files alone because they are served by a `StaticFiles` mount.
"""

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"

REVALIDATE = "no-cache"
"""Browsers keep the files but ask each time whether they changed (answered 304 by ETag):
the file names carry no content hash, so an upgrade must show at the next load."""

PAGE_HEADERS = {
    "Cache-Control": REVALIDATE,
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Only the page's own files and API run or load; the page cannot be framed."""

# Module scripts need a JavaScript type; some systems' MIME tables map `.js` to text/plain.
mimetypes.add_type("text/javascript", ".js")


class PageFiles(StaticFiles):
    """The page's files, revalidated on every load."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = REVALIDATE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


async def _index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


def install_page(app: FastAPI) -> None:
    """Serve the page at `/` (left out of the API's OpenAPI document: it is no API)."""
    app.mount("/static", PageFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", _index, methods=["GET", "HEAD"], include_in_schema=False)
