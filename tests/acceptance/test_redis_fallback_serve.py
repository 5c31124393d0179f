"""Two `serve` processes on PostgreSQL sharing the limit in Redis, and Redis stopped mid-run.

Sending goes on from PostgreSQL's shared state, /health says so (`dispatcher.limit`: source
and reason), every message is sent once, no 1-s window of the recorded send starts carries more
than the rate + 2%, and once Redis is back both say `redis` again and book there.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis

from tests.acceptance.conftest import BIN, Service, base_env, free_port, now_local, start_standin
from tests.integration.conftest import postgres_template, postgres_url  # noqa: F401
from tests.integration.redis_server import RedisServer, redis_server  # noqa: F401
from tests.integration.test_rate_windows import busiest_window
from whatsapp_scheduler.dispatch import ratelimit
from whatsapp_scheduler.store import shared_limits, urls

KEY = "fallback-key-0123456789abcdef"
TOKEN = "fallback-token"
NUMBER_ID = "123456789012345"
RATE = 100
TOTAL = 2_000
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(170)]


async def limit_of(service: Service) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.get(service.url + "/health", headers={"X-API-Key": service.api_key})
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["dispatcher"]["limit"])


async def until_limits(services: list[Service], check: Any, what: str) -> list[dict[str, Any]]:
    """Poll every service's /health limit until `check` holds for all (60 s against a hang)."""
    deadline = time.monotonic() + 60
    while True:
        limits = [await limit_of(s) for s in services]
        if all(check(limit) for limit in limits):
            return limits
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {limits}"
        await asyncio.sleep(0.1)


def _rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(urls.libpq_url(database_url)) as conn:
        return conn.execute(query).fetchall()


async def test_redis_stopped_mid_run(tmp_path: Path, postgres_url, redis_server: RedisServer):  # noqa: F811
    standin = await start_standin(TOKEN, NUMBER_ID)
    env = base_env(
        tmp_path,
        DATABASE_URL=postgres_url,
        REDIS_URL=redis_server.url,
        API_KEY=KEY,
        ACCESS_TOKEN=TOKEN,
        PHONE_NUMBER_ID=NUMBER_ID,
        GRAPH_API_URL=standin.url,
        PAIR_INTERVAL="0",
        MESSAGES_PER_SECOND=str(RATE),
    )
    services = []
    for _ in range(2):
        port = free_port()
        services.append(Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path))

    def sent() -> int:
        return sum(1 for r in standin.mailbox.requests if r.status == 200)

    try:
        for service in services:
            await asyncio.to_thread(service.wait_healthy)
        async with httpx.AsyncClient(
            base_url=services[0].url, headers={"X-API-Key": KEY}, timeout=30
        ) as api:
            for chunk in range(TOTAL // 1000):
                tarih, saat = now_local()  # per batch: a loaded machine took > 60 s for them all
                batch = [
                    {"id": f"f{chunk}-{i}", "alici": f"+90555{chunk}{i:06d}", "tarih": tarih,
                     "saat": saat, "mesaj": f"m{i}"}
                    for i in range(1000)
                ]  # fmt: skip
                answer = (await api.post("/schedule/batch", json={"messages": batch})).json()
                assert answer["stored"] == 1000, answer
        await until_limits(services, lambda h: h["source"] == "redis", "Redis in use")
        while sent() < 200:
            await asyncio.sleep(0.05)

        redis_server.stop()
        down = await until_limits(services, lambda h: h["source"] == "postgresql", "the fallback")
        assert all(h["reason"].startswith("redis unreachable") for h in down), down
        at_fallback = sent()
        while sent() < at_fallback + 200:  # sending goes on (a 60 s hang guard: the test's)
            await asyncio.sleep(0.05)

        redis_server.start()
        back = await until_limits(services, lambda h: h["source"] == "redis", "the return")
        assert all(h["reason"] is None for h in back), back
        client = aioredis.from_url(redis_server.url)
        try:  # the restarted server started empty: this key was booked after the return
            while not await client.exists(shared_limits.RedisLimitState.PREFIX + NUMBER_ID):
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        deadline = time.monotonic() + 90
        while (
            await asyncio.to_thread(
                _rows, postgres_url, "SELECT count(*) FROM messages WHERE status <> 'sent'"
            )
        )[0][0]:
            assert time.monotonic() < deadline, "not all sent"
            await asyncio.sleep(0.2)
        recorded = await asyncio.to_thread(
            _rows,
            postgres_url,
            "SELECT extract(epoch FROM started_at)::float8 FROM attempts WHERE outcome = 'sent'",
        )
    finally:
        for service in services:
            service.stop()
        await standin.stop()
    sends = Counter(r.biz_opaque_callback_data for r in standin.mailbox.requests if r.status == 200)
    assert len(sends) == TOTAL
    assert max(sends.values()) == 1  # every message sent once
    stamps = [t for (t,) in recorded]
    bound = ratelimit.window_bound(RATE, ratelimit.burst_for(RATE))
    print(f"busiest 1 s of recorded sends: {busiest_window(stamps)} (bound {bound})")
    assert busiest_window(stamps) <= bound
