"""Token buckets of the stand-in, driven by a hand-moved clock."""

from __future__ import annotations

import pytest

from whatsapp_scheduler.sandbox import limits
from whatsapp_scheduler.sandbox.limits import PairRate, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_and_empties() -> None:
    bucket = RateLimiter(rate=80, capacity=80, clock=Clock())
    assert [bucket.allow("p") for _ in range(81)].count(True) == 80
    assert not bucket.allow("p")


def test_bucket_refills_at_rate_and_caps_at_capacity() -> None:
    clock = Clock()
    bucket = RateLimiter(rate=2, capacity=3, clock=clock)
    for _ in range(3):
        assert bucket.allow("p")
    assert not bucket.allow("p")
    clock.now += 0.49
    assert not bucket.allow("p")
    clock.now += 0.01
    assert bucket.allow("p")
    clock.now += 100
    assert bucket.tokens("p") == 3
    assert [bucket.allow("p") for _ in range(4)] == [True, True, True, False]


def test_a_refused_request_takes_nothing() -> None:
    clock = Clock()
    bucket = RateLimiter(rate=1, capacity=1, clock=clock)
    assert bucket.allow("p")
    for _ in range(10):
        assert not bucket.allow("p")
    clock.now += 1
    assert bucket.allow("p"), "refusals must not push recovery back"


def test_keys_are_independent() -> None:
    bucket = RateLimiter(rate=1, capacity=1, clock=Clock())
    assert bucket.allow(("p", "a"))
    assert not bucket.allow(("p", "a"))
    assert bucket.allow(("p", "b"))


def test_pair_rate_burst_of_45_then_one_per_6_seconds() -> None:
    clock = Clock()
    pair = PairRate()
    bucket = RateLimiter(pair.per_second, pair.capacity, clock)
    assert sum(bucket.allow("u") for _ in range(50)) == 45
    assert bucket.retry_after("u") == pytest.approx(6.0)
    clock.now += 5.99
    assert not bucket.allow("u")
    clock.now += 0.01
    assert bucket.allow("u")
    # Meta: a burst of 20 means waiting ~2 minutes before the bucket is whole again.
    clock.now += 20 * 6
    assert bucket.tokens("u") == pytest.approx(20, abs=0.01)


def test_retry_after_is_zero_when_a_token_is_there() -> None:
    bucket = RateLimiter(1, 2, Clock())
    assert bucket.retry_after("x") == 0


def test_idle_buckets_are_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "_PRUNE_AT", 3)
    clock = Clock()
    bucket = RateLimiter(1, 1, clock)
    for key in "abc":
        bucket.allow(key)
    clock.now += 10
    bucket.allow("d")
    assert len(bucket) == 1


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (-1, 5), (1, 0)])
def test_bad_settings_are_refused(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        RateLimiter(rate, capacity)


def test_bad_pair_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="pair rate"):
        PairRate(per_second=0)
