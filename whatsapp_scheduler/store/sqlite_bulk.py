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
import itertools
import json
import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from whatsapp_scheduler.core import campaigns, messages
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
_ID = COLUMNS.index("id")

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
    return [_as_stored(index, list(map(getter, batch))) for index, getter in enumerate(_GETTERS)]


def _as_stored(index: int, values: list[Any]) -> list[Any]:
    """The values of column `index` (of `COLUMNS`) as stored."""
    if values.count(None) < len(values):
        if index in _TIMES:
            values = [None if v is None else stored_time(v) for v in values]
        elif index in _JSON:
            values = [None if v is None else json.dumps(dict(v)) for v in values]
        elif index == _STATUS:
            values = list(map(str, values))
    return values


def columns_of_rows(rows: campaigns.Rows) -> list[list[Any]]:
    """`columns_of(rows.built())` without the messages: the varying fields' values converted
    a column at a time, every other column `rows.like`'s value repeated (the first row's own
    where it differs)."""
    count = len(rows)
    first, like = columns_of([rows.first]), columns_of([rows.like])
    columns = []
    for index, name in enumerate(COLUMNS):
        given = rows.varying.get(tables.message_field(name))
        if given is not None:
            columns.append(_as_stored(index, list(given)))
        elif first[index][0] == like[index][0]:
            columns.append(like[index] * count)
        else:
            columns.append(first[index] + like[index] * (count - 1))
    return columns


@functools.lru_cache(maxsize=16384)
def stored_time(value: datetime) -> str:
    """Cached: aware datetimes are equal only when they are the same instant, which is all the
    text depends on."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


# -- the dispatcher's outcomes (`sql.SqlMessageStore._record_chunk`) ----------------------------
# The driver gives up the GIL and takes it back for every row it steps: every row of an
# executemany, and every row of a result it fetches. While the event loop's thread is busy,
# each take waits (see the module's docstring). 500 rows written by executemany beside a busy
# thread took ~20x as long as one statement over a JSON array, and 500 rows fetched ~20x as
# long as the same rows as one JSON text (`bench/bench_gil_statements.py`, its figures beside
# the soak in bench/RESULTS.md).


def rows_at_once(conn: Any, columns: str, rest: str, parameters: tuple[Any, ...]) -> list[Any]:
    """`SELECT columns rest` as lists of values, read in one step: SQLite puts the rows into
    one JSON text (`json_group_array`), in the order the query gives them. A value that JSON
    cannot hold (a BLOB written into the file by hand) makes that fail: the rows are then read
    one by one, as they are."""
    query = f"SELECT {columns} {rest}"
    aggregate = f"SELECT json_group_array(json_array({columns})) FROM ({query})"
    try:
        text = conn.exec_driver_sql(aggregate, parameters).scalar()
    except sa.exc.OperationalError:
        return [list(row) for row in conn.exec_driver_sql(query, parameters)]
    return json.loads(text) if text else []


#: The claims of a chunk of outcomes (`rows_at_once`), by id alone (the status is checked in
#: Python: given a status condition too, the planner searched a status index, tests/
#: integration/test_query_plans.py): one parameter, a JSON array of ids.
CLAIM_COLUMNS = "id, attempts, claimed_by, status, sender, campaign_id"
CLAIMS_WHERE = "FROM messages WHERE id IN (SELECT value FROM json_each(?))"
#: The attempts table's columns that `changes.attempt_row` fills, in its order.
ATTEMPT_COLUMNS = (
    "message_id", "number", "started_at", "finished_at", "outcome", "error_code", "error_text",
    "http_status", "worker", "sent_as", "category",
)  # fmt: skip


def stored(value: Any) -> Any:
    """A value as SQLAlchemy's SQLite types store it (times as naive UTC text)."""
    return stored_time(value) if isinstance(value, datetime) else value


@functools.lru_cache(maxsize=64)
def outcome_update(keys: tuple[str, ...]) -> str:
    """One UPDATE of the columns in `keys` (those not starting with `_`) for many messages,
    each only while still claimed by its worker in the status read: the parameter is a JSON
    array of `[id, worker, expected status, *values]` (`outcome_rows`)."""
    columns = [k for k in keys if not k.startswith("_")]
    names = ["_id", "_worker", "_expected", *columns]
    select = ", ".join(f"value ->> {i} AS {name}" for i, name in enumerate(names))
    sets = ", ".join(f"{c} = j.{c}" for c in columns)
    return (
        f"UPDATE messages SET {sets} FROM (SELECT {select} FROM json_each(?)) AS j "
        "WHERE messages.id = j._id AND messages.claimed_by = j._worker "
        "AND messages.status = j._expected"
    )


def outcome_rows(keys: tuple[str, ...], params: Sequence[dict[str, Any]]) -> str:
    """The parameter of `outcome_update(keys)` for these rows of values."""
    columns = [k for k in keys if not k.startswith("_")]
    return json.dumps(
        [[p["_id"], p["_worker"], p["_expected"], *(stored(p[c]) for c in columns)] for p in params]
    )


def insert_rows(
    conn: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], max_values: int
) -> None:
    """Multi-row INSERTs of `rows` (values as stored) into `table`, as few as the limit of
    bound values allows."""
    width = len(columns)
    per_statement = max(1, max_values // width)
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * len(part)),
            tuple(value for row in part for value in row),
        )


#: Rows per slice of a campaign's insert (`shared_inserts`): its columns are put together one
#: slice at a time (a column shared in one slice may differ in the next).
SLICE_ROWS = 4000


def shared_inserts(
    batch: Sequence[messages.ScheduledMessage], max_values: int
) -> list[tuple[str, tuple[Any, ...]]]:
    """`batch` (a campaign's messages: most columns the same in every row) as INSERT OR IGNORE
    statements that bind each column the same in every row once, and per row only the others:
    `INSERT ... SELECT column1, ..., ?, ... FROM (VALUES (...), ...)`. A column None in every
    row is left to its default (as `multirow_insert`); the id is always bound per row."""
    return shared_statements(columns_of(batch), max_values)


def shared_statements(
    columns: Sequence[Sequence[Any]], max_values: int
) -> list[tuple[str, tuple[Any, ...]]]:
    """`shared_inserts` of rows given as their columns (`COLUMNS` order, values as stored)."""
    count = len(columns[_ID])
    varying: list[int] = []
    shared: list[int] = []
    values: list[Any] = []
    for index, column in enumerate(columns):
        first = column[0]
        if first is None and column.count(None) == len(column):
            continue
        if index != _ID and column.count(first) == len(column):
            shared.append(index)
            values.append(first)
        else:
            varying.append(index)
    per_statement = max(1, (max_values - len(shared)) // len(varying))
    statements = []
    for start in range(0, count, per_statement):
        chunk = [columns[i][start : start + per_statement] for i in varying]
        rows_ = len(chunk[0])
        bound = tuple(values) + tuple(itertools.chain.from_iterable(zip(*chunk, strict=True)))
        statements.append((shared_insert(tuple(varying), tuple(shared), rows_), bound))
    return statements


@functools.lru_cache(maxsize=64)
def shared_insert(varying: tuple[int, ...], shared: tuple[int, ...], rows: int) -> str:
    """INSERT OR IGNORE of `rows` rows: the `varying` columns (indexes into `COLUMNS`) bound
    per row in a VALUES list, the `shared` ones bound once (their `?` come first: SQLite
    numbers parameters in the order they appear)."""
    names = ", ".join(COLUMNS[i] for i in varying + shared)
    picks = ", ".join([f"column{n + 1}" for n in range(len(varying))] + ["?"] * len(shared))
    one = "(" + ", ".join("?" * len(varying)) + ")"
    return (
        f"INSERT OR IGNORE INTO messages ({names}) SELECT {picks} FROM (VALUES "
        + ", ".join([one] * rows)
        + ")"
    )
