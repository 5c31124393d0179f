"""The `messages` row codec: a row as the domain's `ScheduledMessage` and back.

The seed's column names `tarih` and `saat` are read into `local_date` and `local_time`
(`tables.MESSAGE_FIELDS`); the status is text in the table and a `MessageStatus` above it.
"""

from __future__ import annotations

from typing import Any

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import tables

M = tables.messages


def message_from_row(row: Any) -> messages.ScheduledMessage:
    data = dict(row._mapping)
    data["status"] = messages.MessageStatus(data["status"])
    data["local_date"] = data.pop("tarih")
    data["local_time"] = data.pop("saat")
    return messages.ScheduledMessage(**data)


def message_to_row(message: messages.ScheduledMessage) -> dict[str, Any]:
    return {
        column.name: getattr(message, tables.message_field(column.name)) for column in M.columns
    } | {
        "status": str(message.status),
        "template": dict(message.template) if message.template is not None else None,
    }
