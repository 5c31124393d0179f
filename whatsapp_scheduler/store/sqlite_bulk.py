"""SQLite's fast paths for many rows at once, used by `sql.SqlMessageStore`.

- Inserts are multi-row `INSERT ... VALUES (...), (...)` statements of bound values (a batch of
  1,000 messages is one statement). The driver's executemany takes the GIL back for every row,
  and while the event loop's thread is busy that wait is up to the interpreter's switch
  interval per row (bench/RESULTS.md: 1.4 ms a row instead of 34 µs).
- Lookups of many keys take the keys as one JSON array: no SQL compiled per call for an IN list
  of hundreds of bound parameters.
- Values are written as SQLAlchemy's SQLite types store them (naive UTC text with microseconds
  for times, JSON text, the status string), so rows read back through SQLAlchemy unchanged.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import rows, tables

M = tables.messages

COLUMNS = [column.name for column in M.columns]
_GETTERS: list[Callable[[messages.ScheduledMessage], Any]] = [
    rows.media_id if name == "media_id" else operator.attrgetter(tables.message_field(name))
    for name in COLUMNS
]
_TIMES = {i for i, c in enumerate(M.columns) if isinstance(c.type, tables.UtcDateTime)}
_JSON = {i for i, c in enumerate(M.columns) if isinstance(c.type, sa.JSON)}
_STATUS = COLUMNS.index("status")

#: Which of these ids exist: one parameter, a JSON array of ids.
PRESENT_IDS = "SELECT id FROM messages WHERE id IN (SELECT value FROM json_each(?))"
#: Each known contact's last inbound time: `:wa_ids`, a JSON array of WhatsApp ids. Typed
#: columns: `last_inbound_at` comes back through `tables.UtcDateTime`, aware.
LAST_INBOUND = sa.text(
    "SELECT phone_number_id, wa_id, last_inbound_at FROM contacts "
    "WHERE phone_number_id IN (SELECT value FROM json_each(:numbers)) "
    "AND wa_id IN (SELECT value FROM json_each(:wa_ids))"
).columns(
    tables.contacts.c.phone_number_id, tables.contacts.c.wa_id, tables.contacts.c.last_inbound_at
)

#: Bound values per multi-row INSERT: SQLite's default limit since 3.32 is 32,766 (a batch of
#: 1,000 messages is one statement); older builds allow 999 (the store reads the limit).
MAX_VALUES = 32_766


@functools.lru_cache(maxsize=64)
def multirow_insert(columns: tuple[int, ...], rows: int) -> str:
    """INSERT OR IGNORE of `rows` rows at once; `columns` are the indexes into `COLUMNS` that
    are bound (the rest keep their defaults)."""
    names = ", ".join(COLUMNS[i] for i in columns)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return f"INSERT OR IGNORE INTO messages ({names}) VALUES " + ", ".join([one] * rows)


def columns_of(batch: Sequence[messages.ScheduledMessage]) -> list[list[Any]]:
    """The batch column by column (in `COLUMNS` order), as stored. Built a column at a time
    with C-level `map`; times go through a cache, as messages share due times."""
    columns = []
    for index, getter in enumerate(_GETTERS):
        values: list[Any] = list(map(getter, batch))
        if values.count(None) < len(values):
            if index in _TIMES:
                values = [None if v is None else stored_time(v) for v in values]
            elif index in _JSON:
                values = [None if v is None else json.dumps(dict(v)) for v in values]
            elif index == _STATUS:
                values = list(map(str, values))
        columns.append(values)
    return columns


@functools.lru_cache(maxsize=16384)
def stored_time(value: datetime) -> str:
    """Cached: aware datetimes are equal only when they are the same instant, which is all the
    text depends on."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
