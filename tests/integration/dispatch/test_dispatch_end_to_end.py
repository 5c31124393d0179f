"""Dispatcher + SqlMessageStore (SQLite file) + CloudApiSender + the stand-in, over loopback."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from whatsapp_scheduler import bootstrap, testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.sandbox import StandIn

Status = messages.MessageStatus
AO = messages.AttemptOutcome


def now() -> datetime:
    return datetime.now(UTC)


def batch(prefix: str, count: int, due: datetime) -> list[messages.ScheduledMessage]:
    return [
        testing.make_message(f"{prefix}{i:04d}", due, recipient=f"+9055{i:08d}")
        for i in range(count)
    ]


async def test_chaos_every_message_arrives(
    standin: StandIn, sqlite_store, make_settings, fast_policy, wait_final
) -> None:
    """30% 5xx and 5% hangs: all sent; duplicates only where a hang made a send ambiguous."""
    standin.set_faults(error_rate=0.3, hang_rate=0.05, hang_seconds=3.0)
    items = batch("chaos", 200, now())
    await sqlite_store.add_many(items)
    config = make_settings(request_timeout_seconds=0.3)
    d = await bootstrap.build_dispatcher(config, sqlite_store, policy=fast_policy())
    await d.start()
    try:
        rows = await wait_final(sqlite_store, [m.id for m in items])
    finally:
        await d.stop()
    assert {r.status for r in rows} == {Status.SENT}
    duplicates = 0
    for row in rows:
        accepted = [r for r in standin.sends_for(row.id) if r.wamid is not None]
        assert accepted, row.id
        if len(accepted) > 1:
            duplicates += 1
            assert any(r.fault == "hang" for r in accepted[:-1]), row.id
    hung = sum(1 for r in standin.requests if r.fault == "hang")
    assert hung > 0
    assert duplicates <= hung
    assert sum(1 for r in standin.requests if r.fault == "server_error") > 20


async def test_permanent_error_one_request(
    standin: StandIn, sqlite_store, make_settings, fast_policy, wait_final
) -> None:
    (message,) = batch("perm", 1, now())
    standin.fail_recipient(message.recipient, 131026)
    await sqlite_store.add(message)
    d = await bootstrap.build_dispatcher(make_settings(), sqlite_store, policy=fast_policy())
    await d.run(burst=True)
    await d.stop()
    row = await sqlite_store.get(message.id)
    assert row is not None
    assert (row.status, row.last_error_code, row.attempts) == (Status.FAILED, 131026, 1)
    assert len(standin.sends_for(message.id)) == 1


async def test_throughput_limit_slows_but_all_sent(
    standin: StandIn, sqlite_store, make_settings, fast_policy, wait_final
) -> None:
    standin.set_limits(throughput_per_second=40.0)
    items = batch("tp", 120, now())
    await sqlite_store.add_many(items)
    d = await bootstrap.build_dispatcher(make_settings(), sqlite_store, policy=fast_policy())
    started = time.monotonic()
    await d.start()
    try:
        rows = await wait_final(sqlite_store, [m.id for m in items], within=9.0)
    finally:
        await d.stop()
    elapsed = time.monotonic() - started
    assert {r.status for r in rows} == {Status.SENT}
    throttled = [r for r in standin.requests if r.error_code == 130429]
    assert throttled
    assert elapsed >= (120 - 40) / 40 * 0.9  # the stand-in's pace, not ours (1000/s)
    assert d.health()["retried"] == len(throttled)


async def test_account_error_pauses_then_resumes(
    standin: StandIn, sqlite_store, make_settings, fast_policy, wait_final
) -> None:
    standin.fail_next(1, 190)
    items = batch("acct", 10, now())
    await sqlite_store.add_many(items)
    d = await bootstrap.build_dispatcher(
        make_settings(send_concurrency=1),
        sqlite_store,
        policy=fast_policy(account_pause_seconds=1.0),
    )
    await d.start()
    try:
        await asyncio.sleep(0.4)
        health = d.health()
        assert health["state"] == "paused"
        assert health["paused"][0]["code"] == 190
        rows = [await sqlite_store.get(m.id) for m in items]
        assert all(r is not None and r.status == Status.QUEUED and r.attempts == 0 for r in rows)
        assert len(standin.requests) == 1
        rows = await wait_final(sqlite_store, [m.id for m in items], within=5.0)
        assert {r.status for r in rows} == {Status.SENT}
        assert d.health()["state"] == "running"
    finally:
        await d.stop()


async def test_reaper_requeues_dead_workers_message(
    standin: StandIn, sqlite_store, make_settings, fast_policy, wait_final
) -> None:
    (message,) = batch("orphan", 1, now() - timedelta(minutes=2))
    await sqlite_store.add(message)
    claimed = await sqlite_store.claim_due(now(), 10, "dead-worker", now() - timedelta(seconds=1))
    assert [m.id for m in claimed] == [message.id]
    d = await bootstrap.build_dispatcher(make_settings(), sqlite_store, policy=fast_policy())
    await d.start()
    try:
        (row,) = await wait_final(sqlite_store, [message.id])
    finally:
        await d.stop()
    assert row.status == Status.SENT
    outcomes = [(a.outcome, a.worker) for a in await sqlite_store.attempts(message.id)]
    assert outcomes == [(AO.AMBIGUOUS, "dead-worker"), (AO.SENT, d.worker_id)]


async def test_expired_message_fails(
    standin: StandIn, sqlite_store, make_settings, fast_policy
) -> None:
    (message,) = batch("old", 1, now() - timedelta(hours=25))
    await sqlite_store.add(message)
    d = await bootstrap.build_dispatcher(make_settings(), sqlite_store, policy=fast_policy())
    await d.run(burst=True)
    await d.stop()
    row = await sqlite_store.get(message.id)
    assert row is not None
    assert row.status == Status.FAILED
    assert row.last_error_text is not None
    assert row.last_error_text.startswith("expired: due at")
    assert [a.outcome for a in await sqlite_store.attempts(message.id)] == [AO.EXPIRED]
    assert standin.sends_for(message.id) == []


async def test_nudge_sends_an_earlier_message_on_time(
    standin: StandIn, sqlite_store, make_settings, fast_policy, wait_final
) -> None:
    later = testing.make_message("later", now() + timedelta(seconds=2.5), recipient="+905551000001")
    await sqlite_store.add(later)
    d = await bootstrap.build_dispatcher(make_settings(), sqlite_store, policy=fast_policy())
    await d.start()
    try:
        await asyncio.sleep(0.2)  # the dispatcher now sleeps until `later`
        sooner = testing.make_message(
            "sooner", now() + timedelta(seconds=0.6), recipient="+905551000002"
        )
        await sqlite_store.add(sooner)
        d.nudge(sooner.run_at)
        rows = await wait_final(sqlite_store, ["sooner", "later"], within=5.0)
    finally:
        await d.stop()
    assert {r.status for r in rows} == {Status.SENT}
    for message in (sooner, later):
        (request,) = standin.sends_for(message.id)
        lateness = request.received_at - message.due_at.timestamp()
        assert -0.01 <= lateness < 0.5, (message.id, lateness)


async def test_burst_drains_and_returns(
    standin: StandIn, sqlite_store, make_settings, fast_policy
) -> None:
    items = batch("burst", 100, now())
    future = testing.make_message("future", now() + timedelta(hours=1))
    await sqlite_store.add_many([*items, future])
    d = await bootstrap.build_dispatcher(make_settings(), sqlite_store, policy=fast_policy())
    await asyncio.wait_for(d.run(burst=True), timeout=5)
    await d.stop()
    rows = [await sqlite_store.get(m.id) for m in items]
    assert all(r is not None and r.status == Status.SENT for r in rows)
    still = await sqlite_store.get("future")
    assert still is not None
    assert still.status == Status.QUEUED
    assert len(standin.requests) == 100


async def test_stop_releases_unsent_claims(
    standin: StandIn, sqlite_store, make_settings, fast_policy
) -> None:
    items = batch("stop", 30, now())
    await sqlite_store.add_many(items)
    d = await bootstrap.build_dispatcher(
        make_settings(messages_per_second=10), sqlite_store, policy=fast_policy()
    )
    await d.start()
    await asyncio.sleep(0.5)
    await d.stop()
    rows = [await sqlite_store.get(m.id) for m in items]
    sent = [r for r in rows if r is not None and r.status == Status.SENT]
    queued = [r for r in rows if r is not None and r.status == Status.QUEUED]
    assert 1 <= len(sent) < 30
    assert len(sent) + len(queued) == 30
    assert all(r.attempts == 0 and r.claimed_by is None for r in queued)
    assert len(standin.requests) == len(sent)
    assert (await sqlite_store.stats(now())).sending == 0
