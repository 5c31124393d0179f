"""Meta counts sends over any 1-s window: none may carry more than the rate plus 2%.

The limiter is driven on virtual time (`VirtualTime`): the real `Throughput` (the code
`SendPath.attempt` runs), the real bucket and gate, and for the fleet the real bookings in
PostgreSQL and in Redis, whose `now` is the virtual clock's reading (`clock=`). Time moves only
when every sender is asleep, so the result does not depend on this machine's speed; the
senders' wake-ups are late by a seeded jitter, with stalls of the event loop that wake many at
once, and each booking's round trip takes virtual time. Senders go quiet now and then: the
burst after a quiet spell is what used to let a quarter-second extra out.

The assertion is on the times `Throughput.go` let each send start, which is what the
dispatcher stamps as `started_at`: the busiest half-open 1-s window holds at most
`ratelimit.window_bound(rate, burst)`, which for a whole-number rate is `floor(1.02 * rate)`
(1 at 1/s, 5 at 5/s, 81 at 80/s, 1,020 at 1,000/s): no "+ something" beyond 2%. A window
is `[t, t + 1 - 1e-9)`: the nanosecond covers float rounding of times summed over thousands
of intervals, not a real send. The senders must also get near the rate (the busiest window
at least 98% of the rate, the mean at least 90% of it), so sending nothing cannot pass.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import os
import random
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from whatsapp_scheduler.dispatch import ratelimit, sharedlimit, throughput
from whatsapp_scheduler.store import shared_limits

NUMBER = "106540352242922"
START = 1_000_000.0  # virtual seconds; small enough for full double precision in Redis


class VirtualTime:
    """A `sharedlimit.Timer` on virtual time for the tasks of `run`: time moves to the next
    wake-up only when every task is asleep (or waiting for a booking lock), one task is woken
    at a time, so nothing else runs while a task does real I/O."""

    def __init__(self, rng: random.Random, *, stalls: list[tuple[float, float]]) -> None:
        self.now = START
        self.rng = rng
        self.stalls = stalls  # (from, to): a busy event loop; wake-ups inside move to `to`
        self.locks: list[asyncio.Lock | asyncio.Semaphore] = []  # their waiters count as asleep
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._running = 0

    def time(self) -> float:
        return self.now

    def late(self, wake: float) -> float:
        """When a task due at `wake` really wakes: 0-2 ms late, or at the end of a stall."""
        for begin, end in self.stalls:
            if begin <= wake < end:
                return end + self.rng.uniform(0.0, 0.002)
        return wake + self.rng.uniform(0.0, 0.002)

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        wake = self.late(self.now + max(0.0, seconds))
        heapq.heappush(self._heap, (wake, next(self._seq), future))
        await future

    def _lock_waiters(self) -> int:
        waiters = 0
        for lock in self.locks:
            found = getattr(lock, "_waiters", None) or ()  # CPython's Lock and Semaphore
            waiters += sum(1 for future in found if not future.done())
        return waiters

    async def run(self, coros: list[Coroutine[Any, Any, None]]) -> None:
        tasks = [asyncio.ensure_future(coro) for coro in coros]
        while not all(task.done() for task in tasks):
            running = sum(1 for task in tasks if not task.done())
            # Real I/O (a booking's round trip) is in progress until every task is asleep.
            if len(self._heap) + self._lock_waiters() < running:
                await asyncio.sleep(0.0001)
                continue
            wake, _, future = heapq.heappop(self._heap)
            self.now = max(self.now, wake)
            future.set_result(None)
            await asyncio.sleep(0)
        for task in tasks:
            task.result()


class RoundTrip:
    """A `LimitState` whose bookings take virtual time: 0.1-3 ms each way, plus the wake-up's
    lateness (the shared clock reads in between, as the database stamps its `now` inside the
    round trip); other senders run meanwhile and queue for the next booking."""

    def __init__(self, inner: shared_limits.LimitState, vt: VirtualTime) -> None:
        self.inner = inner
        self.vt = vt
        self.errors = inner.errors

    async def book(self, key: str, n: int, interval: float) -> tuple[float, float]:
        await self.vt.sleep(self.vt.rng.uniform(0.0001, 0.003))  # other senders run meanwhile
        answer = await self.inner.book(key, n, interval)
        await self.vt.sleep(self.vt.rng.uniform(0.0001, 0.003))
        return answer

    async def book_pairs(self, gaps: dict[str, float], floor: float) -> dict[str, float]:
        raise AssertionError("no pair gap in these tests")

    async def reset(self) -> None:
        await self.inner.reset()

    async def close(self) -> None:
        await self.inner.close()


def busiest_window(stamps: list[float]) -> int:
    """The most stamps in any half-open window of 1 s (one starting at each stamp is enough)."""
    ordered = sorted(stamps)
    return max(
        (bisect.bisect_left(ordered, t + 1.0 - 1e-9) - i for i, t in enumerate(ordered)),
        default=0,
    )


StateFactory = Callable[[Callable[[], float]], shared_limits.LimitState]


async def simulate(
    rate: float,
    *,
    processes: int,
    state: StateFactory | None = None,
    seconds: float = 12.0,
    burst: float | None = None,
    seed: int = 13,
) -> tuple[list[float], float]:
    """`processes` senders' processes, 16 concurrent sends each, for `seconds` of virtual
    time with quiet spells; returns the start times of every send and the busy time."""
    rng = random.Random(seed)
    stalls = []
    t = START + 0.5
    while t < START + seconds:  # a 10-80 ms stall every ~0.7 s
        length = rng.uniform(0.01, 0.08)
        stalls.append((t, t + length))
        t += length + rng.uniform(0.3, 1.1)
    vt = VirtualTime(rng, stalls=stalls)
    quiet = [(START + seconds * f, START + seconds * f + 2.0) for f in (0.3, 0.65)]
    stamps: list[float] = []
    limits: list[sharedlimit.BookedRateLimit] = []
    turns = []
    for _ in range(processes):
        shared = None
        if state is not None:
            shared = sharedlimit.BookedRateLimit(
                RoundTrip(state(vt.time), vt), rate, burst, timer=vt
            )
            limits.append(shared)
            vt.locks += [shared._lock, shared.holders(NUMBER)]
        local = ratelimit.RateLimiter(rate, 0.0, burst)
        gate_lock = asyncio.Lock()
        vt.locks.append(gate_lock)
        turns.append(throughput.Throughput(local, shared, NUMBER, gate_lock, vt))

    async def sender(turn: throughput.Throughput) -> None:
        while vt.time() < START + seconds:
            spell = next((end for begin, end in quiet if begin <= vt.time() < end), None)
            if spell is not None:
                await vt.sleep(spell - vt.time())
                continue
            slot = await turn.wait()
            await turn.go(slot)
            stamps.append(vt.time())  # what SendPath stamps as started_at
            await vt.sleep(rng.uniform(0.0, 0.005))  # the request on the wire

    try:
        await vt.run([sender(turn) for turn in turns for _ in range(16)])
    finally:
        for limit in limits:
            await limit.close()
    busy = seconds - sum(end - begin for begin, end in quiet)
    return [s for s in stamps if s < START + seconds], busy


def assert_within_the_window(stamps: list[float], busy: float, rate: float) -> None:
    bound = ratelimit.window_bound(rate, ratelimit.burst_for(rate))
    assert bound <= 1.02 * rate or bound == 1  # the bound is the requirement itself
    busiest = busiest_window(stamps)
    assert busiest <= bound, f"{busiest} sends in one second at {rate}/s (at most {bound})"
    # And the limit is not met by sending too little: the fleet books 1% under the rate
    # (sharedlimit.LATE_SECONDS), and stalls cost what they stall.
    assert busiest >= 0.98 * rate
    assert len(stamps) / busy >= 0.9 * rate


RATES = [1.0, 5.0, 80.0, 1000.0]


@pytest.mark.parametrize("rate", RATES)
async def test_one_process_keeps_every_second_within_two_percent(rate):
    stamps, busy = await simulate(rate, processes=1, seconds=12.0 if rate > 5 else 40.0)
    assert_within_the_window(stamps, busy, rate)


async def test_the_check_would_catch_the_old_quarter_second_burst():
    """The same run with the old burst (a quarter-second's worth) breaks the bound: the
    simulation sees what Meta would have counted."""
    rate = 1000.0
    stamps, _ = await simulate(rate, processes=1, burst=rate * 0.25)
    assert busiest_window(stamps) > 1.1 * rate


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_REDIS_URL is not set in CI: the Redis tests must run")
        pytest.skip("TEST_REDIS_URL not set (scripts/test sets it)")
    return url


@pytest.mark.postgres
@pytest.mark.parametrize("rate", RATES)
async def test_two_processes_sharing_postgres_keep_every_second_within_two_percent(
    rate, postgres_url
):
    def state(clock: Callable[[], float]) -> shared_limits.LimitState:
        return shared_limits.PostgresLimitState(postgres_url, clock=clock)

    stamps, busy = await simulate(
        rate, processes=2, state=state, seconds=12.0 if rate > 5 else 40.0
    )
    assert_within_the_window(stamps, busy, rate)


@pytest.mark.parametrize("rate", RATES)
async def test_two_processes_sharing_redis_keep_every_second_within_two_percent(rate, redis_url):
    prefix = f"test-{uuid.uuid4().hex}:"  # a fresh key: no state from earlier runs

    def state(clock: Callable[[], float]) -> shared_limits.LimitState:
        found = shared_limits.RedisLimitState(redis_url, clock=clock)
        found.PREFIX = prefix
        return found

    stamps, busy = await simulate(
        rate, processes=2, state=state, seconds=12.0 if rate > 5 else 40.0
    )
    assert_within_the_window(stamps, busy, rate)


def test_busiest_window_counts_half_open_seconds():
    assert busiest_window([0.0, 0.5, 0.999, 1.0, 1.5]) == 3
    assert busiest_window([0.0, 1.0, 2.0]) == 1
    assert busiest_window([]) == 0
