"""The `messages` row codec: a row as the domain's `ScheduledMessage` and back.

The seed's column names `tarih` and `saat` are read into `local_date` and `local_time`
(`tables.MESSAGE_FIELDS`); the status is text in the table and a `MessageStatus` above it.
"""

from __future__ import annotations

import functools
from typing import Any

from whatsapp_scheduler.core import errors, media, messages
from whatsapp_scheduler.store import tables

M = tables.messages
_STATUSES = frozenset(str(s) for s in messages.MessageStatus)
#: Columns whose Python type the code relies on and that SQLite does not enforce (it keeps any
#: text in an INTEGER column): checked on the way out, as the lenient types check theirs.
_INTEGERS = ("attempts", "last_error_code")


def message_from_row(row: Any) -> messages.ScheduledMessage:
    """The message of a `messages` row; `errors.UnreadableRow` naming the first column whose
    stored value cannot be read (`tables.Unreadable`, a status that is none, an integer
    column holding text, a text message given a template or none of either)."""
    # The row's values zipped with its field names, not `dict(row._mapping)`: the claim reads
    # every message through here, and the mapping view costs more than the dataclass itself.
    data = dict(zip(_fields_of(row._fields), row, strict=True))
    column = unreadable_column(data)
    if column is not None:
        raise errors.UnreadableRow(str(data.get("id")), _COLUMN_OF.get(column, column))
    data["status"] = messages.MessageStatus(data["status"])
    data.pop("media_id", None)  # derived from the content (`message_to_row`), not a field
    return messages.ScheduledMessage(**data)


def unreadable_column(data: dict[str, Any]) -> str | None:
    """The first column of a `messages` row (as a mapping) that cannot be read, or None."""
    for name, value in data.items():
        if type(value) is tables.Unreadable:
            return name
    if data.get("status") not in _STATUSES:
        return "status"
    for name in _INTEGERS:
        value = data.get(name)
        if value is not None and type(value) is not int:
            return name
    body, template, content = data.get("body"), data.get("template"), data.get("content")
    given = (body is not None) + (template is not None) + (content is not None)
    if given != 1:  # a message has one of them
        return "template" if template is not None else ("content" if content else "body")
    if content is not None and not (
        isinstance(content, dict)
        and isinstance(content.get("type"), str)
        and content["type"] in content
    ):
        return "content"
    return None


@functools.lru_cache(maxsize=64)
def _fields_of(columns: tuple[str, ...]) -> tuple[str, ...]:
    """`ScheduledMessage` field names of a row's columns (`tarih` -> `local_date` ...)."""
    return tuple(tables.message_field(name) for name in columns)


#: Field name -> stored column name, where they differ (for the column an error names).
_COLUMN_OF = {"local_date": "tarih", "local_time": "saat"}


#: Columns written from something else than the message's field of that name.
_DERIVED = frozenset({"media_id"})


def message_to_row(message: messages.ScheduledMessage) -> dict[str, Any]:
    return {
        column.name: getattr(message, tables.message_field(column.name))
        for column in M.columns
        if column.name not in _DERIVED
    } | {
        "status": str(message.status),
        "template": dict(message.template) if message.template is not None else None,
        "content": dict(message.content) if message.content is not None else None,
        "media_id": media_id(message),
    }


def media_id(message: messages.ScheduledMessage) -> str | None:
    """The uploaded file of ours the message sends (`messages.media_id`), or None."""
    if message.content is None and message.template is None:
        return None
    return media.referenced_id(message.content, message.template)
