"""Keyset-paging cursors: an opaque, URL-safe token for "after (due_at, id)".

Shared by every `MessageStore` (SQL and the in-memory test double), so a cursor one gave out
means the same to all. A cursor that this server did not make is a `ValidationFailed` on
`cursor`, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from whatsapp_scheduler.core import errors


def encode_cursor(due_at: datetime, message_id: str) -> str:
    raw = json.dumps([due_at.isoformat(), message_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        due, message_id = json.loads(base64.urlsafe_b64decode(padded))
        parsed = datetime.fromisoformat(due)
        if parsed.tzinfo is None or not isinstance(message_id, str):
            raise ValueError("bad cursor")
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise errors.ValidationFailed("cursor", "is not a cursor this server gave out") from exc
    return parsed, message_id
