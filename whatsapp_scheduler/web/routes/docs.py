"""OpenAPI schema and Swagger UI, behind a key of any scope (read is enough).

Browsers cannot add `X-API-Key` to the Swagger UI's own fetch, so the page is rendered with the
schema inlined: request the page with the header (or a signed-in dashboard session, when that
exists) and the UI works.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.web import deps

CDN = "https://cdn.jsdelivr.net"  # where FastAPI's Swagger UI page loads its files from

router = APIRouter(include_in_schema=False, dependencies=[Depends(deps.require_scope(Scope.READ))])


def _schema(request: Request) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]


@router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(_schema(request))


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="whatsapp-scheduler API")
    html = bytes(page.body).decode()
    inline = json.dumps(_schema(request)).replace("</", "<\\/")
    html = html.replace("url: '/openapi.json'", f"spec: {inline}")
    return HTMLResponse(html, headers={"Content-Security-Policy": _docs_policy(html)})


def _docs_policy(html: str) -> str:
    """The page's own policy: Swagger UI's files from its CDN, its one inline script by hash
    (the schema is inlined, so the hash is computed per page), no other inline script."""
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    )
    return (
        f"default-src 'self'; script-src 'self' {CDN} {hashes}; "
        f"style-src 'self' {CDN} 'unsafe-inline'; img-src 'self' data: https:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
