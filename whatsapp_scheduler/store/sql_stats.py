"""The dashboard's numbers, as a half of `SqlMessageStore`: what became of the messages due in
each day of a range (by status now) and why the failed ones failed (by Meta's code).

Two GROUP BY reads over the due-time range, each on an index (`ix_messages_due_at_id`, and
`ix_messages_status_due_at_id` for the failures): the day of a row is a CASE over the period
bounds the caller gives (local midnights in UTC), so the same SQL runs on SQLite and
PostgreSQL and no time-zone arithmetic happens in the database.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import DueTally, tables

T = TypeVar("T")
M = tables.messages


class SqlStatsMixin:
    """`due_tally` of `SqlMessageStore` (uses its threads)."""

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

    async def due_tally(
        self, bounds: Sequence[datetime], senders: Collection[str] | None = None
    ) -> DueTally:
        if len(bounds) < 2:
            return DueTally((), {})
        return await self._read(self._due_tally, list(bounds), senders)

    def _due_tally(self, bounds: list[datetime], senders: Collection[str] | None) -> DueTally:
        where = [M.c.due_at >= bounds[0], M.c.due_at < bounds[-1]]
        if senders is not None:
            where.append(M.c.sender.in_(sorted(senders)))
        day = sa.case(*((M.c.due_at < b, i) for i, b in enumerate(bounds[1:])), else_=-1)
        by_day: list[dict[str, int]] = [{} for _ in bounds[1:]]
        failures: dict[int | None, int] = {}
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(day.label("day"), M.c.status, sa.func.count())
                .where(*where)
                .group_by(day, M.c.status)
            ).all()
            failed = conn.execute(
                sa.select(M.c.last_error_code, sa.func.count())
                .where(M.c.status == str(messages.MessageStatus.FAILED), *where)
                .group_by(M.c.last_error_code)
            ).all()
        for index, status, count in rows:
            if 0 <= index < len(by_day):
                by_day[index][str(status)] = int(count)
        for code, count in failed:
            failures[code if isinstance(code, int) else None] = int(count)
        return DueTally(tuple(by_day), failures)
