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
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from whatsapp_scheduler import ratelimit
from whatsapp_scheduler.store import batching, notify

if TYPE_CHECKING:
    import psycopg

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
#: How often a process deletes `pair_gaps` rows whose time has passed (seconds).
PAIR_PRUNE_SECONDS = 60.0

_BOOK = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
INSERT INTO rate_limits AS r (key, tat)
SELECT %(key)s, clock.now + %(n)s * %(interval)s FROM clock
ON CONFLICT (key) DO UPDATE
    SET tat = GREATEST(r.tat, (SELECT now FROM clock)) + %(n)s * %(interval)s
RETURNING r.tat - %(n)s * %(interval)s AS base, (SELECT now FROM clock) AS now
"""

# Book each distinct key whose time has passed; answer every key with its wait (0: booked).
# A refused key's `tat` is read from the statement's snapshot: a booking committed meanwhile
# may be missing (wait then at least MIN_PAIR_WAIT; the message is checked again then).
_BOOK_PAIRS = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
wanted AS (SELECT * FROM unnest(%(keys)s::text[], %(gaps)s::float8[]) AS w(key, gap)),
booked AS (
    INSERT INTO pair_gaps AS g (key, tat)
    SELECT wanted.key, clock.now + wanted.gap FROM wanted, clock
    ON CONFLICT (key) DO UPDATE SET tat = EXCLUDED.tat
        WHERE g.tat <= (SELECT now FROM clock)
    RETURNING g.key
)
SELECT wanted.key,
       CASE WHEN booked.key IS NOT NULL THEN 0.0
            ELSE GREATEST(COALESCE(g.tat - (SELECT now FROM clock), wanted.gap), %(floor)s)
       END AS wait
FROM wanted
LEFT JOIN booked ON booked.key = wanted.key
LEFT JOIN pair_gaps AS g ON g.key = wanted.key
"""

_PRUNE_PAIRS = "DELETE FROM pair_gaps WHERE tat < extract(epoch FROM clock_timestamp()) - 1"


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
            "shared rate limit", lambda: self._book_once(key, n, 1.0 / self.rate)
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
            except self.errors as exc:
                logger.warning(
                    "%s: %s (%s); retrying in %.1f s",
                    what,
                    type(self).__name__,
                    type(exc).__name__,
                    wait,
                )
                await self._reset()
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
        waits = await self._retrying("shared pair gap", lambda: self._book_pairs_once(gaps))
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

    async def _book_once(self, key: str, n: int, interval: float) -> tuple[float, float]:
        """One atomic booking: (base of the first slot, the shared clock's now)."""
        raise NotImplementedError

    async def _book_pairs_once(self, gaps: dict[str, float]) -> dict[str, float]:
        """One atomic booking of several pair keys: each key's wait (0: booked now)."""
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
        self._next_prune = 0.0  # loop time of the next `pair_gaps` prune

    async def _book_once(self, key: str, n: int, interval: float) -> tuple[float, float]:
        conn = await self._connection()
        cursor = await conn.execute(_BOOK, {"key": key, "n": n, "interval": interval})
        row = await cursor.fetchone()
        assert row is not None
        return float(row[0]), float(row[1])

    async def _book_pairs_once(self, gaps: dict[str, float]) -> dict[str, float]:
        conn = await self._connection()
        params = {"keys": list(gaps), "gaps": list(gaps.values()), "floor": MIN_PAIR_WAIT}
        cursor = await conn.execute(_BOOK_PAIRS, params)
        waits = {key: float(wait) for key, wait in await cursor.fetchall()}
        now = asyncio.get_running_loop().time()
        if now >= self._next_prune:
            self._next_prune = now + PAIR_PRUNE_SECONDS
            await conn.execute(_PRUNE_PAIRS)
        return waits

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


# Pair bookings on Redis's clock: a key per recipient, holding when the next message may go
# out; it expires a second after that time, so nothing needs pruning.
_REDIS_BOOK_PAIRS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local waits = {}
for i, key in ipairs(KEYS) do
  local gap = tonumber(ARGV[i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat > now then
    waits[i] = string.format('%.6f', tat - now)
  else
    redis.call('SET', key, string.format('%.6f', now + gap), 'PX', math.ceil(gap * 1000) + 1000)
    waits[i] = '0'
  end
end
return waits
"""


class RedisRateLimit(_BookedRateLimit):
    """GCRA booked in batches in Redis (`REDIS_URL`), one key per number."""

    PREFIX = "whatsapp-scheduler:rate:"
    PAIR_PREFIX = "whatsapp-scheduler:pair:"

    def __init__(self, redis_url: str, rate: float, burst: float | None = None) -> None:
        import redis.asyncio as aioredis  # only deployments with REDIS_URL pay for the import
        import redis.exceptions

        super().__init__(rate, burst)
        self.errors = (redis.exceptions.RedisError, OSError)
        self._client = aioredis.from_url(redis_url)
        self._script = self._client.register_script(_REDIS_BOOK)
        self._pair_script = self._client.register_script(_REDIS_BOOK_PAIRS)

    async def _book_once(self, key: str, n: int, interval: float) -> tuple[float, float]:
        base, now = await self._script(keys=[self.PREFIX + key], args=[n, repr(interval)])
        return float(base), float(now)

    async def _book_pairs_once(self, gaps: dict[str, float]) -> dict[str, float]:
        keys = [self.PAIR_PREFIX + key for key in gaps]
        waits = await self._pair_script(keys=keys, args=[repr(gap) for gap in gaps.values()])
        return {key: float(wait) for key, wait in zip(gaps, waits, strict=True)}

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
