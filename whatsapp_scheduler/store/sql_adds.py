"""The adding half of `SqlMessageStore`: group-committed inserts of new messages.

Concurrent `add` and `add_many` calls share one transaction (`batching.Batcher`); an id
already stored answers EXISTING (same content) or CONFLICT. SQLite inserts through the
driver with multi-row INSERTs (`sqlite_bulk`); PostgreSQL uses `ON CONFLICT DO NOTHING
RETURNING` and wakes every process with `pg_notify` on commit.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import (
    AddResult,
    AddStatus,
    batching,
    notify,
    rows,
    sqlite_bulk,
    tables,
)

T = TypeVar("T")
M = tables.messages


class SqlAddsMixin:
    """The adding methods of `SqlMessageStore` (uses its threads and transactions)."""

    _dialect: str
    _adds: batching.Batcher[list[messages.ScheduledMessage], list[AddResult]]
    _max_values: int | None

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _readable(self, rows: Any) -> list[messages.ScheduledMessage]: ...

        def _insert(self) -> Any: ...

    async def add(self, message: messages.ScheduledMessage) -> AddResult:
        """Group commit: adds that arrive while a write is running share the next transaction.

        Under many concurrent clients this turns N one-row transactions into a few N-row ones;
        a lone request still goes straight to the database.
        """
        (result,) = await self._adds.submit([message])
        return result

    async def add_many(self, batch: Sequence[messages.ScheduledMessage]) -> list[AddResult]:
        """Like `add`: concurrent batches (and single adds) share one transaction, so the
        index pages they both touch are written once (bench/RESULTS.md)."""
        if not batch:
            return []
        return await self._adds.submit(list(batch))

    async def _add_groups(
        self, group: list[list[messages.ScheduledMessage]]
    ) -> list[list[AddResult]]:
        """One transaction for every caller's messages, in arrival order: a later caller's
        repeat of an id is EXISTING or CONFLICT, as if it had come after (which it did)."""
        results = await self._run(self._add_many, [m for batch in group for m in batch])
        answers, start = [], 0
        for batch in group:
            answers.append(results[start : start + len(batch)])
            start += len(batch)
        return answers

    def _add_many(self, batch: list[messages.ScheduledMessage]) -> list[AddResult]:
        first: dict[str, int] = {}  # id -> index of its first occurrence in the batch
        for index, message in enumerate(batch):
            first.setdefault(message.id, index)
        with self._tx() as conn:
            candidates = [batch[index] for index in first.values()]
            if self._dialect == "sqlite":
                inserted = self._insert_sqlite(conn, candidates)
            else:
                stmt = (
                    self._insert().on_conflict_do_nothing(index_elements=["id"]).returning(M.c.id)
                )
                inserted = set(
                    conn.execute(stmt, [rows.message_to_row(m) for m in candidates]).scalars()
                )
            if inserted and self._dialect == "postgresql":  # wakes every process, on commit
                earliest = min(m.run_at for m in batch if m.id in inserted)
                conn.execute(sa.select(sa.func.pg_notify(notify.CHANNEL, earliest.isoformat())))
            already = [message_id for message_id in first if message_id not in inserted]
            existing = self._fetch_many(conn, already) if already else {}
        results = []
        for index, message in enumerate(batch):
            if message.id in inserted and first[message.id] == index:
                results.append(AddResult(AddStatus.CREATED, message))
                continue
            stored = existing.get(message.id) or batch[first[message.id]]
            same = stored.content_hash == message.content_hash
            results.append(AddResult(AddStatus.EXISTING if same else AddStatus.CONFLICT, stored))
        return results

    def _insert_sqlite(
        self, conn: Connection, candidates: list[messages.ScheduledMessage]
    ) -> set[str]:
        """Insert new ids with multi-row INSERTs through the driver (SQLAlchemy's per-row cost
        was most of `POST /schedule/batch`). Returns the ids this call inserted."""
        ids = json.dumps([m.id for m in candidates])
        present = set(conn.exec_driver_sql(sqlite_bulk.PRESENT_IDS, (ids,)).scalars())
        fresh = [m for m in candidates if m.id not in present]
        if not fresh:
            return set()
        inserted = self._insert_ignoring(conn, fresh)
        if inserted == len(fresh):
            return {m.id for m in fresh}
        # Another process inserted some of these ids meanwhile (OR IGNORE kept theirs): ours
        # are the rows that match what we wrote.
        stored = self._fetch_many(conn, [m.id for m in fresh])
        return {m.id for m in fresh if stored.get(m.id) == m}

    def _insert_ignoring(self, conn: Connection, batch: list[messages.ScheduledMessage]) -> int:
        """SQLite: `batch` in multi-row INSERT OR IGNORE statements (an id present is left as
        it is); the number of rows inserted. A series' next occurrences go in this way, with
        no look-up first: the claim does not need to know which existed."""
        columns = sqlite_bulk.columns_of(batch)
        used = [i for i, values in enumerate(columns) if values.count(None) < len(batch)]
        per_statement = max(1, self._sqlite_max_values(conn) // len(used))
        inserted = 0
        for start in range(0, len(batch), per_statement):
            chunk = [columns[i][start : start + per_statement] for i in used]
            statement = sqlite_bulk.multirow_insert(tuple(used), len(chunk[0]))
            values = tuple(itertools.chain.from_iterable(zip(*chunk, strict=True)))
            inserted += conn.exec_driver_sql(statement, values).rowcount
        return int(inserted)

    def _sqlite_max_values(self, conn: Connection) -> int:
        if self._max_values is None:
            driver = conn.connection.dbapi_connection
            limit = getattr(driver, "getlimit", None)  # Python 3.11+
            self._max_values = min(
                sqlite_bulk.MAX_VALUES,
                limit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if limit else 999,
            )
        return self._max_values

    def _fetch_many(self, conn: Connection, ids: list[str]) -> dict[str, messages.ScheduledMessage]:
        found: dict[str, messages.ScheduledMessage] = {}
        for start in range(0, len(ids), tables.IN_CHUNK):
            chunk = ids[start : start + tables.IN_CHUNK]
            for message in self._readable(conn.execute(sa.select(M).where(M.c.id.in_(chunk)))):
                found[message.id] = message
        return found
