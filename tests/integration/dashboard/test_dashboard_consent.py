"""The dashboard's compose page says why a message to an opted-out contact is refused, in
English and Turkish, beside the API's own text (docs/consent.md)."""

from __future__ import annotations

import html

from tests.integration.dashboard.test_dashboard_pages import GOOD, _form


async def test_compose_refusal_for_an_opted_out_contact_in_both_languages(signed_in):
    put = await signed_in.api.put(
        f"/contacts/{GOOD['alici']}/consent", json={"consent": "opted_out"}
    )
    assert put.status_code == 200, put.text
    api = await signed_in.api.post("/schedule", json=GOOD)
    assert api.status_code == 422
    form = _form(GOOD, signed_in.csrf)
    english = await signed_in.browser.post("/compose", data=form, headers={"Accept-Language": "en"})
    assert english.status_code == 422
    text = html.unescape(english.text)
    assert "The recipient opted out of all messages from this number" in text
    assert "source: api" in text
    assert api.json()["detail"] in text  # the API's own words too
    turkish = await signed_in.browser.post(
        "/compose", data=form, headers={"Accept-Language": "tr-TR,tr;q=0.9"}
    )
    assert "Alıcı bu numaradan gelen tüm mesajlardan çıktı" in html.unescape(turkish.text)
    assert (await signed_in.api.get("/schedule")).json() == []  # nothing was stored
