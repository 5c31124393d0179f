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
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import TYPE_CHECKING, Any, Protocol

from whatsapp_scheduler import ratelimit
from whatsapp_scheduler.store import notify

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: One booking covers at most this many seconds of the rate (fewer round trips per message
#: at high rates; at 80/s a booking is at most 4 slots).
BATCH_SECONDS = 0.05
#: Reconnect back-off after a database error: first wait and cap (seconds).
RETRY_FIRST = 0.1
RETRY_MAX = 5.0

_BOOK = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
INSERT INTO rate_limits AS r (key, tat)
SELECT %(key)s, clock.now + %(n)s * %(interval)s FROM clock
ON CONFLICT (key) DO UPDATE
    SET tat = GREATEST(r.tat, (SELECT now FROM clock)) + %(n)s * %(interval)s
RETURNING r.tat - %(n)s * %(interval)s AS base, (SELECT now FROM clock) AS now
"""


class SharedRateLimit(Protocol):
    """A throughput limit shared by every process sending for a number."""

    async def acquire(self, key: str) -> None:
        """Wait until one send for `key` may go out (the slot is then used)."""
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
    """GCRA booked in batches from shared state; subclasses make one booking round trip."""

    #: What a failed round trip raises (retried with back-off).
    errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate * ratelimit.BURST_SECONDS)
        self.max_batch = max(1, int(rate * BATCH_SECONDS))
        self._lock = asyncio.Lock()
        self._slots: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._waiting: collections.Counter[str] = collections.Counter()
        self.round_trips = 0  # bookings made, for tests and the benchmark

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
        wait = RETRY_FIRST
        while True:
            try:
                base, shared_now = await self._book_once(key, n, 1.0 / self.rate)
            except self.errors as exc:
                logger.warning(
                    "shared rate limit: %s (%s); retrying in %.1f s",
                    type(self).__name__,
                    type(exc).__name__,
                    wait,
                )
                await self._reset()
                await asyncio.sleep(wait)
                wait = min(RETRY_MAX, wait * 2)
                continue
            local_now = loop.time()
            self.round_trips += 1
            slots = slot_times(base, shared_now, n, self.rate, self.burst)
            return [local_now + (slot - shared_now) for slot in slots]

    async def _book_once(self, key: str, n: int, interval: float) -> tuple[float, float]:
        """One atomic booking: (base of the first slot, the shared clock's now)."""
        raise NotImplementedError

    async def _reset(self) -> None:
        """Drop a connection that failed."""

    async def close(self) -> None:
        """Release connections."""


class PostgresRateLimit(_BookedRateLimit):
    """GCRA booked in batches against `rate_limits` (one autocommit psycopg connection)."""

    def __init__(self, database_url: str, rate: float, burst: float | None = None) -> None:
        import psycopg  # only PostgreSQL deployments pay for the import

        super().__init__(rate, burst)
        self.errors = (psycopg.Error, OSError)
        self._conninfo = notify.libpq_url(database_url)
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _book_once(self, key: str, n: int, interval: float) -> tuple[float, float]:
        conn = await self._connection()
        cursor = await conn.execute(_BOOK, {"key": key, "n": n, "interval": interval})
        row = await cursor.fetchone()
        assert row is not None
        return float(row[0]), float(row[1])

    async def _reset(self) -> None:
        await self._drop_connection()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, application_name="whatsapp-scheduler-ratelimit"
            )
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except self.errors:
                logger.debug("shared rate limit: error while closing a broken connection")

    async def close(self) -> None:
        await self._drop_connection()


# GCRA booking on Redis's clock; same arithmetic as `_BOOK`. The key expires once idle.
_REDIS_BOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local base = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local tat = base + n * interval
redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 60000)
return {string.format('%.6f', base), string.format('%.6f', now)}
"""


class RedisRateLimit(_BookedRateLimit):
    """GCRA booked in batches in Redis (`REDIS_URL`), one key per number."""

    PREFIX = "whatsapp-scheduler:rate:"

    def __init__(self, redis_url: str, rate: float, burst: float | None = None) -> None:
        import redis.asyncio as aioredis  # only deployments with REDIS_URL pay for the import
        import redis.exceptions

        super().__init__(rate, burst)
        self.errors = (redis.exceptions.RedisError, OSError)
        self._client = aioredis.from_url(redis_url)
        self._script = self._client.register_script(_REDIS_BOOK)

    async def _book_once(self, key: str, n: int, interval: float) -> tuple[float, float]:
        base, now = await self._script(keys=[self.PREFIX + key], args=[n, repr(interval)])
        return float(base), float(now)

    async def close(self) -> None:
        await self._client.aclose()


def for_database(
    database_url: str, rate: float, redis_url: str | None = None
) -> SharedRateLimit | None:
    """The fleet-wide limit: Redis when `redis_url` is set, else PostgreSQL; None on SQLite
    without Redis, where one process owns the queue and `ratelimit.RateLimiter` is exact."""
    if redis_url:
        return RedisRateLimit(redis_url, rate)
    if not notify.is_postgres(database_url):
        return None
    return PostgresRateLimit(database_url, rate)
