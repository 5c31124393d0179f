"""Store contract for issue #5's additions, on every MessageStore (memory, SQLite, PostgreSQL):
`last_inbound_many`, fallback templates stored, and the status-event outbox (written in the
same transaction as the status change; claimed with a lease; retried; given up)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import START, MakeMessage
from whatsapp_scheduler import store, testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.core.messages import AttemptOutcome, SentAs
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.store import sql

LEASE = START + timedelta(seconds=60)
TEMPLATE = {"name": "hello", "language": {"code": "tr"}}


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def events_store(request: pytest.FixtureRequest) -> AsyncIterator[store.MessageStore]:
    """Each MessageStore implementation, with status events enabled."""
    if request.param == "memory":
        yield testing.InMemoryMessageStore(events_enabled=True)
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    message_store = sql.SqlMessageStore.from_url(url, events_enabled=True)
    try:
        yield message_store
    finally:
        await message_store.close()


def _outcome(message_id: str, **kw: Any) -> store.Outcome:
    values: dict[str, Any] = {
        "status": S.SENT,
        "finished_at": START,
        "attempt": AttemptOutcome.SENT,
    }
    values.update(kw)
    return store.Outcome(message_id=message_id, worker="w1", **values)


async def _claimed(
    s: store.MessageStore, make_message: MakeMessage, **kw: Any
) -> messages.ScheduledMessage:
    message = make_message(**kw)
    await s.add(message)
    await s.claim_due(START + timedelta(hours=1), 10, "w1", LEASE)
    return message


async def _bodies(
    s: store.MessageStore, now: datetime = START + timedelta(hours=2)
) -> tuple[list[store.Event], list[Any]]:
    events = await s.claim_events(now, 100, now + timedelta(seconds=30))
    return events, [json.loads(e.body) for e in events]


async def test_last_inbound_many_reads_known_contacts_only(any_store):
    await any_store.record_inbound([("905551", START), ("905552", START + timedelta(hours=1))])
    found = await any_store.last_inbound_many(["905551", "905552", "905559", "905551"])
    assert found == {"905551": START, "905552": START + timedelta(hours=1)}
    assert await any_store.last_inbound_many([]) == {}


async def test_fallback_template_is_stored(any_store, make_message):
    message = make_message(fallback_template=TEMPLATE)
    await any_store.add(message)
    stored = await any_store.get(message.id)
    assert stored is not None
    assert stored.fallback_template == TEMPLATE


async def test_no_events_unless_enabled(any_store, make_message):
    message = await _claimed(any_store, make_message)
    await any_store.record([_outcome(message.id, wamid="wamid.1")])
    assert await any_store.claim_events(START + timedelta(hours=2), 10, LEASE) == []


async def test_sent_failed_and_cancelled_write_events_retries_do_not(events_store, make_message):
    sent = await _claimed(events_store, make_message, sender="shop")
    failed = await _claimed(events_store, make_message, sender="ankara")
    retried = await _claimed(events_store, make_message)
    queued = make_message(due_at=START + timedelta(days=2), sender="izmir", category="UTILITY")
    await events_store.add(queued)
    await events_store.record(
        [
            _outcome(
                sent.id, wamid="wamid.S", sent_as=SentAs.FALLBACK_TEMPLATE, category="MARKETING"
            ),
            _outcome(
                failed.id,
                status=S.FAILED,
                attempt=AttemptOutcome.FAILED,
                error_code=131026,
                error_text="undeliverable",
            ),
            _outcome(retried.id, status=S.QUEUED, attempt=AttemptOutcome.RETRY, run_at=LEASE),
        ]
    )
    await events_store.cancel(queued.id, START)
    _, bodies = await _bodies(events_store)
    by_id = {b["id"]: b for b in bodies}
    assert set(by_id) == {sent.id, failed.id, queued.id}
    assert by_id[sent.id] == {
        "event": "message.status",
        "id": sent.id,
        "gonderen": "shop",
        "status": "sent",
        "previous_status": "sending",
        "at": "2026-03-01T09:00:00Z",
        "whatsapp_message_id": "wamid.S",
        "sent_as": "fallback_template",
        "error": None,
        "category": "MARKETING",  # as sent (the outcome's), not as scheduled
    }
    assert by_id[failed.id]["error"] == {"code": 131026, "message": "undeliverable"}
    assert by_id[failed.id]["sent_as"] is None  # not given: unknown
    # Each event names the message's sender, whichever change wrote it.
    assert {i: b["gonderen"] for i, b in by_id.items()} == {
        sent.id: "shop",
        failed.id: "ankara",
        queued.id: "izmir",
    }
    assert (by_id[queued.id]["status"], by_id[queued.id]["previous_status"]) == (
        "cancelled",
        "queued",
    )
    assert by_id[queued.id]["category"] == "UTILITY"  # the message's, recorded when scheduled


async def test_receipts_write_one_event_per_applied_change(events_store, make_message):
    message = await _claimed(events_store, make_message, sender="shop", category="SERVICE")
    await events_store.record([_outcome(message.id, wamid="wamid.R")])
    first, _ = await _bodies(events_store)
    await events_store.finish_events(
        [store.EventResult(e.id, store.EventState.DELIVERED, START) for e in first]
    )
    at = START + timedelta(seconds=5)
    receipts = [
        store.Receipt("wamid.R", S.DELIVERED, at),
        store.Receipt("wamid.R", S.DELIVERED, at),  # duplicate: no event
        store.Receipt("wamid.R", S.READ, at + timedelta(seconds=1)),
        store.Receipt("wamid.R", S.DELIVERED, at),  # stale after read: no event
        store.Receipt("wamid.unknown", S.DELIVERED, at),  # unmatched: no event
    ]
    await events_store.apply_receipts(receipts, at)
    _, bodies = await _bodies(events_store)
    assert [
        (b["status"], b["whatsapp_message_id"], b["previous_status"], b["sent_as"], b["gonderen"])
        for b in bodies
    ] == [
        ("delivered", "wamid.R", "sent", None, "shop"),
        ("read", "wamid.R", "delivered", None, "shop"),
    ]
    assert [b["category"] for b in bodies] == ["SERVICE", "SERVICE"]


async def test_kept_receipt_applied_at_send_time_writes_its_event(events_store, make_message):
    message = await _claimed(events_store, make_message, sender="shop")
    failed = store.Receipt(
        "wamid.K", S.FAILED, START, error_code=131047, error_text="window closed"
    )
    await events_store.apply_receipts([failed], START)  # before our own write of the send
    await events_store.record([_outcome(message.id, wamid="wamid.K")])
    _, bodies = await _bodies(events_store)
    assert [(b["status"], b["previous_status"], b["gonderen"]) for b in bodies] == [
        ("sent", "sending", "shop"),
        ("failed", "sent", "shop"),
    ]
    assert bodies[1]["error"] == {"code": 131047, "message": "window closed"}


async def test_a_receipt_matched_by_callback_data_names_the_status_it_replaced(
    events_store, make_message
):
    """Meta's `sent` can beat our own write of the send: it is matched by our id (sent as
    biz_opaque_callback_data) while the message is still `sending`."""
    message = await _claimed(events_store, make_message, sender="shop")
    early = store.Receipt("wamid.E", S.SENT, START, callback_data=message.id)
    counts = await events_store.apply_receipts([early], START)
    assert counts.applied == 1
    _, bodies = await _bodies(events_store)
    assert [(b["status"], b["previous_status"], b["gonderen"]) for b in bodies] == [
        ("sent", "sending", "shop")
    ]
    assert (await events_store.get(message.id)).wamid == "wamid.E"


async def test_claim_leases_retry_and_give_up(events_store, make_message):
    await events_store.cancel((await _add(events_store, make_message)).id, START)
    now = START + timedelta(minutes=1)
    (event,) = await events_store.claim_events(now, 10, now + timedelta(seconds=30))
    assert event.attempts == 0
    assert await events_store.claim_events(now, 10, now + timedelta(seconds=30)) == []  # leased
    later = now + timedelta(seconds=31)
    (again,) = await events_store.claim_events(later, 10, later + timedelta(seconds=30))
    assert again.id == event.id  # the lease ran out: due again
    retry_at = later + timedelta(seconds=2)
    await events_store.finish_events(
        [store.EventResult(event.id, store.EventState.PENDING, later, retry_at, "HTTP 500")]
    )
    assert await events_store.claim_events(retry_at - timedelta(seconds=1), 10, LEASE) == []
    (third,) = await events_store.claim_events(retry_at, 10, retry_at + timedelta(seconds=30))
    assert third.attempts == 1
    await events_store.finish_events(
        [store.EventResult(event.id, store.EventState.DEAD, retry_at, error="HTTP 500")]
    )
    far = retry_at + timedelta(days=1)
    assert await events_store.claim_events(far, 10, far) == []


async def test_delivered_event_is_not_claimed_again(events_store, make_message):
    await events_store.cancel((await _add(events_store, make_message)).id, START)
    (event,) = await events_store.claim_events(START, 10, START)
    await events_store.finish_events(
        [store.EventResult(event.id, store.EventState.DELIVERED, START)]
    )
    far = START + timedelta(days=1)
    assert await events_store.claim_events(far, 10, far) == []


async def _add(s: store.MessageStore, make_message: MakeMessage) -> messages.ScheduledMessage:
    message = make_message()
    await s.add(message)
    return message


async def test_a_campaign_messages_events_carry_the_campaign_id(events_store, make_message):
    from whatsapp_scheduler.core import campaigns

    campaign = campaigns.Campaign(
        id="cmp_e", name="n", sender="default", spec={}, recipients=2, refused=0, created_at=START
    )
    sent = make_message(id="cmp_e-0", campaign_id="cmp_e")
    later = make_message(id="cmp_e-1", campaign_id="cmp_e", due_at=START + timedelta(days=2))
    await events_store.create_campaign(campaign, [sent, later])
    await events_store.claim_due(START + timedelta(hours=1), 10, "w1", LEASE)
    await events_store.record([_outcome(sent.id, wamid="wamid.C")])
    await events_store.apply_receipts(
        [store.Receipt("wamid.C", S.DELIVERED, START + timedelta(seconds=5))], START
    )
    await events_store.set_campaign_state("cmp_e", campaigns.Action.CANCEL, START)
    _, bodies = await _bodies(events_store)
    assert sorted((b["id"], b["status"], b.get("campaign_id")) for b in bodies) == [
        ("cmp_e-0", "delivered", "cmp_e"),
        ("cmp_e-0", "sent", "cmp_e"),
        ("cmp_e-1", "cancelled", "cmp_e"),
    ]
