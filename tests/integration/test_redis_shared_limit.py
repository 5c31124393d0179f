"""The fleet-wide rate limit kept in Redis (`REDIS_URL`): several limiters, one rate.

Needs `TEST_REDIS_URL` (scripts/test sets redis://127.0.0.1:6379/15); skipped locally without
it, a failure in CI (CI=true), like the PostgreSQL tests.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from tests.integration.conftest import (
    assert_limiters_share_one_rate,
    assert_limiters_share_the_pair_gap,
)
from whatsapp_scheduler.dispatch import sharedlimit


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_REDIS_URL is not set in CI: the Redis tests must run")
        pytest.skip("TEST_REDIS_URL not set (scripts/test sets it)")
    return url


async def test_several_redis_limiters_share_one_rate(redis_url):
    rate = 200.0
    number = f"test-{uuid.uuid4().hex}"  # a fresh key: no state from earlier runs
    shared = [sharedlimit.RedisRateLimit(redis_url, rate) for _ in range(3)]
    await assert_limiters_share_one_rate(shared, number, rate, per_limiter=120)


async def test_several_redis_limiters_share_the_pair_gap(redis_url):
    shared = [sharedlimit.RedisRateLimit(redis_url, 80.0) for _ in range(3)]
    key = f"test-{uuid.uuid4().hex}:+905551112233"  # fresh keys: no state from earlier runs
    await assert_limiters_share_the_pair_gap(shared, key, 0.5)


async def test_an_unreachable_store_holds_pair_bookings_too():
    limit = sharedlimit.RedisRateLimit("redis://127.0.0.1:1/0", 100.0)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await limit.reserve_pair("106540352242922:+905551112233", 6.0)
    finally:
        await limit.close()


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
    assert isinstance(chosen, sharedlimit.FallbackRateLimit)
    assert chosen.health()["source"] == "redis"
    await chosen.close()
    assert sharedlimit.for_database("sqlite:///x.db", 80) is None
