"""`SqliteDueWatcher`: a message stored through another connection (another process's store)
reaches the dispatcher's `nudge` at once, on a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from tests.conftest import START
from whatsapp_scheduler.store import migrate, notify, sql, urls


async def _until(condition, timeout: float = 20.0) -> None:
    """Wait for `condition()`; the deadline only guards against a hang (generous: a loaded
    2-core machine is slow, and a deadline costs nothing while the test passes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_commits_by_another_store_reach_on_due_with_the_earliest_run_at(
    sqlite_url, make_message
):
    migrate.upgrade(sqlite_url)
    writer = sql.SqlMessageStore.from_url(sqlite_url)  # the API process
    reader = sql.SqlMessageStore.from_url(sqlite_url)  # the worker process
    heard: list[datetime] = []
    path = urls.sqlite_path(sqlite_url)
    assert path is not None
    watcher = notify.SqliteDueWatcher(path, heard.append, reader.next_run_at, interval=0.01)
    await watcher.start()
    try:
        await asyncio.sleep(0.1)
        assert heard == []  # nothing queued: nothing to announce
        later, sooner = START + timedelta(hours=2), START + timedelta(hours=1)
        await writer.add(make_message(due_at=later))
        await _until(lambda: heard == [later])
        await writer.add_many([make_message(due_at=sooner)])
        await _until(lambda: heard == [later, sooner])
        changes = watcher.changes
        await asyncio.sleep(0.1)
        assert (watcher.changes, heard) == (changes, [later, sooner])  # quiet file: no calls
    finally:
        await watcher.stop()
        await writer.close()
        await reader.close()


async def test_a_missing_file_is_waited_for_not_created(tmp_path):
    path = tmp_path / "not-yet.db"

    async def earliest() -> datetime | None:
        return None

    watcher = notify.SqliteDueWatcher(str(path), lambda _: None, earliest, interval=0.01)
    await watcher.start()
    await asyncio.sleep(0.1)
    await watcher.stop()
    assert not path.exists()


def test_sqlite_path_is_the_file_sqlalchemy_opens():
    assert urls.sqlite_path("sqlite:///./whatsapp_schedules.db") == "./whatsapp_schedules.db"
    assert urls.sqlite_path("sqlite:////var/lib/ws/a%20b.db") == "/var/lib/ws/a b.db"
    assert urls.sqlite_path("sqlite+pysqlite:////tmp/x.db") == "/tmp/x.db"
    assert urls.sqlite_path("sqlite://") is None
    assert urls.sqlite_path("sqlite:///:memory:") is None
    assert urls.sqlite_path("postgresql+psycopg://u@h/db") is None
