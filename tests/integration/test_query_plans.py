"""The dispatcher's and the webhooks' writes find their rows by key on SQLite, whatever the size
of the history: no statement of theirs reads a status index or the unmatched receipts.

SQLite's planner does not look at the data (without ANALYZE): given `id IN (500 ids) AND status
IN (...)` it searched an index on status, i.e. read every sent, delivered and read message
kept, once per chunk of outcomes. So the plans are checked here with the statements and
parameters the store really runs, on a small file (the plan would be the same on a big one).
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import START, MakeMessage
from whatsapp_scheduler import store
from whatsapp_scheduler.core import recurrence
from whatsapp_scheduler.core.messages import AttemptOutcome
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import migrate, sql

LEASE = START + timedelta(seconds=60)
#: What a plan of these writes must not do.
FORBIDDEN = ("ix_messages_status", "ix_receipts_message_id", "SCAN messages", "SCAN receipts")


def _capture(seen: list[tuple[str, Any]]) -> Any:
    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        many = isinstance(parameters, list)
        seen.append((statement, parameters[0] if many and parameters else parameters))

    return capture


def _plans(path: Path, seen: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [
            (statement, conn.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall())
            for statement, parameters in seen
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH"))
        ]


async def _statements(
    tmp_path: Path, make_message: MakeMessage, count: int
) -> list[tuple[str, Any]]:
    """The SQL (with its first parameters) that `record` and `apply_receipts` run for `count`
    messages sent, with a status of each kept from before its send."""
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    migrate.upgrade(url)
    target = sql.SqlMessageStore.from_url(url)
    seen: list[tuple[str, Any]] = []
    try:
        batch = [make_message(due_at=START) for _ in range(count)]
        await target.add_many(batch)
        claimed = await target.claim_due(START, count, "w1", LEASE)
        early = [store.Receipt(f"wamid.{m.id}", S.DELIVERED, START) for m in claimed]
        await target.apply_receipts(early, START)  # unmatched: kept until the send is recorded
        sa.event.listen(target._engine, "before_cursor_execute", _capture(seen))
        outcomes = [
            store.Outcome(m.id, "w1", S.SENT, START, AttemptOutcome.SENT, wamid=f"wamid.{m.id}")
            for m in claimed
        ]
        assert await target.record(outcomes) == count
        read = [store.Receipt(f"wamid.{m.id}", S.READ, START + timedelta(1)) for m in claimed]
        assert (await target.apply_receipts(read, START)).applied == count
        assert (await target.get(claimed[0].id)).status == S.READ  # type: ignore[union-attr]
    finally:
        await target.close()
    return _plans(tmp_path / "plans.db", seen)


async def test_outcome_and_receipt_writes_find_rows_by_key(tmp_path, make_message):
    plans = await _statements(tmp_path, make_message, 600)
    assert len(plans) >= 4  # the claims read, the updates, the kept receipts, the receipts
    for statement, plan in plans:
        details = " / ".join(str(row[-1]) for row in plan)
        assert not any(bad in details for bad in FORBIDDEN), (statement[:200], details)


#: SQLite reads a series' occurrences by their ids' range in the primary key's index
#: (revision 0026 dropped the index of `series_id` there).
BY_ID_RANGE = "USING INDEX sqlite_autoindex_messages_1 (id>? AND id<?)"


async def _series_statements(tmp_path: Path, make_message: MakeMessage) -> list[tuple[str, Any]]:
    """The SQL of a series' history, pause, resume, edit and delete (each reads or cancels its
    occurrences), among other series' occurrences, each with its EXPLAIN QUERY PLAN."""
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    migrate.upgrade(url)
    target = sql.SqlMessageStore.from_url(url)
    seen: list[tuple[str, Any]] = []
    local = datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001 - a series' local time is naive
    active, paused = store.SeriesStatus.ACTIVE, store.SeriesStatus.PAUSED
    try:
        for n in range(20):
            series = store.Series(
                f"s{n:02d}",
                "FREQ=DAILY",
                "Europe/Istanbul",
                local,
                active,
                "default",
                None,
                START,
                START,
            )
            occurrence = make_message(
                id=recurrence.occurrence_id(series.id, local), due_at=START, series_id=series.id
            )
            await target.add_series(series, occurrence)
        sa.event.listen(target._engine, "before_cursor_execute", _capture(seen))
        assert len(await target.series_occurrences("s01", 10)) == 1
        await target.change_series("s01", [active], paused, START, cancel_reason="p")
        await target.change_series("s01", [paused], active, START, occurrence=occurrence)
        edited = occurrence.evolve(id=recurrence.occurrence_id("s01", local), series_id="s01")
        await target.change_series(
            "s01", [active], active, START, rule="FREQ=WEEKLY", cancel_reason="e", occurrence=edited
        )
        await target.change_series(
            "s01", [active], store.SeriesStatus.ENDED, START, cancel_reason="d"
        )
    finally:
        await target.close()
    return [(q, plan) for q, plan in _plans(tmp_path / "plans.db", seen) if "series_id" in q]


async def test_a_series_occurrences_are_read_by_the_id_range_on_sqlite(tmp_path, make_message):
    plans = await _series_statements(tmp_path, make_message)
    assert len(plans) >= 4  # the history, and the cancels of the pause, the edit and the delete
    for statement, plan in plans:
        details = " / ".join(str(row[-1]) for row in plan)
        assert BY_ID_RANGE in details, (statement[:200], details)


async def test_no_series_statement_reads_a_status_index_on_sqlite(tmp_path, make_message):
    for statement, plan in await _series_statements(tmp_path, make_message):
        details = " / ".join(str(row[-1]) for row in plan)
        assert not any(bad in details for bad in FORBIDDEN), (statement[:200], details)


@pytest.mark.postgres
def test_a_series_occurrences_are_read_by_their_index_on_postgres(postgres_url):
    """PostgreSQL keeps `ix_messages_series_id` (its text order is the collation's)."""
    engine = engine_mod.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        plans = [
            "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + query))
            for query in (
                "SELECT * FROM messages WHERE series_id = 's1' ORDER BY due_at DESC, id DESC "
                "LIMIT 10",
                "UPDATE messages SET status = 'cancelled' WHERE series_id = 's1' "
                "AND status = 'queued' AND id != 's1@20260301T120000'",
            )
        ]
    engine.dispose()
    assert all("ix_messages_series_id" in plan for plan in plans), plans
