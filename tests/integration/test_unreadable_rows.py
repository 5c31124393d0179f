"""A stored row that its columns cannot read (issue 13): on SQLite any text fits any column,
so a row written into the file by hand, or by an old version, can hold `due_at='garbage'`.
Reproduced with a raw UPDATE through Python's sqlite3 on the service's real file, while the
service runs. Reads must survive it: lists leave the row out and log it once (id and column),
GET /status and DELETE answer 409 naming the column and change nothing, the dashboard answers
its pages; never a 500."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START
from whatsapp_scheduler import store, testing
from whatsapp_scheduler.core import messages

S = messages.MessageStatus

#: Every datetime column the SQLite dialect parses on the way out, and the text and integer
#: columns the code relies on (status, attempts, body or template), each with a value it cannot
#: read. (A JSON text that is not JSON is read as a marker and shown: `test_bad_input.py`.)
BROKEN = [
    ("due_at", "garbage"),
    ("run_at", "2026-02-30 10:00:00"),
    ("created_at", "2026-13-45 99:00:00"),
    ("updated_at", 12),
    ("sent_at", "yesterday"),
    ("cancelled_at", "never"),
    ("status", "lost"),
    ("attempts", "many"),
    ("template", "{not json"),  # a text message given a template (read as the marker)
    ("body", None),  # neither body nor template
    ("content", '{"type": "image"}'),  # a text given a content too, and one without its object
]


LEFT_OUT = "stored message cannot be read: left out of the answer"


def message(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": message_id, "alici": "+905551234567", "tarih": "2026-03-02", "saat": "10:00",
            "mesaj": "Merhaba"} | extra  # fmt: skip


async def corrupt(
    url: str, message_id: str, column: str, value: object, table: str = "messages"
) -> None:
    """Write `value` into the SQLite file itself, as someone with the sqlite3 shell would."""

    def write() -> None:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            key = "message_id" if table == "attempts" else "id"
            changed = conn.execute(
                f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (value, message_id)
            ).rowcount
            assert changed >= 1

    await asyncio.to_thread(write)


def raw_row(url: str, message_id: str) -> tuple[Any, ...]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return tuple(conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone())


def warnings_for(caplog: pytest.LogCaptureFixture, message_id: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and getattr(r, "message_id", None) == message_id
    ]


@pytest.mark.parametrize(("column", "value"), BROKEN)
async def test_a_broken_row_is_left_out_of_lists_and_named_in_its_own_answers(
    api, sqlite_url, caplog, column, value
):
    caplog.set_level(logging.WARNING)
    for message_id in ("m-good", "m-bad", "m-later"):
        answer = await api.post("/schedule", json=message(message_id))
        assert answer.status_code == 200, answer.text
    await corrupt(sqlite_url, "m-bad", column, value)
    before = raw_row(sqlite_url, "m-bad")

    for _ in range(2):  # the list and the dashboard read it again and again: logged once
        listed = await api.get("/schedule", params={"status": ["queued", "sending", "sent"]})
        assert listed.status_code == 200, listed.text
        assert [m["id"] for m in listed.json()] == ["m-good", "m-later"]
    logged = [(r.getMessage(), r.column) for r in warnings_for(caplog, "m-bad")]  # type: ignore[attr-defined]
    # A status that is none is not in any list (they filter on status): nothing to log there.
    warned = [] if column == "status" else [(LEFT_OUT, column)]
    assert logged == warned

    status = await api.get("/status/m-bad")
    assert status.status_code == 409
    assert f"its stored {column} is not a valid value" in status.json()["detail"]
    cancel = await api.delete("/schedule/m-bad")
    if column in ("updated_at", "cancelled_at"):
        # Cancelling writes that column anew: the row is whole again, and cancelled.
        assert cancel.status_code == 200, cancel.text
        assert (await api.get("/status/m-bad")).json()["status"] == "cancelled"
    else:
        assert cancel.status_code in (404, 409), cancel.text  # 404: no queued message
        if column != "status":
            assert column in cancel.json()["detail"]
        assert raw_row(sqlite_url, "m-bad") == before  # nothing changed, not even cancelled
    # The other messages are untouched by it.
    assert (await api.get("/status/m-good")).json()["status"] == "queued"
    assert (await api.delete("/schedule/m-later")).status_code == 200


async def test_paging_goes_past_a_broken_row_at_the_end_of_a_page(api, sqlite_url):
    for i in range(5):
        answer = await api.post("/schedule", json=message(f"m{i}", saat=f"10:0{i}"))
        assert answer.status_code == 200
    await corrupt(sqlite_url, "m1", "template", "{")  # the last row of the first page of 2
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await api.get("/schedule", params=params)
        assert page.status_code == 200
        seen += [m["id"] for m in page.json()]
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert seen == ["m0", "m2", "m3", "m4"]


async def test_a_broken_attempt_is_left_out_of_the_history(api, sqlite_url, caplog):
    caplog.set_level(logging.WARNING)
    message_store: store.MessageStore = api.store
    await message_store.add(testing.make_message("m-1", START))
    lease = START + timedelta(minutes=1)
    assert [m.id for m in await message_store.claim_due(START, 10, "w1", lease)] == ["m-1"]
    for number in range(2):  # two attempts, each retried
        retry = store.Outcome(
            message_id="m-1",
            worker="w1",
            status=S.QUEUED,
            finished_at=START,
            attempt=messages.AttemptOutcome.RETRY,
            run_at=START,
        )
        assert await message_store.record([retry]) == 1
        if number == 0:
            await message_store.claim_due(START, 10, "w1", lease)
    await corrupt(sqlite_url, "m-1", "started_at", "soon", table="attempts")
    await asyncio.to_thread(_only_first_attempt_broken, sqlite_url)
    status = await api.get("/status/m-1")
    assert status.status_code == 200, status.text
    assert [a["number"] for a in status.json()["attempt_history"]] == [2]
    logged = warnings_for(caplog, "m-1")
    assert [r.column for r in logged] == ["attempts.started_at"]  # type: ignore[attr-defined]


def _only_first_attempt_broken(url: str) -> None:
    """`corrupt` broke both attempts of m-1: mend the second."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            "UPDATE attempts SET started_at = finished_at WHERE message_id = 'm-1' AND number = 2"
        )
