"""The fleet-wide rate limit kept in Redis (`REDIS_URL`): several limiters, one rate.

Needs `TEST_REDIS_URL` (scripts/test sets redis://127.0.0.1:6379/15); skipped locally without
it, a failure in CI (CI=true), like the PostgreSQL tests.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest

from whatsapp_scheduler import sharedlimit


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_REDIS_URL is not set in CI: the Redis tests must run")
        pytest.skip("TEST_REDIS_URL not set (scripts/test sets it)")
    return url


async def test_several_redis_limiters_share_one_rate(redis_url):
    rate, per_limiter, limiters = 200.0, 120, 3
    number = f"test-{uuid.uuid4().hex}"  # a fresh key: no state from earlier runs
    shared = [sharedlimit.RedisRateLimit(redis_url, rate) for _ in range(limiters)]
    stamps: list[float] = []

    async def send_all(limit: sharedlimit.RedisRateLimit) -> None:
        async def one() -> None:
            await limit.acquire(number)
            stamps.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(per_limiter)))

    try:
        started = time.monotonic()
        await asyncio.gather(*(send_all(limit) for limit in shared))
    finally:
        for limit in shared:
            await limit.close()
    total = per_limiter * limiters
    burst = rate * 0.25
    elapsed = max(stamps) - started
    assert elapsed >= (total - burst) / rate * 0.97  # the three together, not 3x the rate
    assert elapsed < (total / rate) * 1.5 + 1
    assert sum(limit.round_trips for limit in shared) <= total / 3  # booked in batches


async def test_an_unreachable_redis_is_waited_for_not_bypassed():
    limit = sharedlimit.RedisRateLimit("redis://127.0.0.1:1/0", 100.0)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await limit.acquire("nobody")
    finally:
        await limit.close()


async def test_redis_url_selects_redis_even_on_sqlite():
    chosen = sharedlimit.for_database("sqlite:///x.db", 80, "redis://127.0.0.1:6379/15")
    assert isinstance(chosen, sharedlimit.RedisRateLimit)
    await chosen.close()
    assert sharedlimit.for_database("sqlite:///x.db", 80) is None
