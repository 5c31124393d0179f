"""The status-event outbox: the event JSON, and its SQL side for `SqlMessageStore`.

A status change and the event that reports it commit in one transaction, so an event is never
lost nor sent for a change that was rolled back. `events.EventDeliverer` then claims due rows,
POSTs them and records the result here. Event body (`message.status`)::

    {"event": "message.status", "id": "<message id>", "gonderen": "shop",
     "status": "delivered", "previous_status": "sent", "at": "2026-03-01T09:00:05Z",
     "whatsapp_message_id": "wamid..." | null, "sent_as": null,
     "error": {"code": 131047, "message": "..."} | null, "category": "UTILITY" | null}

`previous_status` is the status the change replaced: `sending` for sends, `queued` for
cancellations, and for Meta's status webhooks the status read (and locked) just before the
update. `gonderen` is the message's sender (the name its `gonderen` field holds: `default`
for a message that named none). `sent_as` (`text`, `template` or `fallback_template`) is set on the events of the
dispatcher's own outcomes (`sent`, and `failed` after a request to Meta), else null.
`category` is what Meta bills the message as (SERVICE for a text, else its template's
category): on the dispatcher's outcomes the category at send time (Meta may have re-categorised
the template since it was scheduled), on the other events the one recorded when scheduled;
null where the catalogue does not know the template.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import Event, EventResult, EventState, tables

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

E = tables.events
EVENT_TYPE = "message.status"
#: The statuses the client app hears about (`queued` -> `sending` is internal).
REPORTED = frozenset(
    {
        messages.MessageStatus.SENT,
        messages.MessageStatus.DELIVERED,
        messages.MessageStatus.READ,
        messages.MessageStatus.FAILED,
        messages.MessageStatus.CANCELLED,
    }
)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_body(
    message_id: str,
    status: messages.MessageStatus | str,
    at: datetime,
    *,
    gonderen: str,
    previous: messages.MessageStatus | str | None = None,
    wamid: str | None = None,
    error_code: int | None = None,
    error_text: str | None = None,
    sent_as: messages.SentAs | None = None,
    category: str | None = None,
    campaign_id: str | None = None,
) -> str:
    """The JSON of one `message.status` event (compact, keys in a fixed order); a campaign's
    message carries `campaign_id` (docs/campaigns.md), others have no such key."""
    error = None
    if status == messages.MessageStatus.FAILED and (error_code is not None or error_text):
        error = {"code": error_code, "message": error_text}
    body = {
        "event": EVENT_TYPE,
        "id": message_id,
        "gonderen": gonderen,
        "status": str(status),
        "previous_status": str(previous) if previous is not None else None,
        "at": _iso(at),
        "whatsapp_message_id": wamid,
        "sent_as": str(sent_as) if sent_as is not None else None,
        "error": error,
        "category": category,
    }
    if campaign_id is not None:
        body["campaign_id"] = campaign_id
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def event_row(
    message_id: str,
    status: messages.MessageStatus | str,
    at: datetime,
    created_at: datetime,
    **details: Any,
) -> dict[str, Any]:
    """An outbox row (pending, due at once) for a status change of `message_id`."""
    return {
        "message_id": message_id,
        "status": str(status),
        "body": event_body(message_id, status, at, **details),
        "state": str(EventState.PENDING),
        "attempts": 0,
        "next_attempt_at": created_at,
        "created_at": created_at,
    }


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany INSERT in the caller's transaction."""
    if rows:
        conn.execute(sa.insert(E), list(rows))


class SqlOutboxMixin:
    """The outbox methods of `SqlMessageStore` (uses its `_run` and `_tx`)."""

    _run: Callable[..., Any]
    _tx: Callable[[], Any]

    async def claim_events(self, now: datetime, limit: int, lease_until: datetime) -> list[Event]:
        return await self._run(self._claim_events, now, limit, lease_until)  # type: ignore[no-any-return]

    def _claim_events(self, now: datetime, limit: int, lease_until: datetime) -> list[Event]:
        due = (
            sa.select(E.c.id)
            .where(E.c.state == str(EventState.PENDING), E.c.next_attempt_at <= now)
            .order_by(E.c.next_attempt_at, E.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # dropped by the SQLite compiler
            .cte("due_events")
        )
        stmt = (
            sa.update(E)
            .where(E.c.id == due.c.id, E.c.state == str(EventState.PENDING))
            .values(next_attempt_at=lease_until)
            .returning(E.c.id, E.c.message_id, E.c.status, E.c.body, E.c.attempts, E.c.created_at)
        )
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
        events = [
            Event(
                id=row.id,
                message_id=row.message_id,
                status=messages.MessageStatus(row.status),
                body=row.body,
                attempts=row.attempts,
                created_at=row.created_at,
            )
            for row in rows
        ]
        events.sort(key=lambda e: e.id)
        return events

    async def finish_events(self, results: Sequence[EventResult]) -> None:
        if results:
            await self._run(self._finish_events, list(results))

    def _finish_events(self, results: list[EventResult]) -> None:
        done = [r for r in results if r.state != EventState.PENDING]
        retry = [r for r in results if r.state == EventState.PENDING]
        pending = str(EventState.PENDING)
        with self._tx() as conn:
            if done:
                stmt = (
                    sa.update(E)
                    .where(E.c.id == sa.bindparam("_id"), E.c.state == pending)
                    .values(
                        state=sa.bindparam("_state"),
                        finished_at=sa.bindparam("_at"),
                        last_error=sa.bindparam("_error"),
                        attempts=E.c.attempts + 1,
                    )
                )
                conn.execute(
                    stmt,
                    [
                        {"_id": r.event_id, "_state": str(r.state), "_at": r.at, "_error": r.error}
                        for r in done
                    ],
                )
            if retry:
                stmt = (
                    sa.update(E)
                    .where(E.c.id == sa.bindparam("_id"), E.c.state == pending)
                    .values(
                        next_attempt_at=sa.bindparam("_retry"),
                        last_error=sa.bindparam("_error"),
                        attempts=E.c.attempts + 1,
                    )
                )
                conn.execute(
                    stmt,
                    [
                        {"_id": r.event_id, "_retry": r.retry_at or r.at, "_error": r.error}
                        for r in retry
                    ],
                )
