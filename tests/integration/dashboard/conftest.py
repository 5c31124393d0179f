"""The dashboard served over real HTTP (uvicorn on loopback) on a real SQLite file."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY
from tests.integration.conftest import ServedApp
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.web import app as app_mod

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Dashboard:
    """A browser-like client (cookies, no API key) plus an API client and the store."""

    def __init__(self, url: str, store: sql.SqlMessageStore) -> None:
        self.url = url
        self.store = store
        self.browser = httpx.AsyncClient(base_url=url, timeout=10, follow_redirects=False)
        self.api = httpx.AsyncClient(base_url=url, timeout=10, headers={"X-API-Key": API_KEY})
        self.csrf = ""

    async def sign_in(self, key: str = API_KEY) -> httpx.Response:
        form = await self.browser.get("/signin")
        token = CSRF.search(form.text)
        assert token is not None
        response = await self.browser.post(
            "/signin", data={"api_key": key, "csrf": token[1], "next": "/"}
        )
        if response.status_code == 303:
            page = await self.browser.get("/history")  # any page: a read key has no /compose
            self.csrf = CSRF.search(page.text)[1]  # type: ignore[index]
        return response

    async def close(self) -> None:
        await self.browser.aclose()
        await self.api.aclose()


@pytest.fixture
async def dash(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Dashboard]:
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    app = app_mod.create_app(
        make_settings(database_url=sqlite_url), store=message_store, clock=clock
    )
    async with ServedApp(app) as served:
        client = Dashboard(served.url, message_store)
        try:
            yield client
        finally:
            await client.close()
    await message_store.close()


@pytest.fixture
async def signed_in(dash: Dashboard) -> Dashboard:
    assert (await dash.sign_in()).status_code == 303
    return dash
