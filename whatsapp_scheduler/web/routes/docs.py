"""OpenAPI schema and Swagger UI, behind a key of any scope (read is enough).

Browsers cannot add `X-API-Key` to the Swagger UI's own fetch, so the page is rendered with the
schema inlined: request the page with the header (or a signed-in dashboard session) and the UI
works. A browser without either is sent to the dashboard's sign-in, which comes back here.

Swagger UI's own files (JavaScript, CSS, icon) are served from the package `fastapi-swagger`
(a pinned release of swagger-ui-dist), under `/docs/assets/`, so /docs works on a closed
network; they are the public Swagger UI files, so they need no key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.web import deps

#: Where Swagger UI's files are served from (the package `fastapi_swagger`'s `resources`).
ASSETS = "/docs/assets"

router = APIRouter(include_in_schema=False)


def install_assets(app: FastAPI) -> None:
    """Serve Swagger UI's files from the package (no CDN: /docs works with no network)."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_swagger", "resources")]), name="docs-assets")


def _schema(request: Request) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]


@router.get("/openapi.json", dependencies=[Depends(deps.require_scope(Scope.READ))])
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(_schema(request))


@router.get("/docs")
async def docs(request: Request, who: deps.OptionalPrincipalDep) -> Response:
    if who is None:
        if "text/html" in request.headers.get("accept", ""):  # a browser: sign in first
            return RedirectResponse(f"/signin?next={quote('/docs', safe='')}", status_code=303)
        raise deps.Unauthorized()
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="whatsapp-scheduler API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )
    html = bytes(page.body).decode()
    inline = json.dumps(_schema(request)).replace("</", "<\\/")
    html = html.replace("url: '/openapi.json'", f"spec: {inline}")
    return HTMLResponse(html, headers={"Content-Security-Policy": _docs_policy(html)})


def _docs_policy(html: str) -> str:
    """The page's own policy: Swagger UI's files from this server, its one inline script by
    hash (the schema is inlined, so the hash is computed per page), no other inline script."""
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
