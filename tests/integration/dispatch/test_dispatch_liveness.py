"""A dead worker is known at once: PostgreSQL advisory locks per worker (store/workers.py) and
the SQLite file's dispatcher lock (standby.py); a live worker's renewed lease is never taken.
Real processes killed with SIGKILL, real PostgreSQL sessions, a real SQLite file."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import psycopg
import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import config as dispatch_config
from whatsapp_scheduler.dispatch import dispatcher, ratelimit, retries, standby
from whatsapp_scheduler.store import sql, urls, workers

Status = messages.MessageStatus
AO = messages.AttemptOutcome

_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from whatsapp_scheduler.store import workers

    async def main():
        registry = workers.WorkerRegistry(sys.argv[1], sys.argv[2])
        await registry.start()
        assert registry.registered.is_set()
        print("registered", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def _holder(url: str, worker: str) -> subprocess.Popen[str]:
    """A process that registers `worker` and lives until killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url, worker], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "registered"
    return process


async def _until(condition, what: str, timeout: float = 30.0) -> None:
    """Wait for `condition()` (awaitable); the deadline only guards against a hang."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.postgres
async def test_a_killed_workers_advisory_lock_tells_the_others_it_is_dead(postgres_url):
    observer = workers.WorkerRegistry(postgres_url, "observer")
    await observer.start()
    victim = _holder(postgres_url, "victim")
    stale = _holder(postgres_url, "stale")
    try:
        assert observer.registered.is_set()
        assert await observer.dead(["victim", "stale", "never-registered", "observer"]) == set()
        victim.send_signal(signal.SIGKILL)
        victim.wait()

        async def victim_dead() -> bool:
            return await observer.dead(["victim", "stale"]) == {"victim"}

        await _until(victim_dead, "the victim's session to end")
        # A worker registered under an earlier start of the server (PostgreSQL restarted: all
        # sessions ended) is not taken for dead before it registers again.
        with psycopg.connect(urls.libpq_url(postgres_url), autocommit=True) as conn:
            conn.execute(
                "UPDATE workers SET server_started_at = server_started_at - interval '1 hour' "
                "WHERE worker_id = 'stale'"
            )
        stale.send_signal(signal.SIGKILL)
        stale.wait()
        await asyncio.sleep(0.5)  # before a negative check: time for the session to end
        assert await observer.dead(["stale"]) == set()
        await observer.forget_settled()  # neither holds a claim: both rows go
        with psycopg.connect(urls.libpq_url(postgres_url), autocommit=True) as conn:
            left = conn.execute("SELECT worker_id FROM workers ORDER BY 1").fetchall()
        assert left == [("observer",)]
    finally:
        for process in (victim, stale):
            if process.poll() is None:
                process.kill()
                process.wait()
            assert process.stdout is not None
            process.stdout.close()
        await observer.stop()


def _real_dispatcher(
    message_store: sql.SqlMessageStore,
    sender: testing.FakeSender,
    worker: str,
    *,
    lease: float,
    liveness: workers.WorkerRegistry | None = None,
) -> dispatcher.Dispatcher:
    return dispatcher.Dispatcher(
        message_store=message_store,
        sender=sender,
        phone_number_id="106540352242922",
        clock=clock_mod.SystemClock(),
        config=dispatch_config.DispatchConfig(
            flush_delay_seconds=0.0,
            shutdown_grace_seconds=0.5,
            lease_seconds=lease,
            reap_interval_seconds=0.5,
            messages_per_second=1000.0,
        ),
        policy=retries.RetryPolicy(random=random.Random(7).random),
        limiter=ratelimit.RateLimiter(1000.0, 0.0),
        worker_id=worker,
        liveness=liveness,
    )


@pytest.mark.postgres
async def test_a_long_send_renews_its_lease_and_another_worker_does_not_take_it(postgres_url):
    """A send that lasts three leases: its dispatcher renews the lease, the other one (its
    reaper every 0.5 s, asking which workers died) takes nothing; one send, no ambiguous
    attempt."""
    store_a = sql.SqlMessageStore.from_url(postgres_url)
    store_b = sql.SqlMessageStore.from_url(postgres_url)
    slow, idle = testing.FakeSender(latency=4.5), testing.FakeSender()
    a = _real_dispatcher(
        store_a, slow, "a", lease=1.5, liveness=workers.WorkerRegistry(postgres_url, "a")
    )
    b = _real_dispatcher(
        store_b, idle, "b", lease=1.5, liveness=workers.WorkerRegistry(postgres_url, "b")
    )
    now = clock_mod.SystemClock().now()
    await store_a.add(testing.make_message("long", now - timedelta(seconds=1)))
    await a.start()
    try:

        async def sending() -> bool:
            return bool(slow.calls)

        await _until(sending, "the slow send to start")
        await b.start()

        async def recorded() -> bool:
            row = await store_a.get("long")
            return row is not None and row.status == Status.SENT

        await _until(recorded, "the long send to be recorded")
        await asyncio.sleep(1.0)  # before a negative check: a resend would show by now
    finally:
        await b.stop()
        await a.stop()
    try:
        attempts = await store_a.attempts("long")
        assert [(x.outcome, x.worker) for x in attempts] == [(AO.SENT, "a")]
        assert len(slow.calls) == 1
        assert idle.calls == []
        assert b.tally.counts["reaped"] == 0
    finally:
        await store_a.close()
        await store_b.close()


async def test_the_sqlite_lock_holder_recovers_its_predecessors_claims_at_once(tmp_path):
    """The process that takes a SQLite file's dispatcher lock knows every earlier holder is
    gone: their claims are recovered at its start, long before their 60 s leases end."""
    from whatsapp_scheduler.store import migrate

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate.upgrade(url)
    message_store = sql.SqlMessageStore.from_url(url)
    now = clock_mod.SystemClock().now()
    lease_end = now + timedelta(seconds=60)
    await message_store.add(testing.make_message("orphan", now))
    await message_store.claim_due(now, 10, "killed-process", lease_end)
    sender = testing.FakeSender()
    running = standby.StandbyDispatcher(
        _real_dispatcher(message_store, sender, "new-process", lease=60.0),
        standby.DispatchLock(str(tmp_path / "shop.db")),
    )
    await running.start()
    try:

        async def sent() -> bool:
            row = await message_store.get("orphan")
            return row is not None and row.status == Status.SENT

        await _until(sent, "the orphan to be resent")
    finally:
        await running.stop()
    try:
        first, second = await message_store.attempts("orphan")
        assert (first.outcome, first.error_text) == (AO.AMBIGUOUS, retries.WORKER_DIED_TEXT)
        assert first.worker == "killed-process"
        assert first.finished_at < lease_end  # freed by the death, not by the lease's end
        assert (second.outcome, second.worker) == (AO.SENT, "new-process")
    finally:
        await message_store.close()
