"""The receipts and contacts half of `SqlMessageStore`: Meta's status webhooks applied to
messages (forward only, de-duplicated, kept until their send is recorded) and the contacts'
last inbound message (the 24-hour window)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import (
    Receipt,
    ReceiptCounts,
    batching,
    changes,
    outbox,
    sqlite_bulk,
    sqlite_receipts,
    tables,
)

T = TypeVar("T")
#: Meta's per-user marketing limit (whatsapp/errorcodes.py: not imported, `store` is below it).
MARKETING_LIMIT_CODE = 131049
MARKETING_LIMIT = "marketing_limit"
#: Statuses applied per transaction (see `apply_receipts`).
RECEIPT_CHUNK = 500
#: What can become of a receipt (`ReceiptCounts`' fields).
_RESULTS = ("applied", "duplicate", "stale", "unmatched")
R = tables.receipts
C = tables.contacts
Status = messages.MessageStatus


class SqlReceiptsMixin:
    """Receipts and contacts methods of `SqlMessageStore` (uses its threads and transactions)."""

    events_enabled: bool
    _dialect: str
    #: (the numbers, the contacts) of one lookup -> the latest inbound time per contact
    _inbound_lookups: batching.Batcher[
        tuple[tuple[str, ...], builtins.list[str]], dict[str, datetime]
    ]
    #: (one webhook's receipts, when it was received) -> each receipt's result
    _receipt_groups: batching.Batcher[tuple[tuple[Receipt, ...], datetime], builtins.list[str]]

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

        def _sqlite_max_values(self, conn: Connection) -> int: ...

    async def apply_receipts(
        self, receipts: Sequence[Receipt], received_at: datetime
    ) -> ReceiptCounts:
        """Applied in chunks of RECEIPT_CHUNK, one transaction each: the store's thread takes
        other work (a POST /schedule, /health, the dispatcher's claims) between them, so one
        webhook of 20,000 statuses does not hold everything else for seconds. A crash between
        chunks leaves the rest for Meta's retry, which the (wamid, status) key makes safe.

        On SQLite, webhook POSTs that arrive while others are being applied share the next
        group (`Batcher`: at thousands of statuses a second, one transaction and one hop to the
        store's thread for many POSTs). Not on PostgreSQL: there each status locks its message
        until the commit, and a transaction holding many POSTs' messages would hold them longer
        against the dispatcher's writes and other instances (a deadlock is likelier)."""
        if not receipts:
            return ReceiptCounts()
        call = (tuple(receipts), received_at)
        if self._dialect == "sqlite":
            results = await self._receipt_groups.submit(call)
        else:
            [results] = await self._receipt_group([call])
        return ReceiptCounts(**{name: results.count(name) for name in _RESULTS})

    async def _receipt_group(
        self, calls: builtins.list[tuple[tuple[Receipt, ...], datetime]]
    ) -> builtins.list[builtins.list[str]]:
        items = [(receipt, at) for receipts, at in calls for receipt in receipts]
        results: builtins.list[str] = []
        for start in range(0, len(items), RECEIPT_CHUNK):
            results += await self._run(self._apply_receipts, items[start : start + RECEIPT_CHUNK])
        grouped, start = [], 0
        for receipts, _ in calls:
            grouped.append(results[start : start + len(receipts)])
            start += len(receipts)
        return grouped

    def _apply_receipts(self, items: builtins.list[tuple[Receipt, datetime]]) -> builtins.list[str]:
        """Each receipt's result (one of `_RESULTS`), in order, in one transaction."""
        with self._tx() as conn:
            if self._dialect == "sqlite":
                limit = self._sqlite_max_values(conn)
                results, applied = sqlite_receipts.apply(conn, items, limit)
            else:
                results, applied = self._apply_one_by_one(conn, items)
            if self.events_enabled:
                outbox.insert_events(conn, [changes.receipt_event(a, at) for a, at in applied])
        return results

    def _apply_one_by_one(
        self, conn: Connection, items: builtins.list[tuple[Receipt, datetime]]
    ) -> tuple[builtins.list[str], builtins.list[tuple[changes.AppliedReceipt, datetime]]]:
        """`changes.apply_receipt` for each receipt (PostgreSQL: its rows locked as read)."""
        insert = self._insert_into(R).on_conflict_do_nothing(index_elements=["wamid", "status"])
        results: builtins.list[str] = []
        done: builtins.list[tuple[changes.AppliedReceipt, datetime]] = []
        for receipt, received_at in items:
            row_id = conn.execute(
                insert.values(**changes.receipt_row(receipt, received_at)).returning(R.c.id)
            ).scalar()
            if row_id is None:
                results.append("duplicate")
                continue
            applied = changes.apply_receipt(conn, receipt, received_at)
            results.append(applied.result)
            if applied.message_id is not None:
                conn.execute(
                    sa.update(R).where(R.c.id == row_id).values(message_id=applied.message_id)
                )
            if applied.result == "applied":
                done.append((applied, received_at))
        return results, done

    def _apply_kept_receipts(self, conn: Connection, wamids: builtins.list[str]) -> None:
        """Apply receipts that arrived before their send was recorded (matched by wamid now)."""
        if self._dialect == "sqlite" and not sqlite_bulk.rows_at_once(
            conn, "id", sqlite_receipts.STORED_WHERE, (json.dumps(wamids),)
        ):
            return  # the usual case, asked in one step of one statement (`rows_at_once`)
        for start in range(0, len(wamids), tables.IN_CHUNK):
            # `message_id IS NULL` is checked here, not in SQL: given it, SQLite's planner
            # searched `ix_receipts_message_id` for NULL, i.e. read every receipt never matched
            # (statuses of another tool's sends on the same number pile up there), per outcome
            # write. By wamid alone it reads the few receipts of these sends.
            query = (
                sa.select(R)
                .where(R.c.wamid.in_(wamids[start : start + tables.IN_CHUNK]))
                .order_by(R.c.occurred_at, R.c.id)
            )
            for row in conn.execute(query).all():
                if row.message_id is not None:
                    continue
                receipt = Receipt(
                    wamid=row.wamid,
                    status=Status(row.status),
                    occurred_at=row.occurred_at,
                    callback_data=row.callback_data,
                    error_code=row.error_code,
                    error_text=row.error_text,
                )
                applied = changes.apply_receipt(conn, receipt, row.received_at)
                if applied.message_id is not None:
                    conn.execute(
                        sa.update(R).where(R.c.id == row.id).values(message_id=applied.message_id)
                    )
                if applied.result == "applied" and self.events_enabled:
                    event = changes.receipt_event(applied, row.received_at)
                    outbox.insert_events(conn, [event])

    async def retry_marketing_limited(
        self, wamids: Sequence[str], run_at: datetime, now: datetime
    ) -> builtins.list[str]:
        if not wamids:
            return []
        return await self._run(self._retry_marketing_limited, list(wamids), run_at, now)

    def _retry_marketing_limited(
        self, wamids: builtins.list[str], run_at: datetime, now: datetime
    ) -> builtins.list[str]:
        m = tables.messages
        times = (  # 131049 failures of this message so far, over all its sends (wamids)
            sa.select(sa.func.count())
            .select_from(R)
            .where(
                R.c.message_id == m.c.id,
                R.c.status == str(Status.FAILED),
                R.c.error_code == MARKETING_LIMIT_CODE,
            )
            .scalar_subquery()
        )
        found: builtins.list[str] = []
        with self._tx() as conn:
            for start in range(0, len(wamids), tables.IN_CHUNK):
                stmt = (
                    sa.update(m)
                    .where(
                        m.c.wamid.in_(wamids[start : start + tables.IN_CHUNK]),
                        m.c.status == str(Status.FAILED),
                        m.c.last_error_code == MARKETING_LIMIT_CODE,
                        times == 1,
                    )
                    .values(
                        status=str(Status.QUEUED),
                        run_at=run_at,
                        status_reason=MARKETING_LIMIT,
                        failed_at=None,
                        updated_at=now,
                    )
                    .returning(m.c.id)
                )
                found.extend(conn.execute(stmt).scalars())
        return found

    async def record_inbound(
        self, contacts: Sequence[tuple[str, datetime]], phone_number_id: str = ""
    ) -> None:
        if contacts:
            await self._run(self._record_inbound, list(contacts), phone_number_id)

    def _record_inbound(
        self, contacts: builtins.list[tuple[str, datetime]], phone_number_id: str
    ) -> None:
        latest: dict[str, datetime] = {}
        for wa_id, at in contacts:
            latest[wa_id] = max(at, latest.get(wa_id, at))
        stmt = self._insert_into(C)
        upsert = stmt.on_conflict_do_update(
            index_elements=["phone_number_id", "wa_id"],
            set_={"last_inbound_at": stmt.excluded.last_inbound_at},
            where=C.c.last_inbound_at < stmt.excluded.last_inbound_at,
        )
        rows = [
            {"phone_number_id": phone_number_id, "wa_id": k, "last_inbound_at": v}
            for k, v in latest.items()
        ]
        with self._tx() as conn:
            conn.execute(upsert, rows)

    async def last_inbound(
        self, wa_id: str, phone_number_ids: Sequence[str] = ("",)
    ) -> datetime | None:
        found = await self._run(self._last_inbound_many, [wa_id], sorted(set(phone_number_ids)))
        return found.get(wa_id)

    async def last_inbound_many(
        self, wa_ids: Sequence[str], phone_number_ids: Sequence[str] = ("",)
    ) -> dict[str, datetime]:
        """Concurrent lookups (one per `POST /schedule`) share one query, like `add`; the
        latest inbound time over `phone_number_ids` per contact."""
        wanted = list(dict.fromkeys(wa_ids))
        if not wanted or not phone_number_ids:
            return {}
        return await self._inbound_lookups.submit((tuple(sorted(set(phone_number_ids))), wanted))

    async def _inbound_group(
        self, group: builtins.list[tuple[tuple[str, ...], builtins.list[str]]]
    ) -> builtins.list[dict[str, datetime]]:
        union = list(dict.fromkeys(wa_id for _, wanted in group for wa_id in wanted))
        numbers = sorted({n for numbers, _ in group for n in numbers})
        found = await self._read(self._inbound_rows, union, numbers)
        answers = []
        for numbers_of, wanted in group:
            answer: dict[str, datetime] = {}
            for wa_id in wanted:
                times = [found[(n, wa_id)] for n in numbers_of if (n, wa_id) in found]
                if times:
                    answer[wa_id] = max(times)
            answers.append(answer)
        return answers

    def _last_inbound_many(
        self, wa_ids: builtins.list[str], numbers: builtins.list[str]
    ) -> dict[str, datetime]:
        found = self._inbound_rows(wa_ids, numbers)
        latest: dict[str, datetime] = {}
        for (_, wa_id), at in found.items():
            latest[wa_id] = max(at, latest.get(wa_id, at))
        return latest

    def _inbound_rows(
        self, wa_ids: builtins.list[str], numbers: builtins.list[str]
    ) -> dict[tuple[str, str], datetime]:
        """(phone_number_id, wa_id) -> last inbound, for these contacts and numbers."""
        found: dict[tuple[str, str], datetime] = {}
        with self._tx() as conn:
            if self._dialect == "sqlite":
                params = {"wa_ids": json.dumps(wa_ids), "numbers": json.dumps(numbers)}
                rows = conn.execute(sqlite_bulk.LAST_INBOUND, params)
                return {(r.phone_number_id, r.wa_id): r.last_inbound_at for r in rows}
            for start in range(0, len(wa_ids), tables.IN_CHUNK):
                chunk = wa_ids[start : start + tables.IN_CHUNK]
                query = sa.select(C.c.phone_number_id, C.c.wa_id, C.c.last_inbound_at).where(
                    C.c.wa_id.in_(chunk), C.c.phone_number_id.in_(numbers)
                )
                found.update(
                    {(r.phone_number_id, r.wa_id): r.last_inbound_at for r in conn.execute(query)}
                )
        return found
