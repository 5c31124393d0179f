"""The daily messaging limit's bookings (`MessageStore.book_contacts`, docs/limits.md).

Meta limits how many unique contacts a business portfolio may reach with templates outside
their 24-hour window in a moving 24 h. Each such contact is booked in `limit_contacts` before
the send: a contact already booked within 24 h counts once; a new one is booked while the
portfolio has fewer than `limit` contacts in the last 24 h, else refused with the time a slot
frees (the oldest booking's time + 24 h, the next oldest for the next refused, ...).

Several processes on PostgreSQL: the count and the insert are one transaction under a
transaction-level advisory lock on the portfolio, so two dispatchers never both take the last
slot. SQLite has one writer at a time (and one dispatcher).
"""

from __future__ import annotations

import builtins
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.store import tables

T = TypeVar("T")
L = tables.limit_contacts
#: The moving window Meta counts the limit over.
WINDOW = timedelta(hours=24)
#: The advisory-lock namespace of the limit's bookings (the second key is the portfolio's CRC).
LOCK_NAMESPACE = 0x5749_4C4D  # "WILM"
#: The template category the frequency cap counts (`core.consent.MARKETING`).
MARKETING = "MARKETING"


class SqlLimitsMixin:
    """`book_contacts` of `SqlMessageStore` (uses its threads and transactions)."""

    _dialect: str

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

    async def marketing_sent(
        self, sender: str, recipients: Sequence[str], since: datetime
    ) -> dict[str, builtins.list[datetime]]:
        if not recipients:
            return {}
        return await self._run(self._marketing_sent, sender, list(recipients), since)

    def _marketing_sent(
        self, sender: str, recipients: builtins.list[str], since: datetime
    ) -> dict[str, builtins.list[datetime]]:
        m = tables.messages
        found: dict[str, builtins.list[datetime]] = {}
        with self._tx() as conn:
            for start in range(0, len(recipients), tables.IN_CHUNK):
                rows = conn.execute(
                    sa.select(m.c.recipient, m.c.sent_at)
                    .where(
                        m.c.recipient.in_(recipients[start : start + tables.IN_CHUNK]),
                        m.c.sender == sender,
                        m.c.category == MARKETING,
                        m.c.sent_at > since,
                    )
                    .order_by(m.c.sent_at)
                )
                for row in rows:
                    found.setdefault(row.recipient, []).append(row.sent_at)
        return found

    async def marketing_recent(
        self, sender: str, recipients: Sequence[str], since: datetime
    ) -> tuple[dict[str, builtins.list[datetime]], dict[str, builtins.list[tuple[datetime, str]]]]:
        if not recipients:
            return {}, {}
        return await self._run(self._marketing_recent, sender, list(recipients), since)

    def _marketing_recent(
        self, sender: str, recipients: builtins.list[str], since: datetime
    ) -> tuple[dict[str, builtins.list[datetime]], dict[str, builtins.list[tuple[datetime, str]]]]:
        m = tables.messages
        sent: dict[str, builtins.list[datetime]] = {}
        in_flight: dict[str, builtins.list[tuple[datetime, str]]] = {}
        with self._tx() as conn:
            for start in range(0, len(recipients), tables.IN_CHUNK):
                rows = conn.execute(
                    sa.select(m.c.recipient, m.c.sent_at, m.c.claimed_at, m.c.id, m.c.status)
                    .where(
                        m.c.recipient.in_(recipients[start : start + tables.IN_CHUNK]),
                        m.c.sender == sender,
                        m.c.category == MARKETING,
                        sa.or_(m.c.sent_at > since, m.c.status == "sending"),
                    )
                    .order_by(m.c.sent_at, m.c.claimed_at, m.c.id)
                )
                for row in rows:
                    if row.status == "sending":
                        if row.claimed_at is not None:
                            in_flight.setdefault(row.recipient, []).append((row.claimed_at, row.id))
                    elif row.sent_at is not None and row.sent_at > since:
                        sent.setdefault(row.recipient, []).append(row.sent_at)
        for claims in in_flight.values():
            claims.sort()
        for times in sent.values():
            times.sort()
        return sent, in_flight

    async def book_contacts(
        self, portfolio: str, wa_ids: Sequence[str], limit: int, now: datetime
    ) -> dict[str, datetime | None]:
        if not wa_ids:
            return {}
        return await self._run(self._book_contacts, portfolio, list(wa_ids), limit, now)

    def _book_contacts(
        self, portfolio: str, wa_ids: builtins.list[str], limit: int, now: datetime
    ) -> dict[str, datetime | None]:
        since = now - WINDOW
        with self._tx() as conn:
            if self._dialect == "postgresql":
                key = zlib.crc32(portfolio.encode()) - 2**31  # int4
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                    {"ns": LOCK_NAMESPACE - 2**31, "key": key},
                )
            conn.execute(sa.delete(L).where(L.c.portfolio == portfolio, L.c.reached_at <= since))
            # Only what the rule needs, not the portfolio's every booking (up to the limit's
            # 100,000 rows a claim): how many, which of these contacts, and, when some do
            # not fit, the oldest bookings whose ends free their slots (`book`'s rule).
            count = conn.execute(
                sa.select(sa.func.count()).select_from(L).where(L.c.portfolio == portfolio)
            ).scalar_one()
            wanted = list(dict.fromkeys(wa_ids))
            present: set[str] = set()
            for start in range(0, len(wanted), tables.IN_CHUNK):
                chunk = wanted[start : start + tables.IN_CHUNK]
                present.update(
                    conn.execute(
                        sa.select(L.c.wa_id).where(L.c.portfolio == portfolio, L.c.wa_id.in_(chunk))
                    ).scalars()
                )
            answers, new, refused, first_slot = plan(count, present, wanted, limit)
            if refused:
                ends = [
                    at + WINDOW
                    for at in conn.execute(
                        sa.select(L.c.reached_at)
                        .where(L.c.portfolio == portfolio)
                        .order_by(L.c.reached_at, L.c.wa_id)
                        .offset(first_slot)
                        .limit(len(refused))
                    ).scalars()
                ]
                for index, wa_id in enumerate(refused):
                    answers[wa_id] = ends[index] if index < len(ends) else now + WINDOW
            if new:
                conn.execute(
                    self._insert_into(L).on_conflict_do_nothing(),
                    [{"portfolio": portfolio, "wa_id": w, "reached_at": now} for w in new],
                )
        return answers


def plan(
    count: int, present: set[str], wa_ids: Sequence[str], limit: int
) -> tuple[dict[str, datetime | None], builtins.list[str], builtins.list[str], int]:
    """`book`'s rule from the portfolio's number of bookings and which of `wa_ids` are booked:
    (the answers so far: None = may go, the contacts to book, those refused in order, and the
    position among the bookings oldest first whose end frees the first refused one's slot;
    the next refused, the next one's). `tests/unit/test_limits.py` holds it equal to `book`."""
    answers: dict[str, datetime | None] = {}
    new: builtins.list[str] = []
    refused: builtins.list[str] = []
    for wa_id in wa_ids:
        if wa_id in answers or wa_id in refused:
            continue
        if wa_id in present:
            answers[wa_id] = None
        elif count < limit:
            answers[wa_id] = None
            new.append(wa_id)
            count += 1
        else:
            refused.append(wa_id)
    return answers, new, refused, max(count - limit, 0)


def book(
    booked: dict[str, datetime], wa_ids: Sequence[str], limit: int, now: datetime
) -> tuple[dict[str, datetime | None], builtins.list[str]]:
    """The rule, shared with the in-memory store: (per contact None = may go, or when a slot
    frees; the contacts to book). `booked`: this portfolio's bookings of the last 24 h, oldest
    first."""
    answers: dict[str, datetime | None] = {}
    new: builtins.list[str] = []
    oldest = sorted(booked.values())
    count = len(booked)
    refused = 0
    for wa_id in wa_ids:
        if wa_id in answers:
            continue
        if wa_id in booked:
            answers[wa_id] = None
        elif count < limit:
            answers[wa_id] = None
            new.append(wa_id)
            booked[wa_id] = now
            count += 1
        else:
            slot = count - limit + refused  # the booking whose end frees this one's slot
            frees = oldest[slot] + WINDOW if slot < len(oldest) else now + WINDOW
            answers[wa_id] = frees
            refused += 1
    return answers, new
