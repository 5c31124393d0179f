"""The `messages` row codec: a row as the domain's `ScheduledMessage` and back.

The seed's column names `tarih` and `saat` are read into `local_date` and `local_time`
(`tables.MESSAGE_FIELDS`); the status is text in the table and a `MessageStatus` above it.
"""

from __future__ import annotations

import functools
from typing import Any

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import tables

M = tables.messages


def message_from_row(row: Any) -> messages.ScheduledMessage:
    # The row's values zipped with its field names, not `dict(row._mapping)`: the claim reads
    # every message through here, and the mapping view costs more than the dataclass itself.
    data = dict(zip(_fields_of(row._fields), row, strict=True))
    data["status"] = messages.MessageStatus(data["status"])
    return messages.ScheduledMessage(**data)


@functools.lru_cache(maxsize=64)
def _fields_of(columns: tuple[str, ...]) -> tuple[str, ...]:
    """`ScheduledMessage` field names of a row's columns (`tarih` -> `local_date` ...)."""
    return tuple(tables.message_field(name) for name in columns)


def message_to_row(message: messages.ScheduledMessage) -> dict[str, Any]:
    return {
        column.name: getattr(message, tables.message_field(column.name)) for column in M.columns
    } | {
        "status": str(message.status),
        "template": dict(message.template) if message.template is not None else None,
    }
