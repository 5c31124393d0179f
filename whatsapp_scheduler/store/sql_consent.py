"""The consent half of `SqlMessageStore` (docs/consent.md): consent per contact and business
number, its history, the opt-out's cancellation of queued messages in the same transaction,
and the lookup of window + consent that POST /schedule and the dispatcher make."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import consent, messages
from whatsapp_scheduler.store import ContactPage, ContactState, batching, outbox, tables

T = TypeVar("T")
K = tables.consents
E = tables.consent_events
C = tables.contacts
M = tables.messages
Status = messages.MessageStatus
#: The `status_reason` of a message cancelled by its recipient's opt-out.
OPTED_OUT = "opted_out"

_SQLITE_CONSENTS = sa.text(
    "SELECT * FROM consents WHERE phone_number_id IN (SELECT value FROM json_each(:numbers)) "
    "AND wa_id IN (SELECT value FROM json_each(:wa_ids))"
).columns(*K.c)


class SqlConsentMixin:
    """Consent methods of `SqlMessageStore` (uses its threads and transactions)."""

    events_enabled: bool
    _dialect: str
    _contact_lookups: batching.Batcher[
        tuple[tuple[str, ...], builtins.list[str]], dict[str, ContactState]
    ]

    if TYPE_CHECKING:  # provided by SqlMessageStore and SqlReceiptsMixin

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

        def _inbound_rows(
            self, wa_ids: builtins.list[str], numbers: builtins.list[str]
        ) -> dict[tuple[str, str], datetime]: ...

    # -- the lookup: window and consent in one read ------------------------------------------

    async def contacts_many(
        self, wa_ids: Sequence[str], phone_number_ids: Sequence[str] = ("",)
    ) -> dict[str, ContactState]:
        """Concurrent lookups (one per POST /schedule) share one read, like the window's."""
        wanted = list(dict.fromkeys(wa_ids))
        if not wanted or not phone_number_ids:
            return {}
        return await self._contact_lookups.submit((tuple(sorted(set(phone_number_ids))), wanted))

    async def _contact_group(
        self, group: builtins.list[tuple[tuple[str, ...], builtins.list[str]]]
    ) -> builtins.list[dict[str, ContactState]]:
        union = list(dict.fromkeys(wa_id for _, wanted in group for wa_id in wanted))
        numbers = sorted({n for numbers, _ in group for n in numbers})
        inbound, consents = await self._read(self._contact_rows, union, numbers)
        answers = []
        # Only the contacts with a row (most of a campaign's audience has none) are looked at.
        known = {wa_id for _, wa_id in inbound} | {wa_id for _, wa_id in consents}
        for numbers_of, wanted in group:
            answer: dict[str, ContactState] = {}
            for wa_id in filter(known.__contains__, wanted):
                times = [inbound[(n, wa_id)] for n in numbers_of if (n, wa_id) in inbound]
                rows = [consents[(n, wa_id)] for n in numbers_of if (n, wa_id) in consents]
                if not times and not rows:
                    continue
                latest = max(rows, key=lambda r: r.updated_at) if rows else None
                answer[wa_id] = ContactState(
                    last_inbound=max(times) if times else None,
                    consent=_consent(latest) if latest is not None else consent.NO_CONSENT_RECORD,
                )
            answers.append(answer)
        return answers

    def _contact_rows(
        self, wa_ids: builtins.list[str], numbers: builtins.list[str]
    ) -> tuple[dict[tuple[str, str], datetime], dict[tuple[str, str], Any]]:
        """The window rows and the consent rows of these contacts and numbers: two indexed
        reads on one connection, one trip to the store's reader thread."""
        inbound = self._inbound_rows(wa_ids, numbers)
        found: dict[tuple[str, str], Any] = {}
        with self._tx() as conn:
            if self._dialect == "sqlite":
                params = {"wa_ids": json.dumps(wa_ids), "numbers": json.dumps(numbers)}
                rows = conn.execute(_SQLITE_CONSENTS, params)
                found = {(r.phone_number_id, r.wa_id): r for r in rows}
            else:
                for start in range(0, len(wa_ids), tables.IN_CHUNK):
                    chunk = wa_ids[start : start + tables.IN_CHUNK]
                    query = sa.select(K).where(
                        K.c.wa_id.in_(chunk), K.c.phone_number_id.in_(numbers)
                    )
                    found.update({(r.phone_number_id, r.wa_id): r for r in conn.execute(query)})
        return inbound, found

    # -- changes ----------------------------------------------------------------------------

    async def record_consent(
        self,
        changes: Sequence[consent.ConsentChange],
        phone_number_id: str,
        senders: Collection[str],
        now: datetime,
    ) -> builtins.list[int]:
        if not changes:
            return []
        return await self._run(
            self._record_consent, list(changes), phone_number_id, sorted(set(senders)), now
        )

    def _record_consent(
        self,
        changes: builtins.list[consent.ConsentChange],
        number: str,
        senders: builtins.list[str],
        now: datetime,
    ) -> builtins.list[int]:
        counts: builtins.list[int] = []
        with self._tx() as conn:
            for change in changes:
                key = (K.c.phone_number_id == number) & (K.c.wa_id == change.wa_id)
                select = sa.select(K).where(key)
                if self._dialect == "postgresql":
                    select = select.with_for_update()
                row = conn.execute(select).first()
                current = _consent(row) if row is not None else consent.NO_CONSENT_RECORD
                after = consent.apply(current, change)
                values = _row(after) | {"updated_at": now}
                stmt = self._insert_into(K).values(
                    phone_number_id=number, wa_id=change.wa_id, **values
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["phone_number_id", "wa_id"], set_=values
                    )
                )
                cancelled = 0
                if change.change == consent.Change.OPTED_OUT and senders:
                    cancelled = self._cancel_for(conn, change, senders, now)
                conn.execute(
                    sa.insert(E).values(
                        phone_number_id=number,
                        wa_id=change.wa_id,
                        change=str(change.change),
                        scope=str(change.scope),
                        source=str(change.source),
                        detail=change.detail[:200] if change.detail else None,
                        occurred_at=change.at,
                        recorded_at=now,
                        cancelled=cancelled,
                    )
                )
                counts.append(cancelled)
        return counts

    def _cancel_for(
        self,
        conn: Connection,
        change: consent.ConsentChange,
        senders: builtins.list[str],
        now: datetime,
    ) -> int:
        """The one UPDATE that cancels what the opt-out covers: queued (not claimed) messages
        of these senders to the contact, for a marketing opt-out only MARKETING ones. A claim
        that committed first keeps its rows (status `sending`: the send-time check sees the
        opt-out); one that comes after finds them cancelled."""
        where = [
            M.c.status == str(Status.QUEUED),
            M.c.recipient == "+" + change.wa_id,
            M.c.sender.in_(senders),
        ]
        if change.scope == consent.Scope.MARKETING:
            where.append(M.c.category == consent.MARKETING)
        stmt = (
            sa.update(M)
            .where(*where)
            .values(
                status=str(Status.CANCELLED),
                status_reason=OPTED_OUT,
                cancelled_at=now,
                updated_at=now,
            )
            .returning(M.c.id, M.c.sender, M.c.category)
        )
        rows = conn.execute(stmt).all()
        if rows and self.events_enabled:
            events = [
                outbox.event_row(
                    r.id,
                    Status.CANCELLED,
                    now,
                    now,
                    gonderen=r.sender,
                    previous="queued",
                    category=r.category,
                )
                for r in rows
            ]
            outbox.insert_events(conn, events)
        return len(rows)

    # -- reading ----------------------------------------------------------------------------

    async def consent_history(
        self, wa_id: str, phone_number_ids: Sequence[str], limit: int
    ) -> builtins.list[consent.ConsentEvent]:
        return await self._run(self._consent_history, wa_id, list(phone_number_ids), limit)

    def _consent_history(
        self, wa_id: str, numbers: builtins.list[str], limit: int
    ) -> builtins.list[consent.ConsentEvent]:
        query = (
            sa.select(E)
            .where(E.c.wa_id == wa_id, E.c.phone_number_id.in_(numbers))
            .order_by(E.c.id.desc())
            .limit(limit)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return [
            consent.ConsentEvent(
                change=consent.Change(r.change),
                scope=consent.Scope(r.scope),
                source=consent.Source(r.source),
                occurred_at=r.occurred_at,
                recorded_at=r.recorded_at,
                detail=r.detail,
                cancelled=r.cancelled,
            )
            for r in rows
        ]

    async def list_contacts(
        self,
        phone_number_ids: Sequence[str],
        opted_out: bool | None,
        after: str | None,
        limit: int,
    ) -> ContactPage:
        return await self._run(self._list_contacts, list(phone_number_ids), opted_out, after, limit)

    def _list_contacts(
        self, numbers: builtins.list[str], opted_out: bool | None, after: str | None, limit: int
    ) -> ContactPage:
        out = sa.select(K.c.wa_id).where(
            K.c.phone_number_id.in_(numbers),
            sa.or_(K.c.all_out_at.is_not(None), K.c.marketing_out_at.is_not(None)),
        )
        if opted_out:
            known = out.distinct().subquery()
        else:
            known = sa.union(
                sa.select(C.c.wa_id).where(C.c.phone_number_id.in_(numbers)),
                sa.select(K.c.wa_id).where(K.c.phone_number_id.in_(numbers)),
            ).subquery()
        query = sa.select(known.c.wa_id)
        if opted_out is False:
            query = query.where(known.c.wa_id.not_in(out))
        if after is not None:
            query = query.where(known.c.wa_id > after)
        query = query.order_by(known.c.wa_id).limit(limit + 1)
        with self._tx() as conn:
            wa_ids = [r.wa_id for r in conn.execute(query)]
        more = len(wa_ids) > limit
        wa_ids = wa_ids[:limit]
        return ContactPage(wa_ids, wa_ids[-1] if more and wa_ids else None)


def _consent(row: Any) -> consent.Consent:
    return consent.Consent(
        all_out=(
            consent.OptOut(row.all_out_at, consent.Source(row.all_out_source))
            if row.all_out_at is not None
            else None
        ),
        marketing_out=(
            consent.OptOut(row.marketing_out_at, consent.Source(row.marketing_out_source))
            if row.marketing_out_at is not None
            else None
        ),
        undeliverable_at=row.undeliverable_at,
    )


def _row(value: consent.Consent) -> dict[str, Any]:
    return {
        "all_out_at": value.all_out.at if value.all_out else None,
        "all_out_source": str(value.all_out.source) if value.all_out else None,
        "marketing_out_at": value.marketing_out.at if value.marketing_out else None,
        "marketing_out_source": str(value.marketing_out.source) if value.marketing_out else None,
        "undeliverable_at": value.undeliverable_at,
    }
