"""One throughput limit per business number for the whole fleet, kept in PostgreSQL.

`ratelimit.TokenBucket` holds per process: N processes sharing a number would send N times
its rate. `PostgresRateLimit` keeps the same GCRA state ("virtual scheduling", the theoretical
arrival time `tat` of the next free slot) in one row of `rate_limits` per number, on the
database's clock, so every instance books its send slots from one schedule.

One round trip books a *batch* of slots: as many as this process has sends waiting, at most
`BATCH_SECONDS` worth of the rate. The single statement is an atomic upsert::

    base = GREATEST(tat, db_now);  tat = base + n / rate;  RETURNING base, db_now

and slot i (0 <= i < n) may go out at `max(db_now, base + i / rate - tolerance)`, exactly what
n successive `TokenBucket.reserve` calls would give (`tolerance` allows a burst of
`ratelimit.BURST_SECONDS` worth after a quiet spell). Slots are converted to this process's
monotonic clock and awaited. So over any window T the fleet sends at most `rate * T + burst`;
a slot booked by a process that then dies or stops is simply unused (slower, never faster).

If the database cannot be reached, `acquire` waits and retries with back-off (no send goes out
unmetered); the store is unreachable then too, so nothing is lost by waiting.

With `REDIS_URL` set, `RedisRateLimit` keeps the same state in one Redis key per number instead
(one Lua script per booking, on Redis's clock): for fleets that already run Redis, or to keep
this traffic off PostgreSQL.

The gap per recipient (`PAIR_INTERVAL`) is shared the same way: `reserve_pair` books the next
message to one recipient for the whole fleet, in the `pair_gaps` table (or one expiring Redis
key per recipient): `tat` = when the next message to that recipient may go out; a booking
succeeds only if that time has passed, and moves it `interval` ahead. Bookings of concurrent
sends share one round trip (`store.batching.Batcher`). A booked gap whose message is then not
sent (its number paused) just delays the next message to that recipient: slower, never faster.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from whatsapp_scheduler.dispatch import ratelimit
from whatsapp_scheduler.store import batching, shared_limits, urls

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: One booking covers at most this many seconds of the rate (fewer round trips per message
#: at high rates; at 80/s a booking is at most 4 slots).
BATCH_SECONDS = 0.05
#: Reconnect back-off after a database error: first wait and cap (seconds).
RETRY_FIRST = 0.1
RETRY_MAX = 5.0
#: A refused pair booking waits at least this long (a concurrent booking not yet visible).
MIN_PAIR_WAIT = 0.05


class SharedRateLimit(Protocol):
    """A throughput limit shared by every process sending for a number."""

    async def acquire(self, key: str) -> None:
        """Wait until one send for `key` may go out (the slot is then used)."""
        ...

    async def reserve_pair(self, key: str, interval: float) -> float | None:
        """Book the next message to one recipient (`key`) for the whole fleet: None if it may
        go out now (the next one then waits `interval`), else the seconds until it may."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def slot_times(base: float, now: float, n: int, rate: float, burst: float) -> list[float]:
    """The n slots booked by one round trip, in the booking clock (see the module docstring)."""
    interval = 1.0 / rate
    tolerance = (max(1.0, burst) - 1.0) * interval
    return [max(now, base + i * interval - tolerance) for i in range(n)]


class _BookedRateLimit:
    """GCRA booked in batches from shared state (`store.shared_limits`): one round trip books
    as many slots as this process has sends waiting."""

    def __init__(
        self, state: shared_limits.LimitState, rate: float, burst: float | None = None
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.state = state
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate * ratelimit.BURST_SECONDS)
        self.max_batch = max(1, int(rate * BATCH_SECONDS))
        self._lock = asyncio.Lock()
        self._slots: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._waiting: collections.Counter[str] = collections.Counter()
        self.round_trips = 0  # bookings made, for tests and the benchmark
        self._pairs: batching.Batcher[tuple[str, float], float | None] = batching.Batcher(
            self._book_pairs
        )

    async def acquire(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        self._waiting[key] += 1
        try:
            slots = self._slots[key]
            while not slots:
                async with self._lock:
                    if not slots:  # another waiter may have booked for us meanwhile
                        slots.extend(await self._book(key, min(self.max_batch, self._waiting[key])))
            at = slots.popleft()
        finally:
            self._waiting[key] -= 1
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _book(self, key: str, n: int) -> list[float]:
        """Book n slots; returns them on this loop's clock. Retries until the store answers."""
        loop = asyncio.get_running_loop()
        base, shared_now = await self._retrying(
            "shared rate limit", lambda: self.state.book(key, n, 1.0 / self.rate)
        )
        local_now = loop.time()
        self.round_trips += 1
        slots = slot_times(base, shared_now, n, self.rate, self.burst)
        return [local_now + (slot - shared_now) for slot in slots]

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` until the shared store answers: a failure drops the connection and waits
        RETRY_FIRST, doubling up to RETRY_MAX (no send goes out unmetered meanwhile)."""
        wait = RETRY_FIRST
        while True:
            try:
                return await call()
            except self.state.errors as exc:
                logger.warning(
                    "%s: %s (%s); retrying in %.1f s",
                    what,
                    type(self).__name__,
                    type(exc).__name__,
                    wait,
                )
                await self.state.reset()
                await asyncio.sleep(wait)
                wait = min(RETRY_MAX, wait * 2)

    async def reserve_pair(self, key: str, interval: float) -> float | None:
        if interval <= 0:
            return None
        return await self._pairs.submit((key, interval))

    async def _book_pairs(self, items: list[tuple[str, float]]) -> list[float | None]:
        """One round trip for a group of pair bookings (retried like `_book`). A key asked
        for twice in one group: the first ask books it, the second waits its interval."""
        # Distinct keys (a repeated key keeps its last interval), sorted: processes whose
        # groups overlap then lock the rows in the same order and never deadlock.
        gaps = dict(sorted(dict(items).items()))
        waits = await self._retrying(
            "shared pair gap", lambda: self.state.book_pairs(gaps, MIN_PAIR_WAIT)
        )
        answers: list[float | None] = []
        answered: set[str] = set()
        for key, interval in items:
            if waits[key] > 0:
                answers.append(waits[key])  # refused: another send to this recipient was booked
            elif key in answered:
                answers.append(interval)  # booked by an earlier ask in this group
            else:
                answers.append(None)  # booked for this one
            answered.add(key)
        return answers

    async def close(self) -> None:
        """Release connections."""
        await self.state.close()


class PostgresRateLimit(_BookedRateLimit):
    """GCRA booked in batches against the `rate_limits` and `pair_gaps` tables."""

    def __init__(self, database_url: str, rate: float, burst: float | None = None) -> None:
        super().__init__(shared_limits.PostgresLimitState(database_url), rate, burst)


class RedisRateLimit(_BookedRateLimit):
    """GCRA booked in batches in Redis (`REDIS_URL`), one key per number."""

    def __init__(self, redis_url: str, rate: float, burst: float | None = None) -> None:
        super().__init__(shared_limits.RedisLimitState(redis_url), rate, burst)


def for_database(
    database_url: str, rate: float, redis_url: str | None = None
) -> SharedRateLimit | None:
    """The fleet-wide limit: Redis when `redis_url` is set, else PostgreSQL; None on SQLite
    without Redis, where one process owns the queue and `ratelimit.RateLimiter` is exact."""
    if redis_url:
        return RedisRateLimit(redis_url, rate)
    if not urls.is_postgres(database_url):
        return None
    return PostgresRateLimit(database_url, rate)
