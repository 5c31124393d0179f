"""The SQL store's cache of found API keys (KEY_CACHE_SECONDS), on SQLite and PostgreSQL:
a revoke through the store is at once, one from another process within the cache's time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import START
from whatsapp_scheduler.core import keys
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.store import sql, tables

SECRET = "wsk_cached"
HASH = keys.key_hash(SECRET)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )


@pytest.fixture
async def open_store(url: str) -> AsyncIterator[Callable[[float], sql.SqlMessageStore]]:
    """Stores on the one database, as separate processes (server, CLI) would have them."""
    opened: list[sql.SqlMessageStore] = []

    def make(cache_seconds: float) -> sql.SqlMessageStore:
        made = sql.SqlMessageStore.from_url(url, key_cache_seconds=cache_seconds)
        opened.append(made)
        return made

    yield make
    for made in opened:
        await made.close()


async def _made_key(a_store: sql.SqlMessageStore) -> None:
    key = keys.ApiKey(name="app", scope=Scope.WRITE, senders=None, created_at=START)
    await a_store.create_key(key, HASH)


async def test_a_found_key_is_not_read_again_within_the_cache_time(open_store):
    server = open_store(60.0)
    await _made_key(server)
    assert await server.find_key(HASH) is not None
    # The row gone behind the store's back (as no command does): the cached key still answers,
    # so the read was not made again...
    other = open_store(0)
    with other._engine.begin() as conn:
        conn.execute(sa.delete(tables.api_keys))
    assert await server.find_key(HASH) is not None
    # ... while a store without the cache reads every time.
    assert await other.find_key(HASH) is None


async def test_a_revoke_through_the_same_store_is_refused_at_once(open_store):
    server = open_store(60.0)
    await _made_key(server)
    assert await server.find_key(HASH) is not None
    await server.revoke_key("app", START + timedelta(hours=1))
    found = await server.find_key(HASH)
    assert found is not None
    assert found.revoked


async def test_a_revoke_from_another_process_is_refused_within_the_cache_time(open_store):
    server = open_store(0.5)
    cli = open_store(0)
    await _made_key(cli)
    assert await server.find_key(HASH) is not None
    revoked_at = time.monotonic()
    await cli.revoke_key("app", START + timedelta(hours=1))
    while True:
        found = await server.find_key(HASH)
        assert found is not None
        if found.revoked:
            break
        # Revocation's bound: the cache's 0.5 s, plus scheduling slack on a busy machine.
        assert time.monotonic() - revoked_at < 10, "the revoked key was still accepted"
        await asyncio.sleep(0.05)


async def test_unknown_keys_are_not_cached(open_store):
    server = open_store(60.0)
    assert await server.find_key(HASH) is None
    await _made_key(open_store(0))  # made by another process after the failed try
    assert await server.find_key(HASH) is not None


async def test_after_a_touch_the_next_lookup_sees_when_the_key_was_used(open_store):
    server = open_store(60.0)
    await _made_key(server)
    first = await server.find_key(HASH)
    assert first is not None
    assert first.needs_touch(START)
    used = START + timedelta(minutes=5)
    await server.touch_key("app", used)
    again = await server.find_key(HASH)
    assert again is not None
    assert again.last_used_at == used
    assert not again.needs_touch(used + timedelta(seconds=30))
