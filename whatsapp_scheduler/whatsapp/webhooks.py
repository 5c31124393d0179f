"""Meta's webhooks, read: signature check and payload parsing. Pure (no I/O, no clock).

See docs/meta-cloud-api.md, "Webhooks": `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw
body, app secret)>`; `entry[].changes[].value` carries `statuses[]` (our messages' receipts)
and `messages[]` (inbound messages, which open the 24-hour window).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from whatsapp_scheduler.core import messages

_STATUS = {
    "sent": messages.MessageStatus.SENT,
    "delivered": messages.MessageStatus.DELIVERED,
    "read": messages.MessageStatus.READ,
    "failed": messages.MessageStatus.FAILED,
}


@dataclasses.dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One `statuses[]` entry: what happened to a message we sent."""

    wamid: str
    status: messages.MessageStatus
    timestamp: datetime
    recipient_id: str | None = None
    callback_data: str | None = None  # our message id, echoed from biz_opaque_callback_data
    error_code: int | None = None
    error_text: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class InboundMessage:
    """One `messages[]` entry: a user wrote to the business."""

    message_id: str
    wa_id: str
    timestamp: datetime
    type: str
    text: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """Everything one webhook POST carried that we act on."""

    statuses: list[StatusUpdate]
    inbound: list[InboundMessage]


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether `header` is `sha256=` + the HMAC-SHA256 of the raw `body` (constant time)."""
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256=") :].strip().lower(), expected)


def sign(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value for `body` (used by the sandbox and tests)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def parse(payload: Any) -> Delivery:
    """Read a webhook body. Unknown fields and entries are skipped, never an error."""
    statuses: list[StatusUpdate] = []
    inbound: list[InboundMessage] = []
    for value in _values(payload):
        for raw in _list(value.get("statuses")):
            update = _status(raw)
            if update is not None:
                statuses.append(update)
        for raw in _list(value.get("messages")):
            message = _inbound(raw)
            if message is not None:
                inbound.append(message)
    return Delivery(statuses=statuses, inbound=inbound)


def _values(payload: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(payload, Mapping):
        raise ValueError("webhook body is not a JSON object")
    for entry in _list(payload.get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, Mapping) else None):
            if isinstance(change, Mapping) and isinstance(change.get("value"), Mapping):
                yield change["value"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _timestamp(raw: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _status(raw: Any) -> StatusUpdate | None:
    if not isinstance(raw, Mapping):
        return None
    status = _STATUS.get(str(raw.get("status")))
    wamid = raw.get("id")
    when = _timestamp(raw.get("timestamp"))
    if status is None or not isinstance(wamid, str) or when is None:
        return None  # e.g. "played" (voice messages), which we never send
    code, text = None, None
    errors_list = _list(raw.get("errors"))
    if errors_list and isinstance(errors_list[0], Mapping):
        first = errors_list[0]
        code = first.get("code") if isinstance(first.get("code"), int) else None
        details = first.get("error_data", {})
        detail = details.get("details") if isinstance(details, Mapping) else None
        text = str(first.get("title") or first.get("message") or detail or "")[:1000] or None
    callback = raw.get("biz_opaque_callback_data")
    return StatusUpdate(
        wamid=wamid[:128],
        status=status,
        timestamp=when,
        recipient_id=str(raw["recipient_id"])[:32] if raw.get("recipient_id") else None,
        callback_data=callback[:128] if isinstance(callback, str) else None,
        error_code=code,
        error_text=text,
    )


def _inbound(raw: Any) -> InboundMessage | None:
    if not isinstance(raw, Mapping):
        return None
    when = _timestamp(raw.get("timestamp"))
    sender, message_id = raw.get("from"), raw.get("id")
    if when is None or not isinstance(sender, str) or not isinstance(message_id, str):
        return None
    text = raw.get("text", {}).get("body") if isinstance(raw.get("text"), Mapping) else None
    return InboundMessage(
        message_id=message_id[:128],
        wa_id=sender[:32],
        timestamp=when,
        type=str(raw.get("type", "unknown"))[:32],
        text=text if isinstance(text, str) else None,
    )
