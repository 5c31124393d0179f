"""Crash recovery in the dispatcher: the webhook grace before a resend, dead workers' claims
taken at once, lease renewal, and outcome commits retried through a database outage."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection
from datetime import timedelta

from whatsapp_scheduler import store, testing
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import dispatcher, retries

Status = messages.MessageStatus
AO = messages.AttemptOutcome
GRACE = 60.0


def graced() -> retries.RetryPolicy:
    return retries.RetryPolicy(random=random.Random(7).random, ambiguous_grace_seconds=GRACE)


class KnownDead:
    """A `liveness.Liveness` that knows these workers died."""

    check_seconds: float | None = None

    def __init__(self, *dead: str) -> None:
        self._dead = set(dead)
        self.asked: list[set[str]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def forget_settled(self) -> None:
        return None

    async def dead(self, workers: Collection[str]) -> set[str]:
        self.asked.append(set(workers))
        return self._dead & set(workers)


async def _claimed_by_dead_worker(memory_store, clock, n: int = 1, lease_left: float = 50.0):
    now = clock.now()
    await memory_store.add_many(
        [testing.make_message(f"m{i}", now, recipient=f"+9055500003{i:02d}") for i in range(n)]
    )
    await memory_store.claim_due(now, n, "dead-worker", now + timedelta(seconds=lease_left))


async def test_a_dead_workers_claims_are_recovered_before_their_lease_expires(
    clock, memory_store, sender, make_dispatcher
):
    await _claimed_by_dead_worker(memory_store, clock, n=3)
    d = make_dispatcher(claim_batch_size=2)  # two rounds: the reaper takes them all
    assert await d.reap() == 0  # no liveness: leases still valid, nothing known
    d.liveness = KnownDead("dead-worker")
    assert await d.reap() == 3
    for i in range(3):
        row = memory_store.rows[f"m{i}"]
        assert row.status == Status.QUEUED
        (attempt,) = await memory_store.attempts(f"m{i}")
        assert attempt.outcome == AO.AMBIGUOUS
        assert attempt.error_text == retries.WORKER_DIED_TEXT
        assert attempt.finished_at < row.created_at + timedelta(seconds=50)  # lease not passed


async def test_a_live_workers_claims_are_left_alone(clock, memory_store, make_dispatcher):
    await _claimed_by_dead_worker(memory_store, clock)
    d = make_dispatcher()
    d.liveness = KnownDead()  # "dead-worker" is in fact alive
    assert await d.reap() == 0
    assert d.liveness.asked == [{"dead-worker"}]
    assert memory_store.rows["m0"].status == Status.SENDING


async def test_an_ambiguous_message_waits_the_grace_and_a_status_webhook_settles_it(
    clock, memory_store, sender, make_dispatcher
):
    """With webhooks on, a reaped message is not resent before the grace; Meta's `sent`
    status carrying our id proves the send: recorded sent, with its wamid, no second send."""
    await _claimed_by_dead_worker(memory_store, clock, n=2)
    d = make_dispatcher(policy=graced())
    d.liveness = KnownDead("dead-worker")
    reaped_at = clock.now()
    assert await d.reap() == 2
    assert memory_store.rows["m0"].run_at == reaped_at + timedelta(seconds=GRACE)
    await d.run(burst=True)
    assert sender.calls == []  # inside the grace: nothing resent
    receipt = store.Receipt(
        wamid="wamid.PROVEN0",
        status=Status.SENT,
        occurred_at=reaped_at + timedelta(seconds=1),  # Meta's time: after our claim
        callback_data="m0",
    )
    counts = await memory_store.apply_receipts([receipt], clock.now())
    assert counts.applied == 1
    row = memory_store.rows["m0"]
    assert (row.status, row.wamid, row.sent_at) == (
        Status.SENT,
        "wamid.PROVEN0",
        receipt.occurred_at,
    )
    clock.advance(timedelta(seconds=GRACE))
    await d.run(burst=True)
    assert [m.id for m in sender.calls] == ["m1"]  # no proof came for m1: resent after the grace
    assert memory_store.rows["m1"].status == Status.SENT
    await d.stop()


async def test_a_status_webhook_does_not_settle_a_message_never_attempted(clock, memory_store):
    now = clock.now()
    await memory_store.add_many([testing.make_message("fresh", now)])
    receipt = store.Receipt("wamid.X", Status.SENT, now, callback_data="fresh")
    counts = await memory_store.apply_receipts([receipt], now)
    assert counts.applied == 0
    assert memory_store.rows["fresh"].status == Status.QUEUED


async def test_a_timeout_waits_the_grace_too(clock, memory_store, sender, make_dispatcher):
    await memory_store.add_many([testing.make_message("t", clock.now())])
    sender.fail_next(1, errors.AmbiguousFailure("timeout"))
    d = make_dispatcher(policy=graced())
    started = clock.now()
    await d.run(burst=True)
    row = memory_store.rows["t"]
    assert row.status == Status.QUEUED
    assert row.run_at >= started + timedelta(seconds=GRACE)
    await d.stop()


def test_without_a_grace_an_ambiguous_message_is_resent_at_once(clock):
    message = testing.make_message("r", clock.now())
    decision = retries.reap_decision(message, clock.now(), retries.RetryPolicy())
    assert decision.run_at == clock.now()


async def test_leases_of_live_claims_are_renewed_and_not_reaped_by_another_worker(
    clock, memory_store, sender, make_dispatcher
):
    """A send longer than the lease: its dispatcher renews it, so another dispatcher's reaper
    finds nothing expired; the message goes out once."""
    await memory_store.add_many([testing.make_message("long", clock.now())])
    gate = asyncio.Event()
    send = sender.send

    async def slow_send(message):
        await gate.wait()
        return await send(message)

    sender.send = slow_send
    a = make_dispatcher(lease_seconds=10.0)
    b = make_dispatcher(lease_seconds=10.0)
    b.worker_id = "worker-other"
    run = asyncio.create_task(a.run(burst=True))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while "long" not in a._tasks:
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    for _ in range(3):  # three lease lengths, renewed every third of one
        for _ in range(3):
            clock.advance(timedelta(seconds=10 / 3))
            assert await a.renew_leases() == 1
        assert await b.reap() == 0
    gate.set()
    await asyncio.wait_for(run, 30)
    assert memory_store.rows["long"].status == Status.SENT
    assert [a.outcome for a in memory_store.attempt_rows] == [AO.SENT]
    # Without renewal the lease passes and the other dispatcher's reaper takes it.
    await memory_store.add_many([testing.make_message("idle", clock.now())])
    await memory_store.claim_due(clock.now(), 1, a.worker_id, clock.now() + timedelta(seconds=10))
    clock.advance(timedelta(seconds=11))
    assert await b.reap() == 1
    await a.stop()
    await b.stop()


async def test_an_outcome_is_committed_after_the_database_comes_back(
    clock, memory_store, sender, make_dispatcher, monkeypatch
):
    """Meta took the message but the database is away: the outcome is retried (not dropped
    for the reaper to resend), and the send slot stays taken meanwhile."""
    await memory_store.add_many([testing.make_message("o", clock.now())])
    record = memory_store.record
    failures = {"left": 4}

    async def flaky_record(outcomes):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise errors.StoreError("database error: OperationalError")
        return await record(outcomes)

    monkeypatch.setattr(memory_store, "record", flaky_record)
    monkeypatch.setattr(dispatcher, "COMMIT_RETRY_FIRST", 0.01)
    d = make_dispatcher()
    await asyncio.wait_for(d.run(burst=True), 30)
    assert len(sender.calls) == 1
    assert memory_store.rows["o"].status == Status.SENT
    await d.stop()
