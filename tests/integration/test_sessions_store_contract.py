"""Store contract for dashboard sessions, on every MessageStore (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import START


async def test_a_session_lives_until_it_expires_or_ends(any_store):
    hour = timedelta(hours=1)
    await any_store.start_session("a" * 64, START, START + hour)
    await any_store.start_session("b" * 64, START, START + hour)
    assert await any_store.session_active("a" * 64, START)
    assert not await any_store.session_active("c" * 64, START)
    assert not await any_store.session_active("a" * 64, START + hour)  # expired
    await any_store.end_session("a" * 64)
    await any_store.end_session("a" * 64)  # twice: nothing happens
    assert not await any_store.session_active("a" * 64, START)
    assert await any_store.session_active("b" * 64, START)
    # Starting a session later forgets the expired ones; a new one is active.
    await any_store.start_session("d" * 64, START + 2 * hour, START + 3 * hour)
    assert await any_store.session_active("d" * 64, START + 2 * hour)
    assert not await any_store.session_active("b" * 64, START)
