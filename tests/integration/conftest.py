"""Store fixtures: every MessageStore implementation, on real SQLite files and real PostgreSQL.

PostgreSQL: `TEST_POSTGRES_URL` (a server URL with a maintenance database, e.g.
postgresql://postgres@127.0.0.1:5432/postgres). A template database is migrated once per
session; each test gets `CREATE DATABASE ... TEMPLATE ...`, so tests commit for real and stay
isolated. Without the variable the postgres tests are skipped locally (shown by -ra) and FAIL in
CI (CI=true), so they can never silently disappear there.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from whatsapp_scheduler import store, testing
from whatsapp_scheduler.store import migrate, sql, urls

_counter = itertools.count()
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


def postgres_server_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_POSTGRES_URL is not set in CI: the postgres tests must run")
        pytest.skip("TEST_POSTGRES_URL not set (scripts/test sets it)")
    return url


def _with_database(url: str, name: str) -> str:
    return (
        make_url(urls.normalize_url(url)).set(database=name).render_as_string(hide_password=False)
    )


def _admin(url: str) -> psycopg.Connection[Any]:
    plain = make_url(urls.normalize_url(url)).set(drivername="postgresql")
    return psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[str, str]]:
    server = postgres_server_url()
    name = f"wsched_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with _admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate.upgrade(_with_database(server, name))
        yield server, name
    finally:
        with _admin(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_template: tuple[str, str]) -> Iterator[str]:
    server, template = postgres_template
    name = f"wsched_t_{os.getpid()}_{next(_counter)}"
    with _admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _with_database(server, name)
    finally:
        with _admin(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'messages.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_store(request: pytest.FixtureRequest) -> AsyncIterator[store.MessageStore]:
    """Each MessageStore implementation in turn."""
    if request.param == "memory":
        yield testing.InMemoryMessageStore()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    message_store = sql.SqlMessageStore.from_url(url)
    try:
        yield message_store
    finally:
        await message_store.close()


class ServedApp:
    """The app from create_app(), served by uvicorn on a loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.url = ""

    async def __aenter__(self) -> ServedApp:
        import asyncio

        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("server did not start")
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self._task


@contextlib.asynccontextmanager
async def served_api(settings: Any, clock: testing.FrozenClock, url: str) -> AsyncIterator[Any]:
    """The app of `settings` served on loopback over the store at `url`: an httpx client with
    the API key, the store as its `.store`."""
    import httpx

    from tests.conftest import API_KEY
    from whatsapp_scheduler.web import app as app_mod

    message_store = sql.SqlMessageStore.from_url(url)
    app = app_mod.create_app(settings, store=message_store, clock=clock)
    try:
        async with (
            ServedApp(app) as served,
            httpx.AsyncClient(
                base_url=served.url, headers={"X-API-Key": API_KEY}, timeout=60
            ) as client,
        ):
            client.store = message_store  # type: ignore[attr-defined]
            yield client
    finally:
        await message_store.close()


@pytest.fixture
async def api(
    make_settings: Any, clock: testing.FrozenClock, sqlite_url: str
) -> AsyncIterator[Any]:
    """(httpx client with the API key, the store) against the app on a real SQLite file."""
    settings = make_settings(
        database_url=sqlite_url, app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    async with served_api(settings, clock, sqlite_url) as client:
        yield client


async def assert_limiters_share_one_rate(
    shared: list[Any], key: str, rate: float, per_limiter: int
) -> None:
    """Several shared rate limits (as several processes would hold) together keep `rate`.

    GCRA: at most a burst of 2% of a second at once, then one slot per 1/rate s for all of
    them together (1% slower: sharedlimit.LATE_SECONDS), not N times over; and slots are
    booked in batches, not a round trip each.
    """
    import asyncio
    import time

    stamps: list[float] = []

    async def send_all(limit: Any) -> None:
        async def one() -> None:
            await limit.acquire(key)
            stamps.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(per_limiter)))

    try:
        started = time.monotonic()
        await asyncio.gather(*(send_all(limit) for limit in shared))
    finally:
        for limit in shared:
            await limit.close()
    total = per_limiter * len(shared)
    from whatsapp_scheduler.dispatch import ratelimit

    burst = ratelimit.burst_for(rate)
    elapsed = max(stamps) - started
    assert elapsed >= (total - burst) / rate * 0.97
    # And not needlessly slower. Generous (2x + 1 s: a loaded 2-core machine slows the round
    # trips), yet limiters that each kept to their own third of the rate would take 3x.
    assert elapsed < (total / rate) * 2 + 1
    assert sum(limit.round_trips for limit in shared) <= total / 3


async def assert_limiters_share_the_pair_gap(shared: list[Any], key: str, interval: float) -> None:
    """Several shared limits (as several processes would hold) keep one gap per recipient:
    of concurrent bookings for one recipient exactly one wins; the rest wait at most the
    interval; after it, the next booking wins; other recipients are not held up; within one
    process's group, a recipient asked for twice is booked once.

    "Still inside the gap" is checked on a gap of a minute: with `interval` (0.5 s) it held
    only if the machine answered the round trips in time. "After it" waits out `interval`
    (a sleep is never shorter than asked)."""
    import asyncio

    held = 60.0
    try:
        answers = await asyncio.gather(*(limit.reserve_pair(key, held) for limit in shared))
        assert answers.count(None) == 1
        refused = [wait for wait in answers if wait is not None]
        assert all(0 < wait <= held for wait in refused)
        assert await shared[0].reserve_pair(key + "-other", interval) is None
        assert await shared[1].reserve_pair(key, held) is not None  # still inside the gap
        short = key + "-short"
        assert await shared[0].reserve_pair(short, interval) is None
        await asyncio.sleep(interval + 0.05)
        assert await shared[1].reserve_pair(short, interval) is None
        twice = list(  # gather() answers a list; typeshed says a tuple
            await asyncio.gather(
                shared[2].reserve_pair(key + "-twice", interval),
                shared[2].reserve_pair(key + "-twice", interval),
            )
        )
        assert twice == [None, interval]
        assert await shared[0].reserve_pair(key, 0.0) is None  # PAIR_INTERVAL=0: no gap
    finally:
        for limit in shared:
            await limit.close()
