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
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import START, MakeMessage
from whatsapp_scheduler import store
from whatsapp_scheduler.core.messages import AttemptOutcome
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.store import migrate, sql

LEASE = START + timedelta(seconds=60)
#: What a plan of these writes must not do.
FORBIDDEN = ("ix_messages_status", "ix_receipts_message_id", "SCAN messages", "SCAN receipts")


async def _statements(
    tmp_path: Path, make_message: MakeMessage, count: int
) -> list[tuple[str, Any]]:
    """The SQL (with its first parameters) that `record` and `apply_receipts` run for `count`
    messages sent, with a status of each kept from before its send."""
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    migrate.upgrade(url)
    target = sql.SqlMessageStore.from_url(url)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        many = isinstance(parameters, list)
        seen.append((statement, parameters[0] if many and parameters else parameters))

    try:
        batch = [make_message(due_at=START) for _ in range(count)]
        await target.add_many(batch)
        claimed = await target.claim_due(START, count, "w1", LEASE)
        early = [store.Receipt(f"wamid.{m.id}", S.DELIVERED, START) for m in claimed]
        await target.apply_receipts(early, START)  # unmatched: kept until the send is recorded
        sa.event.listen(target._engine, "before_cursor_execute", capture)
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
    with contextlib.closing(sqlite3.connect(tmp_path / "plans.db")) as conn:
        return [
            (statement, conn.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall())
            for statement, parameters in seen
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH"))
        ]


async def test_outcome_and_receipt_writes_find_rows_by_key(tmp_path, make_message):
    plans = await _statements(tmp_path, make_message, 600)
    assert len(plans) >= 4  # the claims read, the updates, the kept receipts, the receipts
    for statement, plan in plans:
        details = " / ".join(str(row[-1]) for row in plan)
        assert not any(bad in details for bad in FORBIDDEN), (statement[:200], details)
