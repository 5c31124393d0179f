"""A claiming process killed -9 again and again never skips nor doubles an occurrence: the
next occurrence is made in the claim's own transaction (docs/series.md). Real processes, a
real SQLite file and the real PostgreSQL."""

# ruff: noqa: DTZ001 - a series' local wall-clock times are naive on purpose (core/recurrence.py)

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from whatsapp_scheduler import store
from whatsapp_scheduler.core import messages, recurrence
from whatsapp_scheduler.core.messages import MessageStatus
from whatsapp_scheduler.store import sql

pytestmark = pytest.mark.slow

SERIES = 100
COUNT = 30  # occurrences per series: 3,000 claims in all
START_LOCAL = datetime(2026, 1, 1, 0, 0)
RULE = f"FREQ=HOURLY;COUNT={COUNT}"

# The child: claims everything due (every occurrence is in the past), 3 at a time, printing
# how many it has claimed; it is killed -9 at some point of that.
CHILD = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from whatsapp_scheduler.store import sql

async def main(url):
    s = sql.SqlMessageStore.from_url(url)
    total = 0
    far = datetime(2030, 1, 1, tzinfo=UTC)
    while True:
        got = await s.claim_due(far, 3, "crashy", far)
        if not got:
            break
        total += len(got)
        print(total, flush=True)
    print("done", flush=True)
    await s.close()

asyncio.run(main(sys.argv[1]))
"""


async def _seed(url: str) -> None:
    message_store = sql.SqlMessageStore.from_url(url)
    now = datetime(2025, 12, 31, tzinfo=UTC)
    try:
        for index in range(SERIES):
            series_id = f"s{index:03d}"
            local = START_LOCAL
            due = recurrence.to_utc(local, "UTC")
            first = messages.ScheduledMessage(
                id=recurrence.occurrence_id(series_id, local),
                recipient="+905551234567",
                due_at=due,
                run_at=due,
                timezone="UTC",
                local_date="2026-01-01",
                local_time="00:00",
                content_hash=series_id,
                created_at=now,
                updated_at=now,
                body=f"reminder {series_id}",
                series_id=series_id,
            )
            series = store.Series(
                id=series_id,
                rule=RULE,
                timezone="UTC",
                dtstart=START_LOCAL,
                status=store.SeriesStatus.ACTIVE,
                sender="default",
                created_by=None,
                created_at=now,
                updated_at=now,
            )
            result = await message_store.add_series(series, first)
            assert result.status == store.AddStatus.CREATED
    finally:
        await message_store.close()


def _run_and_kill(url: str, after: float) -> bool:
    """Run a child, and kill -9 it `after` seconds after its first claim (at no particular
    point of its work: a crash); True when it finished first (nothing left)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    try:
        first = child.stdout.readline().strip()
        if first in {"done", ""}:
            return True
        try:
            child.wait(timeout=after)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)  # wherever it is: between any two statements
            child.wait(timeout=30)
            return False
        assert time.monotonic() < deadline, "the child hangs"
        return True
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
@pytest.mark.timeout(300)
async def test_kill_9_while_claiming_never_skips_or_doubles_an_occurrence(request, backend):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    await _seed(url)
    kills = 0
    for after in (0.13, 0.29, 0.07, 0.41, 0.19, 0.23, 0.11, 0.37, 60.0):
        finished = await asyncio.to_thread(_run_and_kill, url, after)
        kills += 0 if finished else 1
        if finished:
            break
    assert kills >= 4  # it really died mid-run, several times
    message_store = sql.SqlMessageStore.from_url(url)
    try:
        for index in range(SERIES):
            series_id = f"s{index:03d}"
            rows = await message_store.series_occurrences(series_id, COUNT + 5)
            expected = sorted(
                recurrence.occurrence_id(series_id, START_LOCAL + timedelta(hours=h))
                for h in range(COUNT)
            )
            assert sorted(m.id for m in rows) == expected, series_id  # none skipped, none twice
            assert {m.status for m in rows} == {MessageStatus.SENDING}
            series = await message_store.get_series(series_id)
            assert series is not None
            assert series.status == store.SeriesStatus.ENDED
    finally:
        await message_store.close()
