"""Token bucket and pair gap: tables of times, no sleeping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from whatsapp_scheduler.dispatch import ratelimit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_burst_then_steady_rate() -> None:
    bucket = ratelimit.TokenBucket(rate=10, burst=3)
    times = [bucket.reserve(100.0) for _ in range(6)]
    assert times == pytest.approx([100.0, 100.0, 100.0, 100.1, 100.2, 100.3])


RESERVATIONS = [(0.0, 0.0), (0.0, 0.0), (0.05, 0.1), (0.5, 0.5), (0.5, 0.5), (0.5, 0.6)]


def test_reservations_table() -> None:
    """Each row books one send at `now` on the same bucket (10/s, burst 2)."""
    bucket = ratelimit.TokenBucket(rate=10, burst=2)
    got = [bucket.reserve(now) for now, _ in RESERVATIONS]
    assert got == pytest.approx([expected for _, expected in RESERVATIONS])


@pytest.mark.parametrize(
    ("rate", "burst", "window"),
    [(1, 1, 1), (5, 1, 5), (49, 1, 49), (50, 2, 51), (80, 2, 81), (1000, 21, 1020), (2.5, 1, 3)],
)
def test_default_burst_is_two_percent_of_a_second(rate: float, burst: int, window: int) -> None:
    """1 + floor(2% of a second's worth); any 1-s window then holds at most `window` sends:
    floor(1.02 x rate) for a whole-number rate (2.5/s: 3 in some second is unavoidable)."""
    assert ratelimit.TokenBucket(rate=rate).burst == burst
    assert ratelimit.window_bound(rate, burst) == window


def test_take_books_only_a_conforming_start() -> None:
    gate = ratelimit.TokenBucket(rate=10, burst=2)
    assert gate.take(0.0) is None
    assert gate.take(0.0) is None  # the burst
    assert gate.take(0.05) == pytest.approx(0.1)  # too soon: not booked, told when
    assert gate.take(0.1) is None
    assert gate.take(0.1) == pytest.approx(0.2)


def busiest_second(times: list[float]) -> int:
    """The most of `times` (sorted) in any half-open 1-s window."""
    best, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - 1.0 + 1e-9:  # the nanosecond: float rounding, not a send
            first += 1
        best = max(best, last - first + 1)
    return best


def steady_then_stall(gate: ratelimit.TokenBucket, stall: float) -> tuple[list[float], int]:
    """A sender with more to send than the rate, looking every 0.1 ms for 2 s, stalled for
    `stall` s, and going on: the starts, and how many went in the first millisecond after
    the stall."""
    starts: list[float] = []
    now = 0.0
    while now < 4.0:
        while not 2.0 <= now < 2.0 + stall and gate.take(now) is None:
            starts.append(now)
        now = round(now + 0.0001, 4)
    resumed = sum(1 for t in starts if 2.0 + stall <= t < 2.0 + stall + 0.001)
    return starts, resumed


def test_windowed_gate_catches_up_a_stall_within_the_bound() -> None:
    """The dispatcher's gate (a `RateLimiter` with no explicit burst) sends, right after a
    50 ms stall, the 50 it missed; a plain 2 % GCRA sends only its burst of 21 (the rest is
    lost for good), and neither lets any 1-s window hold more than 1,020 at 1,000/s."""
    windowed = ratelimit.RateLimiter(1000.0, 0.0).gate("n")
    plain = ratelimit.TokenBucket(rate=1000.0)
    assert windowed.window_max == plain.window_max == 1020
    starts, resumed = steady_then_stall(windowed, 0.05)
    assert resumed >= 50
    assert busiest_second(starts) <= 1020
    starts, resumed = steady_then_stall(plain, 0.05)
    assert resumed == 21
    assert busiest_second(starts) <= 1020


@pytest.mark.parametrize("rate", [1.0, 5.0, 80.0, 1000.0])
def test_windowed_bucket_keeps_every_second_within_its_window(rate: float) -> None:
    """Bookings and starts at random times, bursts and quiet spells: no 1-s window of either
    holds more than `window_max` (floor(1.02 x rate)), though the GCRA burst is larger."""
    rng = random.Random(int(rate))
    limiter = ratelimit.RateLimiter(rate, 0.0)
    bucket, gate = limiter.bucket("n"), limiter.gate("n")
    assert gate.burst == ratelimit.catch_up_burst(rate)
    assert gate.window_max == int(1.02 * rate)
    booked: list[float] = []
    started: list[float] = []
    now = 0.0
    while now < 30.0:
        now += rng.choices(
            [0.0, rng.uniform(0, 0.5 / rate), rng.uniform(0, 0.1), 1.5], [50, 49.9, 0.09, 0.01]
        )[0]
        booked.append(bucket.reserve(now))
        if gate.take(now) is None:
            started.append(now)
    assert busiest_second(booked) <= gate.window_max
    assert busiest_second(started) <= gate.window_max
    assert busiest_second(started) >= int(0.98 * rate)  # and not by sending too little


@pytest.mark.parametrize("rate", [80.0, 1000.0])
def test_sixty_seconds_stay_within_five_percent(rate: float) -> None:
    bucket = ratelimit.TokenBucket(rate=rate)
    now = 0.0
    sent = 0
    while True:  # a greedy sender that always wants more
        at = bucket.reserve(now)
        if at >= 60.0:
            break
        now = at
        sent += 1
    assert abs(sent / 60.0 - rate) <= 0.05 * rate


def test_never_drops_only_delays() -> None:
    bucket = ratelimit.TokenBucket(rate=5, burst=1)
    times = [bucket.reserve(0.0) for _ in range(10)]
    assert times == pytest.approx([i * 0.2 for i in range(10)])


def test_block_until_and_slow_down() -> None:
    bucket = ratelimit.TokenBucket(rate=10, burst=1)
    bucket.reserve(0.0)
    bucket.slow_down(now=0.0, pause=1.0)
    assert bucket.rate == 5
    bucket.slow_down(now=0.1, pause=1.0)  # same burst of 130429s: halved once
    assert bucket.rate == 5
    assert bucket.reserve(0.2) == pytest.approx(1.1)
    assert bucket.reserve(0.2) == pytest.approx(1.3)  # 5/s now
    for _ in range(100):
        bucket.recover()
    assert bucket.rate == 10


def test_slow_down_has_a_floor() -> None:
    bucket = ratelimit.TokenBucket(rate=100)
    for step in range(10):
        bucket.slow_down(now=float(step * 10), pause=1.0)
    assert bucket.rate == pytest.approx(10.0)


PAIR_TABLE = [  # recipient, seconds after T0, allowed at (None = now, booked)
    ("+1", 0.0, None),
    ("+1", 1.0, 6.0),
    ("+2", 1.0, None),
    ("+1", 5.9, 6.0),
    ("+1", 6.0, None),
    ("+1", 7.0, 12.0),
]


def test_pair_gap_table() -> None:
    gap = ratelimit.PairGap(6.0)
    for recipient, offset, allowed_at in PAIR_TABLE:
        expected = None if allowed_at is None else T0 + timedelta(seconds=allowed_at)
        assert gap.reserve(recipient, T0 + timedelta(seconds=offset)) == expected, (
            recipient,
            offset,
        )


def test_pair_gap_disabled() -> None:
    gap = ratelimit.PairGap(0)
    assert all(gap.reserve("+1", T0) is None for _ in range(5))


def test_pair_gap_note_sent_and_release() -> None:
    gap = ratelimit.PairGap(6.0)
    assert gap.reserve("+1", T0) is None
    gap.note_sent("+1", T0 + timedelta(seconds=2))
    assert gap.reserve("+1", T0 + timedelta(seconds=7)) == T0 + timedelta(seconds=8)
    gap.release("+1", T0 + timedelta(seconds=2))
    assert gap.reserve("+1", T0 + timedelta(seconds=7)) is None


def test_pair_gap_prunes() -> None:
    gap = ratelimit.PairGap(6.0)
    for i in range(ratelimit.PAIR_PRUNE_SIZE + 1):
        gap.reserve(f"+{i}", T0)
    gap.reserve("+new", T0 + timedelta(seconds=10))
    assert gap.reserve("+0", T0 + timedelta(seconds=10)) is None


def test_limiter_keys_by_number() -> None:
    limiter = ratelimit.RateLimiter(messages_per_second=10, pair_interval=0, burst=1)
    assert limiter.reserve("a", 0.0) == 0.0
    assert limiter.reserve("b", 0.0) == 0.0
    assert limiter.reserve("a", 0.0) == pytest.approx(0.1)
    limiter.throttle("b", 5.0)
    assert limiter.reserve("b", 0.0) == pytest.approx(5.0)
