"""The message page's "Edit" form and "Send now" button (docs/edits.md)."""

from __future__ import annotations

import html

from tests.conftest import START
from whatsapp_scheduler.core.messages import MessageStatus as S

GOOD = {
    "id": "dash-edit-1",
    "alici": "+905551234567",
    "tarih": "2026-03-02",
    "saat": "10:00",
    "mesaj": "Merhaba",
}


async def test_edit_form_changes_the_time_and_text_and_records_the_key(signed_in):
    assert (await signed_in.api.post("/schedule", json=GOOD)).status_code == 200
    page = await signed_in.browser.get("/message/dash-edit-1")
    assert 'id="edit-message"' in page.text
    assert 'id="send-now"' in page.text
    form = await signed_in.browser.get("/message/dash-edit-1/edit")
    assert 'name="tarih"' in form.text
    assert 'value="10:00"' in form.text
    done = await signed_in.browser.post(
        "/message/dash-edit-1/edit",
        data={"csrf": signed_in.csrf, "tarih": "2026-03-03", "saat": "11:30", "mesaj": "Yeni"},
    )
    assert done.status_code == 303, done.text
    stored = await signed_in.store.get("dash-edit-1")
    assert (stored.local_date, stored.local_time, stored.body) == ("2026-03-03", "11:30", "Yeni")
    (edit,) = (await signed_in.api.get("/status/dash-edit-1")).json()["edits"]
    assert set(edit["changes"]) == {"tarih", "saat", "mesaj", "scheduled_at"}


async def test_a_bad_edit_shows_the_rule_and_changes_nothing(signed_in):
    await signed_in.api.post("/schedule", json=GOOD)
    before = await signed_in.store.get("dash-edit-1")
    refused = await signed_in.browser.post(
        "/message/dash-edit-1/edit",
        data={"csrf": signed_in.csrf, "tarih": "2026-02-01", "saat": "10:00", "mesaj": "x"},
    )
    assert refused.status_code == 422
    assert "in the past" in html.unescape(refused.text)
    assert await signed_in.store.get("dash-edit-1") == before


async def test_send_now_makes_it_due_now(signed_in):
    await signed_in.api.post("/schedule", json=GOOD)
    done = await signed_in.browser.post(
        "/message/dash-edit-1/send-now", data={"csrf": signed_in.csrf}
    )
    assert done.status_code == 303, done.text
    stored = await signed_in.store.get("dash-edit-1")
    assert stored.due_at == stored.run_at == START  # the clock's now
    assert stored.local_time == "12:00:00"  # START in Istanbul


async def test_no_edit_once_claimed(signed_in):
    await signed_in.api.post("/schedule", json={**GOOD, "tarih": "2026-03-01", "saat": "12:00:30"})
    await signed_in.store.claim_due(START.replace(minute=5), 10, "w1", START.replace(hour=10))
    refused = await signed_in.browser.post(
        "/message/dash-edit-1/send-now", data={"csrf": signed_in.csrf}
    )
    assert refused.status_code == 409
    assert "can no longer be edited" in html.unescape(refused.text)
    assert (await signed_in.store.get("dash-edit-1")).status == S.SENDING


async def test_no_edit_once_claimed_is_said_in_turkish_with_the_services_words_below(signed_in):
    await signed_in.api.post("/schedule", json={**GOOD, "tarih": "2026-03-01", "saat": "12:00:30"})
    await signed_in.store.claim_due(START.replace(minute=5), 10, "w1", START.replace(hour=10))
    signed_in.browser.cookies.set("lang", "tr")
    refused = await signed_in.browser.post(
        "/message/dash-edit-1/send-now", data={"csrf": signed_in.csrf}
    )
    assert refused.status_code == 409
    shown = html.unescape(refused.text)
    assert "Bu mesajın durumu: gönderiliyor. Artık düzenlenemez." in shown
    assert 'id="edit-error"' not in refused.text  # no English sentence of its own
    assert '<small class="api-text">' in refused.text
