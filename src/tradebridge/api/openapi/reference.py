"""`/docs`: Swagger UI, served from the pinned `swagger-ui-bundle-v2` package.

A self-hosted gateway often runs where there is no internet (beside a broker's terminal), so
nothing of the reference is fetched from elsewhere: its script, style and icon come from
this server, and its Content-Security-Policy lets nothing else load.
"""

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
REDIRECT_PATH = "/docs/oauth2-redirect"
ASSETS_PATH = "/docs/assets"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Swagger UI's page starts it with an inline script; everything it loads is this server's."""

PARAMETERS = {
    "persistAuthorization": True,  # a reload keeps what was entered under "Authorize"
    "displayRequestDuration": True,
    "tryItOutEnabled": True,
    "validatorUrl": None,  # never send the document to an online validator
}


def install_reference(app: FastAPI, openapi_url: str) -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    async def reference() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API reference",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            oauth2_redirect_url=REDIRECT_PATH,
            swagger_ui_parameters=PARAMETERS,
        )
        page.headers.update(HEADERS)
        return page

    async def oauth2_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers.update(HEADERS)
        return page

    app.add_api_route(DOCS_PATH, reference, methods=["GET"], include_in_schema=False)
    app.add_api_route(REDIRECT_PATH, oauth2_redirect, methods=["GET"], include_in_schema=False)
