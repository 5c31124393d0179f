"""The dispatcher meets a stored row that cannot be read (issue 13: a row changed by hand in
the SQLite file): the claim loop goes on, the row is marked failed with the column named and
nothing is sent for it, the messages around it go out."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from tests.integration.test_unreadable_rows import corrupt
from whatsapp_scheduler import bootstrap, testing
from whatsapp_scheduler.sandbox import StandIn


def raw(path: str, message_id: str) -> tuple[str, str | None]:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT status, last_error_text FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
    return row[0], row[1]


async def until_raw(path: str, ids: list[str], final: set[str]) -> None:
    def rows() -> list[tuple[str, str | None]]:
        return [raw(path, i) for i in ids]

    deadline = time.monotonic() + 30  # only against a hang
    while not all(status in final for status, _ in await asyncio.to_thread(rows)):
        assert time.monotonic() < deadline, await asyncio.to_thread(rows)
        await asyncio.sleep(0.05)


async def test_a_claimed_row_that_cannot_be_read_is_failed_and_the_others_sent(
    standin: StandIn, sqlite_store, make_settings, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    url = str(sqlite_store._engine.url)
    path = url.removeprefix("sqlite:///")
    now = datetime.now(UTC)
    later = now + timedelta(seconds=1)  # due after the dispatcher started: claimed then
    items = [
        testing.make_message(message_id, later, recipient=f"+9055512345{i:02d}")
        for i, message_id in enumerate(["good-1", "bad-created", "bad-body", "good-2"])
    ]
    await sqlite_store.add_many(items)
    await corrupt(url, "bad-created", "created_at", "garbage")
    await corrupt(url, "bad-body", "template", '{"name": "x"}')  # a text message given a template
    d = await bootstrap.build_dispatcher(make_settings(), sqlite_store)
    await d.start()
    try:
        await until_raw(path, [m.id for m in items], {"sent", "failed"})
        # The loop is still claiming: a message due after all that goes out too.
        await sqlite_store.add(testing.make_message("good-3", datetime.now(UTC)))
        await until_raw(path, ["good-3"], {"sent"})
    finally:
        await d.stop()
    assert [await asyncio.to_thread(raw, path, i) for i in ("good-1", "good-2")] == [
        ("sent", None),
        ("sent", None),
    ]
    for message_id, column in (("bad-created", "created_at"), ("bad-body", "template")):
        assert await asyncio.to_thread(raw, path, message_id) == (
            "failed",
            f"stored row unreadable: {column} is not a valid value",
        )
        assert standin.sends_for(message_id) == []  # nothing sent for it
    failed = [
        (r.message_id, r.column)
        for r in caplog.records
        if r.getMessage() == "stored message cannot be read: marked failed, nothing sent"
    ]
    assert sorted(failed) == [("bad-body", "template"), ("bad-created", "created_at")]


async def test_an_expired_lease_on_a_row_that_cannot_be_read_is_failed(sqlite_store) -> None:
    url = str(sqlite_store._engine.url)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    await sqlite_store.add_many(
        [testing.make_message(i, start) for i in ("leased-good", "leased-bad")]
    )
    lease = start + timedelta(seconds=60)
    assert len(await sqlite_store.claim_due(start, 10, "dead-worker", lease)) == 2
    await corrupt(url, "leased-bad", "due_at", "garbage")
    expired = await sqlite_store.expired_leases(lease + timedelta(seconds=1), 10)
    assert [m.id for m in expired] == ["leased-good"]
    path = url.removeprefix("sqlite:///")
    assert (await asyncio.to_thread(raw, path, "leased-bad"))[0] == "failed"
