"""Domain values: message status, the scheduled message itself, attempts and the status rules.

Pure: no I/O, no wall-clock reads.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: A campaign's message held by `POST /campaigns/{id}/pause` (docs/campaigns.md): the
    #: dispatcher claims only `queued`, so it is never sent until resumed (back to `queued`).
    PAUSED = "paused"


#: Statuses of a message that is no longer queued, being sent or paused: done with sending
#: (what an uploaded file's retention counts from, docs/media.md).
DONE_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.FAILED,
        MessageStatus.CANCELLED,
    }
)

#: Statuses from which nothing more will happen on our side.
FINAL_STATUSES = frozenset({MessageStatus.FAILED, MessageStatus.CANCELLED, MessageStatus.READ})

#: Receipt ranks: Meta's status webhooks only ever move a message forward along this line.
RECEIPT_RANK: Mapping[MessageStatus, int] = {
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


def receipt_time(
    occurred_at: datetime, sent_at: datetime | None, claimed_at: datetime | None
) -> datetime:
    """When a status webhook's status goes into the timeline: Meta's time, but never before
    the send (`sent_at`, or the claim when the send is not recorded yet). Meta's own time is
    kept as it came in the receipts history."""
    floor = sent_at if sent_at is not None else claimed_at
    return floor if floor is not None and occurred_at < floor else occurred_at


def receipt_applies(current: MessageStatus, incoming: MessageStatus) -> bool:
    """Whether a status webhook `incoming` may replace `current`.

    Webhooks arrive late, twice or out of order: `delivered` must never overwrite `read`, and
    nothing revives a cancelled message. `failed` applies after `sent` and `delivered` (Meta
    reports failures after acceptance) but not after `read`, which proves delivery.
    `sending` accepts receipts too: a webhook can beat our own write of the send's outcome.
    """
    if incoming == MessageStatus.FAILED:
        return current in {MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED}
    if incoming not in RECEIPT_RANK:
        return False
    if current == MessageStatus.SENDING:
        return True
    if current not in RECEIPT_RANK:
        return False
    return RECEIPT_RANK[incoming] > RECEIPT_RANK[current]


def proves_ambiguous_send(current: MessageStatus, attempts: int, incoming: MessageStatus) -> bool:
    """Whether a status webhook matched by our id (`biz_opaque_callback_data`) settles a
    message that is `queued` again after an attempt whose outcome is unknown (a timeout, a
    worker that died mid-send). Meta sends statuses only for a message it accepted, so the
    earlier attempt reached Meta: the message takes the status and is not sent again.
    """
    return current == MessageStatus.QUEUED and attempts > 0 and incoming in RECEIPT_RANK


def cancellable(status: MessageStatus) -> bool:
    """Only a message that has not been handed to the dispatcher can be cancelled."""
    return status == MessageStatus.QUEUED


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduledMessage:
    """One message to send at `due_at`; the row of the queue.

    `run_at` is when the dispatcher may next pick it up: `due_at` at first, later than that
    after a retryable failure or a rate-limit deferral.
    """

    id: str
    recipient: str  # E.164 with '+'
    due_at: datetime
    run_at: datetime
    timezone: str
    local_date: str  # the date as the client sent it (REST: `tarih`)
    local_time: str  # the time of day as the client sent it (REST: `saat`)
    content_hash: str
    created_at: datetime
    updated_at: datetime
    body: str | None = None
    template: Mapping[str, Any] | None = None
    client_created: str | None = None  # the seed's olusturmaTarihi, echoed
    fallback_template: Mapping[str, Any] | None = None  # sent instead when the window is closed
    #: Another type than text or template, in Meta's shape: {"type": T, T: {...}} (core/content.py).
    content: Mapping[str, Any] | None = None
    sender: str = "default"  # the sender (business number) by name: REST `gonderen`
    created_by: str | None = None  # the API key's name that created it; None: API_KEY
    #: The template's category when known at schedule time (`core.consent.MARKETING` ...):
    #: what a marketing-only opt-out stops. None: a text, or not known.
    category: str | None = None
    status: MessageStatus = MessageStatus.QUEUED
    attempts: int = 0
    wamid: str | None = None
    wa_id: str | None = None
    last_error_code: int | None = None
    last_error_text: str | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    #: Why the status is what it is, as a code (e.g. `opted_out` for a cancelled message).
    status_reason: str | None = None
    #: False: sent at its time even inside quiet hours (a one-time code); None: they apply.
    quiet_hours: bool | None = None
    #: The series this message is an occurrence of (docs/series.md); None: a single message.
    series_id: str | None = None
    #: The campaign it belongs to (docs/campaigns.md); None: scheduled on its own.
    campaign_id: str | None = None

    def __post_init__(self) -> None:
        if (  # written out: this runs for every message of a batch
            self.due_at.tzinfo is None
            or self.run_at.tzinfo is None
            or self.created_at.tzinfo is None
            or self.updated_at.tzinfo is None
            or (self.lease_until is not None and self.lease_until.tzinfo is None)
            or (self.sent_at is not None and self.sent_at.tzinfo is None)
        ):
            for field in ("due_at", "run_at", "created_at", "updated_at", "lease_until", "sent_at"):
                _require_aware(field, getattr(self, field))
        if (self.body is not None) + (self.template is not None) + (self.content is not None) != 1:
            raise ValueError("a message has one of a body, a template or a content")

    def evolve(self, **changes: Any) -> ScheduledMessage:
        return dataclasses.replace(self, **changes)

    def log_context(self) -> dict[str, Any]:
        """Fields for `logger.info(..., extra=message.log_context())`; no message text."""
        return {
            "message_id": self.id,
            "status": str(self.status),
            "attempts": self.attempts,
            "due_at": self.due_at.isoformat(),
        }

    def transitions(self) -> dict[str, datetime | None]:
        """When the message entered each status (the latest time, for repeated ones)."""
        return {
            MessageStatus.QUEUED: self.created_at,
            MessageStatus.SENDING: self.claimed_at,
            MessageStatus.SENT: self.sent_at,
            MessageStatus.DELIVERED: self.delivered_at,
            MessageStatus.READ: self.read_at,
            MessageStatus.FAILED: self.failed_at,
            MessageStatus.CANCELLED: self.cancelled_at,
        }


class AttemptOutcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # failed for now, queued again
    FAILED = "failed"  # failed for good
    AMBIGUOUS = "ambiguous"  # may have reached Meta: timeout, lost lease
    DEFERRED = "deferred"  # held back before sending (paused account), not counted
    EXPIRED = "expired"  # too late to send (MAX_LATENESS)


class SentAs(enum.StrEnum):
    """What an attempt asked Meta to deliver."""

    TEXT = "text"  # the message's own text (`mesaj`)
    TEMPLATE = "template"  # the message's own template
    FALLBACK_TEMPLATE = "fallback_template"  # its fallback template: the 24-hour window was closed


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One try at sending a message, as recorded in the attempts table."""

    message_id: str
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: AttemptOutcome
    error_code: int | None = None
    error_text: str | None = None
    http_status: int | None = None
    worker: str | None = None
    sent_as: SentAs | None = None  # None: nothing asked of Meta, or unknown (before 0009, reaped)
    # What Meta bills the send as, at send time (the catalogue may have re-categorised the
    # template since it was scheduled): SERVICE for a text; None: unknown (before 0020).
    category: str | None = None
