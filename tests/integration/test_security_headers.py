"""Security headers on every answer, the Link header without the Host header, and which proxies'
X-Forwarded-* headers are believed: all over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from tests.integration.test_api_schedule import _msg
from whatsapp_scheduler import server
from whatsapp_scheduler.web import app as app_mod
from whatsapp_scheduler.web import headers, sessions


def _assert_protected(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == headers.CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("GET", "/health", False),
        ("GET", "/signin", False),
        ("GET", "/", False),  # a redirect to /signin
        ("GET", "/static/dashboard.js", False),
        ("GET", "/static/dashboard.css", False),
        ("GET", "/schedule", False),  # 401
        ("GET", "/schedule", True),
        ("GET", "/no/such/path", True),  # 404
        ("POST", "/schedule", True),  # 422
        ("GET", "/metrics", True),
    ],
)
async def test_every_answer_has_the_security_headers(api, method, path, key):
    client = api if key else httpx.AsyncClient(base_url=str(api.base_url), timeout=10)
    try:
        response = await client.request(method, path, json={} if method == "POST" else None)
    finally:
        if not key:
            await client.aclose()
    _assert_protected(response)


async def test_too_large_bodies_have_them_too(api):
    response = await api.post("/schedule", content=b"x" * (200 * 1024))
    assert response.status_code == 413
    _assert_protected(response)


async def test_the_policy_allows_no_inline_script_or_other_origin():
    policy = dict(part.strip().split(" ", 1) for part in headers.CONTENT_SECURITY_POLICY.split(";"))
    for directive in ("default-src", "script-src", "style-src", "connect-src"):
        assert policy[directive] == "'self'", directive
    assert policy["frame-ancestors"] == "'none'"


async def test_docs_allow_only_their_own_inline_script_by_hash(api):
    response = await api.get("/docs")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    inline = re.findall(r"<script>(.*?)</script>", response.text, flags=re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in script_src
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_link_header_never_carries_the_host_header(api):
    batch = {"messages": [_msg(id=f"h{i}", saat=f"10:0{i}") for i in range(3)]}
    assert (await api.post("/schedule/batch", json=batch)).status_code == 200
    response = await api.get("/schedule?limit=2", headers={"Host": "evil.example"})
    link = response.headers["link"]
    assert "evil.example" not in link
    assert link.startswith("</schedule?")
    assert link.endswith('>; rel="next"')
    follow = await api.get(link[1 : link.index(">")])
    assert [m["id"] for m in follow.json()] == ["h2"]


class Served:
    """The app under uvicorn configured as `serve` configures it (server.uvicorn_config)."""

    def __init__(self, settings: Any, app: Any) -> None:
        config = server.uvicorn_config(settings.model_copy(update={"port": 0}), app)
        self.server = uvicorn.Server(config)

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task


@pytest.fixture
async def served(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Any]:
    from whatsapp_scheduler.store import sql

    stores: list[sql.SqlMessageStore] = []

    def start(trusted: str) -> Served:
        settings = make_settings(database_url=sqlite_url, trusted_proxies=trusted)
        stores.append(sql.SqlMessageStore.from_url(sqlite_url))
        return Served(settings, app_mod.create_app(settings, store=stores[-1], clock=clock))

    yield start
    for s in stores:
        await s.close()


async def _signin_cookie(url: str, **headers: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/signin", headers=headers)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    return cookie


@pytest.mark.parametrize(
    ("trusted", "secure"),
    [("", False), ("10.1.2.3", False), ("127.0.0.1", True), ("10.0.0.0/8,127.0.0.0/8", True)],
)
async def test_forwarded_proto_is_believed_only_from_trusted_proxies(served, trusted, secure):
    """Without TRUSTED_PROXIES even loopback is not believed (uvicorn alone would)."""
    async with served(trusted) as url:
        assert "Secure" not in await _signin_cookie(url)
        proxied = await _signin_cookie(url, **{"X-Forwarded-Proto": "https"})
        assert ("Secure" in proxied) is secure


async def test_throttle_counts_the_forwarded_client_only_behind_a_trusted_proxy(served):
    """Behind a trusted proxy each browser has its own count; a direct client cannot pick one."""
    from tests.integration.dashboard.conftest import CSRF

    async def wrong_key(client: httpx.AsyncClient, address: str) -> int:
        form = await client.get("/signin")
        token = CSRF.search(form.text)
        assert token is not None
        response = await client.post(
            "/signin",
            data={"api_key": "w" * 30, "csrf": token[1]},
            headers={"X-Forwarded-For": address},
        )
        return response.status_code

    for trusted, expected in (("127.0.0.1", [401] * 12), ("", [401] * 10 + [429] * 2)):
        async with served(trusted) as url, httpx.AsyncClient(base_url=url) as client:
            codes = [await wrong_key(client, f"203.0.113.{n}") for n in range(12)]
        assert codes == expected, trusted


def test_trusted_proxies_are_checked_at_start_up(make_settings):
    with pytest.raises(ValueError, match=r"TRUSTED_PROXIES: 'proxy\.local' is not an IP"):
        make_settings(trusted_proxies="10.0.0.1, proxy.local")
    assert make_settings(trusted_proxies=" 10.0.0.1 , * ").trusted_proxies == "10.0.0.1,*"


async def test_swagger_ui_files_come_from_this_server(api):
    page = await api.get("/docs")
    assert "cdn." not in page.text
    policy = page.headers["content-security-policy"]
    assert "https:" not in policy
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        served = await api.get(f"/docs/assets/{asset}", headers={"X-API-Key": ""})
        assert served.status_code == 200
        assert len(served.content) > 10_000


async def test_a_browser_without_a_key_is_sent_to_sign_in_and_a_client_gets_401(api):
    browser = await api.get("/docs", headers={"X-API-Key": "", "Accept": "text/html"})
    assert browser.status_code == 303
    assert browser.headers["location"] == "/signin?next=%2Fdocs"
    client = await api.get("/docs", headers={"X-API-Key": ""})
    assert client.status_code == 401
    schema = await api.get("/openapi.json", headers={"X-API-Key": ""})
    assert schema.status_code == 401
