"""The fleet's shared rate-limit state: GCRA bookings in PostgreSQL or in Redis.

`dispatch.sharedlimit` does the arithmetic and the waiting; this module only makes the atomic
round trips on the shared clock (the database's or Redis's), so every process books its send
slots from one schedule. Two kinds of booking, both one statement (or one Lua script):

- `book(key, n, interval)`: n send slots for a business number. The theoretical arrival time
  `tat` of the next free slot moves on by n * interval:
  ``base = GREATEST(tat, now); tat = base + n * interval; RETURNING base, now``.
- `book_pairs(gaps, floor)`: the next message to each recipient. A key whose `tat` has passed
  is booked (its `tat` moves `gap` ahead, answer 0); any other key answers the seconds until
  it may be booked (at least `floor`).

PostgreSQL keeps the state in `rate_limits` and `pair_gaps` (`store/tables.py`) over one
autocommit psycopg connection of its own: a booking must never wait behind the store's pool
or a long transaction. Redis keeps one expiring key per number and per recipient.

`clock` (tests only): a callable whose reading replaces the shared clock's `now` in `book`,
so a test can drive the real statements with a fake clock (the arithmetic and the atomicity
stay the server's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from whatsapp_scheduler.store import urls

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: How often a process deletes `pair_gaps` rows whose time has passed (seconds).
PAIR_PRUNE_SECONDS = 60.0


class LimitState(Protocol):
    """Shared GCRA state: one atomic round trip per booking."""

    #: What a failed round trip raises (the caller retries with back-off).
    errors: tuple[type[BaseException], ...]

    async def book(self, key: str, n: int, interval: float) -> tuple[float, float]:
        """Book n slots: (base of the first slot, the shared clock's now), in seconds."""
        ...

    async def book_pairs(self, gaps: dict[str, float], floor: float) -> dict[str, float]:
        """Book each key whose time has passed: every key's wait (0: booked now; PostgreSQL
        answers at least `floor` for a refused key, Redis its exact remaining time)."""
        ...

    async def reset(self) -> None:
        """Drop a connection that failed."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


_BOOK = """
WITH clock AS (
    SELECT COALESCE(%(now)s::float8, extract(epoch FROM clock_timestamp())::float8) AS now
)
INSERT INTO rate_limits AS r (key, tat)
SELECT %(key)s, clock.now + %(n)s * %(interval)s FROM clock
ON CONFLICT (key) DO UPDATE
    SET tat = GREATEST(r.tat, (SELECT now FROM clock)) + %(n)s * %(interval)s
RETURNING r.tat - %(n)s * %(interval)s AS base, (SELECT now FROM clock) AS now
"""

# Book each distinct key whose time has passed; answer every key with its wait (0: booked).
# A refused key's `tat` is read from the statement's snapshot: a booking committed meanwhile
# may be missing (wait then at least `floor`; the message is checked again then).
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


class PostgresLimitState:
    """`rate_limits` and `pair_gaps` over one autocommit psycopg connection."""

    def __init__(self, database_url: str, *, clock: Callable[[], float] | None = None) -> None:
        import psycopg  # only PostgreSQL deployments pay for the import

        self._clock = clock
        self.errors: tuple[type[BaseException], ...] = (psycopg.Error, OSError)
        self._conninfo = urls.libpq_url(database_url)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._next_prune = 0.0  # loop time of the next `pair_gaps` prune

    async def book(self, key: str, n: int, interval: float) -> tuple[float, float]:
        conn = await self._connection()
        now = self._clock() if self._clock is not None else None
        params = {"key": key, "n": n, "interval": interval, "now": now}
        cursor = await conn.execute(_BOOK, params)
        row = await cursor.fetchone()
        assert row is not None
        return float(row[0]), float(row[1])

    async def book_pairs(self, gaps: dict[str, float], floor: float) -> dict[str, float]:
        conn = await self._connection()
        params = {"keys": list(gaps), "gaps": list(gaps.values()), "floor": floor}
        cursor = await conn.execute(_BOOK_PAIRS, params)
        waits = {key: float(wait) for key, wait in await cursor.fetchall()}
        now = asyncio.get_running_loop().time()
        if now >= self._next_prune:
            self._next_prune = now + PAIR_PRUNE_SECONDS
            await conn.execute(_PRUNE_PAIRS)
        return waits

    async def reset(self) -> None:
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


# GCRA booking on Redis's clock (or ARGV[3]); same arithmetic as `_BOOK`, in full double
# precision (%.17g). The key expires once idle.
_REDIS_BOOK = """
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local n, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local base = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local tat = base + n * interval
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil((tat - now) * 1000) + 60000)
return {string.format('%.17g', base), string.format('%.17g', now)}
"""

# Pair bookings on Redis's clock: a key per recipient, holding when the next message may go
# out; it expires a second after that time, so nothing needs pruning. A refused key answers
# its remaining time (the caller applies its floor).
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


# When the fleet goes back to Redis after an outage (`sharedlimit.FallbackRateLimit`): the first
# process to see Redis again sets the time, ARGV[1] seconds ahead; the others read it. A time
# older than ARGV[1] is from an earlier outage and is replaced. Answers {that time, now}.
_REDIS_RETURN_AT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local delay = tonumber(ARGV[1])
local at = tonumber(redis.call('GET', KEYS[1]) or '0')
if at < now - delay then
  at = now + delay
  redis.call('SET', KEYS[1], string.format('%.17g', at), 'PX', math.ceil(delay * 2000) + 60000)
end
return {string.format('%.17g', at), string.format('%.17g', now)}
"""

# The instances booking for the fleet: a sorted set of ids by the time last seen; answers how
# many were seen within ARGV[3] seconds (for the local fallback's share of the rate).
_REDIS_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local horizon = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - horizon)
redis.call('PEXPIRE', KEYS[1], math.ceil(horizon * 1000))
return redis.call('ZCARD', KEYS[1])
"""


class RedisLimitState:
    """One Redis key per number (`PREFIX`) and per recipient (`PAIR_PREFIX`); the fleet's
    return time after an outage (`RETURN_KEY`) and its instances (`INSTANCES_KEY`)."""

    PREFIX = "whatsapp-scheduler:rate:"
    PAIR_PREFIX = "whatsapp-scheduler:pair:"
    RETURN_KEY = "whatsapp-scheduler:rate-return"
    INSTANCES_KEY = "whatsapp-scheduler:instances"
    #: A round trip that takes longer counts as failed (Redis hanging is Redis down).
    TIMEOUT_SECONDS = 2.0

    def __init__(self, redis_url: str, *, clock: Callable[[], float] | None = None) -> None:
        import redis.asyncio as aioredis  # only deployments with REDIS_URL pay for the import
        import redis.exceptions

        self._clock = clock
        self.errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # A pooled connection that a restarted Redis closed fails once: one retry on a fresh
        # one. A booking retried after it ran books twice (slower, never faster).
        self._client = aioredis.from_url(
            redis_url,
            socket_timeout=self.TIMEOUT_SECONDS,
            socket_connect_timeout=self.TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.exceptions.ConnectionError],
        )
        self._script = self._client.register_script(_REDIS_BOOK)
        self._pair_script = self._client.register_script(_REDIS_BOOK_PAIRS)
        self._return_script = self._client.register_script(_REDIS_RETURN_AT)
        self._heartbeat_script = self._client.register_script(_REDIS_HEARTBEAT)

    async def book(self, key: str, n: int, interval: float) -> tuple[float, float]:
        now = "" if self._clock is None else repr(self._clock())
        base, now = await self._script(keys=[self.PREFIX + key], args=[n, repr(interval), now])
        return float(base), float(now)

    async def book_pairs(self, gaps: dict[str, float], floor: float) -> dict[str, float]:
        keys = [self.PAIR_PREFIX + key for key in gaps]
        waits = await self._pair_script(keys=keys, args=[repr(gap) for gap in gaps.values()])
        return {key: float(wait) for key, wait in zip(gaps, waits, strict=True)}

    async def return_at(self, delay: float) -> tuple[float, float]:
        """(when the fleet goes back to Redis, Redis's now): see `_REDIS_RETURN_AT`."""
        at, now = await self._return_script(keys=[self.RETURN_KEY], args=[repr(delay)])
        return float(at), float(now)

    async def heartbeat(self, instance: str, horizon: float) -> int:
        """Note this instance; how many were seen within `horizon` seconds (itself included)."""
        seen = await self._heartbeat_script(
            keys=[self.INSTANCES_KEY], args=[instance, repr(horizon)]
        )
        return int(seen)

    async def reset(self) -> None:
        """Nothing to drop: the client reconnects by itself."""

    async def close(self) -> None:
        await self._client.aclose()


class LocalLimitState:
    """The same bookings kept in this process only, on its monotonic clock: the fallback when
    Redis is down and the database is not PostgreSQL (`sharedlimit.FallbackRateLimit` books
    a share of the rate here). Pair gaps are left to the process's own `PairGap`."""

    errors: tuple[type[BaseException], ...] = ()

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        import time

        self._clock = clock or time.monotonic
        self._tat: dict[str, float] = {}

    async def book(self, key: str, n: int, interval: float) -> tuple[float, float]:
        now = self._clock()
        base = max(self._tat.get(key, now), now)
        self._tat[key] = base + n * interval
        return base, now

    async def book_pairs(self, gaps: dict[str, float], floor: float) -> dict[str, float]:
        return dict.fromkeys(gaps, 0.0)

    async def reset(self) -> None:
        """Nothing to drop."""

    async def close(self) -> None:
        """Nothing to release."""
