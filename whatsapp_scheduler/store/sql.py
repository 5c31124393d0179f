"""`SqlMessageStore`: the message store on SQLite or PostgreSQL through SQLAlchemy 2 Core.

Each public method runs one short transaction in a worker thread and is awaited by the event
loop. SQLite gets one thread for writes and nearly all reads (one writer, no busy-waiting
between our own connections) and one for the 24-hour-window lookups, which must not queue
behind a batch's insert; PostgreSQL gets a thread per pooled connection. Dialect differences
live in this module and in `sqlite_bulk.py`. Driver errors are wrapped into
`errors.StoreError` here.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import functools
import json
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.store import (
    Outcome,
    Page,
    QueueStats,
    batching,
    changes,
    cursors,
    outbox,
    sql_adds,
    sql_campaigns,
    sql_consent,
    sql_contacts,
    sql_keys,
    sql_limits,
    sql_media,
    sql_receipts,
    sql_senders,
    sql_series,
    sql_sessions,
    sql_stats,
    sql_templates,
    sqlite_bulk,
    tables,
)
from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import rows as row_codec

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = tables.messages
A = tables.attempts
#: What an outcome write reads of its claim (`_outcome_claims` on SQLite).
_Claim = collections.namedtuple("_Claim", "id attempts claimed_by status sender campaign_id")
R = tables.receipts
C = tables.contacts
SC = tables.status_counts
Status = messages.MessageStatus


_OUTCOMES = frozenset(str(o) for o in messages.AttemptOutcome)
_SENT_AS = frozenset(str(s) for s in messages.SentAs)


def _unreadable_attempt_column(row: Any) -> str | None:
    """The first column of an `attempts` row that cannot be read (see `tables.Unreadable`)."""
    for name in ("started_at", "finished_at"):
        if type(getattr(row, name)) is tables.Unreadable:
            return name
    if row.outcome not in _OUTCOMES:
        return "outcome"
    if row.sent_as is not None and row.sent_as not in _SENT_AS:
        return "sent_as"
    return None


class SqlMessageStore(
    sql_adds.SqlAddsMixin,
    sql_receipts.SqlReceiptsMixin,
    sql_consent.SqlConsentMixin,
    sql_contacts.SqlContactsMixin,
    sql_campaigns.SqlCampaignsMixin,
    outbox.SqlOutboxMixin,
    sql_sessions.SqlSessionsMixin,
    sql_senders.SqlSendersMixin,
    sql_keys.SqlKeysMixin,
    sql_templates.SqlTemplatesMixin,
    sql_stats.SqlStatsMixin,
    sql_limits.SqlLimitsMixin,
    sql_series.SqlSeriesMixin,
    sql_media.SqlMediaMixin,
):
    """The message store on a SQLAlchemy engine (SQLite or PostgreSQL).

    With `events_enabled`, every reported status change also writes a status event to the
    outbox in the same transaction (STATUS_WEBHOOK_URL; see `store/outbox.py`).
    """

    def __init__(
        self, engine: Engine, *, events_enabled: bool = False, key_cache_seconds: float = 2.0
    ) -> None:
        self._engine = engine
        self.events_enabled = events_enabled
        self._dialect = engine.dialect.name
        workers = 1 if self._dialect == "sqlite" else max(1, engine.pool.size())  # type: ignore[attr-defined]
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")
        # SQLite: lookups that must not queue behind a batch's insert (the 24-hour-window
        # check of the next requests) read on a thread and connection of their own; WAL lets
        # them read the last committed state while the store thread writes.
        self._reader = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-read")
            if self._dialect == "sqlite"
            else self._executor
        )
        self._adds = batching.Batcher(self._add_groups)
        self._inbound_lookups = batching.Batcher(self._inbound_group)
        self._receipt_groups = batching.Batcher(self._receipt_group)
        self._contact_lookups = batching.Batcher(self._contact_group)  # sql_consent.py
        self._key_lookups = batching.Batcher(self._find_key_group)  # sql_keys.py
        self._key_cache = sql_keys.key_cache(key_cache_seconds)
        self._key_generation = 0
        self._max_values: int | None = None  # SQLite's bound-variable limit, once read
        self._unreadable_logged: set[tuple[str, str]] = set()  # (message id, column)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        events_enabled: bool = False,
        key_cache_seconds: float = 2.0,
        **engine_options: Any,
    ) -> SqlMessageStore:
        return cls(
            engine_mod.create_engine(url, **engine_options),
            events_enabled=events_enabled,
            key_cache_seconds=key_cache_seconds,
        )

    @property
    def dialect(self) -> str:
        return self._dialect

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read-only `fn` on the reader thread (SQLite) or the pool (PostgreSQL)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, functools.partial(fn, *args))

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            logger.exception("database error")
            raise errors.StoreError(f"database error: {type(exc).__name__}") from exc

    def _insert(self) -> Any:
        return self._insert_into(M)

    def _insert_into(self, table: sa.Table) -> Any:
        """INSERT with ON CONFLICT support: the one construct that differs per dialect."""
        module = postgresql if self._dialect == "postgresql" else sqlite
        return module.insert(table)

    # -- rows that cannot be read ------------------------------------------------------------
    # On SQLite any text fits any column: a row written into the file by hand (or by an old
    # version) can hold `due_at='garbage'`. Such a row must not fail the reads that meet it:
    # lists leave it out (logged once per id and column), `get` raises `UnreadableRow` naming
    # the column (409), and the dispatcher's claims and the lease reaper mark it failed with
    # that reason (nothing is sent). See `tables.Unreadable`.

    def _readable(
        self, rows: Iterator[Any] | Sequence[Any]
    ) -> builtins.list[messages.ScheduledMessage]:
        """The messages of `rows`, leaving out (and logging) those that cannot be read."""
        found = []
        for row in rows:
            try:
                found.append(row_codec.message_from_row(row))
            except errors.UnreadableRow as exc:
                self._log_unreadable(exc, "left out of the answer")
        return found

    def _log_unreadable(self, exc: errors.UnreadableRow, what: str) -> None:
        key = (exc.message_id, exc.column)
        if key in self._unreadable_logged:
            return
        if len(self._unreadable_logged) >= 10_000:  # many broken rows: log them again
            self._unreadable_logged.clear()
        self._unreadable_logged.add(key)
        logger.warning(
            f"stored message cannot be read: {what}",
            extra={"message_id": exc.message_id, "column": exc.column},
        )

    def _settle_unreadable(
        self, conn: Connection, rows: Sequence[Any], now: datetime
    ) -> builtins.list[messages.ScheduledMessage]:
        """The messages of `rows` (claimed or leased: `sending`); those that cannot be read
        are marked failed with the reason, in the caller's transaction, and left out."""
        found = []
        for row in rows:
            try:
                found.append(row_codec.message_from_row(row))
            except errors.UnreadableRow as exc:
                reason = f"stored row unreadable: {exc.column} is not a valid value"
                conn.execute(
                    sa.update(M)
                    .where(M.c.id == row.id, M.c.status == str(Status.SENDING))
                    .values(
                        status=str(Status.FAILED),
                        failed_at=now,
                        updated_at=now,
                        claimed_by=None,
                        lease_until=None,
                        last_error_code=None,
                        last_error_text=reason,
                    )
                )
                if self.events_enabled:
                    event = outbox.event_row(
                        row.id,
                        Status.FAILED,
                        now,
                        now,
                        gonderen=row.sender,
                        previous="sending",
                        error_text=reason,
                    )
                    outbox.insert_events(conn, [event])
                logger.warning(
                    "stored message cannot be read: marked failed, nothing sent",
                    extra={"message_id": row.id, "column": exc.column},
                )
        return found

    # -- reading ----------------------------------------------------------------------------

    async def get(self, message_id: str) -> messages.ScheduledMessage | None:
        return await self._run(self._get, message_id)

    def _get(self, message_id: str) -> messages.ScheduledMessage | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(M).where(M.c.id == message_id)).first()
        return row_codec.message_from_row(row) if row is not None else None

    async def attempts(self, message_id: str) -> list[messages.Attempt]:
        return await self._run(self._attempts, message_id)

    def _attempts(self, message_id: str) -> list[messages.Attempt]:
        query = sa.select(A).where(A.c.message_id == message_id).order_by(A.c.number, A.c.id)
        with self._tx() as conn:
            rows = conn.execute(query).all()
        found = []
        for row in rows:
            column = _unreadable_attempt_column(row)
            if column is not None:  # a row changed by hand: the history goes on without it
                error = errors.UnreadableRow(message_id, f"attempts.{column}")
                self._log_unreadable(error, f"attempt {row.id} left out of the history")
                continue
            found.append(
                messages.Attempt(
                    message_id=row.message_id,
                    number=row.number,
                    started_at=row.started_at,
                    finished_at=row.finished_at,
                    outcome=messages.AttemptOutcome(row.outcome),
                    error_code=row.error_code,
                    error_text=row.error_text,
                    http_status=row.http_status,
                    worker=row.worker,
                    sent_as=None if row.sent_as is None else messages.SentAs(row.sent_as),
                    category=row.category,
                )
            )
        return found

    async def list(self, query: MessageQuery) -> Page:
        after = cursors.decode_cursor(query.cursor) if query.cursor else None
        where: builtins.list[Any] = []
        if query.recipient is not None:
            where.append(M.c.recipient == query.recipient)
        if query.senders is not None:
            where.append(M.c.sender.in_(sorted(query.senders)))
        if query.due_from is not None:
            where.append(M.c.due_at >= query.due_from)
        if query.due_to is not None:
            where.append(M.c.due_at < query.due_to)
        names = [str(s) for s in dict.fromkeys(query.statuses)]
        # Several statuses in due order: one index range per status, merged here. A single
        # `status IN (...) ORDER BY due_at` makes SQLite sort every match (0.5 s at 1M rows).
        # With a recipient, its own index is narrower than any status range: one query.
        split = len(names) > 1 and query.recipient is None
        groups = [[M.c.status == name] for name in names] if split else [[]]
        if names and not split:
            where.append(M.c.status.in_(names))
        # Status filters only: the exact count is one read of `status_counts` on SQLite.
        plain = None if query.filtered else list(query.statuses)
        return await self._run(
            self._list,
            where,
            groups,
            query.limit,
            after,
            query.newest_first,
            query.count_up_to,
            plain,
        )

    def _list(
        self,
        where: builtins.list[Any],
        groups: builtins.list[builtins.list[Any]],
        limit: int,
        after: tuple[datetime, str] | None,
        newest_first: bool,
        count_up_to: int | None,
        plain_statuses: builtins.list[messages.MessageStatus] | None = None,
    ) -> Page:
        order = (M.c.due_at.desc(), M.c.id.desc()) if newest_first else (M.c.due_at, M.c.id)
        keyset = []
        if after is not None:
            key = sa.tuple_(M.c.due_at, M.c.id)
            mark = sa.tuple_(sa.literal(after[0], tables.UtcDateTime), sa.literal(after[1]))
            keyset.append(key < mark if newest_first else key > mark)
        rows: builtins.list[Any] = []
        total = 0
        with self._tx() as conn:
            for group in groups:
                query = sa.select(M).where(*where, *group, *keyset)
                rows.extend(conn.execute(query.order_by(*order).limit(limit + 1)).all())
                if count_up_to is not None:  # stop counting early: cheap on a million rows
                    capped = sa.select(sa.literal(1)).where(*where, *group).limit(count_up_to)
                    count = sa.select(sa.func.count()).select_from(capped.subquery())
                    total += conn.execute(count).scalar_one()
            if count_up_to is None and plain_statuses is not None:
                total = self._count(conn, plain_statuses)
            elif count_up_to is None:
                statuses = [c for group in groups for c in group]
                match = [*where, sa.or_(*statuses)] if statuses else where
                count = sa.select(sa.func.count()).select_from(M).where(*match)
                total = conn.execute(count).scalar_one()
            else:
                total = min(total, count_up_to)
        if len(groups) > 1:
            # Merged in due order here: a due_at that cannot be read has no place in it (the
            # row is left out and logged, as `_readable` does with every unreadable row).
            unordered = [row for row in rows if not isinstance(row.due_at, datetime)]
            if unordered:
                self._readable(unordered)
                rows = [row for row in rows if isinstance(row.due_at, datetime)]
            rows.sort(key=lambda row: (row.due_at, row.id), reverse=newest_first)
        items = self._readable(rows[:limit])
        next_cursor = None
        if len(rows) > limit:
            # The page's last row, read or not (a row left out still moves the page on);
            # one whose due_at itself cannot be read: the last one that can.
            last = next((r for r in reversed(rows[:limit]) if isinstance(r.due_at, datetime)), None)
            if last is not None:
                next_cursor = cursors.encode_cursor(last.due_at, last.id)
        return Page(items=items, total=total, next_cursor=next_cursor)

    async def get_many(self, ids: Sequence[str]) -> builtins.list[messages.ScheduledMessage]:
        if not ids:
            return []
        wanted = list(dict.fromkeys(ids))
        found = await self._run(self._get_many, wanted)
        return [found[i] for i in wanted if i in found]

    def _get_many(self, ids: builtins.list[str]) -> dict[str, messages.ScheduledMessage]:
        with self._tx() as conn:
            return self._fetch_many(conn, ids)

    # -- transitions ------------------------------------------------------------------------

    async def cancel(self, message_id: str, now: datetime) -> messages.ScheduledMessage | None:
        return await self._run(self._cancel, message_id, now)

    def _cancel(self, message_id: str, now: datetime) -> messages.ScheduledMessage | None:
        stmt = (
            sa.update(M)
            .where(M.c.id == message_id, M.c.status == str(Status.QUEUED))
            .values(status=str(Status.CANCELLED), cancelled_at=now, updated_at=now)
            .returning(*M.c)
        )
        with self._tx() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                return None
            # Read inside the transaction: a row that cannot be read (UnreadableRow, 409)
            # rolls the cancellation back rather than answering an error after it.
            cancelled = row_codec.message_from_row(row)
            if self.events_enabled:
                event = outbox.event_row(
                    message_id,
                    Status.CANCELLED,
                    now,
                    now,
                    gonderen=row.sender,
                    previous="queued",
                    category=row.category,
                )
                outbox.insert_events(conn, [event])
        return cancelled

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        worker: str,
        lease_until: datetime,
        *,
        senders: Collection[str] | None = None,
        exclude_senders: Collection[str] = (),
    ) -> builtins.list[messages.ScheduledMessage]:
        if senders is not None and not senders:
            return []
        chosen = None if senders is None else sorted(set(senders))
        return await self._run(
            self._claim_due, now, limit, worker, lease_until, chosen, sorted(set(exclude_senders))
        )

    def _claim_due(
        self,
        now: datetime,
        limit: int,
        worker: str,
        lease_until: datetime,
        senders: builtins.list[str] | None,
        exclude_senders: builtins.list[str],
    ) -> builtins.list[messages.ScheduledMessage]:
        where = [M.c.status == str(Status.QUEUED), M.c.run_at <= now]
        if senders is not None:  # one sender: ix_messages_status_sender_run_at (0013)
            where.append(M.c.sender == senders[0] if len(senders) == 1 else M.c.sender.in_(senders))
        if exclude_senders:
            where.append(M.c.sender.not_in(exclude_senders))
        due = (
            sa.select(M.c.id)
            .where(*where)
            .order_by(M.c.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # dropped by the SQLite compiler
            .cte("due")
        )
        # A CTE, not `id IN (subquery)`: PostgreSQL may re-run an IN-subquery and so claim more
        # than `limit` rows; a CTE with FOR UPDATE runs exactly once.
        stmt = (
            sa.update(M)
            .where(M.c.id == due.c.id, M.c.status == str(Status.QUEUED))
            .values(
                status=str(Status.SENDING),
                claimed_by=worker,
                lease_until=lease_until,
                claimed_at=now,
                updated_at=now,
            )
            .returning(*M.c)
        )
        with self._tx() as conn:
            if self._dialect == "sqlite":
                # Python's sqlite3 opens a transaction only before a statement that starts with
                # INSERT/UPDATE/DELETE: this one starts with WITH and would run (and commit) on
                # its own. One explicit BEGIN covers the claim and what follows it.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            claimed = self._settle_unreadable(conn, conn.execute(stmt).all(), now)
            # A series' next occurrence, in this same transaction (one BEGIN: the claim's
            # UPDATE opens it on SQLite too): a crash skips or doubles none (docs/series.md).
            if any(m.series_id is not None for m in claimed):
                self.continue_series(conn, claimed, now)
        claimed.sort(key=lambda m: (m.run_at, m.id))
        return claimed

    async def record(self, outcomes: Sequence[Outcome]) -> int:
        if not outcomes:
            return 0
        return await self._run(self._record, list(outcomes))

    def _record(self, outcomes: builtins.list[Outcome]) -> int:
        """Three statements per chunk, not two per outcome: lock and read the claims, one
        executemany UPDATE per shape of change, one executemany INSERT of attempts."""
        applied = 0
        with self._tx() as conn:
            for start in range(0, len(outcomes), tables.IN_CHUNK):
                applied += self._record_chunk(conn, outcomes[start : start + tables.IN_CHUNK])
        return applied

    def _outcome_claims(self, conn: Connection, chunk: builtins.list[Outcome]) -> Any:
        """The rows the outcomes in `chunk` name (locked on PostgreSQL), by id alone: the
        status is checked by the caller. With `status IN (...)` too, SQLite's planner
        searched a status index, reading every sent, delivered and read message of the
        history for each chunk (tests/integration/test_query_plans.py)."""
        ids = [o.message_id for o in chunk]
        if self._dialect == "sqlite":
            rows = sqlite_bulk.rows_at_once(
                conn, sqlite_bulk.CLAIM_COLUMNS, sqlite_bulk.CLAIMS_WHERE, (json.dumps(ids),)
            )
            return [_Claim(*row) for row in rows]
        columns = (M.c.id, M.c.attempts, M.c.claimed_by, M.c.status, M.c.sender, M.c.campaign_id)
        return conn.execute(sa.select(*columns).where(M.c.id.in_(ids)).with_for_update())

    def _record_chunk(self, conn: Connection, chunk: builtins.list[Outcome]) -> int:
        current = {row.id: row for row in self._outcome_claims(conn, chunk)}
        groups: dict[tuple[str, ...], builtins.list[dict[str, Any]]] = {}
        attempt_rows: builtins.list[dict[str, Any]] = []
        sent_wamids: builtins.list[str] = []
        events: builtins.list[dict[str, Any]] = []
        for outcome in chunk:
            row = current.pop(outcome.message_id, None)  # a second outcome for one claim loses
            allowed = changes.SENT_FROM if outcome.status == Status.SENT else [str(Status.SENDING)]
            if row is None or row.claimed_by != outcome.worker or row.status not in allowed:
                logger.warning(
                    "outcome dropped: claim lost", extra={"message_id": outcome.message_id}
                )
                continue
            values = changes.outcome_values(outcome)
            values["attempts"] = row.attempts + 1 if "attempts" in values else row.attempts
            if outcome.status == Status.SENT and row.status != str(Status.SENDING):
                values["status"] = row.status  # a status webhook got there first; keep it
            values.update(_id=outcome.message_id, _worker=outcome.worker, _expected=row.status)
            groups.setdefault(tuple(sorted(values)), []).append(values)
            if outcome.attempt is not None:
                attempt_rows.append(changes.attempt_row(outcome, values["attempts"]))
            if outcome.status == Status.SENT and outcome.wamid:
                sent_wamids.append(outcome.wamid)
            reported = outcome.status in outbox.REPORTED  # not a retry (back to queued)
            if self.events_enabled and reported and values["status"] != row.status:
                events.append(
                    changes.outcome_event(outcome, row.status, row.sender, row.campaign_id)
                )
        if self._dialect == "sqlite":  # one statement per shape and for the attempts
            for keys, params in groups.items():
                rows = sqlite_bulk.outcome_rows(keys, params)
                conn.exec_driver_sql(sqlite_bulk.outcome_update(keys), (rows,))
            sqlite_bulk.insert_rows(
                conn, "attempts", sqlite_bulk.ATTEMPT_COLUMNS,
                [[sqlite_bulk.stored(r[c]) for c in sqlite_bulk.ATTEMPT_COLUMNS]
                 for r in attempt_rows],
                self._sqlite_max_values(conn),
            )  # fmt: skip
        else:
            for keys, params in groups.items():
                stmt = (
                    sa.update(M)
                    .where(
                        M.c.id == sa.bindparam("_id"),
                        M.c.claimed_by == sa.bindparam("_worker"),
                        M.c.status == sa.bindparam("_expected"),
                    )
                    .values({k: sa.bindparam(k) for k in keys if not k.startswith("_")})
                )
                conn.execute(stmt, params)
            if attempt_rows:
                conn.execute(sa.insert(A), attempt_rows)
        outbox.insert_events(conn, events)
        if sent_wamids:
            self._apply_kept_receipts(conn, sent_wamids)
        return sum(len(params) for params in groups.values())

    # -- leases, counts, wake-up --------------------------------------------------------

    async def expired_leases(
        self, now: datetime, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        return await self._run(self._expired_leases, now, limit)

    def _expired_leases(
        self, now: datetime, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        query = (
            sa.select(M)
            .where(M.c.status == str(Status.SENDING), M.c.lease_until < now)
            .order_by(M.c.lease_until)
            .limit(limit)
        )
        with self._tx() as conn:
            return self._settle_unreadable(conn, conn.execute(query).all(), now)

    async def claimers(self) -> builtins.list[str]:
        return await self._run(self._claimers)

    def _claimers(self) -> builtins.list[str]:
        query = (
            sa.select(M.c.claimed_by)
            .where(M.c.status == str(Status.SENDING), M.c.claimed_by.is_not(None))
            .distinct()
        )
        with self._tx() as conn:
            return [row.claimed_by for row in conn.execute(query)]

    async def claims_of(
        self, workers: Sequence[str], limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        if not workers:
            return []
        return await self._run(self._claims_of, list(workers), limit)

    def _claims_of(
        self, workers: builtins.list[str], limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        query = (
            sa.select(M)
            .where(M.c.status == str(Status.SENDING), M.c.claimed_by.in_(workers))
            .order_by(M.c.run_at, M.c.id)
            .limit(limit)
        )
        with self._tx() as conn:
            return self._readable(conn.execute(query).all())

    async def renew_leases(self, worker: str, ids: Sequence[str], lease_until: datetime) -> int:
        if not ids:
            return 0
        return await self._run(self._renew_leases, worker, list(ids), lease_until)

    def _renew_leases(self, worker: str, ids: builtins.list[str], lease_until: datetime) -> int:
        renewed = 0
        with self._tx() as conn:
            for start in range(0, len(ids), tables.IN_CHUNK):
                stmt = (
                    sa.update(M)
                    .where(
                        M.c.id.in_(ids[start : start + tables.IN_CHUNK]),
                        M.c.status == str(Status.SENDING),
                        M.c.claimed_by == worker,
                    )
                    .values(lease_until=lease_until)
                )
                renewed += conn.execute(stmt).rowcount
        return renewed

    async def stats(self, now: datetime) -> QueueStats:
        return await self._run(self._stats, now)

    def _stats(self, now: datetime) -> QueueStats:
        queued_min = sa.select(sa.func.min(M.c.run_at)).where(M.c.status == str(Status.QUEUED))
        with self._tx() as conn:
            queued = self._count(conn, [Status.QUEUED])
            sending = self._count(conn, [Status.SENDING])
            earliest = conn.execute(queued_min).scalar()
        return QueueStats(
            queued=queued,
            sending=sending,
            oldest_overdue=earliest if earliest is not None and earliest <= now else None,
            next_run_at=earliest,
        )

    def _count(self, conn: Connection, statuses: Sequence[messages.MessageStatus]) -> int:
        """Messages with one of `statuses` (all if empty).

        SQLite reads the trigger-kept `status_counts` (revision 0003): O(1) instead of scanning
        an index of a million entries. PostgreSQL counts.
        """
        names = [str(s) for s in statuses]
        if self._dialect == "sqlite":
            query = sa.select(sa.func.coalesce(sa.func.sum(SC.c.n), 0))
            if names:
                query = query.where(SC.c.status.in_(names))
        else:
            query = sa.select(sa.func.count()).select_from(M)
            if names:
                query = query.where(M.c.status.in_(names))
        return int(conn.execute(query).scalar_one())

    async def next_run_at(self, *, senders: Collection[str] | None = None) -> datetime | None:
        if senders is not None and not senders:
            return None
        return await self._run(self._next_run_at, None if senders is None else sorted(senders))

    def _next_run_at(self, senders: builtins.list[str] | None) -> datetime | None:
        where = [M.c.status == str(Status.QUEUED)]
        if senders is not None:
            where.append(M.c.sender == senders[0] if len(senders) == 1 else M.c.sender.in_(senders))
        query = sa.select(M.c.run_at).where(*where).order_by(M.c.run_at).limit(1)
        with self._tx() as conn:
            value = conn.execute(query).scalar()
        return value

    async def close(self) -> None:
        if self._reader is not self._executor:
            self._reader.shutdown(wait=True)
        await self._run(self._engine.dispose)
        self._executor.shutdown(wait=True)
