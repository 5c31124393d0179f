"""Redis stopped while REDIS_URL is set: sending goes on within the limit, from PostgreSQL's
shared state (or, on SQLite, a local share of the rate), /health says so, and the limit is
shared through Redis again once it is back.

A private `redis-server` (redis_server.py) is stopped and restarted; the shared one on 6379
is not touched. Two `FallbackRateLimit`s stand for two processes; their senders pass the real
`Throughput`, and the rule checked is the one of docs/dispatcher.md, "Throughput", on the
times the sends were let start, over the whole run, the switches included.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from tests.integration.redis_server import RedisServer, redis_server  # noqa: F401
from tests.integration.test_rate_windows import busiest_window
from whatsapp_scheduler.dispatch import ratelimit, sharedlimit, throughput
from whatsapp_scheduler.store import shared_limits

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

NUMBER = "106540352242922"
RATE = 200.0


async def until(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Wait for `condition()`: a deadline against a hang, never a statement about speed."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_sending_goes_on_while_redis_is_down_and_shares_again_after(
    database,
    redis_server: RedisServer,  # noqa: F811
    request,
    tmp_path,
):
    if database == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
        fallback = "postgresql"
    else:
        database_url = f"sqlite:///{tmp_path / 'x.db'}"
        fallback = "local"
    limits = []
    for _ in range(2):
        limit = sharedlimit.for_database(database_url, RATE, redis_server.url)
        assert isinstance(limit, sharedlimit.FallbackRateLimit)
        limits.append(limit)
    stamps: list[float] = []
    stop = asyncio.Event()

    async def sender(limit: sharedlimit.FallbackRateLimit, gate_lock: asyncio.Lock) -> None:
        turn = throughput.Throughput(ratelimit.RateLimiter(RATE, 0.0), limit, NUMBER, gate_lock)
        while not stop.is_set():
            slot = await turn.wait()
            await turn.go(slot)
            stamps.append(time.monotonic())  # what SendPath stamps as started_at

    tasks = []
    for limit in limits:
        gate_lock = asyncio.Lock()
        tasks += [asyncio.create_task(sender(limit, gate_lock)) for _ in range(8)]
    try:
        # Both on Redis, and each has seen the other (the local share is rate / 2).
        await until(
            lambda: all(lim.health()["instances_seen"] == 2 for lim in limits), "heartbeats"
        )
        assert all(lim.health()["source"] == "redis" for lim in limits)

        redis_server.stop()
        await until(
            lambda: all(lim.health()["source"] == fallback for lim in limits), "the fallback"
        )
        for limit in limits:
            health = limit.health()
            assert health["reason"] in (
                "redis unreachable (ConnectionError)",
                "redis unreachable (TimeoutError)",
            ), health
            if fallback == "local":
                assert health["messages_per_second_share"] == RATE / 2
        sent_down = len(stamps)
        await until(lambda: len(stamps) >= sent_down + 200, "sends while Redis is down")

        redis_server.start()
        await until(lambda: all(lim.health()["source"] == "redis" for lim in limits), "the return")
        assert all(lim.health()["reason"] is None for lim in limits)
        sent_back = len(stamps)
        await until(lambda: len(stamps) >= sent_back + 200, "sends after Redis returned")
        # Shared through Redis again: the restarted server (which starts empty) holds the
        # number's schedule, booked by both.
        client = aioredis.from_url(redis_server.url)
        try:
            assert await client.exists(shared_limits.RedisLimitState.PREFIX + NUMBER)
        finally:
            await client.aclose()
        booked = [lim.primary.round_trips for lim in limits]
        await until(
            lambda: all(lim.primary.round_trips > b for lim, b in zip(limits, booked, strict=True)),
            "bookings on Redis by both",
        )
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for limit in limits:
            await limit.close()
    bound = ratelimit.window_bound(RATE, ratelimit.burst_for(RATE))
    assert busiest_window(stamps) <= bound, (busiest_window(stamps), bound)
