"""Keyset-paging cursors: an opaque, URL-safe token for "after (due_at, id)".

Shared by every `MessageStore` (SQL and the in-memory test double), so a cursor one gave out
means the same to all. A cursor that this server did not make is a `ValidationFailed` on
`cursor`, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from whatsapp_scheduler.core import errors


def encode_cursor(due_at: datetime, message_id: str) -> str:
    raw = json.dumps([due_at.isoformat(), message_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: The longest message id a cursor can hold (ids are 1-128 characters).
MAX_ID = 128


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (due time in UTC, id) a cursor points after; a `ValidationFailed` on `cursor` for
    anything this server could not have given out, checked before any query sees it: a forged
    pair reached the database (PostgreSQL refused a NUL: 503; SQLite a lone surrogate: 500)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        due, message_id = json.loads(base64.urlsafe_b64decode(padded))
        parsed = datetime.fromisoformat(due)
        if parsed.tzinfo is None or not isinstance(message_id, str):
            raise ValueError("bad cursor")
        parsed = parsed.astimezone(UTC)  # OverflowError at the calendar's ends
        if not 0 < len(message_id) <= MAX_ID or "\x00" in message_id:
            raise ValueError("bad cursor")
        message_id.encode()  # UnicodeEncodeError (a ValueError) on a lone surrogate
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise errors.ValidationFailed("cursor", "is not a cursor this server gave out") from exc
    return parsed, message_id
