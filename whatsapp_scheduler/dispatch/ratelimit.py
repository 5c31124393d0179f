"""Rate limits, as pure bookkeeping: the caller passes `now` and does any waiting itself.

Two of Meta's limits (docs/meta-cloud-api.md, "Throughput" and "Pair rate"):

- Throughput per business number (`messages_per_second`, Meta's default 80/s): a token bucket
  written as GCRA ("virtual scheduling"). `TokenBucket.reserve(now)` books the next free slot
  and returns when the caller may send; the dispatcher then sleeps until then. Nothing is ever
  dropped. `now` is a monotonic float (`loop.time()`), the same clock asyncio sleeps on.
- Pair rate per recipient (`pair_interval`, Meta's 1 message per 6 s; 0 disables it): a message
  whose recipient is not allowed yet is *deferred* by the dispatcher (back to `queued` with
  `run_at` = the allowed time), not awaited, so one busy recipient never blocks the others.
  `now` is an aware datetime here, because the answer becomes a `run_at` in the table.

The limits hold per process. On PostgreSQL `sharedlimit.PostgresRateLimit` adds the same
throughput limit for all processes together (docs/operations.md).

Meta counts sends per second over any window, not per aligned second, and answers 130429 above
the rate. So the bucket's burst is small: `burst_for(rate)` tokens, i.e. 1 + 2% of a second's
worth (rounded down). A GCRA with burst B lets at most `ceil(rate) + B - 1` sends into any
half-open window of 1 s: with `n` sends in `[t, t + 1)`, the first and the last are at least
`(n - 1) / rate - (B - 1) / rate` apart and less than 1 s, so `n < rate + B`. For a whole-number
rate that is `rate + floor(0.02 * rate) <= 1.02 * rate`: 1 at 1/s, 5 at 5/s, 81 at 80/s,
1,020 at 1,000/s (docs/dispatcher.md, "Throughput").

That bound holds for the times the bucket books, and a task that sleeps until its slot can
wake late (a busy event loop): several late tasks then go together. `TokenBucket.take` is the
gate against that: called right before the send, on the time the send really starts, it lets
it go only if that time conforms too, else says when it may (`dispatch/throughput.py`).

The dispatcher's buckets (`RateLimiter` without an explicit burst) also count the window
itself: they remember the last `window_bound` sends and let none start less than 1 s after
the oldest of them, so the bound holds by construction, and their GCRA burst can then be a
tenth of a second's worth (`catch_up_burst`). A stall of the event loop or a claim that came
late (tens of milliseconds) is caught up right after it, within the same bound: with the
2 % burst alone, every stall longer than 20 ms at 1,000/s was lost for good.
"""

from __future__ import annotations

import collections
import math
from datetime import datetime, timedelta

#: No 1-second window may carry more than the rate plus this fraction of it (Meta's 130429
#: otherwise); the burst after a quiet spell is what this allows.
WINDOW_TOLERANCE = 0.02

#: After 130429 the rate is halved, down to this fraction of the nominal rate at most ...
SLOW_FLOOR = 0.1
#: ... and each successful send gives back this fraction of the nominal rate.
RECOVERY_STEP = 0.01

#: Forget recipients whose last send is older than the interval once the table is this big.
PAIR_PRUNE_SIZE = 10_000


def burst_for(rate: float) -> int:
    """The bucket's size: one token plus `WINDOW_TOLERANCE` of a second's worth, rounded down
    (1 up to 49/s, 2 at 50-99/s, 21 at 1,000/s). The small epsilon keeps 0.02 * 50 from
    rounding to 0.99999."""
    return 1 + math.floor(rate * WINDOW_TOLERANCE + 1e-9)


def window_bound(rate: float, burst: float) -> int:
    """The most sends a GCRA of `rate` and `burst` lets into any half-open 1-s window."""
    return math.ceil(rate + burst) - 1


#: How much a windowed bucket (`TokenBucket(window=...)`) lets catch up after a stall.
CATCH_UP_SECONDS = 0.1
#: A windowed bucket's window is 1 s and this much: the dispatcher stamps a send's start
#: (`attempts.started_at`, the wall clock) a few microseconds after the gate read the
#: monotonic clock, and those few microseconds must not put the send back inside the second
#: of the send it waited for. Costs 1 ms per second only when the window is what holds sends.
WINDOW_MARGIN = 0.001


def catch_up_burst(rate: float) -> int:
    """The GCRA burst of a windowed bucket: one token plus `CATCH_UP_SECONDS` of sending
    (1 up to 9/s, 9 at 80/s, 101 at 1,000/s); the window keeps the 2 % bound."""
    return 1 + math.floor(rate * CATCH_UP_SECONDS + 1e-9)


class TokenBucket:
    """Throughput limit for one business number (GCRA form of a token bucket).

    With `window`, it also remembers the last `window` times it let through or booked, and
    lets nothing start less than 1 s after the oldest of them: no half-open 1-s window then
    holds more than `window`, whatever the burst (see the module docstring)."""

    def __init__(self, rate: float, burst: float | None = None, window: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if window is not None and window < 1:
            raise ValueError("window must be >= 1")
        self.nominal_rate = rate
        self.burst = max(1.0, burst if burst is not None else float(burst_for(rate)))
        self._tat = -math.inf  # theoretical arrival time of the next token
        self._slowed_until = -math.inf
        self._recent: collections.deque[float] | None = (
            collections.deque(maxlen=window) if window is not None else None
        )
        self._set_rate(rate)

    @property
    def window_max(self) -> int:
        """The most sends this bucket lets into any half-open 1-s window."""
        bound = window_bound(self.nominal_rate, self.burst)
        if self._recent is not None and self._recent.maxlen is not None:
            return min(bound, self._recent.maxlen)
        return bound

    def _window_opens(self) -> float:
        """The earliest time the window lets the next send start (-inf: any time)."""
        recent = self._recent
        if recent is None or len(recent) < (recent.maxlen or 0):
            return -math.inf
        return recent[0] + 1.0 + WINDOW_MARGIN

    def _set_rate(self, rate: float) -> None:
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (self.burst - 1.0) * self._interval

    def reserve(self, now: float) -> float:
        """Book one send; returns the time (>= now) at which it may go out."""
        allowed = self.peek(now)
        self._tat = max(self._tat, allowed) + self._interval
        if self._recent is not None:
            self._recent.append(allowed)  # bookings come in time order
        return allowed

    def take(self, now: float) -> float | None:
        """Book a send that starts at `now` if `now` conforms (None), else leave the bucket
        as it is and return when it may. The gate of `dispatch/throughput.py`: what goes
        through it holds `window_max` on the very times it was called with."""
        allowed = self.peek(now)
        if allowed > now:
            return allowed
        self._tat = max(self._tat, now) + self._interval
        if self._recent is not None:
            self._recent.append(now)
        return None

    def peek(self, now: float) -> float:
        """When a send booked at `now` could go out, without booking it."""
        return max(now, self._tat - self._tolerance, self._window_opens())

    def block_until(self, until: float) -> None:
        """No send before `until`. Bookings already made keep their slot."""
        self._tat = max(self._tat, until + self._tolerance)

    def slow_down(self, now: float, pause: float) -> None:
        """Meta said 130429 (too fast): hold sends for `pause` s and halve the rate.

        Several answers of one burst count once: the rate is halved at most once per pause,
        and never below `SLOW_FLOOR` of the nominal rate. `recover()` brings it back.
        """
        self.block_until(now + pause)
        if now >= self._slowed_until:
            self._set_rate(max(self.nominal_rate * SLOW_FLOOR, self.rate * 0.5))
            self._slowed_until = now + pause

    def recover(self) -> None:
        """A send succeeded: additive increase back towards the nominal rate."""
        if self.rate < self.nominal_rate:
            self._set_rate(min(self.nominal_rate, self.rate + self.nominal_rate * RECOVERY_STEP))


class PairGap:
    """Minimum time between two messages to the same recipient."""

    def __init__(self, interval: float) -> None:
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self.interval = timedelta(seconds=interval)
        self._last: dict[str, datetime] = {}

    @property
    def enabled(self) -> bool:
        return self.interval > timedelta(0)

    def reserve(self, recipient: str, now: datetime) -> datetime | None:
        """None if `recipient` may get a message at `now` (booked); else the allowed time."""
        if not self.enabled:
            return None
        last = self._last.get(recipient)
        if last is not None and now < last + self.interval:
            return last + self.interval
        self._last[recipient] = now
        if len(self._last) > PAIR_PRUNE_SIZE:
            self.prune(now)
        return None

    def note_sent(self, recipient: str, at: datetime) -> None:
        """Move the recipient's last send to when it actually went out."""
        if self.enabled:
            previous = self._last.get(recipient)
            if previous is None or at > previous:
                self._last[recipient] = at

    def release(self, recipient: str, booked: datetime) -> None:
        """Undo a booking that did not lead to a send (the message was released)."""
        if self._last.get(recipient) == booked:
            del self._last[recipient]

    def prune(self, now: datetime) -> None:
        """Drop recipients that may get a message again anyway."""
        horizon = now - self.interval
        self._last = {r: t for r, t in self._last.items() if t > horizon}


class RateLimiter:
    """Per-number token buckets plus the per-recipient gap."""

    def __init__(
        self, messages_per_second: float, pair_interval: float, burst: float | None = None
    ) -> None:
        self.messages_per_second = messages_per_second
        self._burst = burst
        self.burst = burst  # None: `burst_for(messages_per_second)`
        self._buckets: dict[str, TokenBucket] = {}
        self._gates: dict[str, TokenBucket] = {}
        self.pairs = PairGap(pair_interval)

    def _new_bucket(self) -> TokenBucket:
        """A bucket at this limiter's rate: with an explicit `burst`, a plain GCRA of it;
        else windowed, the 2 % bound kept by its window and `catch_up_burst` for stalls."""
        rate = self.messages_per_second
        if self._burst is not None:
            return TokenBucket(rate, self._burst)
        return TokenBucket(rate, catch_up_burst(rate), window=window_bound(rate, burst_for(rate)))

    def bucket(self, phone_number_id: str) -> TokenBucket:
        """The bucket of one business number, created on first use."""
        found = self._buckets.get(phone_number_id)
        if found is None:
            found = self._new_bucket()
            self._buckets[phone_number_id] = found
        return found

    def gate(self, phone_number_id: str) -> TokenBucket:
        """The gate of one number: the same limit, checked on the times sends really start
        (`TokenBucket.take`). It keeps the nominal rate: a slowed-down bucket books fewer."""
        found = self._gates.get(phone_number_id)
        if found is None:
            found = self._new_bucket()
            self._gates[phone_number_id] = found
        return found

    def reserve(self, phone_number_id: str, now: float) -> float:
        """Book a send from `phone_number_id`; returns when it may go out."""
        return self.bucket(phone_number_id).reserve(now)

    def throttle(self, phone_number_id: str, until: float) -> None:
        """Hold every send from `phone_number_id` until `until` (after a 130429)."""
        self.bucket(phone_number_id).block_until(until)
