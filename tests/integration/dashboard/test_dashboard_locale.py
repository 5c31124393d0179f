"""Dates, numbers and time left in the reader's language (Babel), over real HTTP: Turkish
pages write days first with dots ("02.03.2026") and "1 gün sonra"; English keeps ISO dates
and says "in 1 day"; no hand-made `22h 00m`."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from tests.integration.test_api_schedule import GOOD
from whatsapp_scheduler.web import i18n


async def test_upcoming_and_the_message_page_in_turkish_and_english(signed_in):
    assert (await signed_in.api.post("/schedule", json=GOOD | {"id": "loc-1"})).status_code == 200
    signed_in.browser.cookies.set("lang", "tr")
    upcoming = (await signed_in.browser.get("/")).text
    assert ">02.03.2026 09:30</a>" in upcoming  # the day as a Turkish reader writes it
    assert ">1 gün sonra</td>" in upcoming  # 21.5 h left: Babel's "1 day"
    page = (await signed_in.browser.get("/message/loc-1")).text
    assert "02.03.2026 09:30 (Europe/Istanbul)" in page
    assert "<time>01.03.2026 12:00:00</time>" in page  # queued at 09:00 UTC, shown in TIMEZONE
    signed_in.browser.cookies.set("lang", "en")
    upcoming = (await signed_in.browser.get("/")).text
    assert ">2026-03-02 09:30</a>" in upcoming
    assert ">in 1 day</td>" in upcoming
    page = (await signed_in.browser.get("/message/loc-1")).text
    assert "<time>2026-03-01 12:00:00</time>" in page


def test_the_words_and_numbers_babel_gives():
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert i18n.time_left(now + timedelta(days=2, hours=3), now, "tr") == "2 gün sonra"
    assert i18n.time_left(now + timedelta(hours=3, minutes=5), now, "en") == "in 3 hours"
    assert i18n.time_left(now + timedelta(seconds=40), now, "tr") == "40 saniye sonra"
    assert i18n.time_left(now - timedelta(seconds=1), now, "en") == ""
    assert i18n.format_number(12345, "tr") == "12.345"
    assert i18n.format_number(12345, "en") == "12,345"
    assert i18n.format_day("2026-12-03T00:00:00.000", "tr") == "03.12.2026"
    assert i18n.format_day("2026-12-03", "en") == "2026-12-03"
    assert i18n.format_day("not a day", "tr") == "not a day"
    assert (
        i18n.format_moment(datetime(2026, 12, 3, 14, 30, 5, tzinfo=UTC), "tr")
        == "03.12.2026 14:30:05"
    )


async def test_the_services_refusals_are_said_in_turkish_with_the_apis_words_below(signed_in):
    signed_in.browser.cookies.set("lang", "tr")
    form = {"csrf": signed_in.csrf, "recipient": "+905551234567", "kind": "text",
            "text": "Merhaba", "date": "2026-03-02", "time": "25:00"}  # fmt: skip
    page = await signed_in.browser.post("/compose", data=form)
    assert page.status_code == 422
    shown = html.unescape(page.text)
    assert "saat: '25:00' geçerli bir saat değil" in shown  # the catalogue's Turkish
    assert "saat: '25:00' is not a real time of day" in shown  # the API's own, small below
    data = b"Telefon;Tarih;Saat;Mesaj\n+905551234567;02.03.2026;25:00;Merhaba\n"
    preview = await signed_in.browser.post(
        "/import/batch",
        data={"csrf": signed_in.csrf, "zone": "Europe/Istanbul"},
        files={"file": ("liste.csv", data, "text/csv")},
    )
    assert "saat: '25:00' geçerli bir saat değil" in html.unescape(preview.text)
    signed_in.browser.cookies.set("lang", "en")
    english = html.unescape((await signed_in.browser.post("/compose", data=form)).text)
    assert "saat: '25:00' is not a real time of day" in english
    assert "geçerli bir saat değil" not in english


async def test_an_opted_out_recipient_in_the_import_preview_is_said_in_turkish(signed_in):
    opted = await signed_in.api.put(
        "/contacts/+905551234567/consent", json={"consent": "opted_out"}
    )
    assert opted.status_code == 200, opted.text
    signed_in.browser.cookies.set("lang", "tr")
    data = b"Telefon;Tarih;Saat;Mesaj\n+905551234567;02.03.2026;10:00;Merhaba\n"
    preview = await signed_in.browser.post(
        "/import/batch",
        data={"csrf": signed_in.csrf, "zone": "Europe/Istanbul"},
        files={"file": ("liste.csv", data, "text/csv")},
    )
    shown = html.unescape(preview.text)
    assert "alici: Alıcı bu numaradan gelen tüm mesajlardan çıktı" in shown
