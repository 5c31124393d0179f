"""What a dispatcher's outcome changes in its message: the one rule, shared by the SQL store
(`changes.outcome_values`) and the in-memory test double (`testing`). Pure, no SQL."""

from __future__ import annotations

from typing import Any

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import Outcome

Status = messages.MessageStatus

#: The fields an outcome may end in (the dispatcher never reports delivered or read; it
#: cancels a claimed message whose recipient opted out since: docs/consent.md).
OUTCOME_STATUSES = frozenset({Status.QUEUED, Status.SENT, Status.FAILED, Status.CANCELLED})


def outcome_changes(outcome: Outcome) -> dict[str, Any]:
    """The `ScheduledMessage` fields `outcome` sets. `attempts` is present (as None) when the
    outcome counts an attempt: the caller sets the new count, which it reads in its own
    transaction. An EXPIRED attempt, or one with `counts_attempt=False`, is written but not
    counted."""
    at = outcome.finished_at
    values: dict[str, Any] = {
        "status": outcome.status,
        "updated_at": at,
        "claimed_by": None,
        "lease_until": None,
    }
    counted = outcome.counts_attempt and outcome.attempt != messages.AttemptOutcome.EXPIRED
    if outcome.attempt is not None and counted:
        values["attempts"] = None
    if outcome.error_code is not None or outcome.error_text is not None:
        values["last_error_code"] = outcome.error_code
        values["last_error_text"] = outcome.error_text
    if outcome.status == Status.QUEUED:
        values["run_at"] = outcome.run_at or at
    elif outcome.status == Status.SENT:
        values.update(sent_at=at, wamid=outcome.wamid, wa_id=outcome.wa_id)
    elif outcome.status == Status.FAILED:
        values["failed_at"] = at
    elif outcome.status == Status.CANCELLED:
        values["cancelled_at"] = at
    if outcome.reason is not None:
        values["status_reason"] = outcome.reason
    elif outcome.attempt is not None or outcome.status != Status.QUEUED:
        # A request was made (or it is done): a deferral's reason is over. A plain deferral
        # (pair gap, pause) keeps it: quiet hours' lateness counts from their end.
        values["status_reason"] = None
    return values
