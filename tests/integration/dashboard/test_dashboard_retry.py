"""Retry, send as a template instead, duplicate, over real HTTP on a real SQLite file.

A retry is one new message (`<id>:retry<n>`) even when its form is sent twice, the failed row
stays exactly as it was, and each page links to the other; "send as a template" exists only
for a 131047 failure; duplicate opens compose filled in; bulk retry from History."""

from __future__ import annotations

import html
import re
import sqlite3
from typing import Any

import sqlalchemy as sa

from tests.integration.dashboard.test_dashboard_catalogue import _sync, synced_dash  # noqa: F401
from tests.integration.test_api_schedule import GOOD
from whatsapp_scheduler.store import tables
from whatsapp_scheduler.web import i18n

EN = i18n.TEXTS["en"]


def _db(sqlite_url: str) -> sqlite3.Connection:
    return sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))


async def _failed(dash: Any, sqlite_url: str, message_id: str, code: int = 131026, **extra: Any):
    body = GOOD | {"id": message_id} | extra
    assert (await dash.api.post("/schedule", json=body)).status_code == 200, body
    with _db(sqlite_url) as db:
        db.execute(
            "UPDATE messages SET status = 'failed', attempts = 1, last_error_code = ?,"
            " last_error_text = 'Message undeliverable', failed_at = updated_at WHERE id = ?",
            (code, message_id),
        )


def _row(dash: Any, message_id: str) -> dict[str, Any]:
    with dash.store._engine.begin() as conn:
        found = conn.execute(
            sa.select(tables.messages).where(tables.messages.c.id == message_id)
        ).one()
    return dict(found._mapping)


def _count(dash: Any) -> int:
    with dash.store._engine.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tables.messages)).scalar())


async def test_retry_makes_one_new_message_even_on_a_double_submit(signed_in, sqlite_url, clock):
    await _failed(signed_in, sqlite_url, "f-1")
    before = _row(signed_in, "f-1")
    page = await signed_in.browser.get("/message/f-1")
    assert 'id="retry-message"' in page.text
    assert 'id="as-template"' not in page.text  # 131026 is not a closed window
    form = await signed_in.browser.get("/message/f-1/retry")
    assert form.status_code == 200
    assert 'name="n" value="1"' in form.text
    data = {"csrf": signed_in.csrf, "n": "1", "when": "now"}
    first = await signed_in.browser.post("/message/f-1/retry", data=data)
    clock.advance(3)  # the second click a moment later: "now" is another second
    second = await signed_in.browser.post("/message/f-1/retry", data=data)
    assert first.status_code == second.status_code == 303, second.text
    assert (
        first.headers["location"] == second.headers["location"] == "/message/f-1:retry1?retried=1"
    )
    assert _count(signed_in) == 2  # the failed one and exactly one retry
    assert _row(signed_in, "f-1") == before  # the failed row and its history unchanged
    new = _row(signed_in, "f-1:retry1")
    assert new["status"] == "queued"
    assert (new["recipient"], new["body"], new["sender"], new["timezone"]) == (
        before["recipient"], before["body"], before["sender"], before["timezone"],
    )  # fmt: skip
    assert new["saat"] == "12:00:00"  # due now: 09:00 UTC in Istanbul, when it was first sent
    shown = await signed_in.browser.get(first.headers["location"])
    assert 'data-retry-of="f-1"' in shown.text
    assert EN["retry.made"] in html.unescape(shown.text)
    original = await signed_in.browser.get("/message/f-1")
    assert 'data-retry="f-1:retry1"' in original.text
    # The next retry (a new form) is number 2.
    again = await signed_in.browser.get("/message/f-1/retry")
    assert 'name="n" value="2"' in again.text


async def test_retry_at_a_chosen_time_goes_through_the_services_rules(signed_in, sqlite_url):
    await _failed(signed_in, sqlite_url, "f-2")
    past = {"csrf": signed_in.csrf, "n": "1", "when": "at", "tarih": "2020-01-01", "saat": "10:00"}
    refused = await signed_in.browser.post("/message/f-2/retry", data=past)
    assert refused.status_code == 422
    assert 'id="retry-error"' in refused.text
    assert "past" in html.unescape(refused.text)
    assert _count(signed_in) == 1  # nothing stored
    later = past | {"tarih": "2026-03-05", "saat": "10:15"}
    made = await signed_in.browser.post("/message/f-2/retry", data=later)
    assert made.status_code == 303
    new = _row(signed_in, "f-2:retry1")
    assert (new["tarih"][:10], new["saat"][:5]) == ("2026-03-05", "10:15")


async def test_only_a_failed_message_is_retried(signed_in):
    assert (await signed_in.api.post("/schedule", json=GOOD | {"id": "q-1"})).status_code == 200
    page = await signed_in.browser.get("/message/q-1")
    assert 'id="retry-message"' not in page.text
    form = await signed_in.browser.get("/message/q-1/retry")
    assert form.status_code == 409
    assert "Only a failed message can be retried; this one is queued." in html.unescape(form.text)
    posted = await signed_in.browser.post(
        "/message/q-1/retry", data={"csrf": signed_in.csrf, "n": "1", "when": "now"}
    )
    assert posted.status_code == 409
    assert _count(signed_in) == 1
    forged = await signed_in.browser.post("/message/q-1/retry", data={"n": "1"})
    assert forged.status_code == 403  # no CSRF token


async def test_bulk_retry_from_history_asks_then_retries_each_once(signed_in, sqlite_url):
    await _failed(signed_in, sqlite_url, "b-1")
    await _failed(signed_in, sqlite_url, "b-2", saat="09:45")
    assert await signed_in.api.post("/schedule", json=GOOD | {"id": "b-3", "saat": "10:00"})
    with _db(sqlite_url) as db:
        db.execute("UPDATE messages SET status = 'sent' WHERE id = 'b-3'")
    history = await signed_in.browser.get("/history")
    boxes = re.findall(r'name="id" value="([^"]+)" form="bulk-retry"', history.text)
    assert sorted(boxes) == ["b-1", "b-2"]  # only the failed ones can be chosen
    ask = await signed_in.browser.post(
        "/bulk/retry", data={"csrf": signed_in.csrf, "id": ["b-1", "b-2", "b-3"]}
    )
    assert ask.status_code == 200
    assert EN["bulk_retry.question"].format(n=2) in html.unescape(ask.text)
    assert _count(signed_in) == 3  # asking stored nothing
    pairs = re.findall(
        r'name="id" value="([^"]+)"><input type="hidden" name="n" value="(\d+)"', ask.text
    )
    assert pairs == [("b-1", "1"), ("b-2", "1")]
    confirm = {"csrf": signed_in.csrf, "confirm": "yes", "id": [p[0] for p in pairs],
               "n": [p[1] for p in pairs]}  # fmt: skip
    done = await signed_in.browser.post("/bulk/retry", data=confirm)
    again = await signed_in.browser.post("/bulk/retry", data=confirm)  # sent twice
    assert done.status_code == again.status_code == 200
    assert EN["bulk_retry.done"].format(made=2, refused=0) in html.unescape(done.text)
    assert _count(signed_in) == 5
    none = await signed_in.browser.post("/bulk/retry", data={"csrf": signed_in.csrf})
    assert none.status_code == 303
    assert 'id="bulk-none"' in (await signed_in.browser.get(none.headers["location"])).text
    for original in ("b-1", "b-2"):
        assert (await signed_in.api.get(f"/status/{original}:retry1")).json()["status"] == "queued"
        assert (await signed_in.api.get(f"/status/{original}")).json()["status"] == "failed"


async def test_send_as_template_only_after_131047(synced_dash, sqlite_url):  # noqa: F811
    dash = synced_dash
    await _sync(dash)
    await _failed(dash, sqlite_url, "w-1", code=131047)
    await _failed(dash, sqlite_url, "w-2", code=131026, saat="09:45")
    page = await dash.browser.get("/message/w-1")
    assert 'id="as-template"' in page.text
    form = await dash.browser.get("/message/w-1/as-template")
    assert form.status_code == 200
    assert 'value="randevu_hatirlatma|tr"' in form.text  # an approved template of the sender
    # What it says and takes, to fill its parameters in.
    assert "Merhaba {{1}}, randevunuz yarın saat {{2}}." in html.unescape(form.text)
    assert "Takes 2 body parameter(s), one a line: 1, 2" in html.unescape(form.text)
    data = {"csrf": dash.csrf, "n": "1", "pick": "randevu_hatirlatma|tr", "params": "Ada\n10:00",
            "when": "now"}  # fmt: skip
    made = await dash.browser.post("/message/w-1/as-template", data=data)
    assert made.status_code == 303, made.text
    new = _row(dash, "w-1:retry1")
    assert new["status"] == "queued"
    assert new["body"] is None
    assert new["template"]["name"] == "randevu_hatirlatma"
    assert (await dash.api.get("/status/w-1")).json()["status"] == "failed"
    # A parameter too few: the catalogue's rule, nothing stored.
    short = await dash.browser.post(
        "/message/w-1/as-template", data=data | {"n": "2", "params": "Ada"}
    )
    assert short.status_code == 422
    assert (await dash.api.get("/status/w-1:retry2")).status_code == 404
    # Another failure code: not offered, and refused with the reason.
    other = await dash.browser.get("/message/w-2")
    assert 'id="as-template"' not in other.text
    refused = await dash.browser.get("/message/w-2/as-template")
    assert refused.status_code == 409
    assert EN["retry.not_131047"].format(code=131026) in html.unescape(refused.text)
    posted = await dash.browser.post("/message/w-2/as-template", data=data)
    assert posted.status_code == 409
    assert (await dash.api.get("/status/w-2:retry1")).status_code == 404


async def test_duplicate_opens_compose_filled_in(signed_in, sqlite_url):
    body = GOOD | {"id": "d-1", "timezone": "America/New_York", "mesaj": "Kargo yolda"}
    assert (await signed_in.api.post("/schedule", json=body)).status_code == 200
    page = await signed_in.browser.get("/message/d-1")
    assert 'href="/message/d-1/duplicate"' in page.text
    compose = await signed_in.browser.get("/message/d-1/duplicate")
    assert compose.status_code == 200
    text = compose.text
    assert f'name="recipient" id="recipient" value="{GOOD["alici"]}"' in text
    assert ">Kargo yolda</textarea>" in text
    assert re.search(r'<option value="America/New_York" selected>', text)
    form_id = re.search(r'name="id" value="([^"]+)"', text)
    assert form_id is not None
    assert form_id[1] != "d-1"
    # Sent as it is (with a time): a second message, the first unchanged.
    sent = await signed_in.browser.post(
        "/compose",
        data={"csrf": signed_in.csrf, "id": form_id[1], "recipient": GOOD["alici"], "kind": "text",
              "text": "Kargo yolda", "date": "2026-03-03", "time": "10:00",
              "zone": "America/New_York"},
    )  # fmt: skip
    assert sent.status_code == 303, sent.text
    assert _count(signed_in) == 2


async def test_duplicate_of_a_template_fills_its_parameters(signed_in):
    template = {"name": "appointment_reminder", "language": "tr", "parameters": ["Ada", "10:00"]}
    body = {k: v for k, v in GOOD.items() if k != "mesaj"} | {"id": "d-2", "template": template}
    assert (await signed_in.api.post("/schedule", json=body)).status_code == 200
    compose = await signed_in.browser.get("/message/d-2/duplicate")
    assert compose.status_code == 200
    assert 'value="appointment_reminder"' in compose.text
    assert ">Ada\n10:00</textarea>" in compose.text
    assert 'id="kind-template" checked' in compose.text


async def test_an_image_message_is_shown_and_retried_as_an_image(signed_in, sqlite_url):
    """Other types (docs/message-types.md): the message page shows the stored object (escaped),
    and a retry keeps the type and its object."""
    image = {"link": "https://cdn.example.com/<b>x</b>.jpg", "caption": "Yeni <script>"}
    await _failed(signed_in, sqlite_url, "img-1", mesaj=None, type="image", image=image)
    page = await signed_in.browser.get("/message/img-1")
    assert page.status_code == 200, page.text
    assert 'data-kind="content">image<' in page.text
    assert "<script>" not in page.text.split("<pre", 1)[1].split("</pre>", 1)[0]
    assert "Yeni \\u003cscript\\u003e" in page.text or "Yeni &lt;script&gt;" in page.text
    data = {"csrf": signed_in.csrf, "n": "1", "when": "now"}
    made = await signed_in.browser.post("/message/img-1/retry", data=data)
    assert made.status_code == 303, made.text
    new = _row(signed_in, "img-1:retry1")
    assert (new["body"], new["template"]) == (None, None)
    assert new["content"] == {"type": "image", "image": image}


async def test_bulk_retry_at_a_chosen_time_in_the_dashboards_zone_or_each_ones_own(
    signed_in, sqlite_url
):
    await _failed(signed_in, sqlite_url, "t-1")  # Europe/Istanbul (TIMEZONE)
    await _failed(signed_in, sqlite_url, "t-2", timezone="America/New_York", saat="09:45")
    base = {"csrf": signed_in.csrf, "confirm": "yes", "id": ["t-1", "t-2"], "n": ["1", "1"]}
    ask = await signed_in.browser.post("/bulk/retry", data={"csrf": signed_in.csrf, "id": ["t-1"]})
    assert 'id="bulk-retry-when"' in ask.text
    assert "Europe/Istanbul (the dashboard's time zone)" in html.unescape(ask.text)

    at = {"when": "at", "tarih": "2026-03-04", "saat": "10:00"}
    done = await signed_in.browser.post("/bulk/retry", data=base | at | {"zone": "shown"})
    assert EN["bulk_retry.done"].format(made=2, refused=0) in html.unescape(done.text)
    one = (await signed_in.api.get("/status/t-1:retry1")).json()
    other = (await signed_in.api.get("/status/t-2:retry1")).json()
    # 10:00 in Istanbul (UTC+3) is one moment for both: 07:00 UTC, 02:00 in New York.
    assert one["scheduled_at"] == other["scheduled_at"] == "2026-03-04T07:00:00Z"
    assert _row(signed_in, "t-2:retry1")["saat"] == "02:00:00"

    base |= {"n": ["2", "2"]}
    done = await signed_in.browser.post("/bulk/retry", data=base | at | {"zone": "own"})
    assert EN["bulk_retry.done"].format(made=2, refused=0) in html.unescape(done.text)
    one = (await signed_in.api.get("/status/t-1:retry2")).json()
    other = (await signed_in.api.get("/status/t-2:retry2")).json()
    assert one["scheduled_at"] == "2026-03-04T07:00:00Z"  # 10:00 in Istanbul
    assert other["scheduled_at"] == "2026-03-04T15:00:00Z"  # 10:00 in New York (UTC-5)

    before = _count(signed_in)
    base |= {"n": ["3", "3"]}
    past = await signed_in.browser.post(
        "/bulk/retry", data=base | at | {"tarih": "2026-02-01", "zone": "shown"}
    )
    assert past.status_code == 422
    page = html.unescape(past.text)
    assert EN["bulk_retry.bad_time"] in page
    assert "2026-02-01 10:00 Europe/Istanbul is in the past" in page
    assert (
        'id="bulk-retry-tarih" name="tarih" type="date" value="2026-02-01" aria-invalid="true"'
        in past.text
    )
    bad = await signed_in.browser.post(
        "/bulk/retry", data=base | at | {"saat": "25:00", "zone": "own"}
    )
    assert bad.status_code == 422
    assert "saat: '25:00' is not a real time of day" in html.unescape(bad.text)
    assert _count(signed_in) == before  # nothing stored
