"""Bad input that used to get in and then break things (issue 13, part 5), over real HTTP on a
real SQLite file: JSON bounds, lone surrogates in a batch, rows stored before the bounds."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import START
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN, ServedApp
from tests.integration.dashboard.conftest import Dashboard
from whatsapp_scheduler import store
from whatsapp_scheduler.core import csvimport, errors, jsonbounds, messages, window
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.dispatch import window_gate
from whatsapp_scheduler.store import sql, sql_receipts
from whatsapp_scheduler.web import app as app_mod
from whatsapp_scheduler.web import i18n
from whatsapp_scheduler.web.routes import dashboard_import
from whatsapp_scheduler.whatsapp import webhooks

# START (tests/conftest.py) is 2026-03-01 09:00 UTC = 12:00 in Istanbul.
GOOD = {
    "alici": "+905551234567",
    "tarih": "2026-03-02",
    "saat": "09:30",
    "mesaj": "Merhaba",
}


class Site(Dashboard):
    """The dashboard's browser, the API client, the store and the SQLite file's path."""

    path: str


@pytest.fixture
async def site(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Site]:
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    settings = make_settings(
        database_url=sqlite_url, app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    app = app_mod.create_app(settings, store=message_store, clock=clock)
    async with ServedApp(app) as served:
        client = Site(served.url, message_store)
        client.path = sqlite_url.removeprefix("sqlite:///")
        try:
            assert (await client.sign_in()).status_code == 303
            yield client
        finally:
            await client.close()
    await message_store.close()


def nested(levels: int) -> dict[str, Any]:
    """A currency parameter's object nested `levels` objects deep."""
    value: dict[str, Any] = {"amount_1000": 1}
    for _ in range(levels - 1):
        value = {"inner": value}
    return value


def deep_template(levels: int) -> dict[str, Any]:
    parameter = {"type": "currency", "currency": nested(levels)}
    return {
        "name": "receipt",
        "language": "tr",
        "components": [{"type": "body", "parameters": [parameter]}],
    }


async def stored_count(site: Site) -> int:
    response = await site.api.get("/schedule", params={"status": ["queued", "sent"], "limit": 1})
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"])


def raw_post(client: httpx.AsyncClient, path: str, text: str, **headers: str) -> Any:
    """POST JSON text as written (json= would refuse a lone surrogate before sending)."""
    return client.post(
        path, content=text.encode(), headers={"Content-Type": "application/json", **headers}
    )


# --- 1. JSON depth and size ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["template", "fallback_template"])
async def test_a_template_nested_300_deep_is_422_and_stores_nothing(site, field):
    body: dict[str, Any] = dict(GOOD)
    if field == "template":
        del body["mesaj"]
    body[field] = deep_template(300)
    response = await site.api.post("/schedule", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == field
    assert f"deeper than {jsonbounds.MAX_DEPTH}" in error["rule"]
    assert await stored_count(site) == 0
    batch = await site.api.post("/schedule/batch", json={"messages": [body, GOOD]})
    assert batch.status_code == 200, batch.text
    first, second = batch.json()["results"]
    assert (first["stored"], first["error"]["errors"][0]["field"]) == (False, field)
    assert second["stored"]
    assert await stored_count(site) == 1


async def test_the_depth_limit_is_the_limit_not_under_it(site):
    # 32 levels in all: template > components > [0] > parameters > [0] > currency (27 deep).
    ok = GOOD | {"mesaj": None, "template": deep_template(jsonbounds.MAX_DEPTH - 5)}
    assert (await site.api.post("/schedule", json=ok)).status_code == 200
    over = GOOD | {"mesaj": None, "template": deep_template(jsonbounds.MAX_DEPTH - 4)}
    assert (await site.api.post("/schedule", json=over)).status_code == 422


async def test_an_oversized_template_is_422(site):
    big = {"type": "currency", "currency": {"fallback_value": "x" * (jsonbounds.MAX_BYTES + 1)}}
    body = {"type": "body", "parameters": [big]}
    template = {"name": "receipt", "language": "tr", "components": [body]}
    response = await site.api.post(
        "/schedule/batch", json={"messages": [GOOD | {"mesaj": None, "template": template}]}
    )
    error = response.json()["results"][0]["error"]["errors"][0]
    assert error["field"] == "template"
    assert f"at most {jsonbounds.MAX_BYTES}" in error["rule"]


def _corrupt(site: Site, message_id: str, column: str, text: str) -> None:
    """Write `text` into a message's column directly (as a row stored before the bounds)."""
    with sqlite3.connect(site.path) as db:
        db.execute(f"UPDATE messages SET {column} = ? WHERE id = ?", (text, message_id))


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (json.dumps(deep_template(300)), False),
        # Too deep for Python's json.loads itself:
        ('{"name": "receipt", "components": ' + "[" * 3000 + "]" * 3000 + "}", False),
        ("{not json", False),
        (json.dumps(["a", "list"]), False),
        (json.dumps({"name": {"x": 1}, "language": 5, "components": "text"}), True),
    ],
    ids=["deep300", "deep3000", "not-json", "a-list", "odd-shape"],
)
async def test_every_read_path_survives_a_row_stored_before_the_bounds(site, stored, shown):
    template = GOOD | {"id": "odd", "mesaj": None, "template": deep_template(1)}
    assert (await site.api.post("/schedule", json=template)).status_code == 200
    assert (await site.api.post("/schedule", json=GOOD | {"id": "plain"})).status_code == 200
    _corrupt(site, "odd", "template", stored)
    listed = await site.api.get("/schedule")
    assert listed.status_code == 200, listed.text
    by_id = {m["id"]: m for m in listed.json()}
    assert set(by_id) == {"odd", "plain"}
    if shown:  # JSON within the bounds is answered as stored, whatever its shape
        assert by_id["odd"]["template"] == json.loads(stored)
    else:
        assert set(by_id["odd"]["template"]) == {"unreadable"}
    assert (await site.api.get("/status/odd")).status_code == 200
    for page in ("/", "/message/odd", "/message/odd/cancel"):
        response = await site.browser.get(page)
        assert response.status_code == 200, (page, response.text[-500:])
    async with site.browser.stream("GET", "/dashboard/api/events", params={"ids": "odd"}) as events:
        async for line in events.aiter_lines():
            if line.startswith("data: "):
                assert json.loads(line[6:])["id"] == "odd"
                break


# --- 2. Lone surrogates in a batch; nothing half-stored, no 500 after a commit -------------

SURROGATE_FIELDS = ["id", "alici", "tarih", "saat", "mesaj", "timezone", "olusturmaTarihi"]


def _with_surrogate(field: str) -> str:
    """GOOD with `field` holding a lone surrogate, as JSON text."""
    body = GOOD | {"id": "bad-one", field: "SURROGATE"}
    return json.dumps(body).replace('"SURROGATE"', '"\\ud800x"')


@pytest.mark.parametrize("field", SURROGATE_FIELDS)
async def test_a_lone_surrogate_in_any_field_is_422_on_schedule(site, field):
    response = await raw_post(site.api, "/schedule", _with_surrogate(field))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await stored_count(site) == 0


@pytest.mark.parametrize("field", SURROGATE_FIELDS)
async def test_a_batch_with_a_lone_surrogate_refuses_that_entry_and_a_retry_stores_once(
    site, field
):
    good = json.dumps(GOOD | {"id": "good-one"})
    text = f'{{"messages": [{good}, {_with_surrogate(field)}]}}'
    for attempt in range(2):
        response = await raw_post(site.api, "/schedule/batch", text)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["stored"], body["refused"]) == (1, 1)
        first, second = body["results"]
        assert first["created"] is (attempt == 0)
        assert second["error"]["errors"][0]["field"] == field
        assert await stored_count(site) == 1


@pytest.mark.parametrize("field", SURROGATE_FIELDS)
async def test_the_dashboard_import_refuses_a_lone_surrogate_and_stores_the_rest_once(site, field):
    good = json.dumps(GOOD | {"id": "good-one", "line": 2})
    bad = _with_surrogate(field).replace("{", '{"line": "\\udc00", ', 1)  # echoed back
    text = f'{{"messages": [{good}, {bad}]}}'
    for attempt in range(2):
        response = await raw_post(
            site.browser, "/dashboard/api/import/batch", text, **{"X-CSRF-Token": site.csrf}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        # The retry stores nothing again and says so.
        assert (body["stored"], body["already"], body["refused"]) == (1 - attempt, attempt, 1)
        assert body["errors"][0]["index"] == 1
        assert await stored_count(site) == 1


# --- 3. Webhook timestamps and entries that cannot be applied ------------------------------

YEAR_9999 = "253402300799"  # 9999-12-31 23:59:59 UTC


def envelope(statuses: list[Any] = [], inbound: list[Any] = []) -> dict[str, Any]:  # noqa: B006
    value = {"messaging_product": "whatsapp", "statuses": statuses, "messages": inbound}
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}


async def post_webhook(site: Site, payload: Any) -> httpx.Response:
    """Signed as Meta signs; `payload` as JSON text, or a value to encode."""
    body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
    headers = {"X-Hub-Signature-256": webhooks.sign(body, APP_SECRET)}
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as meta:
        return await meta.post("/webhook", content=body, headers=headers)


async def sent_message(site: Site, message_id: str = "m1", wamid: str = "wamid.M1") -> None:
    body = GOOD | {"id": message_id, "tarih": "2026-03-01", "saat": "12:00:00"}
    assert (await site.api.post("/schedule", json=body)).status_code == 200
    claimed = await site.store.claim_due(START, 10, "w1", START + timedelta(minutes=1))
    assert [m.id for m in claimed] == [message_id]
    outcome = store.Outcome(
        message_id=message_id,
        worker="w1",
        status=messages.MessageStatus.SENT,
        finished_at=START,
        attempt=messages.AttemptOutcome.SENT,
        wamid=wamid,
    )
    assert await site.store.record([outcome]) == 1


def inbound_entry(timestamp: str, kind: str = "text", sender: str = "905551234567") -> Any:
    entry: dict[str, Any] = {"from": sender, "id": f"wamid.IN{timestamp}", "timestamp": timestamp}
    entry["type"] = kind
    if kind == "text":
        entry["text"] = {"body": "merhaba"}
    return entry


async def test_an_inbound_dated_9999_is_taken_as_received_and_breaks_nothing(site, clock):
    response = await post_webhook(site, envelope(inbound=[inbound_entry(YEAR_9999)]))
    assert response.status_code == 200, response.text
    assert await site.store.last_inbound("905551234567") == clock.now()
    scheduled = await site.api.post("/schedule", json=GOOD | {"id": "after"})
    assert scheduled.status_code == 200, scheduled.text


@pytest.mark.parametrize("policy", [window.WindowPolicy.TEMPLATE, window.WindowPolicy.FAIL])
async def test_a_stored_inbound_dated_9999_does_not_break_the_send_time_gate(site, clock, policy):
    # A contact row written before the clamp (or by hand).
    with sqlite3.connect(site.path) as db:
        db.execute(
            "INSERT INTO contacts (wa_id, last_inbound_at) VALUES (?, ?)",
            ("905551234567", "9999-12-31 23:59:59.000000"),
        )
    fallback = {"name": "reminder", "language": "tr"}
    body = GOOD | {"id": "t1", "fallback_template": fallback}
    assert (await site.api.post("/schedule", json=body)).status_code == 200
    gate = window_gate.WindowGate(site.store, policy)
    message = await site.store.get("t1")
    assert message is not None
    await gate.prepare([message])
    verdict = gate.check(message, clock.now())
    assert (verdict.failure, verdict.fallback) == (None, False)  # the window is open


async def test_a_delivered_dated_9999_is_taken_as_received(site, clock):
    await sent_message(site)
    delivered = {"id": "wamid.M1", "status": "delivered", "timestamp": YEAR_9999}
    response = await post_webhook(site, envelope([delivered]))
    assert (response.status_code, response.json()["applied"]) == (200, 1)
    timeline = (await site.api.get("/status/m1")).json()["timeline"]
    assert datetime.fromisoformat(timeline["delivered"]) == clock.now()


async def test_a_stored_delivered_dated_9999_keeps_the_page_and_live_updates(site):
    await sent_message(site)
    _corrupt(site, "m1", "delivered_at", "9999-12-31 23:59:59.000000")
    _corrupt(site, "m1", "status", "delivered")
    assert (await site.browser.get("/message/m1")).status_code == 200
    assert (await site.browser.get("/history")).status_code == 200
    assert (await site.api.get("/status/m1")).status_code == 200
    async with site.browser.stream("GET", "/dashboard/api/events", params={"ids": "m1"}) as live:
        async for line in live.aiter_lines():
            if line.startswith("data: "):
                assert json.loads(line[6:])["transitions"]["delivered"].startswith("9999-12-31")
                break


async def test_entries_that_cannot_be_applied_are_logged_and_the_rest_is_applied(site, caplog):
    await sent_message(site)
    good = {"id": "wamid.M1", "status": "read", "timestamp": str(int(START.timestamp()) + 5)}
    statuses = [
        '{"id": "wamid.\\ud800", "status": "delivered", "timestamp": "1772355600"}',
        '{"id": "wamid.X", "status": "failed", "timestamp": "1772355600",'
        ' "errors": [{"code": 99999999999999999999, "title": "\\udc00 odd \\u0000"}]}',
        '{"id": "wamid.Y", "status": "delivered", "timestamp": "soon"}',
        '{"id": "wamid.Z", "status": "delivered", "timestamp": "1772355600",'
        ' "biz_opaque_callback_data": "\\ud800"}',
        '{"id": "wamid.D", "status": "failed", "timestamp": "1772355600",'
        ' "errors": [{"title": ' + "[" * 300 + "]" * 300 + "}]}",
        json.dumps(good),
    ]
    inbound = ['{"from": "\\ud800", "id": "wamid.IN", "timestamp": "1772355600", "type": "text"}']
    text = json.dumps(envelope(["S"], ["I"]))
    text = text.replace('["S"]', "[" + ", ".join(statuses) + "]")
    text = text.replace('["I"]', "[" + ", ".join(inbound) + "]")
    with caplog.at_level(logging.WARNING, logger="whatsapp_scheduler"):
        response = await post_webhook(site, text)
    assert response.status_code == 200, response.text
    assert (await site.api.get("/status/m1")).json()["status"] == "read"
    logged = [r for r in caplog.records if r.getMessage() == "webhook entry skipped"]
    reasons = sorted(str(getattr(r, "reason", "")) for r in logged)
    assert len(reasons) == 3, reasons  # the bad id, the bad timestamp, the bad sender
    assert response.json()["skipped"] == 3


async def test_a_webhook_body_too_deep_to_read_is_400_not_500(site):
    response = await post_webhook(site, '{"entry": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("body")


# --- 7. Only what the user sent opens the window; a status never predates its send --------


async def test_a_system_message_does_not_open_the_window(site):
    system = inbound_entry(str(int(START.timestamp())), kind="system")
    system["system"] = {"body": "User changed number", "type": "user_changed_number"}
    response = await post_webhook(site, envelope(inbound=[system]))
    assert response.status_code == 200, response.text
    assert await site.store.last_inbound("905551234567") is None
    text = inbound_entry(str(int(START.timestamp())))
    assert (await post_webhook(site, envelope(inbound=[text]))).status_code == 200
    assert await site.store.last_inbound("905551234567") == START


async def send_and_record(target: store.MessageStore, make_message: Any, wamid: str) -> str:
    message = make_message(due_at=START)
    await target.add(message)
    await target.claim_due(START, 10, "w1", START + timedelta(minutes=1))
    outcome = store.Outcome(
        message_id=message.id,
        worker="w1",
        status=messages.MessageStatus.SENT,
        finished_at=START,
        attempt=messages.AttemptOutcome.SENT,
        wamid=wamid,
    )
    assert await target.record([outcome]) == 1
    return str(message.id)


async def test_a_status_dated_before_the_send_is_put_at_the_send(any_store, make_message):
    message_id = await send_and_record(any_store, make_message, "wamid.OLD")
    in_2023 = datetime(2023, 5, 1, tzinfo=UTC)
    receipts = [
        store.Receipt("wamid.OLD", messages.MessageStatus.DELIVERED, in_2023),
        store.Receipt("wamid.OLD", messages.MessageStatus.READ, START + timedelta(seconds=9)),
    ]
    counts = await any_store.apply_receipts(receipts, START + timedelta(seconds=10))
    assert counts.applied == 2
    stored = await any_store.get(message_id)
    assert stored is not None
    assert stored.delivered_at == START  # the send time, not 2023
    assert stored.read_at == START + timedelta(seconds=9)


async def test_a_status_that_beat_the_send_record_is_not_put_before_it(any_store, make_message):
    # Kept unmatched first (its wamid is not known yet), applied when the send is recorded.
    in_2023 = datetime(2023, 5, 1, tzinfo=UTC)
    early = store.Receipt("wamid.EARLY", messages.MessageStatus.DELIVERED, in_2023)
    assert (await any_store.apply_receipts([early], START)).unmatched == 1
    message_id = await send_and_record(any_store, make_message, "wamid.EARLY")
    stored = await any_store.get(message_id)
    assert stored is not None
    assert (stored.status, stored.delivered_at) == (messages.MessageStatus.DELIVERED, START)


# --- 6. Forged cursors and out-of-range dates ----------------------------------------------


def forged(due: Any, message_id: Any) -> str:
    """A cursor in the server's own encoding (base64url of a JSON pair), with these values."""
    raw = json.dumps([due, message_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED_CURSORS = [
    forged("2026-03-01T09:00:00+00:00", "a\u0000b"),  # NUL: PostgreSQL refuses it in text
    forged("2026-03-01T09:00:00+00:00", "\ud800"),  # a lone surrogate: no database takes it
    forged("2026-03-01T09:00:00+00:00", "x" * 300),
    forged("9999-12-31T23:59:59-14:00", "a"),  # past the calendar's end in UTC
    forged("0001-01-01T00:00:00+14:00", "a"),  # before its start
    forged("2026-03-01T09:00:00", "a"),  # no offset
    forged(["2026"], "a"),
    forged("2026-03-01T09:00:00+00:00", 5),
    "not base64 !",
    "e30",  # "{}"
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
]


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
async def test_a_forged_cursor_is_refused_by_every_store(any_store, cursor):
    with pytest.raises(errors.ValidationFailed) as refused:
        await any_store.list(MessageQuery((messages.MessageStatus.QUEUED,), 10, cursor))
    assert refused.value.field == "cursor"


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
async def test_a_forged_cursor_is_422_on_the_api_and_the_dashboard(site, cursor):
    response = await site.api.get("/schedule", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "cursor"
    for page in ("/", "/history"):
        shown = await site.browser.get(page, params={"cursor": cursor})
        assert shown.status_code == 422, shown.text[-300:]
        assert 'data-field="cursor"' in shown.text


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("date_to", "9999-12-31"),
        ("date_from", "9999-12-31"),
        ("date_from", "0001-01-01"),
        ("date_to", "0001-01-01"),
        ("date_to", "2026-02-30"),
        ("date_from", "yesterday"),
    ],
)
@pytest.mark.parametrize("lang", ["en", "tr"])
async def test_an_out_of_range_date_on_the_history_is_422_in_the_users_language(
    site, param, value, lang
):
    shown = await site.browser.get(
        "/history", params={param: value}, headers={"Accept-Language": lang}
    )
    assert shown.status_code == 422, shown.text[-300:]
    assert f'data-field="{param}"' in shown.text
    words = i18n.translator(lang)("error.date", param=param)
    assert html.escape(words, quote=False) in shown.text


@pytest.mark.parametrize(
    ("tarih", "zone"),
    [("9999-12-31", "America/Los_Angeles"), ("0001-01-01", "Asia/Tokyo")],
)
async def test_a_due_date_past_the_calendar_is_422_on_schedule(site, tarih, zone):
    body = GOOD | {"tarih": tarih, "saat": "23:59", "timezone": zone}
    response = await site.api.post("/schedule", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "tarih"
    assert await stored_count(site) == 0


# --- 4. A CSV preview of many bad rows -----------------------------------------------------


async def preview(site: Site, data: bytes) -> httpx.Response:
    return await site.browser.post(
        "/import/batch",
        data={"csrf": site.csrf, "zone": "Europe/Istanbul"},
        files={"file": ("list.csv", data, "text/csv")},
        timeout=120,
    )


async def test_a_preview_of_130000_bad_rows_is_refused_with_the_limit(site):
    data = b"recipient;date;time;text\n" + b"a\n" * 130_000
    response = await preview(site, data)
    assert response.status_code == 422
    assert f"at most {csvimport.MAX_ROWS:,} rows" in html.unescape(response.text)
    assert len(response.content) < 100_000
    assert await stored_count(site) == 0


async def test_a_preview_shows_the_first_bad_rows_and_counts_the_rest(site):
    rows = csvimport.MAX_ROWS
    data = b"recipient;date;time;text\n" + b"a\n" * rows
    response = await preview(site, data)
    assert response.status_code == 200
    shown = re.findall(r'<tr class="bad" data-line="(\d+)"', response.text)
    assert shown == [str(line) for line in range(2, 2 + dashboard_import.PREVIEW_BAD_SHOWN)]
    assert re.search(r'id="bad-count">(\d+)<', response.text)[1] == str(rows)  # type: ignore[index]
    more = rows - dashboard_import.PREVIEW_BAD_SHOWN
    assert f'id="more-bad">+{more}' in response.text
    assert len(response.content) < 200_000  # ~100 rows, not 10,000


async def test_the_preview_is_read_off_the_event_loop(site, monkeypatch):
    """/health answers while a file is being read: the reading waits until /health answered,
    which could not happen if it ran on the event loop's thread."""
    reading, health_answered = threading.Event(), threading.Event()
    seen: list[bool] = []
    real = csvimport.read_csv

    def read_csv(data: bytes, **limits: Any) -> list[csvimport.CsvRow]:
        reading.set()
        seen.append(health_answered.wait(timeout=30))
        return real(data, **limits)

    monkeypatch.setattr(csvimport, "read_csv", read_csv)
    task = asyncio.create_task(preview(site, b"recipient;date;time;text\n" + b"a\n" * 100))
    assert await asyncio.to_thread(reading.wait, 30)
    async with httpx.AsyncClient(base_url=site.url, timeout=60) as other:
        assert (await other.get("/health")).status_code == 200
    health_answered.set()
    assert (await task).status_code == 200
    assert seen == [True]


# --- 5. A webhook of many statuses does not hold the service -------------------------------


async def test_health_answers_while_a_big_webhook_is_applied(site, monkeypatch):
    """The statuses are applied in chunks, one transaction each; the store's thread takes
    other work between them. The first chunk waits until /health's read is queued behind it:
    /health must be answered before the last chunk is applied (with one transaction for the
    whole delivery, it could be answered only after)."""
    chunk = sql_receipts.RECEIPT_CHUNK
    count = chunk * 4
    events: list[str] = []
    first_chunk, health_queued = threading.Event(), threading.Event()
    apply = site.store._apply_receipts
    stats = site.store.stats

    def apply_chunk(items: list[tuple[store.Receipt, datetime]]) -> Any:
        events.append(f"chunk {len(items)}")
        if not first_chunk.is_set():
            first_chunk.set()
            assert health_queued.wait(timeout=30)
        return apply(items)

    async def queued_stats(now: datetime) -> Any:
        read = asyncio.ensure_future(stats(now))
        await asyncio.sleep(0)  # the read's first step: handed to the store's thread
        health_queued.set()
        result = await read
        events.append("health")
        return result

    monkeypatch.setattr(site.store, "_apply_receipts", apply_chunk)
    monkeypatch.setattr(site.store, "stats", queued_stats)
    stamp = str(int(START.timestamp()))
    statuses = [
        {"id": f"wamid.B{i}", "status": "delivered", "timestamp": stamp} for i in range(count)
    ]
    webhook = asyncio.create_task(post_webhook(site, envelope(statuses)))
    assert await asyncio.to_thread(first_chunk.wait, 30)
    async with httpx.AsyncClient(base_url=site.url, timeout=60) as other:
        assert (await other.get("/health")).status_code == 200
    response = await webhook
    assert (response.status_code, response.json()["unmatched"]) == (200, count)
    assert events.count(f"chunk {chunk}") == 4
    assert events.index("health") < len(events) - 1  # answered before the last chunk ran
