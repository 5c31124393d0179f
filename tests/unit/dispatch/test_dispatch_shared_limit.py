"""The dispatcher with a fleet-wide rate limit (sharedlimit.py) and stop hooks."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
import uvloop

from whatsapp_scheduler import bootstrap, testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import dispatcher, sharedlimit
from whatsapp_scheduler.store import shared_limits

NUMBER = "106540352242922"


class CountingLimit:
    """A SharedRateLimit that grants every slot at once and counts; pair bookings are answered
    from `refuse` (recipient key -> seconds to wait), else granted."""

    def __init__(self, refuse: dict[str, float] | None = None) -> None:
        self.acquired: list[str] = []
        self.pairs: list[tuple[str, float]] = []
        self.refuse = refuse or {}
        self.closed = False
        self.rates: dict[str, float] = {}

    def set_rate(self, key: str, rate: float) -> None:
        self.rates[key] = rate

    async def acquire(self, key: str) -> sharedlimit.Slot:
        self.acquired.append(key)
        return sharedlimit.Slot(0.0)

    def gave_up(self) -> None:
        raise AssertionError("a slot without deadline is never given up")

    def health(self) -> dict[str, object]:
        return {"source": "counting"}

    async def reserve_pair(self, key: str, interval: float) -> float | None:
        self.pairs.append((key, interval))
        return self.refuse.get(key)

    async def close(self) -> None:
        self.closed = True


async def test_every_send_takes_a_shared_slot_and_stop_closes_the_limit(
    make_dispatcher, memory_store, sender, clock
):
    await memory_store.add_many([testing.make_message(f"m{i}", clock.now()) for i in range(5)])
    d: dispatcher.Dispatcher = make_dispatcher()
    limit = CountingLimit()
    d.shared_limiter = limit
    stopped: list[str] = []

    async def hook() -> None:
        stopped.append("hook")

    d.add_stop_hook(hook)
    await d.run(burst=True)
    assert limit.acquired == ["106540352242922"] * 5
    assert d.health()["limit"] == {
        "messages_per_second": 1000.0,
        "burst": 101,  # a tenth of a second to catch up; the window keeps the 2 % bound
        "window_max": 1020,
        "source": "counting",
    }
    assert limit.pairs == []  # PAIR_INTERVAL=0: no gap to share
    assert len(sender.sent) == 5
    assert all(m.status == messages.MessageStatus.SENT for m in memory_store.rows.values())
    await d.stop()
    assert limit.closed
    assert stopped == ["hook"]


async def test_build_dispatcher_shares_the_limit_only_on_postgres(make_settings, memory_store):
    on_sqlite = await bootstrap.build_dispatcher(
        make_settings(), memory_store, sender=testing.FakeSender()
    )
    assert on_sqlite.shared_limiter is None
    assert on_sqlite.config.claim_batch_size == 200
    on_postgres = await bootstrap.build_dispatcher(
        make_settings(database_url="postgresql://nobody@127.0.0.1:1/none", send_concurrency=32),
        memory_store,
        sender=testing.FakeSender(),
    )
    assert on_postgres.shared_limiter is not None  # connects lazily: nothing opened yet
    assert on_postgres.config.claim_batch_size == 32  # smaller claims: the rate is shared
    await on_postgres.stop()
    await on_sqlite.stop()


async def test_the_pair_gap_is_booked_fleet_wide_and_a_refusal_defers(
    make_dispatcher, memory_store, sender, clock
):
    """Another process sent to +905551112233 3.5 s ago: that message waits, the other goes."""
    now = clock.now()
    await memory_store.add_many(
        [
            testing.make_message("busy", now, recipient="+905551112233"),
            testing.make_message("free", now, recipient="+905551112244"),
        ]
    )
    d: dispatcher.Dispatcher = make_dispatcher(pair_interval=6.0)
    limit = CountingLimit(refuse={f"{NUMBER}:+905551112233": 2.5})
    d.shared_limiter = limit
    await d.run(burst=True)
    assert sorted(limit.pairs) == [
        (f"{NUMBER}:+905551112233", 6.0),
        (f"{NUMBER}:+905551112244", 6.0),
    ]
    assert [m.id for m in sender.sent] == ["free"]
    busy = memory_store.rows["busy"]
    assert busy.status == messages.MessageStatus.QUEUED
    assert busy.run_at == now + timedelta(seconds=2.5)
    assert busy.attempts == 0  # a deferral, not a failed attempt
    assert d.health()["deferred"] == 1
    # the local booking was given back: once the fleet allows it, it goes at once
    limit.refuse.clear()
    clock.advance(timedelta(seconds=2.5))
    await d.run(burst=True)
    assert [m.id for m in sender.sent] == ["free", "busy"]
    await d.stop()


class StillTimer:
    """A timer that never moves (bookings only, nothing slept)."""

    def time(self) -> float:
        return 100.0

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("nothing sleeps here")


async def test_each_number_is_booked_at_its_own_rate():
    """Issue #15: one fleet limit, each sender's number at that sender's rate, each its own
    schedule (one `rate_limits` row / Redis key per phone_number_id)."""
    timer = StillTimer()
    state = shared_limits.LocalLimitState(timer.time)
    limit = sharedlimit.BookedRateLimit(state, 100.0, timer=timer)
    limit.set_rate("branch", 20.0)
    fast = await limit.book("default", 6)
    slow = await limit.book("branch", 6)
    gap_fast = fast[5].at - fast[4].at  # past the burst
    gap_slow = slow[5].at - slow[4].at
    assert gap_fast == pytest.approx(1 / sharedlimit.booked_rate(100.0))
    assert gap_slow == pytest.approx(1 / sharedlimit.booked_rate(20.0))
    assert limit.rate_of("branch").max_batch == 1  # 50 ms of 20/s
    assert limit.rate_of("default").max_batch == 5


async def test_a_local_share_splits_each_numbers_own_rate():
    timer = StillTimer()
    share = sharedlimit.LocalShareRateLimit(100.0, 4, timer=timer)
    share.set_rate("branch", 40.0)
    assert share.rate_of("branch").rate == 10.0  # its share of 40/s among 4 instances
    assert share.rate_of("default").rate == 25.0


def test_the_send_timer_resolves_less_than_a_millisecond_on_uvloop() -> None:
    """`serve` runs on uvloop, whose `loop.time()` counts whole milliseconds: at 1,000/s the
    gate would see several sends 0.1-0.9 ms apart as one instant (and sleep and look again
    in a loop for the rest of the millisecond). The timer the gate uses is the monotonic
    clock itself: readings 0.1 ms apart all differ."""

    async def readings() -> list[float]:
        timer = sharedlimit.LoopTimer()
        found = []
        for _ in range(50):
            found.append(timer.time())
            end = time.monotonic() + 0.0001
            while time.monotonic() < end:  # 0.1 ms of work, no await
                pass
        return found

    found = uvloop.run(readings())
    steps = [later - earlier for earlier, later in itertools.pairwise(found)]
    assert min(steps) >= 0.0001
