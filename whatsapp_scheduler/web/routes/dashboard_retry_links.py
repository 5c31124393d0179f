"""Retries' ids and links (dashboard_retry): `<original>:retry<n>`, and what the message
page shows of them. Apart from the routes so the message page (dashboard_pages) can read them
without importing the routes that fill in its compose form."""

from __future__ import annotations

import hashlib
from typing import Any

from whatsapp_scheduler import service
from whatsapp_scheduler.core import errors, messages

#: The mark between an original's id and its retry's number.
RETRY_MARK = ":retry"
#: Retries one message may have (each a new message); the form says when there is no more.
MAX_RETRIES = 20
#: Meta's code for a text outside the recipient's 24-hour window (re-engagement).
WINDOW_CLOSED = 131047
MAX_ID = 128


def retry_id(original: str, n: int) -> str:
    """The id of the `n`-th retry of `original` (a long id: a digest of it, so it fits)."""
    candidate = f"{original}{RETRY_MARK}{n}"
    if len(candidate) <= MAX_ID:
        return candidate
    return f"retry-{hashlib.sha256(original.encode()).hexdigest()[:32]}{RETRY_MARK}{n}"


def retry_of(message_id: str) -> str | None:
    """The original's id of a retry (None: not a retry, or one of a long id's digest)."""
    base, mark, number = message_id.rpartition(RETRY_MARK)
    if not mark or not base or not number.isdigit() or base.startswith("retry-"):
        return None
    return base


async def retries_of(
    svc: service.SchedulerService, m: messages.ScheduledMessage
) -> list[messages.ScheduledMessage]:
    """The retries made of `m` (same recipient and sender), first to last."""
    found = await svc.get_many([retry_id(m.id, n) for n in range(1, MAX_RETRIES + 1)])
    mine = [r for r in found if r.recipient == m.recipient and r.sender == m.sender]
    return sorted(mine, key=lambda r: _number(r.id))


def _number(message_id: str) -> int:
    tail = message_id.rpartition(RETRY_MARK)[2]
    return int(tail) if tail.isdigit() else 0


async def next_number(svc: service.SchedulerService, m: messages.ScheduledMessage) -> int | None:
    """The first free retry number of `m` (None: MAX_RETRIES used)."""
    ids = [retry_id(m.id, n) for n in range(1, MAX_RETRIES + 1)]
    taken = {r.id for r in await svc.get_many(ids)}
    return next((n for n, i in enumerate(ids, start=1) if i not in taken), None)


def retryable(m: messages.ScheduledMessage) -> bool:
    return m.status == messages.MessageStatus.FAILED


def as_template_offered(m: messages.ScheduledMessage) -> bool:
    """A failed text whose last error is 131047 (window closed): a template can reach it."""
    return retryable(m) and m.last_error_code == WINDOW_CLOSED


async def page_links(
    svc: service.SchedulerService, m: messages.ScheduledMessage, senders: frozenset[str] | None
) -> dict[str, Any]:
    """For the message page: the original it retries (if visible) and its own retries."""
    original = None
    base = retry_of(m.id)
    if base is not None:
        try:
            found = await svc.get(base, senders)
        except (errors.NotFound, errors.UnreadableRow):
            found = None
        if found is not None and found.recipient == m.recipient and found.sender == m.sender:
            original = found
    return {
        "retry_of": original,
        "retries": await retries_of(svc, m),
        "retryable": retryable(m),
        "as_template_offered": as_template_offered(m),
    }
