"""SQLite's campaign insert (store/sql_campaigns.py): the commit does not run the WAL
checkpoint (the store thread runs it right after), and the connection's automatic checkpoint
is restored for every later transaction; a failed insert leaves nothing and restores it too."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import START
from tests.integration.test_campaigns_store_contract import _campaign, _messages
from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.store import sql, tables


def _file_size(url: str) -> int:
    """The database file's size: what a checkpoint has copied into it (the WAL holds the
    rest)."""
    return os.path.getsize(url.removeprefix("sqlite:///"))


def _autocheckpoints(store: sql.SqlMessageStore) -> set[int]:
    """The automatic checkpoint's setting on each of the pool's connections (two at once)."""
    with store._engine.connect() as one, store._engine.connect() as two:
        return {
            int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())
            for conn in (one, two)
        }


async def test_the_commit_leaves_the_checkpoint_to_the_store_thread(sqlite_url, monkeypatch):
    store = sql.SqlMessageStore.from_url(sqlite_url)
    try:
        monkeypatch.setattr(sql.SqlMessageStore, "_checkpoint", lambda self: None)
        batch = _messages("cmp_w", 10_000)  # more than the 1,000 pages of the default
        before = _file_size(sqlite_url)
        assert await store.create_campaign(_campaign("cmp_w", recipients=10_000), batch) == 10_000
        await store._run(lambda: None)  # after anything queued on the store thread
        assert _file_size(sqlite_url) == before  # the commit copied nothing into the file
        monkeypatch.undo()
        assert await store._run(_autocheckpoints, store) == {1000}
        assert (await store.get("cmp_w-0009999")) == batch[-1]
    finally:
        await store.close()


async def test_the_checkpoint_runs_right_after_the_campaign(sqlite_url):
    store = sql.SqlMessageStore.from_url(sqlite_url)
    try:
        batch = _messages("cmp_c", 10_000)
        before = _file_size(sqlite_url)
        assert await store.create_campaign(_campaign("cmp_c", recipients=10_000), batch) == 10_000
        await store._run(lambda: None)  # queued after the checkpoint
        assert _file_size(sqlite_url) > before + 5_000_000  # ~1 KB a row, copied in
    finally:
        await store.close()


async def test_a_failed_insert_stores_nothing_and_restores_the_setting(sqlite_url, monkeypatch):
    store = sql.SqlMessageStore.from_url(sqlite_url)
    try:

        def broken(*_: object) -> int:
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

        monkeypatch.setattr(sql.SqlMessageStore, "_insert_shared", broken)
        with pytest.raises(errors.StoreError):
            await store.create_campaign(_campaign("cmp_x"), _messages("cmp_x", 3))
        monkeypatch.undo()
        with store._engine.connect() as conn:
            counted = conn.execute(sa.select(sa.func.count()).select_from(tables.campaigns))
            assert counted.scalar_one() == 0
        assert await store.get("cmp_x-0000000") is None
        assert await store._run(_autocheckpoints, store) == {1000}
        await store.add(testing.make_message("after", START + timedelta(minutes=1)))
        assert await store.get("after") is not None
    finally:
        await store.close()
