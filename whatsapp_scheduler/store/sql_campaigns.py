"""The campaign half of `SqlMessageStore` (docs/campaigns.md): a campaign row and all its
recipients' messages in one transaction (the messages inserted in bulk, as `add_many` does),
pause / resume / cancel as one UPDATE each, and the funnel read from the messages' index
`(campaign_id, status, id)`."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import logging
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import campaigns, errors, messages
from whatsapp_scheduler.store import engine, notify, outbox, rows, sqlite_bulk, tables

T = TypeVar("T")
M = tables.messages
CP = tables.campaigns
TA = tables.campaign_tallies
TD = tables.campaign_tally_deltas
CR = tables.campaign_replies
Status = messages.MessageStatus
#: The advisory lock that makes one `fold_campaign_tallies` run at a time on PostgreSQL.
FOLD_LOCK = 0x5743_5446  # "WCTF"
#: The `status_reason` of a message cancelled with its campaign.
CAMPAIGN_CANCELLED = "campaign_cancelled"

logger = logging.getLogger(__name__)


class SqlCampaignsMixin:
    """Campaign methods of `SqlMessageStore` (uses its threads and transactions)."""

    _dialect: str
    _engine: sa.Engine
    _executor: ThreadPoolExecutor
    events_enabled: bool

    if TYPE_CHECKING:  # provided by SqlMessageStore and SqlAddsMixin

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert(self) -> Any: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

        def _insert_ignoring(
            self, conn: Connection, batch: builtins.list[messages.ScheduledMessage]
        ) -> int: ...

        def _sqlite_max_values(self, conn: Connection) -> int: ...

        def _fetch_many(
            self, conn: Connection, ids: builtins.list[str]
        ) -> dict[str, messages.ScheduledMessage]: ...

        def _readable(self, rows: Any) -> builtins.list[messages.ScheduledMessage]: ...

    async def create_campaign(
        self, campaign: campaigns.Campaign, batch: Sequence[messages.ScheduledMessage]
    ) -> int:
        """The campaign and its messages in one transaction (all durable when it returns);
        returns the messages inserted (ids already stored are left as they are).

        SQLite: the WAL checkpoint that this commit would run (a campaign's rows are tens of
        MB of WAL: copied into the database file and synced) runs on the store thread right
        after it instead, so the answer does not wait for it; the rows are committed first."""
        if self._dialect != "sqlite":
            return await self._run(self._create_campaign, campaign, list(batch))
        made = await self._run(self._create_campaign_sqlite, list(batch), campaign)
        self._executor.submit(self._checkpoint)
        return made

    def stores_campaign_rows(self) -> bool:
        """SQLite writes `create_campaign_parts`' columns as they are (PostgreSQL: from the
        messages, `create_campaign`)."""
        return self._dialect == "sqlite"

    async def create_campaign_parts(
        self, produce: campaigns.Produce
    ) -> tuple[campaigns.Campaign, int]:
        """A campaign whose messages come in parts (`campaigns.Rows`) while they are made:
        `produce(put)` runs on a worker thread, gives each part to `put` and returns the
        campaign. Everything is stored in one transaction, committed after the last part (all
        durable when this returns; nothing if anything fails, and nothing without a part);
        returns (the campaign, the messages inserted).

        SQLite: the store thread inserts each part as it comes (columns bound as they are, no
        message object per row) while the next is made, and the campaign row, known last, is
        written last (nothing refers to it). Other databases: `create_campaign` of the parts'
        messages (`Rows.built()`) once all are made."""
        if self._dialect != "sqlite":
            campaign, parts = await asyncio.to_thread(campaigns.collect, produce)
            batch = [m for part in parts for m in part.built()]
            return campaign, (await self.create_campaign(campaign, batch) if batch else 0)
        queued: queue.SimpleQueue[campaigns.Rows | _End] = queue.SimpleQueue()

        def producing() -> campaigns.Campaign:
            try:
                campaign = produce(queued.put)
            except BaseException:
                queued.put(_End(None))  # the writer rolls back
                raise
            queued.put(_End(campaign))
            return campaign

        writing = asyncio.ensure_future(self._run(self._create_campaign_sqlite, queued))
        try:
            campaign = await asyncio.to_thread(producing)
        finally:
            made = await writing
        if made:
            self._executor.submit(self._checkpoint)
        return campaign, made

    def _create_campaign_sqlite(
        self,
        batch: builtins.list[messages.ScheduledMessage] | queue.SimpleQueue[campaigns.Rows | _End],
        campaign: campaigns.Campaign | None = None,
    ) -> int:
        """`_create_campaign` (or `_campaign_parts` of a queue) with the connection's
        automatic checkpoint off for its commit (`PRAGMA wal_autocheckpoint`, a setting of the
        connection: restored after)."""
        try:
            with self._engine.connect() as conn:
                driver = conn.connection.dbapi_connection
                assert driver is not None
                (previous,) = driver.execute("PRAGMA wal_autocheckpoint").fetchone()
                driver.execute("PRAGMA wal_autocheckpoint=0")
                try:
                    with conn.begin() as transaction:
                        if not isinstance(batch, queue.SimpleQueue):
                            assert campaign is not None
                            return self._campaign_rows(conn, campaign, batch)
                        made = self._campaign_parts(conn, batch)
                        if not made:
                            transaction.rollback()
                        return made
                finally:
                    driver.execute(f"PRAGMA wal_autocheckpoint={int(previous)}")
        except sa.exc.SQLAlchemyError as exc:
            logger.exception("database error")
            raise errors.StoreError(f"database error: {type(exc).__name__}") from exc

    def _checkpoint(self) -> None:
        """The WAL checkpoint a campaign's commit left (PASSIVE: as SQLite's automatic one)."""
        try:
            with self._engine.connect() as conn:
                driver = conn.connection.dbapi_connection
                assert driver is not None
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:  # the next automatic checkpoint does it then
            logger.warning("checkpoint after a campaign failed", exc_info=True)

    def _create_campaign(
        self, campaign: campaigns.Campaign, batch: builtins.list[messages.ScheduledMessage]
    ) -> int:
        with self._tx() as conn:
            return self._campaign_rows(conn, campaign, batch)

    def _campaign_rows(
        self,
        conn: Connection,
        campaign: campaigns.Campaign,
        batch: builtins.list[messages.ScheduledMessage],
    ) -> int:
        conn.execute(sa.insert(CP).values(**_campaign_row(campaign)))
        if not batch:
            return 0
        if self._dialect == "sqlite":
            # `<campaign id>-<n>`: new by construction, so not looked up first; should
            # one exist (OR IGNORE kept it), ours are the rows that match what we wrote.
            made = {m.id for m in batch}
            if self._insert_shared(conn, batch) != len(batch):
                stored = self._fetch_many(conn, [m.id for m in batch])
                made = {m.id for m in batch if stored.get(m.id) == m}
        else:
            stmt = self._insert().on_conflict_do_nothing(index_elements=["id"]).returning(M.c.id)
            made = set()
            for start in range(0, len(batch), 5000):  # multi-row INSERTs (insertmanyvalues)
                chunk = batch[start : start + 5000]
                found = conn.execute(stmt, [rows.message_to_row(m) for m in chunk])
                made.update(found.scalars().all())
            earliest = min(m.run_at for m in batch)
            conn.execute(sa.select(sa.func.pg_notify(notify.CHANNEL, earliest.isoformat())))
        return self._tallies(conn, campaign, batch, made)

    def _campaign_parts(
        self, conn: Connection, queued: queue.SimpleQueue[campaigns.Rows | _End]
    ) -> int:
        """SQLite: each part from `queued` inserted as it comes, bound column by column
        (`sqlite_bulk.columns_of_rows`; its messages are built only should an id be taken
        already, then as `_campaign_rows` does), until the end: then the campaign row and the
        funnel's tallies. Returns the messages inserted (0: nothing to store, or the producer
        failed: the caller rolls back)."""
        limit = self._sqlite_max_values(conn)
        tally: dict[tuple[str, str], int] = {}
        inserted = 0
        while not isinstance(part := queued.get(), _End):
            count = 0
            for statement, values in sqlite_bulk.shared_statements(
                sqlite_bulk.columns_of_rows(part), limit
            ):
                count += conn.exec_driver_sql(statement, values).rowcount
            if count == len(part):
                made = [(part.first, 1), (part.like, count - 1)]
            else:
                batch = part.built()
                stored = self._fetch_many(conn, [m.id for m in batch])
                made = [(m, 1) for m in batch if stored.get(m.id) == m]
            for message, n in made:
                key = (str(message.status), _detail(message))
                tally[key] = tally.get(key, 0) + n
                inserted += n
        if part.campaign is None or not inserted:
            return 0
        conn.execute(sa.insert(CP).values(**_campaign_row(part.campaign)))
        self._add_tallies(conn, part.campaign, tally)
        return inserted

    def _tallies(
        self,
        conn: Connection,
        campaign: campaigns.Campaign,
        batch: builtins.list[messages.ScheduledMessage],
        made: set[str],
    ) -> int:
        # The funnel's tallies for the new rows, in this transaction: the triggers of
        # revision 0021 follow changes, not inserts (a million recipients would be a
        # million delta rows); this is the one place campaign messages are inserted.
        tally: dict[tuple[str, str], int] = {}
        for message in batch:
            if message.id in made:
                key = (str(message.status), _detail(message))
                tally[key] = tally.get(key, 0) + 1
        self._add_tallies(conn, campaign, tally)
        return len(made)

    def _add_tallies(
        self, conn: Connection, campaign: campaigns.Campaign, tally: dict[tuple[str, str], int]
    ) -> None:
        tally = {key: n for key, n in tally.items() if n}
        if tally:
            insert = self._insert_into(TA)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["campaign_id", "status", "detail"],
                    set_={"n": TA.c.n + insert.excluded.n},
                ),
                [
                    {"campaign_id": campaign.id, "status": st, "detail": d, "n": n}
                    for (st, d), n in tally.items()
                ],
            )

    def _insert_shared(
        self, conn: Connection, batch: builtins.list[messages.ScheduledMessage]
    ) -> int:
        """SQLite: `batch` with INSERT OR IGNORE, the columns that are the same in every row
        of a slice bound once per statement (`sqlite_bulk.shared_inserts`). Returns the rows
        inserted. (Preparing the next slice on a second thread while this one inserted was
        tried: no faster on the loaded 2-core machine, bench/RESULTS.md.)"""
        limit = self._sqlite_max_values(conn)
        step = sqlite_bulk.SLICE_ROWS
        inserted = 0
        for start in range(0, len(batch), step):
            for statement, values in sqlite_bulk.shared_inserts(batch[start : start + step], limit):
                inserted += conn.exec_driver_sql(statement, values).rowcount
        return int(inserted)

    async def get_campaign(self, campaign_id: str) -> campaigns.Campaign | None:
        return await self._read(self._get_campaign, campaign_id)

    def _get_campaign(self, campaign_id: str) -> campaigns.Campaign | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(CP).where(CP.c.id == campaign_id)).first()
        return campaign_of(row) if row is not None else None

    async def list_campaigns(
        self,
        senders: Sequence[str] | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> builtins.list[campaigns.Campaign]:
        """Campaigns newest first (of `senders` if given), after the keyset `after`."""
        return await self._read(self._list_campaigns, senders, after, limit)

    def _list_campaigns(
        self, senders: Sequence[str] | None, after: tuple[datetime, str] | None, limit: int
    ) -> builtins.list[campaigns.Campaign]:
        query = sa.select(CP)
        if senders is not None:
            query = query.where(CP.c.sender.in_(list(senders)))
        if after is not None:
            at, last = after
            query = query.where(
                sa.or_(CP.c.created_at < at, sa.and_(CP.c.created_at == at, CP.c.id < last))
            )
        query = query.order_by(CP.c.created_at.desc(), CP.c.id.desc()).limit(limit)
        with self._tx() as conn:
            return [campaign_of(r) for r in conn.execute(query)]

    async def campaign_counts(self, campaign_id: str) -> campaigns.Counts:
        return await self._read(self._campaign_counts, campaign_id)

    def _campaign_counts(self, campaign_id: str) -> campaigns.Counts:
        """The tallies plus the deltas not yet folded (revision 0021): a few index reads,
        not a count of the campaign's rows; the first and last send from the (campaign_id,
        sent_at) index."""
        folded = sa.select(TA.c.status, TA.c.detail, TA.c.n.label("n")).where(
            TA.c.campaign_id == campaign_id
        )
        pending = sa.select(TD.c.status, TD.c.detail, TD.c.delta.label("n")).where(
            TD.c.campaign_id == campaign_id
        )
        both = sa.union_all(folded, pending).subquery()
        query = sa.select(both.c.status, both.c.detail, sa.func.sum(both.c.n)).group_by(
            both.c.status, both.c.detail
        )
        mine = sa.and_(M.c.campaign_id == campaign_id, M.c.sent_at.is_not(None))
        first = sa.select(M.c.sent_at).where(mine).order_by(M.c.sent_at).limit(1)
        last = sa.select(M.c.sent_at).where(mine).order_by(M.c.sent_at.desc()).limit(1)
        statuses: dict[str, int] = {}
        failures: dict[int | None, int] = {}
        reasons: dict[str | None, int] = {}
        read_after: dict[int, int] = {}
        replies = 0
        with self._tx() as conn:
            for status, detail, total in conn.execute(query):
                count = int(total or 0)
                if count <= 0:
                    continue
                if status == campaigns.REPLIED:  # a pseudo-status: the replies' count
                    replies += count
                    continue
                statuses[status] = statuses.get(status, 0) + count
                if status == str(Status.READ) and detail.isdigit():
                    bucket = int(detail)
                    read_after[bucket] = read_after.get(bucket, 0) + count
                elif status == str(Status.FAILED):
                    code = int(detail) if detail and detail.lstrip("-").isdigit() else None
                    failures[code] = failures.get(code, 0) + count
                elif status == str(Status.CANCELLED):
                    reasons[detail or None] = reasons.get(detail or None, 0) + count
            first_at = conn.execute(first).scalar()
            last_at = conn.execute(last).scalar()
        return campaigns.Counts(
            statuses,
            failures,
            reasons,
            _aware(first_at),
            _aware(last_at),
            read_after=read_after,
            replies=replies,
        )

    async def campaign_replied(
        self, campaign_id: str, message_ids: Sequence[str]
    ) -> dict[str, datetime]:
        return await self._read(self._campaign_replied, campaign_id, list(message_ids))

    def _campaign_replied(
        self, campaign_id: str, message_ids: builtins.list[str]
    ) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        with self._tx() as conn:
            for start in range(0, len(message_ids), tables.IN_CHUNK):
                chunk = message_ids[start : start + tables.IN_CHUNK]
                query = sa.select(CR.c.message_id, CR.c.replied_at).where(
                    CR.c.campaign_id == campaign_id, CR.c.message_id.in_(chunk)
                )
                found.update({row.message_id: row.replied_at for row in conn.execute(query)})
        return found

    async def record_replies(
        self,
        replies: Sequence[tuple[str, datetime]],
        senders: Sequence[str] | None,
        window: timedelta,
    ) -> int:
        """Inbound messages (`phone` in E.164, time) as replies to campaigns: each answers the
        latest campaign message sent to that number (by one of `senders`; None: any) at most
        `window` before it; a message counts once. Returns the replies newly counted."""
        if not replies:
            return 0
        return await self._run(self._record_replies, list(replies), senders, window)

    def _record_replies(
        self,
        replies: builtins.list[tuple[str, datetime]],
        senders: Sequence[str] | None,
        window: timedelta,
    ) -> int:
        counted = 0
        with self._tx() as conn:
            for phone, at in replies:
                query = sa.select(M.c.id, M.c.campaign_id).where(
                    M.c.recipient == phone,  # the (recipient, due_at, id) index
                    M.c.campaign_id.is_not(None),
                    M.c.sent_at.is_not(None),
                    M.c.sent_at <= at,
                    M.c.sent_at >= at - window,
                )
                if senders is not None:
                    query = query.where(M.c.sender.in_(list(senders)))
                found = conn.execute(query.order_by(M.c.sent_at.desc()).limit(1)).first()
                if found is None:
                    continue
                insert = (
                    self._insert_into(CR)
                    .values(message_id=found.id, campaign_id=found.campaign_id, replied_at=at)
                    .on_conflict_do_nothing(index_elements=["message_id"])
                    .returning(CR.c.message_id)  # (psycopg's rowcount here is -1)
                )
                if conn.execute(insert).first() is not None:
                    conn.execute(
                        sa.insert(TD).values(
                            campaign_id=found.campaign_id,
                            status=campaigns.REPLIED,
                            detail="",
                            delta=1,
                        )
                    )
                    counted += 1
        return counted

    async def fold_campaign_tallies(self) -> int:
        """Fold the funnel's deltas into the tallies (a timed job of the dispatcher); returns
        how many deltas. Safe with several processes: the deltas are taken with DELETE ...
        RETURNING, so a delta is folded by the one transaction that deleted it."""
        return await self._run(self._fold_campaign_tallies)

    def _fold_campaign_tallies(self) -> int:
        with self._tx() as conn:
            if self._dialect == "postgresql":  # one folder at a time: a delta folds once
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:ns)"), {"ns": FOLD_LOCK})
            last = conn.execute(sa.select(sa.func.max(TD.c.id))).scalar()
            if last is None:
                return 0
            taken = TD.c.id <= last
            sums = (
                sa.select(TD.c.campaign_id, TD.c.status, TD.c.detail, sa.func.sum(TD.c.delta))
                .where(taken)
                .group_by(TD.c.campaign_id, TD.c.status, TD.c.detail)
            )
            insert = self._insert_into(TA)
            conn.execute(
                insert.from_select(
                    ["campaign_id", "status", "detail", "n"], sums
                ).on_conflict_do_update(
                    index_elements=["campaign_id", "status", "detail"],
                    set_={"n": TA.c.n + insert.excluded.n},
                )
            )
            folded = conn.execute(sa.delete(TD).where(taken)).rowcount
            conn.execute(sa.delete(TA).where(TA.c.n == 0))
        return int(folded)

    async def campaign_messages(
        self,
        campaign_id: str,
        statuses: Sequence[messages.MessageStatus],
        after: str | None,
        limit: int,
    ) -> builtins.list[messages.ScheduledMessage]:
        """The campaign's messages in id order after `after` (with one of `statuses`)."""
        return await self._read(self._campaign_messages, campaign_id, list(statuses), after, limit)

    def _campaign_messages(
        self,
        campaign_id: str,
        statuses: builtins.list[messages.MessageStatus],
        after: str | None,
        limit: int,
    ) -> builtins.list[messages.ScheduledMessage]:
        query = sa.select(M).where(M.c.campaign_id == campaign_id)
        if statuses:
            query = query.where(M.c.status.in_([str(s) for s in statuses]))
        if after is not None:
            query = query.where(M.c.id > after)
        query = query.order_by(M.c.id).limit(limit)
        with self._tx() as conn:
            return self._readable(conn.execute(query))

    async def set_campaign_state(
        self, campaign_id: str, action: campaigns.Action, now: datetime
    ) -> int:
        """Pause (queued -> paused), resume (paused -> queued) or cancel (queued or paused
        -> cancelled, reason `campaign_cancelled`) all the campaign's messages in one UPDATE,
        with the campaign's row, in one transaction; returns the messages changed."""
        return await self._run(self._set_campaign_state, campaign_id, action, now)

    def _set_campaign_state(self, campaign_id: str, action: campaigns.Action, now: datetime) -> int:
        mine = M.c.campaign_id == campaign_id
        if action == campaigns.Action.PAUSE:
            stmt = (
                sa.update(M)
                .where(mine, M.c.status == str(Status.QUEUED))
                .values(status=str(Status.PAUSED), updated_at=now)
            )
            row: dict[str, datetime | None] = {"paused_at": now}
        elif action == campaigns.Action.RESUME:
            stmt = (
                sa.update(M)
                .where(mine, M.c.status == str(Status.PAUSED))
                .values(status=str(Status.QUEUED), updated_at=now)
            )
            row = {"paused_at": None}
        else:
            stmt = (
                sa.update(M)
                .where(mine, M.c.status.in_([str(Status.QUEUED), str(Status.PAUSED)]))
                .values(
                    status=str(Status.CANCELLED),
                    status_reason=CAMPAIGN_CANCELLED,
                    cancelled_at=now,
                    updated_at=now,
                )
            )
            row = {"cancelled_at": now}
        with self._tx() as conn:
            if action == campaigns.Action.CANCEL and self.events_enabled:
                changed = conn.execute(stmt.returning(M.c.id, M.c.sender)).all()
                outbox.insert_events(
                    conn,
                    [
                        outbox.event_row(
                            r.id,
                            Status.CANCELLED,
                            now,
                            now,
                            gonderen=r.sender,
                            previous=None,
                            campaign_id=campaign_id,
                        )
                        for r in changed
                    ],
                )
                count = len(changed)
            else:
                count = conn.execute(stmt).rowcount
            conn.execute(sa.update(CP).where(CP.c.id == campaign_id).values(**row))
            if action == campaigns.Action.RESUME and count and self._dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_notify(notify.CHANNEL, now.isoformat())))
        return int(count)


@dataclasses.dataclass(frozen=True, slots=True)
class _End:
    """The end of a campaign's parts: its campaign (None: the producer failed)."""

    campaign: campaigns.Campaign | None


def _aware(value: Any) -> datetime | None:
    if value is None or isinstance(value, tables.Unreadable):
        return None
    if isinstance(value, str):  # SQLite's MIN() of the stored text
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value if isinstance(value, datetime) else None


def _campaign_row(c: campaigns.Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "sender": c.sender,
        "spec": dict(c.spec),
        "recipients": c.recipients,
        "refused": c.refused,
        "shifted": c.shifted,
        "first_due_at": c.first_due_at,
        "last_due_at": c.last_due_at,
        "created_at": c.created_at,
        "created_by": c.created_by,
        "paused_at": c.paused_at,
        "cancelled_at": c.cancelled_at,
    }


def campaign_of(row: Any) -> campaigns.Campaign:
    spec = row.spec if isinstance(row.spec, dict) and row.spec != engine.UNREADABLE_JSON else {}
    return campaigns.Campaign(
        id=row.id,
        name=row.name,
        sender=row.sender,
        spec=spec,
        recipients=row.recipients,
        refused=row.refused,
        shifted=row.shifted,
        first_due_at=row.first_due_at,
        last_due_at=row.last_due_at,
        created_at=row.created_at,
        created_by=row.created_by,
        paused_at=row.paused_at,
        cancelled_at=row.cancelled_at,
    )


def _detail(message: messages.ScheduledMessage) -> str:
    """The funnel's split of a status (revisions 0021 and 0024's `detail` in SQL): Meta's code
    of a failed message, the reason of a cancelled one, a read one's time-to-read bucket,
    else ''."""
    if message.status == Status.FAILED:
        return "" if message.last_error_code is None else str(message.last_error_code)
    if message.status == Status.CANCELLED:
        return message.status_reason or ""
    if message.status == Status.READ:  # revision 0024: the bucket of its time to read
        seconds = campaigns.read_seconds(message.sent_at, message.read_at)
        return "" if seconds is None else str(campaigns.read_bucket(seconds))
    return ""
