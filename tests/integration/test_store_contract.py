"""One suite, every MessageStore: in-memory, SQLite file, PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START, MakeMessage
from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.messages import AttemptOutcome
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.core.query import MessageQuery

LEASE = START + timedelta(seconds=60)


def query(
    statuses: Iterable[S], limit: int, cursor: str | None = None, **filters: Any
) -> MessageQuery:
    """The store's `MessageQuery` for these statuses and filters."""
    return MessageQuery(tuple(statuses), limit, cursor, **filters)


def _outcome(message_id: str, worker: str = "w1", **kw: Any) -> store.Outcome:
    values: dict[str, Any] = {
        "status": S.SENT,
        "finished_at": START,
        "attempt": AttemptOutcome.SENT,
    }
    values.update(kw)
    return store.Outcome(message_id=message_id, worker=worker, **values)


async def test_added_message_reads_back_unchanged(any_store, make_message):
    message = make_message(client_created="2026-02-28T10:00:00.000")
    result = await any_store.add(message)
    assert result.status == store.AddStatus.CREATED
    stored = await any_store.get(message.id)
    assert stored == message
    assert stored.due_at.tzinfo is not None
    assert stored.due_at.utcoffset() == timedelta(0)


TRICKY_TEXTS = [
    "emoji 😀👍🏽 and Türkçe: ğüşıöç İ",
    "quotes \" and ' and backslash \\ and \\u0041",
    "new\nlines\r\nand\ttabs",
    "a \x1f control and a \x7f delete",
    "\u200f\u05e9\u05dc\u05d5\u05dd right-to-left",
    "x" * 4096,
]


async def test_hard_texts_read_back_unchanged_one_by_one_and_in_batches(any_store, make_message):
    singles = [make_message(body=text) for text in TRICKY_TEXTS]
    batch = [make_message(body=text) for text in TRICKY_TEXTS]
    template = {
        "name": "hatırlatma",
        "language": {"code": "tr"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": 'Ayşe 😀 "quoted"'}]}
        ],
    }
    batch.append(make_message(body=None, template=template))
    for message in singles:
        await any_store.add(message)
    results = await any_store.add_many(batch)
    assert {r.status for r in results} == {store.AddStatus.CREATED}
    for message in singles + batch:
        assert await any_store.get(message.id) == message


async def test_same_id_same_content_is_existing_and_other_content_conflicts(
    any_store, make_message
):
    message = make_message()
    await any_store.add(message)
    again = await any_store.add(message.evolve(created_at=START + timedelta(seconds=5)))
    assert again.status == store.AddStatus.EXISTING
    assert again.message.created_at == START  # the stored one, unchanged
    other = await any_store.add(message.evolve(body="changed", content_hash="other"))
    assert other.status == store.AddStatus.CONFLICT
    assert (await any_store.get(message.id)).body == message.body


async def test_add_many_reports_each_in_order(any_store, make_message):
    first = make_message()
    await any_store.add(first)
    batch = [make_message(), first, first.evolve(content_hash="x", body="x"), make_message()]
    results = await any_store.add_many(batch)
    assert [r.status for r in results] == [
        store.AddStatus.CREATED,
        store.AddStatus.EXISTING,
        store.AddStatus.CONFLICT,
        store.AddStatus.CREATED,
    ]
    assert (await any_store.get(batch[3].id)) == batch[3]


async def test_get_unknown_is_none(any_store):
    assert await any_store.get("nope") is None


async def test_list_filters_orders_and_pages(any_store, make_message):
    due = [START + timedelta(minutes=m) for m in (30, 10, 20, 10, 40)]
    made = [make_message(due_at=d) for d in due]
    await any_store.add_many(made)
    await any_store.cancel(made[4].id, START)
    first = await any_store.list(query([S.QUEUED], limit=2))
    assert first.total == 4
    assert [m.due_at for m in first.items] == [due[1], due[3]]
    assert first.next_cursor is not None
    second = await any_store.list(query([S.QUEUED], limit=2, cursor=first.next_cursor))
    assert [m.id for m in second.items] == [made[2].id, made[0].id]
    assert second.next_cursor is None
    everything = await any_store.list(query([], limit=10))
    assert everything.total == 5
    cancelled = await any_store.list(query([S.CANCELLED], limit=10))
    assert [m.id for m in cancelled.items] == [made[4].id]


async def test_a_forged_cursor_is_a_validation_error(any_store):
    with pytest.raises(errors.ValidationFailed) as caught:
        await any_store.list(query([S.QUEUED], limit=2, cursor="not-a-cursor"))
    assert caught.value.field == "cursor"


async def test_cancel_only_moves_queued_messages(any_store, make_message):
    queued, sending = make_message(), make_message(due_at=START)
    await any_store.add_many([queued, sending])
    await any_store.claim_due(START, 10, "w1", LEASE)
    cancelled = await any_store.cancel(queued.id, START + timedelta(seconds=1))
    assert cancelled.status == S.CANCELLED
    assert cancelled.cancelled_at == START + timedelta(seconds=1)
    assert await any_store.cancel(sending.id, START) is None
    assert await any_store.cancel(queued.id, START) is None  # already cancelled
    assert await any_store.cancel("nope", START) is None


async def test_claim_takes_due_rows_soonest_first_up_to_the_limit(any_store, make_message):
    rows = [make_message(due_at=START - timedelta(seconds=s)) for s in (5, 50, 20)]
    future = make_message(due_at=START + timedelta(seconds=1))
    await any_store.add_many([*rows, future])
    claimed = await any_store.claim_due(START, 2, "w1", LEASE)
    assert [m.id for m in claimed] == [rows[1].id, rows[2].id]
    assert all(m.status == S.SENDING and m.claimed_by == "w1" for m in claimed)
    assert all(m.lease_until == LEASE for m in claimed)
    rest = await any_store.claim_due(START, 10, "w2", LEASE)
    assert [m.id for m in rest] == [rows[0].id]  # never the same row twice, never the future one
    assert await any_store.claim_due(START, 10, "w2", LEASE) == []


async def test_claim_per_sender_and_leaving_senders_out(any_store, make_message):
    """The dispatcher claims each sender's rows on its own and, for messages naming a sender
    it does not know, every row but its senders'; the earliest due first in each case."""
    shop = [make_message(sender="shop", due_at=START - timedelta(seconds=s)) for s in (3, 9)]
    ankara = make_message(sender="ankara", due_at=START - timedelta(seconds=30))
    default = make_message(due_at=START - timedelta(seconds=20))
    later = make_message(sender="ankara", due_at=START + timedelta(seconds=5))
    await any_store.add_many([*shop, ankara, default, later])
    assert await any_store.next_run_at(senders=["shop"]) == shop[1].run_at
    assert await any_store.next_run_at(senders=["nobody"]) is None
    assert await any_store.next_run_at(senders=[]) is None
    claimed = await any_store.claim_due(START, 1, "w1", LEASE, senders=["shop"])
    assert [m.id for m in claimed] == [shop[1].id]  # its earliest, not ankara's earlier row
    assert await any_store.claim_due(START, 5, "w1", LEASE, senders=[]) == []
    others = await any_store.claim_due(START, 10, "w1", LEASE, exclude_senders=["shop", "default"])
    assert [m.id for m in others] == [ankara.id]  # never the held senders', never the future
    both = await any_store.claim_due(START, 10, "w2", LEASE, senders=["shop", "default"])
    assert [m.id for m in both] == [default.id, shop[0].id]
    assert await any_store.next_run_at(senders=["ankara"]) == later.run_at
    assert await any_store.claim_due(START, 10, "w2", LEASE) == []


async def test_record_applies_only_for_the_claim_holder(any_store, make_message):
    message = make_message(due_at=START)
    await any_store.add(message)
    await any_store.claim_due(START, 1, "w1", LEASE)
    assert await any_store.record([_outcome(message.id, worker="intruder")]) == 0
    assert (await any_store.get(message.id)).status == S.SENDING
    sent = _outcome(message.id, wamid="wamid.X", wa_id="905551234567")
    assert await any_store.record([sent]) == 1
    stored = await any_store.get(message.id)
    assert (stored.status, stored.wamid, stored.attempts) == (S.SENT, "wamid.X", 1)
    assert stored.claimed_by is None
    assert stored.sent_at == START
    assert await any_store.record([sent]) == 0  # second outcome for the same claim: ignored
    (attempt,) = await any_store.attempts(message.id)
    assert (attempt.number, attempt.outcome) == (1, AttemptOutcome.SENT)


async def test_retry_requeues_with_run_at_and_counts_the_attempt(any_store, make_message):
    message = make_message(due_at=START)
    await any_store.add(message)
    await any_store.claim_due(START, 1, "w1", LEASE)
    later = START + timedelta(seconds=30)
    retry = _outcome(
        message.id,
        status=S.QUEUED,
        attempt=AttemptOutcome.RETRY,
        run_at=later,
        error_code=131000,
        error_text="(#131000) Something went wrong",
        http_status=500,
    )
    assert await any_store.record([retry]) == 1
    stored = await any_store.get(message.id)
    assert (stored.status, stored.attempts, stored.run_at) == (S.QUEUED, 1, later)
    assert (stored.last_error_code, stored.due_at) == (131000, message.due_at)
    assert await any_store.claim_due(START + timedelta(seconds=29), 5, "w1", LEASE) == []
    assert await any_store.next_run_at() == later
    [_again] = await any_store.claim_due(later, 5, "w1", LEASE)
    failed = _outcome(
        message.id,
        status=S.FAILED,
        attempt=AttemptOutcome.FAILED,
        error_code=131026,
        sent_as=messages.SentAs.FALLBACK_TEMPLATE,
    )
    await any_store.record([failed])
    stored = await any_store.get(message.id)
    assert (stored.status, stored.attempts, stored.last_error_code) == (S.FAILED, 2, 131026)
    history = await any_store.attempts(message.id)
    assert [(a.number, a.outcome, a.error_code, a.sent_as) for a in history] == [
        (1, AttemptOutcome.RETRY, 131000, None),
        (2, AttemptOutcome.FAILED, 131026, messages.SentAs.FALLBACK_TEMPLATE),
    ]


async def test_a_deferral_requeues_without_an_attempt(any_store, make_message):
    message = make_message(due_at=START)
    await any_store.add(message)
    await any_store.claim_due(START, 1, "w1", LEASE)
    later = START + timedelta(seconds=6)
    await any_store.record([_outcome(message.id, status=S.QUEUED, attempt=None, run_at=later)])
    stored = await any_store.get(message.id)
    assert (stored.status, stored.attempts, stored.run_at) == (S.QUEUED, 0, later)
    assert await any_store.attempts(message.id) == []


async def test_expired_leases_are_found(any_store, make_message):
    a, b = make_message(due_at=START), make_message(due_at=START)
    await any_store.add_many([a, b])
    await any_store.claim_due(START, 1, "dead", START + timedelta(seconds=1))
    await any_store.claim_due(START, 1, "alive", START + timedelta(seconds=100))
    expired = await any_store.expired_leases(START + timedelta(seconds=2), 10)
    assert [(m.id, m.claimed_by) for m in expired] == [(a.id, "dead")]


async def test_claims_of_dead_workers_and_lease_renewal(any_store, make_message):
    a, b, c = (make_message(due_at=START) for _ in range(3))
    await any_store.add_many([a, b, c])
    await any_store.claim_due(START, 2, "gone", START + timedelta(seconds=60))
    await any_store.claim_due(START, 1, "alive", START + timedelta(seconds=60))
    assert sorted(await any_store.claimers()) == ["alive", "gone"]
    gone = await any_store.claims_of(["gone"], 10)
    assert sorted(m.id for m in gone) == sorted([a.id, b.id])
    assert len(await any_store.claims_of(["gone"], 1)) == 1
    assert await any_store.claims_of(["nobody"], 10) == []
    # Renewal extends only the worker's own claims, still `sending`.
    later = START + timedelta(seconds=120)
    assert await any_store.renew_leases("alive", [c.id, a.id], later) == 1
    assert (await any_store.get(c.id)).lease_until == later
    assert (await any_store.get(a.id)).lease_until == START + timedelta(seconds=60)
    expired = await any_store.expired_leases(START + timedelta(seconds=90), 10)
    assert sorted(m.id for m in expired) == sorted([a.id, b.id])


async def test_stats_and_next_run(any_store, make_message):
    assert await any_store.next_run_at() is None
    overdue = make_message(due_at=START - timedelta(minutes=3))
    await any_store.add_many([overdue, make_message(), make_message(due_at=START)])
    await any_store.claim_due(START, 1, "w1", LEASE)  # takes the overdue one
    stats = await any_store.stats(START)
    assert (stats.queued, stats.sending) == (2, 1)
    assert stats.oldest_overdue == START
    assert stats.next_run_at == START
    assert await any_store.next_run_at() == START


async def test_repeated_ids_inside_one_batch(any_store, make_message):
    message = make_message()
    other = message.evolve(body="other", content_hash="other")
    results = await any_store.add_many([message, message, other])
    assert [r.status for r in results] == [
        store.AddStatus.CREATED,
        store.AddStatus.EXISTING,
        store.AddStatus.CONFLICT,
    ]
    assert (await any_store.get(message.id)).body == message.body


async def test_concurrent_adds_of_one_id_store_it_once(any_store, make_message):
    import asyncio

    message = make_message()
    other = message.evolve(body="other", content_hash="other")
    results = await asyncio.gather(*(any_store.add(m) for m in [message, other, message]))
    assert [r.status for r in results].count(store.AddStatus.CREATED) == 1
    assert (await any_store.list(query([], limit=10))).total == 1


async def test_concurrent_batches_sharing_ids_answer_as_if_one_came_after_the_other(
    any_store, make_message
):
    import asyncio

    shared = make_message()
    rival = shared.evolve(body="rival", content_hash="rival")
    first = [make_message(), shared, make_message()]
    second = [make_message(), rival, shared, make_message()]
    third = [shared]
    answers = await asyncio.gather(*(any_store.add_many(b) for b in (first, second, third)))
    statuses = [[r.status for r in answer] for answer in answers]
    C, E, X = store.AddStatus.CREATED, store.AddStatus.EXISTING, store.AddStatus.CONFLICT
    assert statuses == [[C, C, C], [C, X, E, C], [E]]
    assert all(r.message == shared for r in (answers[1][1], answers[1][2], answers[2][0]))
    assert await any_store.get(shared.id) == shared
    assert (await any_store.list(query([], limit=10))).total == 5


def _receipt(wamid: str, status: S, seconds: float = 0, **kw: Any) -> store.Receipt:
    return store.Receipt(
        wamid=wamid, status=status, occurred_at=START + timedelta(seconds=seconds), **kw
    )


async def _sent(
    any_store: store.MessageStore, make_message: MakeMessage, wamid: str = "wamid.A"
) -> messages.ScheduledMessage:
    message = make_message(due_at=START)
    await any_store.add(message)
    await any_store.claim_due(START, 1, "w1", LEASE)
    await any_store.record([_outcome(message.id, wamid=wamid)])
    return message


async def test_receipts_move_a_message_forward_only(any_store, make_message):
    message = await _sent(any_store, make_message)
    counts = await any_store.apply_receipts(
        [_receipt("wamid.A", S.SENT, 1), _receipt("wamid.A", S.READ, 3)], START
    )
    assert (counts.applied, counts.stale) == (1, 1)  # "sent" is stale: we recorded it already
    late = await any_store.apply_receipts([_receipt("wamid.A", S.DELIVERED, 2)], START)
    assert late.stale == 1
    replay = await any_store.apply_receipts([_receipt("wamid.A", S.READ, 3)], START)
    assert replay.duplicate == 1
    stored = await any_store.get(message.id)
    assert stored.status == S.READ
    assert stored.read_at == START + timedelta(seconds=3)
    assert stored.delivered_at == START + timedelta(seconds=3)  # read implies delivered


async def test_a_failed_receipt_records_metas_error(any_store, make_message):
    message = await _sent(any_store, make_message)
    failed = _receipt("wamid.A", S.FAILED, 5, error_code=131047, error_text="Re-engagement message")
    assert (await any_store.apply_receipts([failed], START)).applied == 1
    stored = await any_store.get(message.id)
    assert (stored.status, stored.last_error_code) == (S.FAILED, 131047)
    assert stored.last_error_text == "Re-engagement message"


async def test_a_receipt_that_beats_our_own_write_is_not_lost(any_store, make_message):
    message = make_message(due_at=START)
    await any_store.add(message)
    await any_store.claim_due(START, 1, "w1", LEASE)
    early = _receipt("wamid.B", S.DELIVERED, 1, callback_data=message.id)
    assert (await any_store.apply_receipts([early], START)).applied == 1
    assert await any_store.record([_outcome(message.id, wamid="wamid.B")]) == 1
    stored = await any_store.get(message.id)
    assert (stored.status, stored.wamid, stored.attempts) == (S.DELIVERED, "wamid.B", 1)
    assert stored.claimed_by is None


async def test_a_status_carrying_our_id_settles_a_message_queued_after_an_ambiguous_attempt(
    any_store, make_message
):
    """The webhook grace: after a lost lease the message is queued again (not yet resent);
    Meta's status with our id proves the earlier send: sent, with the wamid and a send time,
    and no longer due. A message never attempted is not moved by such a status."""
    message, fresh = make_message(due_at=START), make_message(due_at=START)
    await any_store.add_many([message])
    await any_store.claim_due(START, 1, "dead", LEASE)
    grace_end = START + timedelta(seconds=60)
    ambiguous = _outcome(
        message.id, worker="dead", status=S.QUEUED, attempt=AttemptOutcome.AMBIGUOUS,
        run_at=grace_end,
    )  # fmt: skip
    assert await any_store.record([ambiguous]) == 1
    await any_store.add_many([fresh])
    proof = _receipt("wamid.P", S.SENT, 1, callback_data=message.id)
    unproven = _receipt("wamid.Q", S.SENT, 1, callback_data=fresh.id)
    counts = await any_store.apply_receipts([proof, unproven], START)
    assert (counts.applied, counts.stale) == (1, 1)
    stored = await any_store.get(message.id)
    assert (stored.status, stored.wamid) == (S.SENT, "wamid.P")
    assert stored.sent_at == START + timedelta(seconds=1)
    assert (await any_store.get(fresh.id)).status == S.QUEUED
    assert await any_store.claim_due(grace_end, 10, "w2", LEASE) == [await any_store.get(fresh.id)]
    later = await any_store.apply_receipts([_receipt("wamid.P", S.DELIVERED, 2)], START)
    assert later.applied == 1


async def test_an_unmatched_receipt_is_kept_and_applied_once_the_send_is_recorded(
    any_store, make_message
):
    message = make_message(due_at=START)
    await any_store.add(message)
    await any_store.claim_due(START, 1, "w1", LEASE)
    counts = await any_store.apply_receipts([_receipt("wamid.C", S.READ, 4)], START)
    assert counts.unmatched == 1
    await any_store.record([_outcome(message.id, wamid="wamid.C")])
    assert (await any_store.get(message.id)).status == S.READ


async def test_inbound_contacts_keep_the_latest_time(any_store):
    first, later = START, START + timedelta(hours=1)
    await any_store.record_inbound([("905551234567", later), ("905551234567", first)])
    await any_store.record_inbound([("905551234567", first)])
    assert await any_store.last_inbound("905551234567") == later
    assert await any_store.last_inbound("15550000000") is None
    await any_store.record_inbound([("447700900123", START + timedelta(microseconds=250))])
    wanted = ["905551234567", "15550000000", "447700900123"] + [f"1{i:010d}" for i in range(700)]
    assert await any_store.last_inbound_many(wanted) == {
        "905551234567": later,
        "447700900123": START + timedelta(microseconds=250),
    }


async def test_a_window_is_between_a_contact_and_one_business_number(any_store):
    """Issue #15: a contact who wrote to one number has no window with another; a sender
    reading several numbers (the default one: its own and '') gets the latest of them."""
    shop, branch = "106540352242922", "106540352242923"
    early, late = START, START + timedelta(hours=2)
    await any_store.record_inbound([("905551234567", late)], shop)
    await any_store.record_inbound([("905551234567", early), ("447700900123", early)], branch)
    await any_store.record_inbound([("15550000000", early)])  # no number: ''
    assert await any_store.last_inbound("905551234567", [branch]) == early
    assert await any_store.last_inbound("905551234567", [shop]) == late
    assert await any_store.last_inbound("15550000000", [shop]) is None
    assert await any_store.last_inbound("15550000000") == early  # '' by default
    wanted = ["905551234567", "447700900123", "15550000000"]
    assert await any_store.last_inbound_many(wanted, [shop, ""]) == {
        "905551234567": late,
        "15550000000": early,
    }
    assert await any_store.last_inbound_many(wanted, [branch]) == {
        "905551234567": early,
        "447700900123": early,
    }
    assert await any_store.last_inbound_many(wanted, []) == {}
    # concurrent lookups of different numbers share a round trip and keep their own answers
    both = await asyncio.gather(
        any_store.last_inbound_many(wanted, [shop]),
        any_store.last_inbound_many(wanted, [branch]),
    )
    assert list(both) == [{"905551234567": late}, {"905551234567": early, "447700900123": early}]


# -- list filters for the dashboard's history (issue #7) --------------------------------------


async def _history_rows(
    any_store: store.MessageStore, make_message: MakeMessage
) -> list[messages.ScheduledMessage]:
    """Six messages over three days, two recipients, three statuses."""
    made: list[messages.ScheduledMessage] = []
    for day in range(3):
        for n, (recipient, status) in enumerate(
            [("+905551111111", S.SENT), ("+16505551234", S.READ)]
        ):
            due = START + timedelta(days=day, hours=n)
            made.append(make_message(due_at=due, recipient=recipient, status=status))
    made.append(make_message(due_at=START + timedelta(days=1, hours=5), status=S.CANCELLED))
    await any_store.add_many(made)
    return made


async def test_list_filters_by_recipient_and_due_range(any_store, make_message):
    made = await _history_rows(any_store, make_message)
    page = await any_store.list(query([], 100, recipient="+16505551234"))
    assert [m.id for m in page.items] == [m.id for m in made if m.recipient == "+16505551234"]
    assert page.total == 3
    window = await any_store.list(
        query(
            [S.SENT, S.READ],
            100,
            due_from=START + timedelta(days=1),
            due_to=START + timedelta(days=2),
        ),
    )
    assert [m.id for m in window.items] == [made[2].id, made[3].id]  # due_to is exclusive
    both = await any_store.list(
        query([S.SENT], 100, recipient="+905551111111", due_from=START + timedelta(days=1))
    )
    assert [m.id for m in both.items] == [made[2].id, made[4].id]


async def test_list_newest_first_pages_backwards_across_statuses(any_store, make_message):
    made = await _history_rows(any_store, make_message)
    expected = sorted(made, key=lambda m: (m.due_at, m.id), reverse=True)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await any_store.list(
            query([S.SENT, S.READ, S.CANCELLED], 2, cursor, newest_first=True)
        )
        assert page.total == len(made)
        seen.extend(m.id for m in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [m.id for m in expected]


async def test_list_count_stops_at_count_up_to(any_store, make_message):
    made = await _history_rows(any_store, make_message)
    page = await any_store.list(query([S.SENT, S.READ], 2, count_up_to=4))
    assert page.total == 4  # "4 or more"
    assert len(page.items) == 2
    few = await any_store.list(query([S.CANCELLED], 2, count_up_to=4))
    assert few.total == 1
    exact = await any_store.list(query([], 2))
    assert exact.total == len(made)


async def test_get_many_returns_known_ids_in_order(any_store, make_message):
    first, second = make_message(), make_message()
    await any_store.add_many([first, second])
    found = await any_store.get_many([second.id, "nope", first.id, second.id])
    assert [m.id for m in found] == [second.id, first.id]
    assert await any_store.get_many([]) == []


async def test_sqlite_batch_insert_keeps_a_nul_and_a_lone_backslash_u(sqlite_url, make_message):
    """The SQLite store inserts a batch with multi-row INSERTs of bound values; texts that a
    text-built statement would mangle (a NUL: the service refuses it, other writers might
    not) come back unchanged, and so do batches longer than one statement's rows."""
    from whatsapp_scheduler.store import sql

    sqlite_store = sql.SqlMessageStore.from_url(sqlite_url)
    sqlite_store._max_values = 999  # as on SQLite < 3.32: several statements for this batch
    try:
        batch = [make_message(body="a \x00 b"), make_message(body="literal \\u0000 text")]
        batch += [make_message(body=f"plain {i}", client_created="c") for i in range(450)]
        results = await sqlite_store.add_many(batch)
        assert [r.status for r in results] == [store.AddStatus.CREATED] * 452
        for message in batch:
            assert await sqlite_store.get(message.id) == message
    finally:
        await sqlite_store.close()


async def test_list_filters_by_sender_and_stores_who_created_it(any_store, make_message):
    shop = make_message(id="from-shop", sender="shop", created_by="app")
    ankara = make_message(id="from-ankara", sender="ankara")
    plain = make_message(id="from-default")
    await any_store.add_many([shop, ankara, plain])
    page = await any_store.list(query([], 100, senders=frozenset({"shop", "ankara"})))
    assert sorted(m.id for m in page.items) == ["from-ankara", "from-shop"]
    assert page.total == 2
    only = await any_store.list(query([], 100, senders=frozenset({"default"})))
    assert [m.id for m in only.items] == ["from-default"]
    stored = await any_store.get("from-shop")
    assert stored is not None
    assert (stored.sender, stored.created_by) == ("shop", "app")
    assert (await any_store.get("from-default")).sender == "default"
    none = await any_store.list(query([], 100, senders=frozenset()))
    assert none.items == []
    assert none.total == 0
