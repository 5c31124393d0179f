"""Store contract of Meta's limits (docs/limits.md), on memory, SQLite and PostgreSQL:
131049 as a `failed` status puts a message back in the queue once; a second one leaves it
failed. And a deferral's reason (`quiet_hours`) is stored with the message and cleared by the
send."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from tests.conftest import START
from tests.integration.test_store_contract import LEASE, _outcome, _receipt, _sent
from whatsapp_scheduler.core.messages import MessageStatus as S

LIMITED = {"error_code": 131049, "error_text": "(#131049) healthy ecosystem engagement"}
LATER = START + timedelta(hours=24)


async def test_a_first_131049_requeues_once_and_a_second_fails(any_store, make_message):
    message = await _sent(any_store, make_message, wamid="wamid.1")
    await any_store.apply_receipts([_receipt("wamid.1", S.FAILED, 5, **LIMITED)], START)
    assert (await any_store.get(message.id)).status == S.FAILED
    assert await any_store.retry_marketing_limited(["wamid.1"], LATER, START) == [message.id]
    again = await any_store.get(message.id)
    assert (again.status, again.run_at, again.status_reason) == (S.QUEUED, LATER, "marketing_limit")
    assert again.failed_at is None
    # Repeating the call (Meta's retried webhook) changes nothing more.
    assert await any_store.retry_marketing_limited(["wamid.1"], LATER, START) == []
    # The one more try: claimed, sent under a new wamid, failed again with 131049.
    assert [
        m.id for m in await any_store.claim_due(LATER, 5, "w1", LATER + timedelta(seconds=60))
    ] == [message.id]
    await any_store.record([_outcome(message.id, wamid="wamid.2", finished_at=LATER)])
    assert (await any_store.get(message.id)).status_reason is None
    await any_store.apply_receipts([_receipt("wamid.2", S.FAILED, 90_000, **LIMITED)], LATER)
    assert await any_store.retry_marketing_limited(["wamid.2"], LATER, LATER) == []
    assert (await any_store.get(message.id)).status == S.FAILED


async def test_other_failures_are_not_requeued(any_store, make_message):
    message = await _sent(any_store, make_message, wamid="wamid.1")
    other = {"error_code": 131026, "error_text": "undeliverable"}
    await any_store.apply_receipts([_receipt("wamid.1", S.FAILED, 5, **other)], START)
    assert await any_store.retry_marketing_limited(["wamid.1"], LATER, START) == []
    assert (await any_store.get(message.id)).status == S.FAILED


async def test_a_deferrals_reason_is_kept_until_the_send(any_store, make_message):
    message = make_message(due_at=START)
    await any_store.add(message)
    await any_store.claim_due(START, 1, "w1", LEASE)
    deferred = _outcome(message.id, status=S.QUEUED, attempt=None, run_at=LATER)
    await any_store.record([dataclasses.replace(deferred, reason="quiet_hours")])
    row = await any_store.get(message.id)
    assert (row.status, row.run_at, row.status_reason) == (S.QUEUED, LATER, "quiet_hours")
    assert row.attempts == 0
    await any_store.claim_due(LATER, 1, "w1", LATER + timedelta(seconds=60))
    await any_store.record([_outcome(message.id, wamid="wamid.Q", finished_at=LATER)])
    row = await any_store.get(message.id)
    assert (row.status, row.status_reason) == (S.SENT, None)


async def test_the_messaging_limit_counts_unique_contacts_in_a_moving_24_hours(any_store):
    first = await any_store.book_contacts("p1", ["a", "b", "a"], 3, START)
    assert first == {"a": None, "b": None}
    later = START + timedelta(hours=1)
    second = await any_store.book_contacts("p1", ["b", "c", "d", "e"], 3, later)
    # b is already counted; c takes the last slot; d and e wait for a and b's bookings to end.
    assert second == {
        "b": None,
        "c": None,
        "d": START + timedelta(hours=24),
        "e": START + timedelta(hours=24),
    }
    assert await any_store.book_contacts("p2", ["d"], 3, later) == {"d": None}  # its own limit
    # 24 h after the first bookings their slots are free again.
    assert await any_store.book_contacts("p1", ["d", "e"], 3, START + timedelta(hours=24)) == {
        "d": None,
        "e": None,
    }
    assert await any_store.book_contacts("p1", ["f"], 3, START + timedelta(hours=24)) == {
        "f": later + timedelta(hours=24)
    }


async def test_marketing_sent_lists_one_senders_marketing_sends_since(any_store, make_message):
    made = []
    for category, sender in [
        ("MARKETING", "default"), ("MARKETING", "default"), ("UTILITY", "default"),
        ("MARKETING", "other"),
    ]:  # fmt: skip
        message = make_message(due_at=START, category=category, sender=sender)
        await any_store.add(message)
        made.append(message)
    await any_store.claim_due(START, 10, "w1", LEASE)
    sent = [
        _outcome(m.id, wamid=f"wamid.f{i}", finished_at=START + timedelta(minutes=i))
        for i, m in enumerate(made)
    ]
    assert await any_store.record(sent) == 4
    since = START - timedelta(seconds=1)
    found = await any_store.marketing_sent("default", [made[0].recipient, "+905550000000"], since)
    assert found == {made[0].recipient: [START, START + timedelta(minutes=1)]}
    # `since` itself is out: a message sent exactly D days ago no longer counts.
    assert await any_store.marketing_sent("default", [made[0].recipient], START) == {
        made[0].recipient: [START + timedelta(minutes=1)]
    }
    later = await any_store.marketing_sent(
        "default", [made[0].recipient], START + timedelta(seconds=30)
    )
    assert later == {made[0].recipient: [START + timedelta(minutes=1)]}


async def test_marketing_recent_lists_the_sent_and_those_being_sent(any_store, make_message):
    """Claimed (`sending`) MARKETING messages of one sender, per recipient, oldest claim first;
    not the queued, not the sent, not another sender's or category's."""
    phone = "+905550001111"
    early = [make_message(due_at=START, category="MARKETING", recipient=phone) for _ in range(2)]
    for m in early:
        await any_store.add(m)
    await any_store.add(make_message(due_at=START, category="UTILITY", recipient=phone))
    await any_store.add(
        make_message(due_at=START, category="MARKETING", recipient=phone, sender="other")
    )
    first = await any_store.claim_due(START, 10, "w1", LEASE)
    assert len(first) == 4
    late = make_message(due_at=START, category="MARKETING", recipient=phone)
    await any_store.add(late)
    queued = make_message(due_at=START + timedelta(days=1), category="MARKETING", recipient=phone)
    await any_store.add(queued)
    later = START + timedelta(seconds=5)
    (claimed_late,) = await any_store.claim_due(later, 10, "w2", LEASE)
    assert claimed_late.id == late.id
    await any_store.record([_outcome(early[1].id, wamid="wamid.sent-one")])
    since = START - timedelta(seconds=1)
    sent, found = await any_store.marketing_recent("default", [phone, "+905550000000"], since)
    assert found == {phone: [(START, early[0].id), (later, late.id)]}
    assert sent == {phone: [START]}  # `_outcome`'s finished_at
    assert sent == await any_store.marketing_sent("default", [phone], since)
