"""The edits-and-series half of `SqlMessageStore` (docs/edits.md, docs/series.md).

- An edit of a queued message is one conditional UPDATE (`status = queued`) plus its
  `message_edits` row, in one transaction: a message the dispatcher has claimed is never
  changed (the claim is itself a conditional UPDATE from `queued`).
- A series' next occurrence is inserted in the claim's own transaction (`continue_series`,
  called by `sql.SqlMessageStore._claim_due`): a crash between the two is impossible, so an
  occurrence is never skipped nor made twice (its id is derived from its time; the insert is
  ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import errors, messages, recurrence
from whatsapp_scheduler.store import (
    EDITABLE,
    AddResult,
    AddStatus,
    Edit,
    Series,
    SeriesStatus,
    notify,
    sqlite_bulk,
    tables,
)
from whatsapp_scheduler.store import rows as row_codec

T = TypeVar("T")
M = tables.messages
E = tables.message_edits
SR = tables.series
Status = messages.MessageStatus
_COLUMNS = {
    field: {"local_date": "tarih", "local_time": "saat"}.get(field, field) for field in EDITABLE
}


def series_from_row(row: Any) -> Series:
    return Series(
        id=row.id,
        rule=row.rule,
        timezone=row.timezone,
        dtstart=datetime.fromisoformat(row.dtstart),
        status=SeriesStatus(row.status),
        sender=row.sender,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _content(message: messages.ScheduledMessage, now: datetime) -> dict[str, Any]:
    values = {column: getattr(message, field) for field, column in _COLUMNS.items()}
    for name in ("template", "fallback_template", "content"):
        if values[name] is not None:
            values[name] = dict(values[name])
    values["updated_at"] = now
    values["media_id"] = row_codec.media_id(message)
    return values


class SqlSeriesMixin:
    """Edit and series methods of `SqlMessageStore` (uses its threads and transactions)."""

    if TYPE_CHECKING:  # provided by SqlMessageStore
        _dialect: str

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

        def _sqlite_max_values(self, conn: Connection) -> int: ...

    # -- edits ----------------------------------------------------------------------------

    async def edit_message(
        self,
        edited: messages.ScheduledMessage,
        changes: Mapping[str, Mapping[str, object]],
        key_name: str | None,
        now: datetime,
    ) -> messages.ScheduledMessage | None:
        return await self._run(self._edit_message, edited, dict(changes), key_name, now)

    def _edit_message(
        self,
        edited: messages.ScheduledMessage,
        changes: dict[str, Mapping[str, object]],
        key_name: str | None,
        now: datetime,
    ) -> messages.ScheduledMessage | None:
        stmt = (
            sa.update(M)
            .where(M.c.id == edited.id, M.c.status == str(Status.QUEUED))
            .values(_content(edited, now))
            .returning(*M.c)
        )
        with self._tx() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                return None
            stored = row_codec.message_from_row(row)  # unreadable: rolled back (409)
            conn.execute(
                sa.insert(E).values(
                    message_id=edited.id, edited_at=now, key_name=key_name, changes=changes
                )
            )
            self._notify(conn, stored.run_at)
        return stored

    async def edits(self, message_id: str) -> builtins.list[Edit]:
        return await self._run(self._edits, message_id)

    def _edits(self, message_id: str) -> builtins.list[Edit]:
        query = sa.select(E).where(E.c.message_id == message_id).order_by(E.c.id)
        with self._tx() as conn:
            found = conn.execute(query).all()
        return [
            Edit(r.message_id, r.edited_at, r.key_name, r.changes)
            for r in found
            if isinstance(r.changes, dict)
        ]

    # -- series ---------------------------------------------------------------------------

    def _of_series(self, series_id: str) -> builtins.list[sa.ColumnElement[bool]]:
        """The rows of a series' occurrences. SQLite has no index of `series_id` (revision
        0026): there they are read by the range of the primary key their ids are in."""
        where = [M.c.series_id == series_id]
        if self._dialect == "sqlite":
            first, beyond = occurrence_ids(series_id)
            where += [M.c.id >= first, M.c.id < beyond]
        return where

    def _notify(self, conn: Connection, run_at: datetime) -> None:
        """PostgreSQL: wake every process's dispatcher on commit (as a new message does)."""
        if self._dialect == "postgresql":
            conn.execute(sa.select(sa.func.pg_notify(notify.CHANNEL, run_at.isoformat())))

    async def add_series(self, series: Series, first: messages.ScheduledMessage) -> AddResult:
        return await self._run(self._add_series, series, first)

    def _add_series(self, series: Series, first: messages.ScheduledMessage) -> AddResult:
        with self._tx() as conn:
            present = conn.execute(sa.select(SR.c.id).where(SR.c.id == series.id)).first()
            if present is not None:
                row = conn.execute(sa.select(M).where(M.c.id == first.id)).first()
                stored = row_codec.message_from_row(row) if row is not None else None
                if stored is not None and stored.content_hash == first.content_hash:
                    return AddResult(AddStatus.EXISTING, stored)
                return AddResult(AddStatus.CONFLICT, stored or first)
            taken = conn.execute(sa.select(M.c.id).where(M.c.id == first.id)).first()
            if taken is not None:  # a single message already holds that id
                row = conn.execute(sa.select(M).where(M.c.id == first.id)).first()
                return AddResult(AddStatus.CONFLICT, row_codec.message_from_row(row))
            conn.execute(sa.insert(SR).values(_series_row(series)))
            conn.execute(sa.insert(M).values(row_codec.message_to_row(first)))
            self._notify(conn, first.run_at)
        return AddResult(AddStatus.CREATED, first)

    async def get_series(self, series_id: str) -> Series | None:
        return await self._run(self._get_series, series_id)

    def _get_series(self, series_id: str) -> Series | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(SR).where(SR.c.id == series_id)).first()
        return series_from_row(row) if row is not None else None

    async def series_occurrences(
        self, series_id: str, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        return await self._run(self._series_occurrences, series_id, limit)

    def _series_occurrences(
        self, series_id: str, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        query = (
            sa.select(M)
            .where(*self._of_series(series_id))
            .order_by(M.c.due_at.desc(), M.c.id.desc())
            .limit(limit)
        )
        found = []
        with self._tx() as conn:
            for row in conn.execute(query).all():
                try:
                    found.append(row_codec.message_from_row(row))
                except errors.UnreadableRow:
                    continue  # a row changed by hand: the history goes on without it
        return found

    async def change_series(
        self,
        series_id: str,
        expected: Collection[SeriesStatus],
        status: SeriesStatus,
        now: datetime,
        *,
        rule: str | None = None,
        dtstart: datetime | None = None,
        cancel_reason: str | None = None,
        occurrence: messages.ScheduledMessage | None = None,
    ) -> Series | None:
        return await self._run(
            self._change_series,
            series_id,
            [str(s) for s in expected],
            status,
            now,
            rule,
            dtstart,
            cancel_reason,
            occurrence,
        )

    def _change_series(
        self,
        series_id: str,
        expected: builtins.list[str],
        status: SeriesStatus,
        now: datetime,
        rule: str | None,
        dtstart: datetime | None,
        cancel_reason: str | None,
        occurrence: messages.ScheduledMessage | None,
    ) -> Series | None:
        values: dict[str, Any] = {"status": str(status), "updated_at": now}
        if rule is not None:
            values["rule"] = rule
        if dtstart is not None:
            values["dtstart"] = dtstart.isoformat()
        stmt = (
            sa.update(SR)
            .where(SR.c.id == series_id, SR.c.status.in_(expected))
            .values(values)
            .returning(*SR.c)
        )
        cancel = None
        if cancel_reason is not None:
            queued = M.c.status == str(Status.QUEUED)
            if self._dialect == "sqlite":
                # `status || ''` is no index's term: SQLite reads the ids' range, not every
                # queued message by a status index
                queued = M.c.status.concat("") == str(Status.QUEUED)
            where = [*self._of_series(series_id), queued]
            if occurrence is not None:
                where.append(M.c.id != occurrence.id)
            cancel = (
                sa.update(M)
                .where(*where)
                .values(
                    status=str(Status.CANCELLED),
                    cancelled_at=now,
                    updated_at=now,
                    status_reason=cancel_reason,
                )
            )
        try:
            return self._change_series_tx(series_id, stmt, cancel, occurrence, now)
        except _NotInState:
            return None

    def _change_series_tx(
        self,
        series_id: str,
        stmt: Any,
        cancel: Any,
        occurrence: messages.ScheduledMessage | None,
        now: datetime,
    ) -> Series:
        with self._tx() as conn:
            if self._dialect == "postgresql":
                # The claim's lock order: its occurrences' rows, then the series row
                # (`continue_series`). Take them in that order too, or a claim holding the
                # occurrence and waiting for the series deadlocks with an edit holding the
                # series and waiting for the occurrence (tests/integration/
                # test_series_lock_order.py). A claim's own rows are skipped, never waited
                # for (SKIP LOCKED), so this wait is one-way. SQLite: one writer at a time.
                mine = sa.and_(M.c.series_id == series_id, M.c.status == str(Status.QUEUED))
                if occurrence is not None:
                    mine = sa.or_(mine, M.c.id == occurrence.id)
                conn.execute(sa.select(M.c.id).where(mine).order_by(M.c.id).with_for_update())
            # Cancel, change the series row (locked from here on: a claim's `continue_series`
            # reads it FOR UPDATE and so waits, then sees the new state), cancel again: an
            # occurrence a claim made just before the lock is committed by then and seen.
            if cancel is not None:
                conn.execute(cancel)
            row = conn.execute(stmt).first()
            if row is None:
                raise _NotInState  # rolls the first cancel back
            if cancel is not None:
                conn.execute(cancel)
            if occurrence is not None:
                self._put_occurrence(conn, occurrence, now)
        return series_from_row(row)

    def _put_occurrence(
        self, conn: Connection, occurrence: messages.ScheduledMessage, now: datetime
    ) -> None:
        """`occurrence` as the queued row of its id: inserted, or an existing queued or
        cancelled row of that id given its content and queued again."""
        inserted = conn.execute(
            self._insert_into(M)
            .values(row_codec.message_to_row(occurrence))
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(M.c.id)
        ).first()
        if inserted is None:
            revived = conn.execute(
                sa.update(M)
                .where(
                    M.c.id == occurrence.id,
                    M.c.status.in_([str(Status.QUEUED), str(Status.CANCELLED)]),
                )
                .values(
                    {
                        **_content(occurrence, now),
                        "status": str(Status.QUEUED),
                        "cancelled_at": None,
                        "status_reason": None,
                    }
                )
            ).rowcount
            if not revived:  # claimed meanwhile: its successor is made; nothing changes
                raise errors.Conflict(_BUSY.format(occurrence.id))
        self._notify(conn, occurrence.run_at)

    # -- the claim's half -----------------------------------------------------------------

    def continue_series(
        self, conn: Connection, claimed: Sequence[messages.ScheduledMessage], now: datetime
    ) -> None:
        """In the claim's transaction: for each claimed occurrence of an active series, insert
        the occurrence after it (ON CONFLICT DO NOTHING: a retried occurrence claimed again
        makes none twice); a series whose rule has no more is ended."""
        of_series = [m for m in claimed if m.series_id is not None]
        ids = sorted({m.series_id for m in of_series if m.series_id is not None})
        if self._dialect == "sqlite":  # the ids as one JSON array (sqlite_bulk.py)
            rows = conn.exec_driver_sql(_SQLITE_ACTIVE, (json.dumps(ids),))
        else:
            rows = conn.execute(
                sa.select(SR.c.id, SR.c.rule, SR.c.dtstart)
                .where(SR.c.id.in_(ids), SR.c.status == str(SeriesStatus.ACTIVE))
                .with_for_update()  # a pause or delete in flight: wait for it
            )
        # only what the rule's walk needs (the zone is the occurrence's own)
        active: dict[str, tuple[str, str]] = {row[0]: (row[1], row[2]) for row in rows}
        following: builtins.list[Next] = []
        ended: builtins.list[str] = []
        for message in of_series:
            series_id = message.series_id or ""
            known = active.get(series_id)
            if known is None:
                continue
            rule, dtstart = known
            after = recurrence.following_of(
                message.id, series_id, rule, message.timezone, _local_time(dtstart)
            )
            if after is None:
                ended.append(series_id)
                continue
            new_id, due, tarih, saat = after
            content_hash = recurrence.occurrence_hash(message.content_hash, new_id)
            following.append(Next(message.id, new_id, due, tarih, saat, content_hash, now))
        self.insert_occurrences(conn, following)
        if ended:
            conn.execute(
                sa.update(SR)
                .where(SR.c.id.in_(ended), SR.c.status == str(SeriesStatus.ACTIVE))
                .values(status=str(SeriesStatus.ENDED), updated_at=now)
            )

    def insert_occurrences(self, conn: Connection, following: Sequence[Next]) -> None:
        """The next occurrences, in the claim's transaction (a seam for the atomicity test):
        INSERT ... SELECT from each claimed row (`Next.source`), so its content is copied
        inside the database rather than read into Python and bound back. ON CONFLICT DO
        NOTHING: a retried occurrence claimed again makes none twice."""
        if not following:
            return
        if self._dialect == "sqlite":  # multi-row VALUES, not executemany (sqlite_bulk.py)
            per_statement = max(1, (self._sqlite_max_values(conn) - 2) // _NEXT_BOUND)
            for start in range(0, len(following), per_statement):
                chunk = following[start : start + per_statement]
                values: builtins.list[Any] = []
                for item in chunk:
                    values += (item.source, item.id, sqlite_bulk.stored_time(item.due_at))
                    values += (item.tarih, item.saat, item.content_hash)
                created = sqlite_bulk.stored_time(chunk[0].created_at)
                conn.exec_driver_sql(_sqlite_next(len(chunk)), (*values, created, created))
            return
        conn.execute(
            _PG_NEXT, [{f"n_{k}": v for k, v in item._asdict().items()} for item in following]
        )
        self._notify(conn, min(item.due_at for item in following))


class Next(NamedTuple):
    """A claimed occurrence's successor: what differs from the claimed row (`source`)."""

    source: str
    id: str
    due_at: datetime  # also its run_at
    tarih: str
    saat: str
    content_hash: str
    created_at: datetime  # also its updated_at


#: The columns a new occurrence copies from the claimed one (`recurrence._occurrence` copies
#: the same fields; media_id is derived from content and template, so copied with them). The
#: others are the claimed row's successor's own (`Next`), or their defaults (NULL, attempts 0).
_NEXT_COPIES = (
    "recipient",
    "body",
    "template",
    "timezone",
    "fallback_template",
    "content",
    "sender",
    "created_by",
    "category",
    "series_id",
    "media_id",
)
_NEXT_OWN = ("id", "due_at", "run_at", "tarih", "saat", "content_hash", "status", "attempts")
_NEXT_BOUND = 6  # bound values per row on SQLite: source, id, due, tarih, saat, hash


@functools.lru_cache(maxsize=64)
def _sqlite_next(rows: int) -> str:
    """SQLite: INSERT OR IGNORE of `rows` successors, each copied from its claimed row."""
    one = "(" + ", ".join("?" * _NEXT_BOUND) + ")"
    names = ", ".join((*_NEXT_OWN, "created_at", "updated_at", *_NEXT_COPIES))
    copied = ", ".join(f"m.{name}" for name in _NEXT_COPIES)
    return (
        f"WITH n(source, id, due, tarih, saat, hash) AS (VALUES {', '.join([one] * rows)}) "
        f"INSERT OR IGNORE INTO messages ({names}) "
        f"SELECT n.id, n.due, n.due, n.tarih, n.saat, n.hash, '{Status.QUEUED}', 0, ?, ?, "
        f"{copied} FROM n JOIN messages AS m ON m.id = n.source"
    )


def _pg_next() -> Any:
    """PostgreSQL: INSERT ... SELECT of one successor from its claimed row (executemany)."""

    def bound(name: str, column: str) -> Any:
        return sa.cast(sa.bindparam(f"n_{name}", type_=M.c[column].type), M.c[column].type)

    own = [
        bound("id", "id"),
        bound("due_at", "due_at"),
        bound("due_at", "run_at"),
        bound("tarih", "tarih"),
        bound("saat", "saat"),
        bound("content_hash", "content_hash"),
        sa.cast(sa.literal(str(Status.QUEUED)), M.c.status.type),
        sa.cast(sa.literal(0), M.c.attempts.type),
        bound("created_at", "created_at"),
        bound("created_at", "updated_at"),
    ]
    source = sa.select(*own, *(M.c[name] for name in _NEXT_COPIES)).where(
        M.c.id == sa.bindparam("n_source")
    )
    names = [*_NEXT_OWN, "created_at", "updated_at", *_NEXT_COPIES]
    return (
        postgresql.insert(M)
        .from_select(names, source)
        .on_conflict_do_nothing(index_elements=["id"])
    )


_PG_NEXT = _pg_next()


#: SQLite: the active series of these ids (one parameter, a JSON array of ids).
_SQLITE_ACTIVE = (
    "SELECT id, rule, dtstart FROM series "
    f"WHERE id IN (SELECT value FROM json_each(?)) AND status = '{SeriesStatus.ACTIVE}'"
)


def occurrence_ids(series_id: str) -> tuple[str, str]:
    """The range of a series' occurrences' ids (`recurrence.occurrence_id`: `<series id>@`
    and a stamp) in binary text order, as SQLite compares them: from `<series id>@`,
    included, to `<series id>A`, excluded (the character after `@`). Other ids may fall in it
    (a single message's `<series id>@x`, another series' `<series id>@x@...`): the queries
    keep `series_id = ?` as well."""
    return f"{series_id}@", f"{series_id}{chr(ord('@') + 1)}"


_BUSY = "id: occurrence {!r} is being sent; try again in a moment"


@functools.lru_cache(maxsize=4096)
def _local_time(stored: str) -> datetime:
    """A series' stored DTSTART (naive local ISO text) read back; many series share one."""
    return datetime.fromisoformat(stored)


class _NotInState(Exception):
    """The series is not in an expected state: the transaction is rolled back."""


def _series_row(series: Series) -> dict[str, Any]:
    return {
        "id": series.id,
        "rule": series.rule,
        "timezone": series.timezone,
        "dtstart": series.dtstart.isoformat(),
        "status": str(series.status),
        "sender": series.sender,
        "created_by": series.created_by,
        "created_at": series.created_at,
        "updated_at": series.updated_at,
    }
