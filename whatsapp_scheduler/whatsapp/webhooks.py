"""Meta's webhooks, read: signature check and payload parsing. Pure (no I/O, no clock).

See docs/meta-cloud-api.md, "Webhooks": `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw
body, app secret)>`; `entry[].changes[].value` carries `statuses[]` (our messages' receipts)
and `messages[]` (inbound messages, which open the 24-hour window).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from whatsapp_scheduler.core import messages

_STATUS = {
    "sent": messages.MessageStatus.SENT,
    "delivered": messages.MessageStatus.DELIVERED,
    "read": messages.MessageStatus.READ,
    "failed": messages.MessageStatus.FAILED,
}
#: Inbound `type`s that the user did not send (so they open no 24-hour window).
NOT_FROM_THE_USER = frozenset({"system"})
#: The earliest plausible webhook time: WhatsApp itself dates from 2009.
EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)
#: How far after its arrival an event may be dated (Meta's clock and ours differ a little).
MAX_SKEW = timedelta(minutes=5)
#: Characters of a skipped entry kept in the log line that reports it.
EXCERPT_CHARS = 2000
#: Error codes beyond a 32-bit integer are not Meta's (and would not fit the column).
MAX_ERROR_CODE = 2**31 - 1


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
    note: str | None = None  # the timestamp was implausible and replaced (see `_when`)
    phone_number_id: str | None = None  # the business number that sent it (value.metadata)


@dataclasses.dataclass(frozen=True, slots=True)
class InboundMessage:
    """One `messages[]` entry: a user wrote to the business."""

    message_id: str
    wa_id: str
    timestamp: datetime
    type: str
    text: str | None = None
    note: str | None = None  # the timestamp was implausible and replaced (see `_when`)
    #: The business number written to (`value.metadata.phone_number_id`; None: not given): the
    #: 24-hour window it opens is with that number only.
    phone_number_id: str | None = None

    @property
    def opens_window(self) -> bool:
        """Whether the user sent it: a `system` message (e.g. `user_changed_number`) is Meta's
        notice about the user, not something they wrote, so it opens no 24-hour window."""
        return self.type not in NOT_FROM_THE_USER


@dataclasses.dataclass(frozen=True, slots=True)
class PreferenceChange:
    """One `user_preferences[]` entry (docs/consent.md): the user stopped (`stop`) or resumed
    marketing messages from the business in WhatsApp itself."""

    wa_id: str
    stop: bool  # True: "stop", False: "resume"
    timestamp: datetime
    detail: str | None = None
    phone_number_id: str | None = None


#: `user_preferences[].category` values acted on, and their `value`s (True: stop).
PREFERENCE_CATEGORIES = frozenset({"marketing_messages"})
PREFERENCE_VALUES = {"stop": True, "resume": False}


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    """An entry that could not be applied: why, and the entry itself (cut to EXCERPT_CHARS)."""

    kind: str  # "status" or "message"
    reason: str
    excerpt: str


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """Everything one webhook POST carried that we act on, and what could not be applied."""

    statuses: list[StatusUpdate]
    inbound: list[InboundMessage]
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    preferences: list[PreferenceChange] = dataclasses.field(default_factory=list)


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether `header` is `sha256=` + the HMAC-SHA256 of the raw `body` (constant time)."""
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256=") :].strip().lower(), expected)


def sign(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value for `body` (used by the sandbox and tests)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def parse(payload: Any, now: datetime) -> Delivery:
    """Read a webhook body received at `now`. Unknown fields and statuses we never send
    ("played") are passed over; an entry we would act on but cannot (no id, a timestamp that is
    not a Unix time, an id or sender that is not storable text) is `skipped`, with the reason,
    never an error for the whole body: Meta would retry the whole delivery. A timestamp before
    EARLIEST or later than `now` + MAX_SKEW is replaced by `now` (the entry's `note` says so)."""
    statuses: list[StatusUpdate] = []
    inbound: list[InboundMessage] = []
    skipped: list[Skipped] = []
    preferences: list[PreferenceChange] = []
    for value in _values(payload):
        number = _number(value)
        for raw in _list(value.get("statuses")):
            update = _status(raw, now, number)
            if isinstance(update, StatusUpdate):
                statuses.append(update)
            elif update is not None:
                skipped.append(Skipped("status", update, _excerpt(raw)))
        for raw in _list(value.get("messages")):
            message = _inbound(raw, now, number)
            if isinstance(message, InboundMessage):
                inbound.append(message)
            else:
                skipped.append(Skipped("message", message, _excerpt(raw)))
        for raw in _list(value.get("user_preferences")):
            preference = _preference(raw, now, number)
            if isinstance(preference, PreferenceChange):
                preferences.append(preference)
            elif preference is not None:
                skipped.append(Skipped("user_preference", preference, _excerpt(raw)))
    return Delivery(statuses=statuses, inbound=inbound, skipped=skipped, preferences=preferences)


def _values(payload: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(payload, Mapping):
        raise ValueError("webhook body is not a JSON object")
    for entry in _list(payload.get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, Mapping) else None):
            if isinstance(change, Mapping) and isinstance(change.get("value"), Mapping):
                yield change["value"]


def _number(value: Mapping[str, Any]) -> str | None:
    """The business number of a change (`value.metadata.phone_number_id`), if it is one of
    Meta's ids (decimal digits); else None (the default sender's number is assumed)."""
    metadata = value.get("metadata")
    found = metadata.get("phone_number_id") if isinstance(metadata, Mapping) else None
    if isinstance(found, str) and found.isascii() and found.isdigit() and len(found) <= 32:
        return found
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _excerpt(raw: Any) -> str:
    """The entry as ASCII JSON (lone surrogates escaped), cut to EXCERPT_CHARS."""
    try:
        text = json.dumps(raw, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = "<not printable: nested too deep>"
    return text[:EXCERPT_CHARS]


def _storable(value: Any, limit: int) -> str | None:
    """`value` cut to `limit` if it is text a database keeps (no NUL, no lone surrogate)."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return None
    text: str = value[:limit]
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return None
    return text


def _printable(value: str, limit: int) -> str | None:
    """Free text (an error's title) made storable: NUL dropped, lone surrogates replaced."""
    value = value.replace("\x00", "")[:limit]
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") or None


def _when(raw: Any, now: datetime) -> tuple[datetime | None, str | None]:
    """(the event's time, a note when it was replaced by `now`); (None, None): not a time."""
    try:
        when = datetime.fromtimestamp(int(raw), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None, None
    if when < EARLIEST or when > now + MAX_SKEW:
        return now, f"timestamp {when.isoformat()} is implausible; taken as received"
    return when, None


def _status(raw: Any, now: datetime, number: str | None = None) -> StatusUpdate | str | None:
    """The update; or why it cannot be applied; or None for what we never act on."""
    if not isinstance(raw, Mapping):
        return "not an object"
    status = _STATUS.get(str(raw.get("status")))
    if status is None:
        return None  # e.g. "played" (voice messages), which we never send
    wamid = _storable(raw.get("id"), 128)
    if wamid is None:
        return "id: missing, or not storable text"
    when, note = _when(raw.get("timestamp"), now)
    if when is None:
        return "timestamp: not a Unix time"
    code, text = None, None
    errors_list = _list(raw.get("errors"))
    if errors_list and isinstance(errors_list[0], Mapping):
        first = errors_list[0]
        value = first.get("code")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ERROR_CODE:
            code = value
        details = first.get("error_data")
        detail = details.get("details") if isinstance(details, Mapping) else None
        texts = [t for t in (first.get("title"), first.get("message"), detail) if t]
        text = next((_printable(t, 1000) for t in texts if isinstance(t, str)), None)
    recipient = raw.get("recipient_id")
    return StatusUpdate(
        wamid=wamid,
        status=status,
        timestamp=when,
        recipient_id=_storable(recipient, 32),
        callback_data=_storable(raw.get("biz_opaque_callback_data"), 128),
        error_code=code,
        error_text=text,
        note=note,
        phone_number_id=number,
    )


def _preference(raw: Any, now: datetime, number: str | None) -> PreferenceChange | str | None:
    """The preference change; or why it cannot be applied; None for a category we do not act
    on (only marketing messages exist today)."""
    if not isinstance(raw, Mapping):
        return "not an object"
    if raw.get("category") not in PREFERENCE_CATEGORIES:
        return None
    stop = PREFERENCE_VALUES.get(str(raw.get("value")))
    if stop is None:
        return "value: neither stop nor resume"
    wa_id = _storable(raw.get("wa_id"), 32)
    if wa_id is None:
        return "wa_id: missing, or not storable text"
    when, _ = _when(raw.get("timestamp"), now)
    detail = raw.get("detail")
    return PreferenceChange(
        wa_id=wa_id,
        stop=stop,
        timestamp=when or now,
        detail=_printable(detail, 200) if isinstance(detail, str) else None,
        phone_number_id=number,
    )


def _inbound(raw: Any, now: datetime, number: str | None = None) -> InboundMessage | str:
    """The inbound message, or why it cannot be applied."""
    if not isinstance(raw, Mapping):
        return "not an object"
    sender, message_id = _storable(raw.get("from"), 32), _storable(raw.get("id"), 128)
    if sender is None or message_id is None:
        return "from, id: missing, or not storable text"
    when, note = _when(raw.get("timestamp"), now)
    if when is None:
        return "timestamp: not a Unix time"
    body = raw.get("text", {}).get("body") if isinstance(raw.get("text"), Mapping) else None
    kind = raw.get("type")
    return InboundMessage(
        message_id=message_id,
        wa_id=sender,
        timestamp=when,
        type=_printable(kind, 32) or "unknown" if isinstance(kind, str) else "unknown",
        text=_printable(body, 4096) if isinstance(body, str) else None,
        note=note,
        phone_number_id=number,
    )
