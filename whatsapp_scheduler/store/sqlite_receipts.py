"""SQLite's fast path for Meta's status webhooks: a chunk of receipts in a handful of statements.

`changes.apply_receipt` reads and updates one message per receipt: four statements each. On
SQLite every statement gives up the GIL while it steps and must take it back from a busy event
loop (the cost `sqlite_bulk` describes), so at a few thousand statuses a second the store's
thread spent most of its time waiting to run Python again (the soak in bench/RESULTS.md).
Here one chunk costs a fixed number of statements, whatever its size:

1. the (wamid, status) pairs already stored, for the de-duplication;
2. the messages the chunk names, by wamid and by our id (`biz_opaque_callback_data`);
3. then, in Python, the receipts in order against those rows, exactly as `apply_receipt` would
   move them one after another (the same rules: `receipt_sources`, the send proven by our id,
   `messages.receipt_time`);
4. one multi-row INSERT of the new receipts, their message already known;
5. one `UPDATE ... FROM json_each(?)` per "wave": the first applied receipt of each message,
   then the second, and so on, each conditional on the status it moves from, so each message
   passes through the same statuses as before and its triggers (counts, campaign tallies) fire
   once per step as they did.

SQLite has one writer and this runs in its transaction, so what step 2 read is what step 5
updates; a wave that updates fewer rows than it should raises and the chunk rolls back (Meta
retries, and the de-duplication makes that safe). tests/integration/test_sqlite_bulk_writes.py
holds this equal to `apply_receipt`, row for row, on random sequences.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import Receipt, changes, receipt_sources, sqlite_bulk

Status = messages.MessageStatus

_COLUMNS = "id, status, wamid, attempts, sent_at, claimed_at, sender, category, campaign_id"
#: The reads below go through `sqlite_bulk.rows_at_once`: each is one step, not one per row.
_BY_WAMID = "FROM messages WHERE wamid IN (SELECT value FROM json_each(?)) ORDER BY rowid"
_BY_ID = "FROM messages WHERE id IN (SELECT value FROM json_each(?))"
#: The receipts of these wamids (a JSON array); also asked by each outcome write of sends.
STORED_WHERE = "FROM receipts WHERE wamid IN (SELECT value FROM json_each(?))"
_RECEIPT_COLUMNS = (
    "wamid", "status", "message_id", "callback_data", "occurred_at", "received_at", "error_code",
    "error_text",
)  # fmt: skip
#: One wave: each element of the JSON array is
#: [id, from status, to status, updated_at, time, error code, error text, by our id, wamid];
#: the columns set are `changes.receipt_values` (plus the wamid and send time of a send proven
#: by our id), written out in SQL.
_WAVE = """
UPDATE messages SET
  status = j.status,
  updated_at = j.updated_at,
  delivered_at = CASE j.status WHEN 'delivered' THEN j.at
                 WHEN 'read' THEN coalesce(messages.delivered_at, j.at)
                 ELSE messages.delivered_at END,
  read_at = CASE j.status WHEN 'read' THEN j.at ELSE messages.read_at END,
  failed_at = CASE j.status WHEN 'failed' THEN j.at ELSE messages.failed_at END,
  last_error_code = CASE j.status WHEN 'failed' THEN j.code ELSE messages.last_error_code END,
  last_error_text = CASE j.status WHEN 'failed' THEN j.text ELSE messages.last_error_text END,
  wamid = CASE WHEN j.by_id THEN j.wamid ELSE messages.wamid END,
  sent_at = CASE WHEN j.by_id THEN coalesce(messages.sent_at, j.at) ELSE messages.sent_at END
FROM (
  SELECT value ->> 0 AS id, value ->> 1 AS previous, value ->> 2 AS status,
         value ->> 3 AS updated_at, value ->> 4 AS at, value ->> 5 AS code,
         value ->> 6 AS text, value ->> 7 AS by_id, value ->> 8 AS wamid
  FROM json_each(?)
) AS j
WHERE messages.id = j.id AND messages.status = j.previous
"""


@dataclasses.dataclass(slots=True)
class _Row:
    """A message as the chunk has moved it so far."""

    id: str
    status: str
    wamid: str | None
    attempts: int
    sent_at: datetime | None  # None also when the stored text cannot be read
    sent_at_stored: bool  # whether the column holds anything (`coalesce` keeps even garbage)
    claimed_at: datetime | None
    sender: str | None
    category: str | None
    campaign_id: str | None


def _time(value: Any) -> datetime | None:
    """A stored time, aware; None for NULL or text that is not a time (`tables.Unreadable`)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def _row(values: Sequence[Any]) -> _Row:
    id_, status, wamid, attempts, sent_at, claimed_at, sender, category, campaign_id = values
    return _Row(
        id_, status, wamid, attempts if isinstance(attempts, int) else 0, _time(sent_at),
        sent_at is not None, _time(claimed_at), sender, category, campaign_id,
    )  # fmt: skip


class _Chunk:
    """The chunk's messages, indexed as `apply_receipt`'s two reads find them."""

    def __init__(self, conn: Connection, items: Sequence[tuple[Receipt, datetime]]) -> None:
        wamids = json.dumps(sorted({r.wamid for r, _ in items}))
        ids = json.dumps(sorted({r.callback_data for r, _ in items if r.callback_data}))
        stored = sqlite_bulk.rows_at_once(conn, "wamid, status", STORED_WHERE, (wamids,))
        self.stored = {(wamid, status) for wamid, status in stored}
        self.by_id: dict[str, _Row] = {}
        self.by_wamid: dict[str, _Row] = {}
        for values in sqlite_bulk.rows_at_once(conn, _COLUMNS, _BY_WAMID, (wamids,)):
            row = self.by_id.setdefault(values[0], _row(values))
            if row.wamid is not None:
                self.by_wamid.setdefault(row.wamid, row)  # the first, as `.first()` takes it
        for values in sqlite_bulk.rows_at_once(conn, _COLUMNS, _BY_ID, (ids,)):
            self.by_id.setdefault(values[0], _row(values))

    def apply(self, receipt: Receipt) -> tuple[changes.AppliedReceipt, bool]:
        """`changes.apply_receipt` for one receipt, on the rows in memory; and whether the
        send was proven by our id (the wamid and send time are then set too)."""
        sources = receipt_sources(receipt.status)
        found = self.by_wamid.get(receipt.wamid)
        by_id_match = False
        if (found is None or found.status not in sources) and receipt.callback_data:
            by_id = self.by_id.get(receipt.callback_data)
            if by_id is not None and by_id.wamid in (None, receipt.wamid):
                found, by_id_match = by_id, True
                if messages.proves_ambiguous_send(
                    Status(by_id.status), by_id.attempts, receipt.status
                ):
                    sources = [*sources, str(Status.QUEUED)]
        if found is None:
            known = self.by_id.get(receipt.callback_data or "")
            if known is None:
                return changes.AppliedReceipt("unmatched", None, None, receipt), False
            return changes.AppliedReceipt("stale", known.id, None, receipt), False
        if found.status not in sources:
            return changes.AppliedReceipt("stale", found.id, None, receipt), False
        at = messages.receipt_time(receipt.occurred_at, found.sent_at, found.claimed_at)
        if at != receipt.occurred_at:
            receipt = dataclasses.replace(receipt, occurred_at=at)
        applied = changes.AppliedReceipt(
            "applied", found.id, found.status, receipt, found.sender, found.category,
            found.campaign_id,
        )  # fmt: skip
        found.status = str(receipt.status)
        if by_id_match:
            found.wamid = receipt.wamid
            self.by_wamid.setdefault(receipt.wamid, found)
            if not found.sent_at_stored:
                found.sent_at, found.sent_at_stored = at, True
        return applied, by_id_match


def apply(
    conn: Connection, items: Sequence[tuple[Receipt, datetime]], max_values: int
) -> tuple[list[str], list[tuple[changes.AppliedReceipt, datetime]]]:
    """Apply `items` (each receipt with when it was received) in order, in `conn`'s
    transaction: each one's result (applied, duplicate, stale, unmatched), and what was
    applied with its received time (for the status events). `max_values`: SQLite's limit of
    bound values per statement."""
    chunk = _Chunk(conn, items)
    results: list[str] = []
    applied: list[tuple[changes.AppliedReceipt, datetime]] = []
    new_rows: list[tuple[Any, ...]] = []
    waves: list[list[list[Any]]] = []
    steps: dict[str, int] = {}  # per message: how many of its receipts were applied so far
    for receipt, received_at in items:
        key = (receipt.wamid, str(receipt.status))
        if key in chunk.stored:
            results.append("duplicate")
            continue
        chunk.stored.add(key)
        done, by_id = chunk.apply(receipt)
        results.append(done.result)
        new_rows.append((
            receipt.wamid, str(receipt.status), done.message_id, receipt.callback_data,
            sqlite_bulk.stored_time(receipt.occurred_at), sqlite_bulk.stored_time(received_at),
            receipt.error_code, receipt.error_text,
        ))  # fmt: skip
        if done.result != "applied" or done.message_id is None or done.previous is None:
            continue
        applied.append((done, received_at))
        step = steps.get(done.message_id, 0)
        steps[done.message_id] = step + 1
        if step == len(waves):
            waves.append([])
        waves[step].append(
            [
                done.message_id, done.previous, str(done.receipt.status),
                sqlite_bulk.stored_time(received_at),
                sqlite_bulk.stored_time(done.receipt.occurred_at),
                done.receipt.error_code, done.receipt.error_text, int(by_id), done.receipt.wamid,
            ]
        )  # fmt: skip
    sqlite_bulk.insert_rows(conn, "receipts", _RECEIPT_COLUMNS, new_rows, max_values)
    for wave in waves:
        moved = conn.exec_driver_sql(_WAVE, (json.dumps(wave),)).rowcount
        if moved != len(wave):  # impossible with one writer; never half-apply a chunk
            raise RuntimeError(f"receipts: {moved} of {len(wave)} messages moved")
    return results, applied
