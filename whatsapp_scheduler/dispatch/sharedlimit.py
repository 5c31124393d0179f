"""One throughput limit per business number for the whole fleet, kept in PostgreSQL.

`ratelimit.TokenBucket` holds per process: N processes sharing a number would send N times
its rate. `PostgresRateLimit` keeps the same GCRA state ("virtual scheduling", the theoretical
arrival time `tat` of the next free slot) in one row of `rate_limits` per number, on the
database's clock, so every instance books its send slots from one schedule.

One round trip books a *batch* of slots: as many as this process has sends waiting, at most
`BATCH_SECONDS` worth of the rate. The single statement is an atomic upsert::

    base = GREATEST(tat, db_now);  tat = base + n * interval;  RETURNING base, db_now

and slot i (0 <= i < n) may go out at `max(db_now, base + i * interval - tolerance)`, exactly
what n successive `TokenBucket.reserve` calls would give (`tolerance`: the burst of
`ratelimit.burst_for(rate)` tokens after a quiet spell). Slots are converted to this process's
monotonic clock and awaited; a slot booked by a process that then dies or stops is simply
unused (slower, never faster).

Unlike one process, the fleet cannot check the time a send really starts against one shared
gate without another round trip, so the schedule leaves room for the two ways a send strays
from its slot: the clock conversion (the database stamped its `now` somewhere inside the round
trip: the slot is placed at the *latest* time it can mean, so a send is never early, and late
by at most the round trip) and a late wake-up (a busy event loop). Each slot carries a deadline:
a send may start no more than `LATE_SECONDS` after the earliest time its slot can mean; one that
would start later gives its slot up and takes the next (`Slot.deadline`,
`dispatch/throughput.py`). And the fleet books `1 + LATE_SECONDS` times slower than the rate
(`interval = (1 + LATE_SECONDS) / rate`): the sends in any window of 1 s then have their slots
in a window of `1 + LATE_SECONDS` s, which holds at most `rate + burst` slots minus one, the
same bound as one process (`ratelimit.window_bound`). At 1,000/s the fleet's mean is 990/s and
its busiest second at most 1,020. The clock conversion combines the bookings of the last
`CLOCK_SAMPLE_SECONDS`: each bounds the offset between the clocks by its round trip, and
together they bound it tighter (allowing `CLOCK_DRIFT` for their age).

If the database cannot be reached, `acquire` waits and retries with back-off (no send goes out
unmetered); the store is unreachable then too, so nothing is lost by waiting.

With `REDIS_URL` set, `RedisRateLimit` keeps the same state in one Redis key per number instead
(one Lua script per booking, on Redis's clock): for fleets that already run Redis, or to keep
this traffic off PostgreSQL.

Each number is booked at its own rate: the one the limit was made with (MESSAGES_PER_SECOND),
or the sender's own `messages_per_second` given by `set_rate` (the dispatcher sets it for
every sender it sends from). The state is one row (or Redis key) per `phone_number_id`, so two
senders never share a schedule; every instance of the fleet must know the sender's rate (they
all read it from the same senders registry).

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
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
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
#: A fleet send starts at most this long after its slot (clock conversion included), else it
#: takes another slot; the fleet books this much (as a fraction of 1 s) slower than the rate.
LATE_SECONDS = 0.01
#: Redis down (FallbackRateLimit): probe it after this long, doubling up to PROBE_MAX ...
PROBE_FIRST = 0.5
PROBE_MAX = 5.0
#: ... and once it answers, the fleet goes back to it this long after the first to see it.
RETURN_DELAY = PROBE_MAX + 1.0
#: After a switch of source, the new source's first slot is at least this much later: the old
#: source's slots already booked (each instance holds at most 2 x BATCH_SECONDS of them, see
#: `BookedRateLimit.holders`) are used up by then, for a fleet of up to 9 instances.
SWITCH_HOLD = 1.0
#: An instance on Redis notes itself this often; instances seen within the horizon count.
HEARTBEAT_SECONDS = 5.0
INSTANCES_HORIZON = 30.0
#: The clock conversion comes from the bookings of this many seconds (at most 64) ...
CLOCK_SAMPLE_SECONDS = 10.0
#: ... allowing the two clocks to drift apart by this much per second (100 ppm; NTP keeps
#: clocks within tens of ppm, and processes on one host share one clock).
CLOCK_DRIFT = 1e-4


class Timer(Protocol):
    """The monotonic clock sends are timed on, and sleeping on it (the event loop's)."""

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopTimer:
    """The monotonic clock, read afresh (`time.monotonic()`), and `asyncio.sleep` on it.

    asyncio's own loop keeps `loop.time()` on this clock; uvloop's (which `serve` runs on)
    counts whole milliseconds. At 1,000/s the gate then saw sends 0.1-0.9 ms apart as one
    instant, told the rest of the millisecond to wait less than a millisecond, and their
    sleeps woke on the coarse clock to look again: measured, a fifth of the service's CPU
    in the soak (bench/RESULTS.md). Sleeps are differences, so the two clocks' origins never
    meet; a sleep that ends a little early on the coarser clock means one more look."""

    def time(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclasses.dataclass(frozen=True)
class Slot:
    """A send slot of the fleet on the local timer: `at` the earliest start, `deadline` the
    latest (`math.inf`: any time, e.g. for a limit that needs none)."""

    at: float
    deadline: float = math.inf


class SharedRateLimit(Protocol):
    """A throughput limit shared by every process sending for a number."""

    async def acquire(self, key: str) -> Slot:
        """Wait until one send for `key` may go out; the send must start by the slot's
        deadline, else it calls `acquire` again (the slot is then given up)."""
        ...

    def gave_up(self) -> None:
        """A slot of `acquire` was given up: its send would have started past the deadline."""
        ...

    def health(self) -> dict[str, object]:
        """JSON-able state for /health: where the limit is kept, bookings, given-up slots."""
        ...

    async def reserve_pair(self, key: str, interval: float) -> float | None:
        """Book the next message to one recipient (`key`) for the whole fleet: None if it may
        go out now (the next one then waits `interval`), else the seconds until it may."""
        ...

    def set_rate(self, key: str, rate: float) -> None:
        """`key`'s own rate (a sender's `messages_per_second`); keys never set use the rate
        the limit was made with. Set before the key's first `acquire`."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class KeyRate:
    """One key's rate as the booking uses it (see `BookedRateLimit`)."""

    rate: float
    booked_rate: float
    burst: float
    max_batch: int

    @classmethod
    def of(cls, rate: float, burst: float | None = None) -> KeyRate:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        return cls(
            rate=rate,
            booked_rate=booked_rate(rate),
            burst=max(1.0, burst if burst is not None else float(ratelimit.burst_for(rate))),
            max_batch=max(1, int(rate * BATCH_SECONDS)),
        )


class Wanting:
    """One send counted in `counter[key]` (the sends wanting a slot, which size a booking)
    until `done()`, or until it leaves `counting`'s block."""

    def __init__(self, counter: collections.Counter[str], key: str) -> None:
        self.counter, self.key, self.counting = counter, key, True
        counter[key] += 1

    def __call__(self) -> int:
        return self.counter[self.key]

    def done(self) -> None:
        if self.counting:
            self.counting = False
            self.counter[self.key] -= 1


@contextlib.contextmanager
def counting(counter: collections.Counter[str], key: str) -> Iterator[Wanting]:
    wanted = Wanting(counter, key)
    try:
        yield wanted
    finally:
        wanted.done()


def booked_rate(rate: float) -> float:
    """The rate the fleet books at: `LATE_SECONDS` of each second left for lateness."""
    return rate / (1.0 + LATE_SECONDS)


def slot_times(base: float, now: float, n: int, rate: float, burst: float) -> list[float]:
    """The n slots booked by one round trip, in the booking clock (see the module docstring)."""
    interval = 1.0 / rate
    tolerance = (max(1.0, burst) - 1.0) * interval
    return [max(now, base + i * interval - tolerance) for i in range(n)]


class BookedRateLimit:
    """GCRA booked in batches from shared state (`store.shared_limits`): one round trip books
    as many slots as this process has sends waiting."""

    source = "shared"  # what /health calls it

    def __init__(
        self,
        state: shared_limits.LimitState,
        rate: float,
        burst: float | None = None,
        *,
        timer: Timer | None = None,
        retry: bool = True,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.state = state
        self.retry = retry  # False: a failed round trip raises (FallbackRateLimit falls back)
        self.rate = rate
        default = KeyRate.of(rate, burst)
        self.booked_rate = default.booked_rate
        self.burst = default.burst
        self.max_batch = default.max_batch
        self._default = default
        self._rates: dict[str, KeyRate] = {}  # keys with their own rate (`set_rate`)
        self.timer: Timer = timer or LoopTimer()
        self._lock = asyncio.Lock()
        self._slots: dict[str, collections.deque[Slot]] = collections.defaultdict(collections.deque)
        self.wanting: collections.Counter[str] = collections.Counter()  # sends in `acquire`
        self._holders: dict[str, asyncio.Semaphore] = {}
        # (lowest offset, highest offset, local time) of recent bookings: see `_convert`.
        self._clock_samples: collections.deque[tuple[float, float, float]] = collections.deque(
            maxlen=64
        )
        self.round_trips = 0  # bookings made, for tests and the benchmark
        self.given_up = 0  # slots given up: the send would have started past the deadline
        self._pairs: batching.Batcher[tuple[str, float], float | None] = batching.Batcher(
            self._book_pairs
        )

    def set_rate(self, key: str, rate: float) -> None:
        self._rates[key] = KeyRate.of(rate)

    def rate_of(self, key: str) -> KeyRate:
        """The rate `key` is booked at: its own (`set_rate`), else the limit's."""
        return self._rates.get(key, self._default)

    async def acquire(self, key: str) -> Slot:
        with counting(self.wanting, key) as wanted:
            async with self.holders(key):
                slot = await self.next_slot(key, wanted())
                wanted.done()
                delay = slot.at - self.timer.time()
                if delay > 0:
                    await self.timer.sleep(delay)
        return slot

    def holders(self, key: str) -> asyncio.Semaphore:
        """At most `max_batch` sends of this process hold a slot not yet due (and at most one
        batch is booked and not handed out): so the fleet's schedule is booked at most
        (instances x 2 x BATCH_SECONDS) ahead, however many sends wait, and a switch of source (FallbackRateLimit) knows how long the old one's slots
        can last."""
        found = self._holders.get(key)
        if found is None:
            found = self._holders[key] = asyncio.Semaphore(self.rate_of(key).max_batch)
        return found

    async def next_slot(self, key: str, wanted: int = 1) -> Slot:
        """The next slot for `key` (not waited for); if none is left, one round trip books
        for the `wanted` sends of this process that want one (at most `max_batch`)."""
        slots = self._slots[key]
        while True:
            while not slots:
                async with self._lock:
                    if not slots:  # another waiter may have booked for us meanwhile
                        n = max(1, min(self.rate_of(key).max_batch, wanted))
                        booking = self._booker(key, n)
                        if self.retry:
                            slots.extend(await self._retrying("shared rate limit", booking))
                        else:
                            slots.extend(await booking())
            slot = slots.popleft()
            if self.timer.time() <= slot.deadline:
                break
            self.given_up += 1  # stale already (this process stalled): the next one
        return slot

    def drop_slots(self) -> None:
        """Forget the slots booked and not handed out (their source is being left)."""
        self._slots.clear()

    def _booker(self, key: str, n: int) -> Callable[[], Awaitable[list[Slot]]]:
        return lambda: self.book(key, n)

    async def book(self, key: str, n: int) -> list[Slot]:
        """One round trip: n slots on this process's timer, each with its deadline. Raises
        the state's errors (`acquire` retries)."""
        before = self.timer.time()
        limits = self.rate_of(key)
        base, shared_now = await self.state.book(key, n, 1.0 / limits.booked_rate)
        after = self.timer.time()
        self.round_trips += 1
        offset, uncertainty = self._convert(before, after, shared_now)
        # The slot at shared time s means local time s - offset - e, e in [0, uncertainty]:
        # placed at the latest (never early), due to start within LATE_SECONDS of the earliest.
        slack = LATE_SECONDS - uncertainty
        return [
            Slot(at - offset, at - offset + slack)
            for at in slot_times(base, shared_now, n, limits.booked_rate, limits.burst)
        ]

    def _convert(self, before: float, after: float, shared_now: float) -> tuple[float, float]:
        """The conversion shared -> local clock: (offset, its uncertainty). Each booking bounds
        the offset to `[shared_now - after, shared_now - before]`; the bookings of the last
        CLOCK_SAMPLE_SECONDS together bound it tighter (each widened by CLOCK_DRIFT per second
        of its age). The lower bound is used: slots are placed at the latest they can mean."""
        samples = self._clock_samples
        samples.append((shared_now - after, shared_now - before, after))
        while after - samples[0][2] > CLOCK_SAMPLE_SECONDS:
            samples.popleft()
        low = max(lo - CLOCK_DRIFT * (after - at) for lo, _, at in samples)
        high = min(hi + CLOCK_DRIFT * (after - at) for _, hi, at in samples)
        if high < low:  # a clock jumped: start over from this booking
            samples.clear()
            samples.append((shared_now - after, shared_now - before, after))
            low, high = shared_now - after, shared_now - before
        return low, high - low

    def gave_up(self) -> None:
        self.given_up += 1

    def health(self) -> dict[str, object]:
        return {
            "source": self.source,
            "bookings": self.round_trips,
            "slots_given_up": self.given_up,
        }

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
        """One round trip for a group of pair bookings (retried like the slot bookings). A key asked
        for twice in one group: the first ask books it, the second waits its interval."""
        # Distinct keys (a repeated key keeps its last interval), sorted: processes whose
        # groups overlap then lock the rows in the same order and never deadlock.
        gaps = dict(sorted(dict(items).items()))

        def booking() -> Awaitable[dict[str, float]]:
            return self.state.book_pairs(gaps, MIN_PAIR_WAIT)

        waits = await (self._retrying("shared pair gap", booking) if self.retry else booking())
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


class PostgresRateLimit(BookedRateLimit):
    """GCRA booked in batches against the `rate_limits` and `pair_gaps` tables."""

    source = "postgresql"

    def __init__(
        self,
        database_url: str,
        rate: float,
        burst: float | None = None,
        *,
        timer: Timer | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        state = shared_limits.PostgresLimitState(database_url, clock=clock)
        super().__init__(state, rate, burst, timer=timer)


class RedisRateLimit(BookedRateLimit):
    """GCRA booked in batches in Redis (`REDIS_URL`), one key per number."""

    source = "redis"

    def __init__(
        self,
        redis_url: str,
        rate: float,
        burst: float | None = None,
        *,
        timer: Timer | None = None,
        clock: Callable[[], float] | None = None,
        retry: bool = True,
    ) -> None:
        self.redis = shared_limits.RedisLimitState(redis_url, clock=clock)
        super().__init__(self.redis, rate, burst, timer=timer, retry=retry)


class LocalShareRateLimit(BookedRateLimit):
    """This process's share of the rate (`rate / instances`), booked in-process: the fallback
    for Redis where the database is not PostgreSQL."""

    source = "local"

    def __init__(self, rate: float, instances: int, *, timer: Timer | None = None) -> None:
        self.instances = max(1, instances)
        timer = timer or LoopTimer()
        super().__init__(
            shared_limits.LocalLimitState(timer.time), rate / self.instances, timer=timer
        )

    def set_rate(self, key: str, rate: float) -> None:
        super().set_rate(key, rate / self.instances)  # this process's share of it


class FallbackRateLimit:
    """The limit in Redis, falling back while Redis is unreachable (docs/operations.md).

    A failed Redis round trip moves this process to `fallback(instances)`: PostgreSQL's shared
    state (`PostgresRateLimit`, the whole rate, exact for the fleet) where the database is
    PostgreSQL, else `LocalShareRateLimit`, its share `rate / instances` of the instances
    seen on Redis in the last `INSTANCES_HORIZON` s (1 if none was). It then probes Redis
    after PROBE_FIRST s, doubling up to PROBE_MAX. The first process to reach Redis again sets
    the fleet's return time `RETURN_DELAY` ahead (longer than any process's probe interval),
    and every process goes back at that time, so sources are not mixed for longer than the
    clocks disagree. After each switch, the new source's first slot waits `SWITCH_HOLD`: the
    old source's slots already handed out (at most `BATCH_SECONDS` of them per process) are
    used up first. /health says which source is in use and why.
    """

    def __init__(
        self,
        redis_url: str,
        rate: float,
        fallback: Callable[[int], BookedRateLimit],
        *,
        timer: Timer | None = None,
        instance: str | None = None,
    ) -> None:
        import uuid

        self.rate = rate
        self.timer: Timer = timer or LoopTimer()
        self.primary = RedisRateLimit(redis_url, rate, timer=self.timer, retry=False)
        self._make_fallback = fallback
        self._key_rates: dict[str, float] = {}  # `set_rate`, also given to a fallback
        self.wanting: collections.Counter[str] = collections.Counter()
        self.fallback: BookedRateLimit | None = None
        self.instance = instance or uuid.uuid4().hex
        self.instances = 1  # seen on Redis (heartbeats), for the local share
        self.reason: str | None = None  # why not Redis, for /health
        self.probes = 0
        self.switches = 0
        self.given_up = 0
        self._down_since: float | None = None
        self._return_at: float | None = None  # local time the fleet goes back to Redis
        self._hold_until = -math.inf
        self._next_heartbeat = -math.inf
        self._probe: asyncio.Task[None] | None = None

    @property
    def on_redis(self) -> bool:
        return self._down_since is None

    async def acquire(self, key: str) -> Slot:
        with counting(self.wanting, key) as wanted:
            async with self.primary.holders(key):
                return await self._acquire(key, wanted)

    async def _acquire(self, key: str, wanted: Wanting) -> Slot:
        while True:
            now = self.timer.time()
            if self._return_at is not None and now >= self._return_at:
                self._go_back()
            if now < self._hold_until:
                await self.timer.sleep(self._hold_until - now)
                continue
            if self.on_redis:
                try:
                    slot = await self.primary.next_slot(key, wanted())
                    await self._heartbeat()
                except self.primary.state.errors as exc:
                    self._fall_back(exc)
                    continue
            else:
                assert self.fallback is not None
                slot = await self.fallback.next_slot(key, wanted())
                if self._return_at is not None and slot.at >= self._return_at:
                    # past the fleet's return: not used (slower, never faster); wait for it
                    await self.timer.sleep(self._return_at - self.timer.time())
                    continue
            wanted.done()
            delay = slot.at - self.timer.time()
            if delay > 0:
                await self.timer.sleep(delay)
            return slot

    async def _heartbeat(self) -> None:
        now = self.timer.time()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_SECONDS
            self.instances = await self.primary.redis.heartbeat(self.instance, INSTANCES_HORIZON)

    def _fall_back(self, exc: BaseException) -> None:
        if not self.on_redis:
            return  # another send of this process found out first
        now = self.timer.time()
        self._down_since = now
        self._hold_until = now + SWITCH_HOLD
        self.primary.drop_slots()
        if self.fallback is None or isinstance(self.fallback, LocalShareRateLimit):
            self.fallback = self._make_fallback(self.instances)
            for key, rate in self._key_rates.items():
                self.fallback.set_rate(key, rate)
        self.switches += 1
        self.reason = f"redis unreachable ({type(exc).__name__})"
        logger.warning(
            "shared rate limit: Redis unreachable (%s); using %s until it answers again",
            type(exc).__name__,
            self.fallback.source,
        )
        self._probe = asyncio.create_task(self._probe_redis())

    async def _probe_redis(self) -> None:
        wait = PROBE_FIRST
        while True:
            await self.timer.sleep(wait)
            self.probes += 1
            try:
                at, redis_now = await self.primary.redis.return_at(RETURN_DELAY)
            except self.primary.state.errors:
                wait = min(PROBE_MAX, wait * 2)
                continue
            self._return_at = self.timer.time() + (at - redis_now)
            logger.warning(
                "shared rate limit: Redis answers again; back to it at its time %.3f", at
            )
            return

    def _go_back(self) -> None:
        assert self._return_at is not None
        self._hold_until = self._return_at + SWITCH_HOLD
        self._return_at = None
        self._down_since = None
        self.reason = None
        self.switches += 1
        if self.fallback is not None:
            self.fallback.drop_slots()

    def gave_up(self) -> None:
        self.given_up += 1

    def set_rate(self, key: str, rate: float) -> None:
        self._key_rates[key] = rate
        self.primary.set_rate(key, rate)
        if self.fallback is not None:
            self.fallback.set_rate(key, rate)

    def health(self) -> dict[str, object]:
        now = self.timer.time()
        found: dict[str, object] = {
            "source": self.primary.source if self.on_redis else self._fallback_source(),
            "reason": self.reason,
            "bookings": self.primary.round_trips
            + (self.fallback.round_trips if self.fallback is not None else 0),
            "slots_given_up": self.given_up,
            "switches": self.switches,
            "instances_seen": self.instances,
        }
        if self._down_since is not None:
            found["outage_seconds"] = round(now - self._down_since, 3)
            found["redis_probes"] = self.probes
            if isinstance(self.fallback, LocalShareRateLimit):
                found["messages_per_second_share"] = self.fallback.rate
        if self._return_at is not None:
            found["back_to_redis_in_seconds"] = round(max(0.0, self._return_at - now), 3)
        return found

    def _fallback_source(self) -> str:
        return self.fallback.source if self.fallback is not None else "none"

    async def reserve_pair(self, key: str, interval: float) -> float | None:
        if self.on_redis:
            try:
                return await self.primary.reserve_pair(key, interval)
            except self.primary.state.errors as exc:
                self._fall_back(exc)
        assert self.fallback is not None
        return await self.fallback.reserve_pair(key, interval)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self.primary.close()
        if self.fallback is not None:
            await self.fallback.close()


def for_database(
    database_url: str, rate: float, redis_url: str | None = None
) -> SharedRateLimit | None:
    """The fleet-wide limit: Redis when `redis_url` is set (falling back to PostgreSQL, or to
    a local share, while Redis is down), else PostgreSQL; None on SQLite without Redis, where
    one process owns the queue and `ratelimit.RateLimiter` is exact."""
    if redis_url:
        if urls.is_postgres(database_url):
            return FallbackRateLimit(
                redis_url, rate, lambda _: PostgresRateLimit(database_url, rate)
            )
        return FallbackRateLimit(redis_url, rate, lambda n: LocalShareRateLimit(rate, n))
    if not urls.is_postgres(database_url):
        return None
    return PostgresRateLimit(database_url, rate)
