"""Campaigns in every MessageStore (in-memory, SQLite file, PostgreSQL): the campaign and its
messages in one bulk insert, pause / resume / cancel as one statement each (a paused message
is never claimed), the funnel's counts and the recipients' keyset pages (docs/campaigns.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import START
from whatsapp_scheduler import testing
from whatsapp_scheduler.core import campaigns, messages

S = messages.MessageStatus
LEASE = START + timedelta(minutes=1)


def _campaign(cid: str = "cmp_1", **kw: object) -> campaigns.Campaign:
    values: dict[str, object] = {
        "id": cid,
        "name": "n",
        "sender": "default",
        "spec": {"content": {"mesaj": "hi"}},
        "recipients": 3,
        "refused": 0,
        "created_at": START,
    }
    values.update(kw)
    return campaigns.Campaign(**values)  # type: ignore[arg-type]


def _messages(cid: str, n: int) -> list[messages.ScheduledMessage]:
    return [
        testing.make_message(f"{cid}-{i:07d}", START, recipient=f"+9055500{i:05d}", campaign_id=cid)
        for i in range(n)
    ]


async def test_create_pause_resume_cancel_and_count(any_store):
    assert await any_store.create_campaign(_campaign(), _messages("cmp_1", 3)) == 3
    await any_store.add(testing.make_message("plain", START))
    found = await any_store.get_campaign("cmp_1")
    assert (found.name, found.recipients, found.spec) == ("n", 3, {"content": {"mesaj": "hi"}})
    assert await any_store.set_campaign_state("cmp_1", campaigns.Action.PAUSE, START) == 3
    claimed = await any_store.claim_due(START, 10, "w", LEASE)
    assert [m.id for m in claimed] == ["plain"]  # paused messages are never claimed
    counts = await any_store.campaign_counts("cmp_1")
    assert counts.statuses == {"paused": 3}
    assert (await any_store.get_campaign("cmp_1")).paused_at == START
    assert await any_store.set_campaign_state("cmp_1", campaigns.Action.RESUME, START) == 3
    (one,) = await any_store.claim_due(START, 1, "w", LEASE)
    assert one.campaign_id == "cmp_1"
    assert await any_store.set_campaign_state("cmp_1", campaigns.Action.CANCEL, START) == 2
    counts = await any_store.campaign_counts("cmp_1")
    assert counts.statuses == {"sending": 1, "cancelled": 2}
    assert counts.cancelled == {"campaign_cancelled": 2}
    assert (await any_store.get(one.id)).status == S.SENDING  # claimed first: not cancelled
    assert (await any_store.get("plain")).status == S.SENDING  # another message: untouched


async def test_pages_and_list(any_store):
    await any_store.create_campaign(_campaign("cmp_a"), _messages("cmp_a", 5))
    await any_store.create_campaign(
        _campaign("cmp_b", created_at=START + timedelta(seconds=1)), _messages("cmp_b", 2)
    )
    first = await any_store.campaign_messages("cmp_a", [], None, 2)
    assert [m.id for m in first] == ["cmp_a-0000000", "cmp_a-0000001"]
    rest = await any_store.campaign_messages("cmp_a", [S.QUEUED], first[-1].id, 10)
    assert [m.id[-1] for m in rest] == ["2", "3", "4"]
    assert await any_store.campaign_messages("cmp_a", [S.FAILED], None, 10) == []
    listed = await any_store.list_campaigns(None, None, 10)
    assert [c.id for c in listed] == ["cmp_b", "cmp_a"]
    after = await any_store.list_campaigns(["default"], (listed[0].created_at, "cmp_b"), 10)
    assert [c.id for c in after] == ["cmp_a"]
    assert await any_store.list_campaigns(["shop"], None, 10) == []


async def test_twenty_thousand_recipients_in_one_transaction(any_store):
    batch = _messages("cmp_big", 20_000)
    assert await any_store.create_campaign(_campaign("cmp_big"), batch) == 20_000
    counts = await any_store.campaign_counts("cmp_big")
    assert counts.statuses == {"queued": 20_000}
    assert await any_store.set_campaign_state("cmp_big", campaigns.Action.PAUSE, START) == 20_000


async def _truth(store, cid: str) -> campaigns.Counts:
    """The funnel counted from the rows themselves (what the tallies must equal)."""
    rows = list(await store.get_many([f"{cid}-{i:07d}" for i in range(60)]))
    statuses: dict[str, int] = {}
    failed: dict[int | None, int] = {}
    cancelled: dict[str | None, int] = {}
    read_after: dict[int, int] = {}
    for m in rows:
        statuses[str(m.status)] = statuses.get(str(m.status), 0) + 1
        if m.status == S.FAILED:
            failed[m.last_error_code] = failed.get(m.last_error_code, 0) + 1
        if m.status == S.CANCELLED:
            cancelled[m.status_reason] = cancelled.get(m.status_reason, 0) + 1
        if m.status == S.READ and m.sent_at is not None and m.read_at is not None:
            seconds = int((m.read_at - m.sent_at).total_seconds() // 1)
            bucket = max(b for b in campaigns.READ_BOUNDS if b <= max(seconds, 0))
            read_after[bucket] = read_after.get(bucket, 0) + 1
    sent = sorted(m.sent_at for m in rows if m.sent_at is not None)
    return campaigns.Counts(
        statuses,
        failed,
        cancelled,
        sent[0] if sent else None,
        sent[-1] if sent else None,
        read_after=read_after,
    )


async def test_the_funnel_follows_every_change_before_and_after_folding(any_store):
    """Claims, sends, Meta's failures by code, retries, receipts, pause, resume, cancel: after
    each step the funnel equals a count of the rows, with the tallies folded or not, and two
    folds at once count nothing twice (SQL: triggers, revision 0021)."""
    import asyncio

    from tests.integration.test_store_contract import _outcome, _receipt

    await any_store.create_campaign(_campaign("cmp_f", recipients=60), _messages("cmp_f", 60))

    async def check() -> None:
        assert await any_store.campaign_counts("cmp_f") == await _truth(any_store, "cmp_f")

    await check()
    claimed = await any_store.claim_due(START, 40, "w1", LEASE)
    await check()
    outcomes = []
    for i, m in enumerate(claimed):
        at = START + timedelta(seconds=i)
        if i % 4 == 0:  # failed for good with Meta's code
            code = 131026 if i % 8 == 0 else 131049
            outcomes.append(
                _outcome(
                    m.id,
                    status=S.FAILED,
                    error_code=code,
                    finished_at=at,
                    attempt=messages.AttemptOutcome.FAILED,
                )
            )
        elif i % 4 == 1:  # a temporary failure: queued again for a retry
            outcomes.append(
                _outcome(
                    m.id,
                    status=S.QUEUED,
                    error_code=131000,
                    finished_at=at,
                    run_at=at + timedelta(minutes=1),
                    attempt=messages.AttemptOutcome.RETRY,
                )
            )
        else:
            outcomes.append(_outcome(m.id, wamid=f"wamid.f{i}", finished_at=at))
    assert await any_store.record(outcomes) == 40
    await check()
    await asyncio.gather(any_store.fold_campaign_tallies(), any_store.fold_campaign_tallies())
    await check()
    receipts = [  # read 1 s to ~20 min after the send: buckets of the time to read
        _receipt(f"wamid.f{i}", S.DELIVERED if i % 2 else S.READ, seconds=i + 1 + i**2 * 3)
        for i in range(len(claimed))
        if i % 4 in (2, 3)
    ]
    await any_store.apply_receipts(receipts, START + timedelta(minutes=5))
    await check()
    read = await any_store.campaign_counts("cmp_f")
    assert sum(read.read_after.values()) == read.statuses["read"] == 10
    waits = sorted(1 + i**2 * 3 for i in range(40) if i % 4 == 2)  # read minus sent
    assert read.median_read_seconds is not None  # the 5th of 10, within its bucket's 10 %
    assert 0 <= read.median_read_seconds - waits[4] <= 0.1 * waits[4], (read, waits)
    await any_store.set_campaign_state("cmp_f", campaigns.Action.PAUSE, START)
    await check()
    await any_store.fold_campaign_tallies()
    await any_store.set_campaign_state("cmp_f", campaigns.Action.RESUME, START)
    await any_store.cancel("cmp_f-0000059", START)
    await check()
    await any_store.set_campaign_state("cmp_f", campaigns.Action.CANCEL, START)
    await check()
    await any_store.fold_campaign_tallies()
    counts = await any_store.campaign_counts("cmp_f")
    assert counts == await _truth(any_store, "cmp_f")
    assert counts.failed == {131026: 5, 131049: 5}, counts
    assert sum(counts.statuses.values()) == 60
    assert await any_store.fold_campaign_tallies() == 0  # nothing left to fold


async def test_replies_count_each_answered_message_once(any_store):
    """An inbound message answers the latest campaign message sent to that number by that
    sender within the window (revision 0024): counted once, before and after folding; a
    message from elsewhere, too late, before the send or to another sender counts nothing."""
    from tests.integration.test_store_contract import _outcome

    await any_store.create_campaign(_campaign("cmp_r", recipients=3), _messages("cmp_r", 3))
    claimed = await any_store.claim_due(START, 10, "w1", LEASE)
    await any_store.record(
        [_outcome(m.id, wamid=f"wamid.r{i}", finished_at=START) for i, m in enumerate(claimed)]
    )
    a, b, c = (f"+9055500{i:05d}" for i in range(3))
    window = timedelta(hours=72)
    hour = timedelta(hours=1)
    assert await any_store.record_replies([(a, START + hour)], ["default"], window) == 1
    assert await any_store.record_replies([(a, START + 2 * hour)], None, window) == 0  # once
    assert await any_store.record_replies([(b, START + 73 * hour)], None, window) == 0
    assert await any_store.record_replies([(b, START - hour)], None, window) == 0  # before
    assert await any_store.record_replies([(c, START + hour)], ["shop"], window) == 0
    assert await any_store.record_replies([("+905559999999", START)], None, window) == 0
    assert (await any_store.campaign_counts("cmp_r")).replies == 1
    ids = [m.id for m in claimed]
    answered = {claimed[0].id: START + hour}
    assert await any_store.campaign_replied("cmp_r", ids) == answered  # the first answer's time
    assert await any_store.campaign_replied("cmp_other", ids) == {}
    await any_store.fold_campaign_tallies()
    counts = await any_store.campaign_counts("cmp_r")
    assert (counts.replies, counts.statuses) == (1, {"sent": 3})
    assert await any_store.record_replies([(b, START + 71 * hour), (c, START)], None, window) == 2
    assert (await any_store.campaign_counts("cmp_r")).replies == 3


async def test_an_id_already_stored_is_left_as_it_is(any_store):
    """A campaign's ids are new by construction and not looked up before the insert; should
    one exist all the same, it keeps its row and is not counted as the campaign's."""
    taken = testing.make_message("cmp_t-0000001", START, body="someone else's")
    await any_store.add(taken)
    assert await any_store.create_campaign(_campaign("cmp_t"), _messages("cmp_t", 3)) == 2
    assert (await any_store.get("cmp_t-0000001")).body == "someone else's"
    assert (await any_store.campaign_counts("cmp_t")).statuses == {"queued": 2}


async def test_every_column_is_stored_as_given_whether_shared_or_not(any_store):
    """SQLite binds the columns that are the same in every row of a slice once
    (`sqlite_bulk.shared_inserts`, slices of `SLICE_ROWS`): rows whose columns are shared in one
    slice, differ in the next, or are None in some rows read back exactly as written."""
    from whatsapp_scheduler.store import sqlite_bulk

    n = sqlite_bulk.SLICE_ROWS * 2 + 7
    batch = []
    for i in range(n):
        later = i >= sqlite_bulk.SLICE_ROWS  # the first slice shares these, the others not
        due = START + timedelta(minutes=i % 5 if later else 0)
        extra: dict[str, Any] = {"campaign_id": "cmp_s", "sender": "default"}
        if later and i % 3 == 0:
            extra["category"] = "MARKETING"
            extra["template"] = {"name": "promo", "language": {"code": "tr"}}
        if later and i % 7 == 0:
            extra["created_by"] = "ops"
        batch.append(
            testing.make_message(
                f"cmp_s-{i:07d}",
                due,
                recipient=f"+9055501{i:05d}",
                timezone="Europe/Istanbul" if later and i % 2 else "UTC",
                **extra,
            )
        )
    assert await any_store.create_campaign(_campaign("cmp_s", recipients=n), batch) == n
    stored = {m.id: m for m in await any_store.get_many([m.id for m in batch])}
    assert [stored[m.id] for m in batch] == batch
    counts = await any_store.campaign_counts("cmp_s")
    assert counts.statuses == {"queued": n}


def _parts(batch: list[messages.ScheduledMessage], size: int) -> list[campaigns.Rows]:
    """`batch` (messages alike but for id, number and hash) as `Rows` of `size`."""
    parts = []
    for start in range(0, len(batch), size):
        chunk = batch[start : start + size]
        varying = {
            "id": [m.id for m in chunk],
            "recipient": [m.recipient for m in chunk],
            "content_hash": [m.content_hash for m in chunk],
        }
        parts.append(campaigns.Rows(chunk[0], chunk[-1], varying))
    return parts


async def test_a_campaign_in_parts_stores_the_parts_messages(any_store):
    """`create_campaign_parts`: the campaign the producer returns and its parts' messages,
    with the funnel's tallies; an id taken already is left as it was (and not counted)."""
    batch = _messages("cmp_p", 11)
    taken = batch[4].evolve(body="kept", campaign_id=None)
    await any_store.add(taken)
    campaign = _campaign("cmp_p", recipients=11)

    def produce(put: Any) -> campaigns.Campaign:
        for part in _parts(batch, 4):
            put(part)
        return campaign

    made, inserted = await any_store.create_campaign_parts(produce)
    assert made == campaign
    assert inserted == 10
    assert await any_store.get_campaign("cmp_p") == campaign
    for message in batch:
        assert await any_store.get(message.id) == (taken if message is batch[4] else message)
    assert (await any_store.campaign_counts("cmp_p")).statuses == {"queued": 10}


async def test_a_campaign_without_parts_stores_nothing(any_store):
    made, inserted = await any_store.create_campaign_parts(lambda put: _campaign("cmp_e"))
    assert made == _campaign("cmp_e")
    assert inserted == 0
    assert await any_store.get_campaign("cmp_e") is None
