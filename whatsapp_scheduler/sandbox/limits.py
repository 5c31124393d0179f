"""Keyed token buckets for the stand-in's throughput and pair-rate limits (pure, clock injected).

Meta's limits (docs/meta-cloud-api.md, "Throughput" and "Pair rate") map onto token buckets:

- throughput: one bucket per ``phone_number_id``, refilling ``rate`` tokens a second with a
  capacity of one second's worth (80/s by default); an empty bucket answers ``130429``;
- pair rate: one bucket per ``(phone_number_id, wa_id)``, refilling one token every 6 s with a
  capacity of 45 (the "borrowed" burst); an empty bucket answers ``131056``.

The clock is any callable returning monotonic seconds, so tests move time by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

#: Meta's default per-number throughput (messages per second).
META_THROUGHPUT_PER_SECOND = 80.0
#: Meta's pair rate: one message every 6 seconds to the same user...
META_PAIR_PER_SECOND = 1.0 / 6.0
#: ...with bursts of up to 45 borrowed from later.
META_PAIR_BURST = 45

#: When a limiter tracks more keys than this, full (idle) buckets are forgotten.
_PRUNE_AT = 50_000


@dataclass(frozen=True, slots=True)
class PairRate:
    """Pair-rate bucket settings: ``per_second`` refill and ``capacity`` burst."""

    per_second: float = META_PAIR_PER_SECOND
    capacity: int = META_PAIR_BURST

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.capacity < 1:
            raise ValueError("pair rate needs per_second > 0 and capacity >= 1")


class RateLimiter:
    """A family of token buckets keyed by any hashable (phone number id, pair...).

    Every bucket starts full. :meth:`allow` takes one token if there is one.
    """

    __slots__ = ("_buckets", "capacity", "clock", "rate")

    def __init__(self, rate: float, capacity: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self.clock = clock
        # key -> [tokens, last refill time]; lists are cheaper than objects on the hot path.
        self._buckets: dict[Hashable, list[float]] = {}

    def allow(self, key: Hashable) -> bool:
        """Take one token from ``key``'s bucket; False (and nothing taken) if it is empty."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            self._buckets[key] = [self.capacity - 1.0, now]
            return True
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.capacity:
            tokens = self.capacity
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        return False

    def tokens(self, key: Hashable) -> float:
        """Tokens currently available in ``key``'s bucket (read-only; for tests and the UI)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.capacity
        return min(self.capacity, bucket[0] + (self.clock() - bucket[1]) * self.rate)

    def retry_after(self, key: Hashable) -> float:
        """Seconds until ``key``'s bucket holds a whole token again (0 if it does now)."""
        missing = 1.0 - self.tokens(key)
        return max(0.0, missing / self.rate)

    def reset(self) -> None:
        """Forget every bucket (all start full again)."""
        self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (tokens, stamp) in self._buckets.items()
            if tokens + (now - stamp) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
        logger.debug("pruned %d idle rate-limit buckets", len(full))
