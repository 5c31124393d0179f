"""PostgreSQL scale-out pieces in one process: NOTIFY on add, the listener, the shared limit."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import psycopg
import pytest

from tests.conftest import START
from tests.integration.conftest import (
    assert_limiters_share_one_rate,
    assert_limiters_share_the_pair_gap,
)
from whatsapp_scheduler import bootstrap, testing
from whatsapp_scheduler.core import clock
from whatsapp_scheduler.dispatch import sharedlimit
from whatsapp_scheduler.store import notify, sql, urls

pytestmark = pytest.mark.postgres


async def until(condition, what: str, within: float = 20.0) -> None:
    """Wait for `condition()`: a deadline against a hang, never a statement about speed."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_add_notifies_listeners_on_commit_with_the_earliest_run_at(
    postgres_url, make_message
):
    heard: list[datetime] = []
    listener = notify.DueListener(postgres_url, heard.append)
    message_store = sql.SqlMessageStore.from_url(postgres_url)
    await listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 20)
        heard.clear()  # the "look once" call made on connecting
        later, sooner = START + timedelta(hours=2), START + timedelta(hours=1)
        await message_store.add_many([make_message(due_at=later), make_message(due_at=sooner)])
        await message_store.add(make_message(due_at=START))
        await until(lambda: len(heard) >= 2, "two notifications")
        assert heard == [sooner, START]
        again = await message_store.add(make_message(id="m000000", due_at=later))
        assert again.status != "created"  # nothing new stored: no notification
        await asyncio.sleep(0.1)
        assert len(heard) == 2
    finally:
        await listener.stop()
        await message_store.close()


async def test_listener_reconnects_after_its_connection_is_killed(postgres_url, make_message):
    heard: list[datetime] = []
    listener = notify.DueListener(postgres_url, heard.append)
    message_store = sql.SqlMessageStore.from_url(postgres_url)
    await listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 20)
        async with await psycopg.AsyncConnection.connect(
            urls.libpq_url(postgres_url), autocommit=True
        ) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'whatsapp-scheduler-listener' AND datname = current_database()"
            )
        await until(
            lambda: listener.connects >= 2 and listener.connected.is_set(), "the reconnection"
        )
        heard.clear()
        await message_store.add(make_message(due_at=START))
        await until(lambda: heard, "the notification after the reconnection")
        assert heard == [START]
    finally:
        await listener.stop()
        await message_store.close()


async def test_shared_limit_holds_for_several_limiters_together(postgres_url):
    rate = 200.0
    shared = [sharedlimit.PostgresRateLimit(postgres_url, rate) for _ in range(3)]
    await assert_limiters_share_one_rate(shared, "106540352242922", rate, per_limiter=120)


async def test_pair_gap_holds_for_several_limiters_together(postgres_url):
    shared = [sharedlimit.PostgresRateLimit(postgres_url, 80.0) for _ in range(3)]
    await assert_limiters_share_the_pair_gap(shared, "106540352242922:+905551112233", 0.5)


async def test_pair_gap_rows_are_pruned_once_their_time_has_passed(postgres_url):
    limit = sharedlimit.PostgresRateLimit(postgres_url, 80.0)
    try:
        for n in range(3):
            assert await limit.reserve_pair(f"106540352242922:+9055511122{n:02}", 0.1) is None
        await asyncio.sleep(1.2)  # rows are pruned a second after their time
        limit.state._next_prune = 0.0  # type: ignore[attr-defined]  # prune now (else once a minute)
        assert await limit.reserve_pair("106540352242922:+905551112299", 60.0) is None
        with psycopg.connect(urls.libpq_url(postgres_url)) as conn:
            left = conn.execute("SELECT key FROM pair_gaps").fetchall()
        assert left == [("106540352242922:+905551112299",)]
    finally:
        await limit.close()


async def test_two_dispatchers_keep_one_gap_per_recipient(
    postgres_url, make_settings, make_message
):
    """Instance A sends to +905551234567; a message to the same recipient that instance B
    claims right after waits PAIR_INTERVAL (B's own, in-process gap knows nothing of A's send);
    a message to someone else goes at once.

    PAIR_INTERVAL is 2 s: B must claim within it of A's send, which a loaded machine could
    miss with 1 s. The deferral's run_at is bounded by what the test saw: A booked after
    `now`, and B's answer (a wait of at most the interval) came before `after_b`."""
    interval = timedelta(seconds=2)
    config = make_settings(
        database_url=postgres_url,
        pair_interval=interval.total_seconds(),
        phone_number_id="1065",
    )
    message_store = sql.SqlMessageStore.from_url(postgres_url)
    senders = [testing.FakeSender(), testing.FakeSender()]
    instances = [
        await bootstrap.build_dispatcher(config, message_store, sender=sender) for sender in senders
    ]
    a, b = instances
    now = clock.SystemClock().now()
    try:
        await message_store.add(make_message(id="first", due_at=now, run_at=now))
        await a.run(burst=True)
        await message_store.add_many(
            [
                make_message(id="second", due_at=now, run_at=now),
                make_message(id="elsewhere", recipient="+905557654321", due_at=now, run_at=now),
            ]
        )
        await b.run(burst=True)
        after_b = clock.SystemClock().now()
        assert [m.id for m in senders[0].sent] == ["first"]
        assert [m.id for m in senders[1].sent] == ["elsewhere"]
        waiting = await message_store.get("second")
        assert waiting is not None
        assert waiting.status == "queued"
        assert waiting.attempts == 0
        # 10 ms: PostgreSQL's clock_timestamp() and Python's clock, rounded differently.
        assert now + interval - timedelta(milliseconds=10) <= waiting.run_at <= after_b + interval
        await asyncio.sleep((waiting.run_at - clock.SystemClock().now()).total_seconds() + 0.05)
        await b.run(burst=True)
        assert [m.id for m in senders[1].sent] == ["elsewhere", "second"]
        stored = await message_store.get("second")
        assert stored is not None
        assert stored.status == "sent"
    finally:
        for instance in instances:
            await instance.stop()
        await message_store.close()


def test_slot_times_match_successive_token_bucket_reservations():
    from whatsapp_scheduler.dispatch import ratelimit

    bucket = ratelimit.TokenBucket(10.0, burst=3)
    expected = [bucket.reserve(100.0) for _ in range(6)]
    assert sharedlimit.slot_times(100.0, 100.0, 6, 10.0, 3) == pytest.approx(expected)
    # A schedule already booked into the future continues from there.
    assert sharedlimit.slot_times(101.0, 100.0, 2, 10.0, 3) == pytest.approx([100.8, 100.9])


def test_urls():
    assert urls.libpq_url("postgresql+psycopg://u:p@h/db") == "postgresql://u:p@h/db"
    assert urls.is_postgres("postgres://h/db")
    assert not urls.is_postgres("sqlite:///x.db")
    assert sharedlimit.for_database("sqlite:///x.db", 80) is None
    assert notify.parse_payload("2026-03-01T09:00:00+00:00") == START
    assert notify.parse_payload("not a date") is None
    assert notify.parse_payload("2026-03-01T09:00:00") is None
