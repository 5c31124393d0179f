"""The dashboard says why a message waits (docs/limits.md): the compose page's warning of a
message moved out of quiet hours, and the message page's "deferred until ...: reason", in
English and Turkish."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.conftest import ServedApp
from tests.integration.dashboard.conftest import Dashboard
from tests.integration.dashboard.test_dashboard_pages import _form
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.web import app as app_mod

NIGHT = {"alici": "+905551234567", "tarih": "2026-03-01", "saat": "23:30", "mesaj": "Merhaba"}


@pytest.fixture
async def quiet_dash(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Dashboard]:
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    settings = make_settings(database_url=sqlite_url, quiet_hours="21:00-09:00")
    app = app_mod.create_app(settings, store=message_store, clock=clock)
    async with ServedApp(app) as served:
        client = Dashboard(served.url, message_store)
        try:
            assert (await client.sign_in()).status_code == 303
            yield client
        finally:
            await client.close()
    await message_store.close()


async def test_the_message_page_says_it_waits_for_the_end_of_quiet_hours(quiet_dash):
    answer = await quiet_dash.api.post("/schedule", json=NIGHT | {"id": "night"})
    assert answer.status_code == 200, answer.text
    english = html.unescape(
        (await quiet_dash.browser.get("/message/night", headers={"Accept-Language": "en"})).text
    )
    assert 'data-reason="quiet_hours"' in english
    assert "deferred until 2026-03-02 09:00" in english
    assert "due inside the quiet hours (Europe/Istanbul time)" in english
    turkish = html.unescape(
        (await quiet_dash.browser.get("/message/night", headers={"Accept-Language": "tr"})).text
    )
    assert "saatine ertelendi" in turkish
    assert "sessiz saatler içinde" in turkish


async def test_compose_warns_that_the_message_was_moved(quiet_dash):
    form = _form(NIGHT, quiet_dash.csrf)
    posted = await quiet_dash.browser.post(
        "/compose", data=form, headers={"Accept-Language": "tr"}, follow_redirects=True
    )
    page = html.unescape(posted.text)
    assert 'data-code="quiet_hours"' in page
    assert "sessiz saatler (21:00-09:00) içinde" in page
    assert "2026-03-02 09:00 saatinde gider" in page
