"""One dispatcher per SQLite file (standby.py): a second one stands by and takes over when the
first stops; `dispatch --burst` refuses to run beside it. Real flocks on a real lock file."""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.dispatch import config as dispatch_config
from whatsapp_scheduler.dispatch import dispatcher, ratelimit, retries, standby


def _dispatcher(worker: str, store: testing.InMemoryMessageStore, sender: testing.FakeSender):
    return dispatcher.Dispatcher(
        message_store=store,
        sender=sender,
        phone_number_id="106540352242922",
        clock=testing.FrozenClock(),
        config=dispatch_config.DispatchConfig(flush_delay_seconds=0.0, shutdown_grace_seconds=0.2),
        policy=retries.RetryPolicy(random=random.Random(7).random),
        limiter=ratelimit.RateLimiter(1000.0, 0.0),
        worker_id=worker,
    )


async def _until(condition, timeout: float = 20.0) -> None:
    """Wait for `condition()`; the deadline only guards against a hang (generous: a loaded
    2-core machine is slow, and a deadline costs nothing while the test passes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_the_second_dispatcher_stands_by_and_takes_over(tmp_path):
    store, sender = testing.InMemoryMessageStore(), testing.FakeSender()
    path = str(tmp_path / "shop.db")
    first = standby.StandbyDispatcher(
        _dispatcher("first", store, sender), standby.DispatchLock(path), poll_seconds=0.02
    )
    second = standby.StandbyDispatcher(
        _dispatcher("second", store, sender), standby.DispatchLock(path), poll_seconds=0.02
    )
    await first.start()
    await second.start()
    try:
        assert first.health()["state"] == "running"
        assert second.health()["state"] == "standby"
        assert second.health()["active_pid"] == os.getpid()
        message = testing.make_message("m1", testing.FrozenClock().now())
        await store.add(message)
        second.nudge(message.run_at)  # a standing-by dispatcher sends nothing
        first.nudge(message.run_at)
        # Wait for the store's record: the fake sender lists a send before its outcome is
        # committed, and the row is still claimed in between.
        await _until(lambda: store.rows["m1"].status == "sent")
        assert [m.id for m in sender.sent] == ["m1"]
        assert store.rows["m1"].claimed_by is None
        await first.stop()
        await _until(lambda: second.health()["state"] == "running")
        assert first.health()["state"] == "stopped"
        late = testing.make_message("m2", testing.FrozenClock().now())
        await store.add(late)
        second.nudge(late.run_at)
        await _until(lambda: [m.id for m in sender.sent] == ["m1", "m2"])
        assert second.health()["sent"] == 1
    finally:
        await first.stop()
        await second.stop()
    assert not second.lock.held
    assert standby.DispatchLock(path).try_acquire()  # everything was released


async def test_a_stopped_standby_never_starts(tmp_path):
    store, sender = testing.InMemoryMessageStore(), testing.FakeSender()
    path = str(tmp_path / "shop.db")
    held = standby.DispatchLock(path)
    assert held.try_acquire()
    waiting = standby.StandbyDispatcher(
        _dispatcher("w", store, sender), standby.DispatchLock(path), poll_seconds=0.02
    )
    await waiting.start()
    await waiting.stop()
    held.release()
    await asyncio.sleep(0.1)
    assert waiting.health()["state"] == "stopped"
    assert not waiting.lock.held


def test_burst_refuses_beside_a_running_dispatcher(tmp_path):
    path = str(tmp_path / "shop.db")
    held = standby.DispatchLock(path)
    assert held.try_acquire()
    with pytest.raises(errors.ConfigurationError, match=rf"pid {os.getpid()}\) is already"):
        standby.refuse_if_taken(standby.DispatchLock(path))
    held.release()
    free = standby.DispatchLock(path)
    standby.refuse_if_taken(free)  # free: taken for the burst
    assert free.held
    free.release()


def test_no_lock_on_postgres_with_redis_or_in_memory(make_settings, tmp_path):
    assert standby.lock_for(make_settings()) is not None  # a SQLite file
    assert standby.lock_for(make_settings(redis_url="redis://127.0.0.1:6379/15")) is None
    assert standby.lock_for(make_settings(database_url="postgresql://u@h/db")) is None
    assert standby.lock_for(make_settings(database_url="sqlite://")) is None


def test_a_directory_without_write_access_runs_unguarded(tmp_path, caplog):
    lock = standby.DispatchLock(str(tmp_path / "missing-dir" / "shop.db"))  # cannot be created
    assert lock.try_acquire()  # the dispatcher runs, as it did before the lock existed
    assert "not guarding against a second dispatcher" in caplog.text
    lock.release()
