"""Compose's window hint over real HTTP: before anything is scheduled, the recipient's 24-hour
window with the sender (never written, open until when, closed since when) and an opt-out, in
the reader's language; a number that is not one is a 422."""

from __future__ import annotations

import html
from datetime import timedelta

from tests.conftest import START

PHONE = "+905551234567"


async def _hint(dash, phone: str = PHONE, lang: str = "en"):
    return await dash.browser.get(
        "/dashboard/api/window", params={"alici": phone}, headers={"Accept-Language": lang}
    )


async def test_the_hint_follows_the_recipients_window_and_consent(signed_in):
    never = (await _hint(signed_in)).json()
    assert never["state"] == "closed"
    assert never["last"] is None
    assert "never written" in never["text"]
    assert "hiç yazmadılar" in (await _hint(signed_in, lang="tr")).json()["text"]
    # They write (as Meta's webhook would record it), one hour before now (START).
    await signed_in.store.record_inbound([("905551234567", START - timedelta(hours=1))])
    opened = (await _hint(signed_in)).json()
    assert opened["state"] == "open"
    assert opened["until"].startswith("2026-03-02T08:00:00")  # 24 h after they wrote
    assert "open until 2026-03-02 11:00" in opened["text"]  # in the dashboard's zone
    await signed_in.store.record_inbound([("905559876543", START - timedelta(hours=30))])
    closed = (await _hint(signed_in, "+905559876543")).json()
    assert (closed["state"], closed["until"]) == ("closed", None)
    assert "closed (they last wrote at 2026-02-28 06:00)" in closed["text"]
    stop = await signed_in.api.put(f"/contacts/{PHONE}/consent", json={"consent": "opted_out"})
    assert stop.status_code == 200, stop.text
    out = (await _hint(signed_in)).json()
    assert out["state"] == "opted_out"
    page = html.unescape((await signed_in.browser.get("/compose")).text)
    assert 'id="window-state"' in page


async def test_a_bad_number_is_a_422_and_the_hint_needs_a_session(signed_in, dash):
    bad = await _hint(signed_in, "not-a-number")
    assert bad.status_code == 422
    assert "alici" in bad.json()["detail"] or "phone" in bad.json()["detail"]
    signed_in.browser.cookies.clear()
    refused = await _hint(signed_in)
    assert refused.status_code in {303, 401}
