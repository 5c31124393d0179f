"""Store contract for dashboard sessions, on every MessageStore (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.conftest import START
from whatsapp_scheduler import store, testing
from whatsapp_scheduler.store import sql


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def session_store(request: pytest.FixtureRequest) -> AsyncIterator[store.MessageStore]:
    if request.param == "memory":
        yield testing.InMemoryMessageStore()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    message_store = sql.SqlMessageStore.from_url(url)
    try:
        yield message_store
    finally:
        await message_store.close()


async def test_a_session_lives_until_it_expires_or_ends(session_store):
    hour = timedelta(hours=1)
    await session_store.start_session("a" * 64, START, START + hour)
    await session_store.start_session("b" * 64, START, START + hour)
    assert await session_store.session_active("a" * 64, START)
    assert not await session_store.session_active("c" * 64, START)
    assert not await session_store.session_active("a" * 64, START + hour)  # expired
    await session_store.end_session("a" * 64)
    await session_store.end_session("a" * 64)  # twice: nothing happens
    assert not await session_store.session_active("a" * 64, START)
    assert await session_store.session_active("b" * 64, START)
    # Starting a session later forgets the expired ones; a new one is active.
    await session_store.start_session("d" * 64, START + 2 * hour, START + 3 * hour)
    assert await session_store.session_active("d" * 64, START + 2 * hour)
    assert not await session_store.session_active("b" * 64, START)
