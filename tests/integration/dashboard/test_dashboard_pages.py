"""Dashboard pages over real HTTP: compose (the API's own validation messages), upcoming,
cancel with confirmation, history filters and paging, the message page, languages."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START, MakeMessage
from tests.integration.dashboard.conftest import Dashboard
from whatsapp_scheduler import store
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.core.messages import AttemptOutcome, SentAs
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.web import i18n

GOOD = {"alici": "+905551234567", "tarih": "2026-03-02", "saat": "10:00", "mesaj": "Merhaba"}


def _form(api_body: dict[str, str], csrf: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "recipient": api_body.get("alici", ""),
        "date": api_body.get("tarih", ""),
        "time": api_body.get("saat", ""),
        "text": api_body.get("mesaj", ""),
        "zone": api_body.get("timezone", ""),
    }


@pytest.mark.parametrize(
    "change",
    [
        {"alici": "12"},
        {"alici": "+90555"},
        {"tarih": "2026-02-30"},
        {"tarih": "2020-01-01"},
        {"saat": "25:00"},
        {"mesaj": "   "},
        {"mesaj": "x" * 4097},
        {"timezone": "Mars/Olympus"},
        {"timezone": "Europe/Berlin", "tarih": "2026-03-29", "saat": "02:30"},
    ],
)
async def test_compose_shows_the_same_validation_message_as_the_api(signed_in, change):
    body = {**GOOD, "timezone": "Europe/Istanbul", **change}
    api = await signed_in.api.post("/schedule", json=body)
    assert api.status_code == 422
    detail = api.json()["detail"]
    page = await signed_in.browser.post("/compose", data=_form(body, signed_in.csrf))
    assert page.status_code == 422
    shown = re.search(r'id="compose-error"[^>]*>([^<]*)<', page.text)
    assert shown is not None
    assert html.unescape(shown[1]) == detail
    assert 'aria-invalid="true"' in page.text


async def test_composed_message_is_upcoming_and_cancelled_after_confirmation(signed_in):
    page = await signed_in.browser.post("/compose", data=_form(GOOD, signed_in.csrf))
    assert page.status_code == 303
    message_id = page.headers["location"].split("created=")[1]
    upcoming = await signed_in.browser.get(page.headers["location"])
    assert f'data-id="{message_id}"' in upcoming.text
    assert "1 messages" in upcoming.text
    # Time left in words (Babel): due 2026-03-02 07:00 UTC, now 03-01 09:00: 22 h, 0.92 of a day.
    assert ">in 1 day</td>" in upcoming.text
    confirm = await signed_in.browser.get(f"/message/{message_id}/cancel")
    assert "Cancel this message?" in confirm.text
    done = await signed_in.browser.post(
        f"/message/{message_id}/cancel", data={"csrf": signed_in.csrf}
    )
    assert done.status_code == 303
    assert (await signed_in.store.get(message_id)).status == S.CANCELLED
    again = await signed_in.browser.post(
        f"/message/{message_id}/cancel", data={"csrf": signed_in.csrf}
    )
    assert again.status_code == 303  # cancelling twice is harmless, as in the API


def _form_id(page_text: str) -> str:
    found = re.search(r'<input type="hidden" name="id" value="([^"]+)">', page_text)
    assert found is not None, "the compose form carries no id"
    return found[1]


async def test_submitting_one_compose_form_twice_stores_one_message(signed_in):
    shown = await signed_in.browser.get("/compose")
    form = {**_form(GOOD, signed_in.csrf), "id": _form_id(shown.text)}
    first, second = [await signed_in.browser.post("/compose", data=form) for _ in range(2)]
    assert first.status_code == second.status_code == 303  # the double click lands on the list
    assert first.headers["location"] == second.headers["location"]
    stored = await signed_in.store.list(MessageQuery())
    assert [m.id for m in stored.items] == [form["id"]]
    # Two forms shown are two messages.
    other = await signed_in.browser.get("/compose")
    assert _form_id(other.text) != form["id"]


async def test_a_used_form_sent_again_with_other_values_stores_nothing_and_says_so(signed_in):
    shown = await signed_in.browser.get("/compose")
    form = {**_form(GOOD, signed_in.csrf), "id": _form_id(shown.text)}
    assert (await signed_in.browser.post("/compose", data=form)).status_code == 303
    changed = await signed_in.browser.post("/compose", data={**form, "text": "Başka bir metin"})
    assert changed.status_code == 409
    assert "already scheduled message" in html.unescape(changed.text)
    assert _form_id(changed.text) != form["id"]  # the form shown again is a new one
    stored = await signed_in.store.get(form["id"])
    assert stored.body == GOOD["mesaj"]  # the first message is unchanged
    retry = await signed_in.browser.post(
        "/compose", data={**form, "text": "Başka bir metin", "id": _form_id(changed.text)}
    )
    assert retry.status_code == 303


async def test_a_sent_message_cannot_be_cancelled_from_the_dashboard(signed_in, make_message):
    message = make_message(status=S.SENT)
    await signed_in.store.add(message)
    response = await signed_in.browser.post(
        f"/message/{message.id}/cancel", data={"csrf": signed_in.csrf}
    )
    assert response.status_code == 409
    assert "can no longer be cancelled" in html.unescape(response.text)
    signed_in.browser.cookies.set("lang", "tr")
    turkish = await signed_in.browser.post(
        f"/message/{message.id}/cancel", data={"csrf": signed_in.csrf}
    )
    assert turkish.status_code == 409
    shown = html.unescape(turkish.text)
    tr = i18n.TEXTS["tr"]
    assert tr["cancel.too_late"].format(status=tr["status.sent"]) in shown
    assert 'id="cancel-refused"' in turkish.text
    signed_in.browser.cookies.set("lang", "en")


async def _history(
    signed_in: Dashboard, make_message: MakeMessage, count: int = 120
) -> list[messages.ScheduledMessage]:
    statuses = [S.SENT, S.DELIVERED, S.READ, S.FAILED, S.CANCELLED]
    made = [
        make_message(
            due_at=START + timedelta(hours=i),
            status=statuses[i % 5],
            recipient="+16505551234" if i % 10 == 0 else "+905551234567",
        )
        for i in range(count)
    ]
    await signed_in.store.add_many(made)
    return made


def _ids(page_html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', page_html)


async def test_history_pages_newest_first_with_a_cursor(signed_in, make_message):
    made = await _history(signed_in, make_message)
    newest = [m.id for m in sorted(made, key=lambda m: m.due_at, reverse=True)]
    first = await signed_in.browser.get("/history")
    assert _ids(first.text) == newest[:50]
    assert "120 messages" in first.text
    found = re.search(r'cursor=([^"&]+)" rel="next"', first.text)
    assert found is not None
    cursor = found[1]
    second = await signed_in.browser.get(f"/history?cursor={cursor}")
    assert _ids(second.text) == newest[50:100]


async def test_history_filters_by_status_recipient_and_date(signed_in, make_message):
    made = await _history(signed_in, make_message)
    failed = await signed_in.browser.get("/history?status=failed")
    assert sorted(_ids(failed.text)) == sorted(m.id for m in made if m.status == S.FAILED)
    by_recipient = await signed_in.browser.get("/history?recipient=%2B1+650-555-1234")
    assert sorted(_ids(by_recipient.text)) == sorted(
        m.id for m in made if m.recipient == "+16505551234"
    )
    # 2026-03-02 in Europe/Istanbul is 2026-03-01 21:00 to 2026-03-02 21:00 UTC
    day = await signed_in.browser.get("/history?date_from=2026-03-02&date_to=2026-03-02")
    expected = [m.id for m in made if 12 <= (m.due_at - START).total_seconds() / 3600 < 36]
    assert sorted(_ids(day.text)) == sorted(expected)
    bad = await signed_in.browser.get("/history?recipient=abc")
    assert "recipient: &#39;abc&#39; is not a phone number" in bad.text


async def test_history_filters_by_sender_and_names_each_rows_sender(signed_in, make_message):
    made = [
        make_message(due_at=START + timedelta(hours=i), status=S.SENT, sender=sender)
        for i, sender in enumerate(["default", "shop", "shop", "ankara"])
    ]
    await signed_in.store.add_many(made)
    everyone = await signed_in.browser.get("/history")
    assert sorted(_ids(everyone.text)) == sorted(m.id for m in made)
    assert '<td data-label="Sender">shop</td>' in everyone.text
    shop = await signed_in.browser.get("/history?gonderen=shop")
    assert sorted(_ids(shop.text)) == sorted(m.id for m in made if m.sender == "shop")
    assert '<option value="shop" selected>shop</option>' in shop.text
    bad = await signed_in.browser.get("/history?gonderen=Not+A+Name")
    assert 'data-field="gonderen"' in bad.text
    assert _ids(bad.text) == []


async def _one_attempt(signed_in: Dashboard, make_message: MakeMessage, **outcome: Any) -> str:
    """A message sent once, with `outcome` recorded for that attempt; returns its id."""
    message = make_message(due_at=START)
    await signed_in.store.add(message)
    await signed_in.store.claim_due(START, 1, "w1", START + timedelta(minutes=1))
    recorded = store.Outcome(message_id=message.id, worker="w1", finished_at=START, **outcome)
    assert await signed_in.store.record([recorded]) == 1
    return message.id


async def test_message_page_explains_meta_error_codes(signed_in, make_message):
    message_id = await _one_attempt(
        signed_in,
        make_message,
        status=S.FAILED,
        attempt=AttemptOutcome.FAILED,
        error_code=131047,
        error_text="Re-engagement message",
        http_status=400,
    )
    page = await signed_in.browser.get(f"/message/{message_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "the 24-hour window is closed" in text.lower()
    assert "only a template message can reach them" in text
    assert "Re-engagement message" in text
    assert 'data-transition="failed"' in text
    turkish = await signed_in.browser.get(
        f"/message/{message_id}", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.5"}
    )
    assert "24 saatlik pencere kapandı" in html.unescape(turkish.text)


TR = {"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.5"}


async def test_a_message_out_of_attempts_says_so_and_not_that_it_will_be_retried(
    signed_in, make_message
):
    message = make_message(due_at=START)
    await signed_in.store.add(message)
    for attempt in range(1, 6):  # five 5xx answers (Meta's code 2), the last one final
        at = START + timedelta(minutes=attempt)
        await signed_in.store.claim_due(at, 1, "w1", at + timedelta(minutes=1))
        final = attempt == 5
        outcome = store.Outcome(
            message_id=message.id,
            worker="w1",
            status=S.FAILED if final else S.QUEUED,
            finished_at=at,
            attempt=AttemptOutcome.RETRY,
            run_at=None if final else at,
            error_code=2,
            error_text=("attempts exhausted (5): " if final else "") + "Service unavailable",
            http_status=503,
        )
        assert await signed_in.store.record([outcome]) == 1
    page = html.unescape((await signed_in.browser.get(f"/message/{message.id}")).text)
    assert '<strong class="code">Meta code 2</strong> attempts exhausted (5)' in page
    assert 'id="gave-up"' in page
    box = re.search(r'id="last-error">(.*?)</dd>', page, flags=re.DOTALL)
    assert box is not None
    assert "retried later" not in box[1]  # code 2's own words, untrue for this message now
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.DOTALL)
    assert "retried later" in rows[-2]  # true of the attempts before the last...
    assert "retried later" not in rows[-1]  # ... not of the last one
    assert page.count('data-outcome="retry"') == 4
    assert page.count('data-outcome="final"') == 1
    assert "failed: no attempts left" in page
    turkish = html.unescape(
        (await signed_in.browser.get(f"/message/{message.id}", headers=TR)).text
    )
    assert "Meta kodu 2" in turkish
    assert "başarısız: deneme hakkı kalmadı" in turkish
    turkish_box = re.search(r'id="last-error">(.*?)</dd>', turkish, flags=re.DOTALL)
    assert turkish_box is not None
    assert "daha sonra yeniden denenir" not in turkish_box[1]


async def test_a_message_refused_after_meta_took_it_shows_both(signed_in, make_message):
    message_id = await _one_attempt(
        signed_in, make_message, status=S.SENT, attempt=AttemptOutcome.SENT,
        wamid="wamid.LATE", http_status=200,
    )  # fmt: skip
    failed = store.Receipt(
        wamid="wamid.LATE", status=S.FAILED, occurred_at=START + timedelta(seconds=5),
        error_code=131047, error_text="Re-engagement message",
    )  # fmt: skip
    await signed_in.store.apply_receipts([failed], START + timedelta(seconds=6))
    page = html.unescape((await signed_in.browser.get(f"/message/{message_id}")).text)
    assert 'data-outcome="sent"' in page
    assert "accepted by Meta" in page
    assert "Meta took it" in page  # not an empty answer
    assert "Meta code 131047" in page
    assert 'id="gave-up"' not in page


async def test_a_queued_message_that_failed_before_says_when_it_is_tried_next(
    signed_in, make_message
):
    message = make_message(due_at=START)
    await signed_in.store.add(message)
    await signed_in.store.claim_due(START, 1, "w1", START + timedelta(minutes=1))
    retry = store.Outcome(
        message_id=message.id, worker="w1", status=S.QUEUED, finished_at=START,
        attempt=AttemptOutcome.RETRY, run_at=START + timedelta(days=1), error_code=2,
        error_text="Service unavailable", http_status=503,
    )  # fmt: skip
    assert await signed_in.store.record([retry]) == 1
    page = html.unescape((await signed_in.browser.get(f"/message/{message.id}")).text)
    assert 'id="retrying"' in page
    assert "retrying: next try at" in page
    assert 'data-outcome="retry"' in page


async def test_the_cancel_page_offers_no_cancel_for_a_message_already_read(signed_in, make_message):
    message = make_message(status=S.READ)
    await signed_in.store.add(message)
    page = await signed_in.browser.get(f"/message/{message.id}/cancel")
    assert page.status_code == 200
    assert 'id="confirm-cancel"' not in page.text
    assert "can no longer be cancelled" in html.unescape(page.text)
    turkish = await signed_in.browser.get(f"/message/{message.id}/cancel", headers=TR)
    assert "Artık iptal edilemez." in html.unescape(turkish.text)


async def test_message_page_says_when_the_fallback_template_went_out(signed_in, make_message):
    message_id = await _one_attempt(
        signed_in,
        make_message,
        status=S.SENT,
        attempt=AttemptOutcome.SENT,
        wamid="wamid.FALLBACK",
        http_status=200,
        sent_as=SentAs.FALLBACK_TEMPLATE,
    )
    page = await signed_in.browser.get(f"/message/{message_id}")
    assert 'data-sent-as="fallback_template"' in page.text
    assert "fallback template (24-hour window closed)" in page.text
    turkish = await signed_in.browser.get(
        f"/message/{message_id}", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.5"}
    )
    assert "yedek şablon (24 saatlik pencere kapalı)" in html.unescape(turkish.text)


async def test_language_follows_accept_language_and_the_switch_cookie(signed_in):
    english = await signed_in.browser.get("/", headers={"Accept-Language": "de, en;q=0.5"})
    assert "Upcoming messages" in english.text
    turkish = await signed_in.browser.get("/", headers={"Accept-Language": "tr"})
    assert "Bekleyen mesajlar" in turkish.text
    assert '<html lang="tr">' in turkish.text
    switched = await signed_in.browser.get("/lang/en?next=/history")
    assert switched.headers["location"] == "/history"
    back = await signed_in.browser.get("/", headers={"Accept-Language": "tr"})
    assert "Upcoming messages" in back.text  # the cookie wins


async def test_compose_page_offers_zones_and_counter(signed_in):
    page = await signed_in.browser.get("/compose")
    # The default zone chosen, each labelled with its offset now (START: March, no DST),
    # the common ones first and every zone once more by offset (chosen only once).
    assert '<option value="Europe/Istanbul" selected>Europe/Istanbul (UTC+03:00)</option>' in (
        page.text
    )
    assert page.text.count(" selected>") == 1
    assert '<option value="America/New_York" >America/New_York (UTC-05:00)</option>' in page.text
    assert '<option value="Asia/Kolkata" >Asia/Kolkata (UTC+05:30)</option>' in page.text
    assert page.text.index("Pacific/Pago_Pago") < page.text.index('"Asia/Kolkata" >Asia')
    assert 'data-max="4096"' in page.text
    assert 'id="kind-template"' in page.text  # text | template (test_dashboard_templates.py)


async def test_history_exports_every_page_of_its_filters_as_csv(signed_in, make_message):
    made = await _history(signed_in, make_message, count=120)
    failed = sorted((m for m in made if m.status == S.FAILED), key=lambda m: m.due_at)
    page = await signed_in.browser.get("/history?status=failed")
    assert 'href="/history.csv?status=failed&amp;' in page.text
    export = await signed_in.browser.get("/history.csv?status=failed")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["id", "status", "recipient", "sender"]
    assert [r[0] for r in rows[1:]] == [m.id for m in reversed(failed)]  # newest first
    assert {r[1] for r in rows[1:]} == {"failed"}
    everything = await signed_in.browser.get("/history.csv")
    assert len(everything.content.decode("utf-8-sig").splitlines()) == 1 + len(made)  # > 1 page
    turkish = await signed_in.browser.get("/history.csv?status=failed", headers=TR)
    assert turkish.content.decode("utf-8-sig").splitlines()[0].startswith("id;status;recipient")
    bad = await signed_in.browser.get("/history.csv?date_to=9999-12-31")
    assert bad.status_code == 422
    assert "date_to" in bad.json()["detail"]


async def test_upcoming_filters_by_recipient_sender_and_date_like_history(signed_in, make_message):
    made = [
        make_message(
            due_at=START + timedelta(days=2 + i),
            recipient="+16505551234" if i % 3 == 0 else "+905551234567",
            sender="shop" if i % 2 else "default",
        )
        for i in range(9)
    ]
    for message in made:
        await signed_in.store.add(message)
    everything = await signed_in.browser.get("/")
    assert sorted(_ids(everything.text)) == sorted(m.id for m in made)
    by_phone = await signed_in.browser.get("/?recipient=%2B16505551234")
    assert sorted(_ids(by_phone.text)) == sorted(m.id for m in made if m.recipient[1] == "1")
    by_sender = await signed_in.browser.get("/?gonderen=shop")
    assert sorted(_ids(by_sender.text)) == sorted(m.id for m in made if m.sender == "shop")
    last_day = (START + timedelta(days=10)).date().isoformat()
    by_day = await signed_in.browser.get(f"/?date_from={last_day}&date_to={last_day}")
    assert _ids(by_day.text) == [made[-1].id]
    bad = await signed_in.browser.get("/?recipient=12")
    assert bad.status_code == 422
    assert 'data-field="recipient"' in bad.text


async def test_compose_makes_a_series_from_a_repeat_choice_or_a_rule(signed_in):
    """Repeat (docs/series.md): a preset is the rule read from the date (weekly: its weekday),
    a custom rule goes to the service as `tekrar`, and a bad one is shown with its rule."""
    import html as html_mod

    weekly = _form(GOOD, signed_in.csrf) | {"repeat": "weekly", "id": "form-weekly"}
    page = await signed_in.browser.post("/compose", data=weekly)
    assert page.status_code == 303, page.text
    series = (await signed_in.api.get("/series/form-weekly")).json()
    assert (series["tekrar"], series["status"]) == ("FREQ=WEEKLY", "active")
    # 2026-03-02 is a Monday: the next ones are Mondays at 10:00
    assert [o["id"].split("@")[1] for o in series["next_occurrences"][:2]] == [
        "20260302T100000",
        "20260309T100000",
    ]
    custom = _form(GOOD, signed_in.csrf) | {
        "repeat": "custom",
        "rule": "FREQ=MONTHLY;BYMONTHDAY=2;COUNT=3",
        "id": "form-custom",
    }
    assert (await signed_in.browser.post("/compose", data=custom)).status_code == 303
    made = (await signed_in.api.get("/series/form-custom")).json()
    assert made["tekrar"] == "FREQ=MONTHLY;BYMONTHDAY=2;COUNT=3"
    bad = _form(GOOD, signed_in.csrf) | {"repeat": "custom", "rule": "FREQ=SOMETIMES"}
    refused = await signed_in.browser.post("/compose", data=bad)
    assert refused.status_code == 422
    assert 'id="rule"' in refused.text
    assert "RRULE" in html_mod.unescape(refused.text)
    once = await signed_in.browser.post("/compose", data=_form(GOOD, signed_in.csrf))
    assert once.status_code == 303  # no repeat: one message, no series
