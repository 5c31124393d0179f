"""SQLite's bulk writes do exactly what the general (SQLAlchemy, one statement per row) path does:
the same result and, in every table, the same rows (messages, receipts, attempts, status events,
counts, campaign tallies).

- Status webhooks: `store/sqlite_receipts.py` against `changes.apply_receipt` one receipt at a
  time, on random sequences.
- The dispatcher's outcomes: `_record_chunk`'s SQLite statements against its executemany path.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import START, MakeMessage
from whatsapp_scheduler import store
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.core.messages import AttemptOutcome
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.store import changes, migrate, outbox, sql, sqlite_receipts

LEASE = START + timedelta(seconds=60)
STATUSES = [S.SENT, S.DELIVERED, S.READ, S.FAILED]


async def _open(path: Path) -> sql.SqlMessageStore:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return sql.SqlMessageStore.from_url(url, events_enabled=True)


async def _set_up(any_store: store.MessageStore, make_message: MakeMessage) -> list[str]:
    """Messages in every state a receipt can meet; their ids. Wamids: `wamid.<id>`."""
    batch = [make_message(id=f"m{i:02d}", due_at=START, body=f"text {i}") for i in range(12)]
    await any_store.add_many(batch)
    claimed = await any_store.claim_due(START, 9, "w1", LEASE)  # m00..m08 sending
    sent = [store.Outcome(m.id, "w1", S.SENT, START, AttemptOutcome.SENT, wamid=f"wamid.{m.id}")
            for m in claimed[:5]]  # fmt: skip
    ambiguous = store.Outcome(
        claimed[5].id, "w1", S.QUEUED, START, AttemptOutcome.AMBIGUOUS, run_at=LEASE
    )
    await any_store.record([*sent, ambiguous])  # m00..m04 sent, m05 queued after an attempt
    await any_store.cancel(batch[11].id, START)  # m09, m10 queued; m11 cancelled; m06..m08 sending
    return [m.id for m in batch]


def _receipts(rng: random.Random, ids: list[str], count: int) -> list[store.Receipt]:
    wamids = [f"wamid.{i}" for i in ids] + ["wamid.other", "wamid.new1", "wamid.new2"]
    made = []
    for _ in range(count):
        status = rng.choice(STATUSES)
        failed = status == S.FAILED
        made.append(
            store.Receipt(
                wamid=rng.choice(wamids),
                status=status,
                occurred_at=START + timedelta(seconds=rng.uniform(-30, 30)),
                callback_data=rng.choice([None, None, *ids, "nobody"]),
                error_code=131047 if failed else None,
                error_text="Re-engagement message" if failed else None,
            )
        )
    return made


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        # Sorted: a counter's rows may be created in another order (`status_counts`); ids,
        # times and every value must still match.
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}


def _one_by_one(
    target: sql.SqlMessageStore, items: list[tuple[store.Receipt, datetime]]
) -> list[str]:
    with target._tx() as conn:
        results, applied = target._apply_one_by_one(conn, items)
        outbox.insert_events(conn, [changes.receipt_event(a, t) for a, t in applied])
    return results


@pytest.mark.parametrize("seed", range(12))
async def test_bulk_equals_one_by_one(tmp_path, make_message, seed):
    rng = random.Random(seed)
    bulk, single = await _open(tmp_path / "bulk.db"), await _open(tmp_path / "single.db")
    try:
        ids = await _set_up(bulk, make_message)
        assert await _set_up(single, make_message) == ids
        receipts = _receipts(rng, ids, 120)
        applied = 0
        while receipts:
            size = rng.choice([1, 2, 5, 17, 40])
            chunk, receipts = receipts[:size], receipts[size:]
            received = START + timedelta(seconds=rng.uniform(0, 60))
            items = [(r, received) for r in chunk]
            by_bulk = await bulk.apply_receipts(chunk, received)
            expected = await asyncio.to_thread(_one_by_one, single, items)
            assert by_bulk == store.ReceiptCounts(**{n: expected.count(n) for n in
                                                      ("applied", "duplicate", "stale", "unmatched")})  # fmt: skip
            applied += by_bulk.applied
        assert applied > 5  # the sequences do move messages
    finally:
        await bulk.close()
        await single.close()
    assert _dump(tmp_path / "bulk.db") == _dump(tmp_path / "single.db")


async def test_the_bulk_path_is_what_sqlite_uses(tmp_path, make_message, monkeypatch):
    """The equivalence above is of `sqlite_receipts.apply` (not two runs of the same code)."""
    calls: list[int] = []
    original = sqlite_receipts.apply

    def counted(conn: Any, items: Any, max_values: int) -> Any:
        calls.append(len(items))
        return original(conn, items, max_values)

    monkeypatch.setattr(sqlite_receipts, "apply", counted)
    target = await _open(tmp_path / "m.db")
    try:
        await _set_up(target, make_message)
        receipt = store.Receipt("wamid.m00", S.DELIVERED, START + timedelta(seconds=1))
        assert (await target.apply_receipts([receipt], START)).applied == 1
    finally:
        await target.close()
    assert calls == [1]


async def test_concurrent_webhooks_share_a_transaction_and_keep_their_own_counts(
    tmp_path, make_message, monkeypatch
):
    """Webhook POSTs that arrive while one is being applied go in together (`Batcher`); each
    gets the counts of its own receipts, in the order they arrived."""
    target = await _open(tmp_path / "m.db")
    transactions: list[int] = []
    original = target._apply_receipts

    def counted(items: list[tuple[store.Receipt, datetime]]) -> list[str]:
        transactions.append(len(items))
        return original(items)

    monkeypatch.setattr(target, "_apply_receipts", counted)
    try:
        await _set_up(target, make_message)
        read = store.Receipt("wamid.m01", S.READ, START + timedelta(seconds=2))
        calls = [
            [store.Receipt("wamid.m00", S.DELIVERED, START + timedelta(seconds=1))],
            [read],
            [read, store.Receipt("wamid.nobody", S.SENT, START)],
            [store.Receipt("wamid.m01", S.DELIVERED, START + timedelta(seconds=1))],
        ]
        counts = await asyncio.gather(*(target.apply_receipts(c, START) for c in calls))
        assert counts == [
            store.ReceiptCounts(applied=1),
            store.ReceiptCounts(applied=1),
            store.ReceiptCounts(duplicate=1, unmatched=1),
            store.ReceiptCounts(stale=1),
        ]
        assert transactions == [5]  # all four arrived before the first ran: one transaction
        stored = await target.get("m01")
        assert stored is not None
        assert stored.status == S.READ
    finally:
        await target.close()


def _outcomes(rng: random.Random, ids: list[str]) -> list[store.Outcome]:
    """Every kind of outcome the dispatcher writes, some for another worker or twice."""
    made = []
    for message_id in ids:
        at = START + timedelta(seconds=rng.uniform(0, 30))
        kind = rng.choice(["sent", "retry", "failed", "deferred", "ambiguous", "expired"])
        worker = rng.choice(["w1", "w1", "w1", "w2"])
        error: dict[str, Any] = {"error_code": 131026, "error_text": "Message undeliverable"}
        if kind == "sent":
            outcome = store.Outcome(
                message_id, worker, S.SENT, at, AttemptOutcome.SENT, started_at=at,
                wamid=f"wamid.{message_id}", wa_id="905551234567", http_status=200,
                sent_as=messages.SentAs.TEXT, category="utility",
            )  # fmt: skip
        elif kind == "failed":
            outcome = store.Outcome(
                message_id, worker, S.FAILED, at, AttemptOutcome.FAILED, http_status=400, **error
            )
        elif kind == "deferred":
            outcome = store.Outcome(
                message_id, worker, S.QUEUED, at, None, run_at=at + timedelta(1), reason="paused"
            )
        else:
            attempt = {"retry": AttemptOutcome.RETRY, "ambiguous": AttemptOutcome.AMBIGUOUS,
                       "expired": AttemptOutcome.EXPIRED}[kind]  # fmt: skip
            outcome = store.Outcome(
                message_id, worker, S.FAILED if kind == "expired" else S.QUEUED, at, attempt,
                run_at=at + timedelta(seconds=5), counts_attempt=rng.random() < 0.8, **error,
            )  # fmt: skip
        made.append(outcome)
        if rng.random() < 0.1:
            made.append(outcome)  # a second outcome for one claim loses
    rng.shuffle(made)
    return made


@pytest.mark.parametrize("seed", range(6))
async def test_outcome_writes_in_bulk_equal_the_general_ones(tmp_path, make_message, seed):
    """`_record_chunk`'s SQLite statements (claims by a JSON array of ids, one UPDATE per
    shape of change over a JSON array, multi-row attempts) do what SQLAlchemy's executemany
    path does (the one PostgreSQL takes, run here on SQLite)."""
    rng = random.Random(seed)
    bulk, general = await _open(tmp_path / "bulk.db"), await _open(tmp_path / "general.db")
    try:
        ids = await _set_up(bulk, make_message)
        await _set_up(general, make_message)
        for target in (bulk, general):
            await target.add_many([make_message(id=f"n{i:02d}", due_at=START, body=f"n {i}")
                                   for i in range(30)])  # fmt: skip
            await target.claim_due(START, 30, "w1", LEASE)
        outcomes = _outcomes(rng, [*ids, *(f"n{i:02d}" for i in range(30))])
        by_bulk = await bulk.record(outcomes)
        general._dialect = "sqlite, as PostgreSQL writes"  # only `record` runs from here on
        assert await general.record(outcomes) == by_bulk
        assert by_bulk > 10
    finally:
        await bulk.close()
        await general.close()
    assert _dump(tmp_path / "bulk.db") == _dump(tmp_path / "general.db")


async def test_a_value_json_cannot_hold_does_not_stop_the_reads(tmp_path, make_message):
    """A BLOB written into the file by hand cannot go into SQLite's JSON: the bulk reads fall
    back to reading the rows one by one, and the receipt and the outcome are applied."""
    target = await _open(tmp_path / "m.db")
    try:
        await _set_up(target, make_message)
        with contextlib.closing(sqlite3.connect(tmp_path / "m.db")) as conn, conn:
            conn.execute("UPDATE messages SET sent_at = x'00ff' WHERE id IN ('m00', 'm06')")
            conn.execute("UPDATE messages SET category = x'00ff' WHERE id = 'm07'")
        delivered = store.Receipt("wamid.m00", S.DELIVERED, START + timedelta(seconds=1))
        assert (await target.apply_receipts([delivered], START)).applied == 1
        sent = [
            store.Outcome(m, "w1", S.SENT, START, AttemptOutcome.SENT, wamid=f"wamid.{m}")
            for m in ("m06", "m07")
        ]
        assert await target.record(sent) == 2
    finally:
        await target.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "m.db")) as conn:
        statuses = dict(conn.execute("SELECT id, status FROM messages WHERE id IN "
                                     "('m00', 'm06', 'm07')").fetchall())  # fmt: skip
    assert statuses == {"m00": "delivered", "m06": "sent", "m07": "sent"}
