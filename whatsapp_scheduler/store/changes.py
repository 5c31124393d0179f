"""How the dispatcher's outcomes and Meta's receipts become row changes (SQL side).

Row and value builders used by `sql.SqlMessageStore` inside its transactions: which columns an
outcome sets, which statuses a receipt may move a message from, the attempts and receipts rows,
and the status events written to the outbox.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import Outcome, Receipt, outbox, receipt_sources, tables, transitions

M = tables.messages
Status = messages.MessageStatus


#: A SENT outcome also applies when a status webhook already moved the message on: Meta's
#: "sent"/"delivered" can arrive (matched by our id) before our own write of the answer.
SENT_FROM = [
    str(s) for s in (Status.SENDING, Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED)
]


def receipt_row(receipt: Receipt, received_at: datetime) -> dict[str, Any]:
    return {
        "wamid": receipt.wamid,
        "status": str(receipt.status),
        "callback_data": receipt.callback_data,
        "occurred_at": receipt.occurred_at,
        "received_at": received_at,
        "error_code": receipt.error_code,
        "error_text": receipt.error_text,
    }


def receipt_values(receipt: Receipt, received_at: datetime) -> dict[str, Any]:
    at = receipt.occurred_at
    values: dict[str, Any] = {"status": str(receipt.status), "updated_at": received_at}
    if receipt.status == Status.DELIVERED:
        values["delivered_at"] = at
    elif receipt.status == Status.READ:
        values["read_at"] = at
        values["delivered_at"] = sa.func.coalesce(M.c.delivered_at, at)  # read implies delivered
    elif receipt.status == Status.FAILED:
        values.update(
            failed_at=at, last_error_code=receipt.error_code, last_error_text=receipt.error_text
        )
    return values


@dataclasses.dataclass(frozen=True, slots=True)
class AppliedReceipt:
    """What `apply_receipt` did with one receipt."""

    result: str  # applied | stale | unmatched
    message_id: str | None
    previous: str | None  # the status it replaced, when applied
    receipt: Receipt  # as applied: its time never before the send (`messages.receipt_time`)
    sender: str | None = None  # the message's sender (`gonderen`), when applied
    category: str | None = None  # the message's category (recorded when scheduled)
    campaign_id: str | None = None  # the message's campaign, when applied and it has one


def apply_receipt(conn: Connection, receipt: Receipt, received_at: datetime) -> AppliedReceipt:
    """Move the matching message forward (see `AppliedReceipt`). The
    message is read by wamid (or by our id in biz_opaque_callback_data, for a status that beat
    our own record of the send), locked on PostgreSQL, and updated by primary key only if its
    status is still the one read. The reads filter on wamid or id alone: with a status
    condition too, SQLite's planner chose a status index and scanned every `sent` row.
    """
    sources = receipt_sources(receipt.status)
    columns = (
        M.c.id, M.c.status, M.c.wamid, M.c.attempts, M.c.sent_at, M.c.claimed_at, M.c.sender,
        M.c.category, M.c.campaign_id,
    )  # fmt: skip
    found = conn.execute(
        sa.select(*columns).where(M.c.wamid == receipt.wamid).with_for_update()
    ).first()
    extra: dict[str, Any] = {}
    if (found is None or found.status not in sources) and receipt.callback_data:
        by_id = conn.execute(
            sa.select(*columns).where(M.c.id == receipt.callback_data).with_for_update()
        ).first()
        if by_id is not None and by_id.wamid in (None, receipt.wamid):
            # Matched by our id: the send is proven even if its own outcome never came.
            found, extra = by_id, {"wamid": receipt.wamid, "sent_at": None}
            if messages.proves_ambiguous_send(Status(by_id.status), by_id.attempts, receipt.status):
                # Queued again after an ambiguous attempt, waiting RESEND_GRACE_SECONDS for
                # this proof: settled, with no second request.
                sources = [*sources, str(Status.QUEUED)]
    if found is not None and found.status in sources:
        # A time that cannot be read (`tables.Unreadable`, a row changed by hand) bounds nothing.
        sent_at, claimed_at = (v if isinstance(v, datetime) else None for v in found[4:6])
        at = messages.receipt_time(receipt.occurred_at, sent_at, claimed_at)
        if at != receipt.occurred_at:
            receipt = dataclasses.replace(receipt, occurred_at=at)
        if "sent_at" in extra:
            extra["sent_at"] = sa.func.coalesce(M.c.sent_at, receipt.occurred_at)
        update = (
            sa.update(M)
            .where(M.c.id == found.id, M.c.status == found.status)
            .values(**receipt_values(receipt, received_at), **extra)
        )
        if conn.execute(update).rowcount == 1:
            return AppliedReceipt(
                "applied",
                found.id,
                found.status,
                receipt,
                found.sender,
                found.category,
                found.campaign_id,
            )
    if found is not None:
        return AppliedReceipt("stale", found.id, None, receipt)
    match = sa.or_(M.c.wamid == receipt.wamid, M.c.id == (receipt.callback_data or ""))
    known = conn.execute(sa.select(M.c.id).where(match).limit(1)).scalar()
    return AppliedReceipt("stale" if known is not None else "unmatched", known, None, receipt)


def outcome_event(
    outcome: Outcome, previous: str, sender: str, campaign_id: str | None = None
) -> dict[str, Any]:
    """The status event for a send outcome that changed the message's status."""
    return outbox.event_row(
        outcome.message_id,
        outcome.status,
        outcome.finished_at,
        outcome.finished_at,
        gonderen=sender,
        previous=previous,
        wamid=outcome.wamid,
        error_code=outcome.error_code,
        error_text=outcome.error_text,
        sent_as=outcome.sent_as,
        category=outcome.category,
        campaign_id=campaign_id,
    )


def receipt_event(applied: AppliedReceipt, received_at: datetime) -> dict[str, Any]:
    """The status event for a status webhook that moved a message forward."""
    assert applied.message_id is not None
    assert applied.sender is not None
    receipt = applied.receipt
    return outbox.event_row(
        applied.message_id,
        receipt.status,
        receipt.occurred_at,
        received_at,
        gonderen=applied.sender,
        previous=applied.previous,
        wamid=receipt.wamid,
        error_code=receipt.error_code,
        error_text=receipt.error_text,
        category=applied.category,
        campaign_id=applied.campaign_id,
    )


def outcome_values(outcome: Outcome) -> dict[str, Any]:
    """The columns `outcome` sets (`transitions.outcome_changes`, the status as text)."""
    values = transitions.outcome_changes(outcome)
    values["status"] = str(outcome.status)
    return values


def attempt_row(outcome: Outcome, attempts: int) -> dict[str, Any]:
    assert outcome.attempt is not None
    return {
        "message_id": outcome.message_id,
        "number": max(attempts, 1),
        "started_at": outcome.started_at or outcome.finished_at,
        "finished_at": outcome.finished_at,
        "outcome": str(outcome.attempt),
        "error_code": outcome.error_code,
        "error_text": outcome.error_text,
        "http_status": outcome.http_status,
        "worker": outcome.worker,
        "sent_as": None if outcome.sent_as is None else str(outcome.sent_as),
        "category": outcome.category,
    }
