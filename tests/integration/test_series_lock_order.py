"""A series edit racing the dispatcher's claim of its occurrence, on PostgreSQL (docs/series.md,
"The series endpoints"): the claim locks the occurrence's row, then the series row; the edit
must take them in the same order, or each waits for the other (PostgreSQL's deadlock detector
then kills one). Deterministic: the claim is held between its two locks until the edit is seen
waiting in `pg_locks`."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import psycopg
import pytest

from tests.conftest import START
from tests.integration.test_api_series import FIRST, LEASE, WEEKLY, both_api  # noqa: F401
from whatsapp_scheduler.core.messages import MessageStatus
from whatsapp_scheduler.store import sql, urls

pytestmark = pytest.mark.postgres


def _waiting_for_a_lock(url: str) -> int:
    plain = urls.normalize_url(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0


async def test_an_edit_of_the_occurrence_being_claimed_waits_then_is_a_409(
    make_settings, clock, postgres_url
):
    from tests.integration.conftest import served_api

    settings = make_settings(database_url=postgres_url)
    async with served_api(settings, clock, postgres_url) as api:
        assert (await api.post("/schedule", json=WEEKLY)).status_code == 200
        claimer = sql.SqlMessageStore.from_url(postgres_url)  # another process's store
        held, release = threading.Event(), threading.Event()
        original = claimer.continue_series

        def between_the_locks(conn, claimed, now):  # the occurrence row is locked here
            held.set()
            release.wait(30)
            return original(conn, claimed, now)

        claimer.continue_series = between_the_locks  # type: ignore[method-assign]
        try:
            claim = asyncio.create_task(
                claimer.claim_due(START + timedelta(days=1), 10, "w1", LEASE)
            )
            while not held.is_set():
                await asyncio.sleep(0.01)
            edit = asyncio.create_task(api.patch("/series/weekly-1", json={"mesaj": "Yeni"}))
            deadline = time.monotonic() + 30
            while await asyncio.to_thread(_waiting_for_a_lock, postgres_url) == 0:
                assert time.monotonic() < deadline, "the edit never waited for a lock"
                assert not edit.done(), (await edit).text
                await asyncio.sleep(0.02)
            release.set()
            claimed = await claim  # no deadlock: the claim completes
            answer = await edit
        finally:
            release.set()
            await claimer.close()
        assert [m.id for m in claimed] == [FIRST]
        assert answer.status_code == 409, answer.text  # the occurrence went out meanwhile
        assert "being sent" in answer.json()["detail"]
        row = await api.store.get(FIRST)
        assert (row.status, row.body) == (MessageStatus.SENDING, WEEKLY["mesaj"])
