"""Consent in every MessageStore (in-memory, SQLite file, PostgreSQL): what an opt-out cancels
in its own transaction, the race with concurrent claims, and the dispatcher's send-time check."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START
from whatsapp_scheduler import store, testing
from whatsapp_scheduler.core import consent, messages
from whatsapp_scheduler.dispatch import config as dispatch_config
from whatsapp_scheduler.dispatch import dispatcher, ratelimit, retries
from whatsapp_scheduler.store import sql

S = messages.MessageStatus
NUMBER = "106540352242922"
WA_ID = "905551234567"
PHONE = "+" + WA_ID
LEASE = START + timedelta(minutes=1)


def _out(scope: consent.Scope = consent.Scope.ALL, **kw: Any) -> consent.ConsentChange:
    values: dict[str, Any] = {
        "wa_id": WA_ID,
        "change": consent.Change.OPTED_OUT,
        "scope": scope,
        "source": consent.Source.KEYWORD,
        "at": START,
        "detail": "keyword 'DUR'",
    }
    values.update(kw)
    return consent.ConsentChange(**values)


async def _get(message_store: Any, message_id: str) -> messages.ScheduledMessage:
    found = await message_store.get(message_id)
    assert found is not None
    return found  # type: ignore[no-any-return]


def _message(i: str, **kw: Any) -> messages.ScheduledMessage:
    kw.setdefault("recipient", PHONE)
    return testing.make_message(i, START, **kw)


async def test_an_opt_out_cancels_what_it_covers_in_its_own_transaction(any_store):
    template = {"name": "promo", "language": {"code": "tr"}}
    batch = [
        _message("text"),
        _message("promo", template=template, category="MARKETING"),
        _message("util", template=template, category="UTILITY"),
        _message("unknown", template=template),
        _message("other-sender", sender="ankara"),
        _message("other-contact", recipient="+905559998877"),
    ]
    await any_store.add_many(batch)
    (cancelled,) = await any_store.record_consent(
        [_out(consent.Scope.MARKETING, source=consent.Source.USER_PREFERENCES)],
        NUMBER,
        ["default"],
        START,
    )
    assert cancelled == 1
    assert (await _get(any_store, "promo")).status == S.CANCELLED
    assert (await _get(any_store, "promo")).status_reason == "opted_out"
    assert (await _get(any_store, "promo")).cancelled_at == START
    for kept in ("text", "util", "unknown", "other-sender", "other-contact"):
        assert (await _get(any_store, kept)).status == S.QUEUED

    later = START + timedelta(minutes=1)
    (cancelled,) = await any_store.record_consent([_out(at=later)], NUMBER, ["default"], later)
    assert cancelled == 3  # text, util, unknown; never another sender's or contact's
    assert (await _get(any_store, "other-sender")).status == S.QUEUED
    assert (await _get(any_store, "other-contact")).status == S.QUEUED

    state = (await any_store.contacts_many([WA_ID, "905559998877"], [NUMBER, ""]))[WA_ID]
    assert state.last_inbound is None
    assert state.consent.all_out == consent.OptOut(later, consent.Source.KEYWORD)
    assert state.consent.marketing_out == consent.OptOut(START, consent.Source.USER_PREFERENCES)
    history = await any_store.consent_history(WA_ID, [NUMBER], 10)
    assert [(e.scope, e.source, e.cancelled) for e in history] == [
        (consent.Scope.ALL, consent.Source.KEYWORD, 3),
        (consent.Scope.MARKETING, consent.Source.USER_PREFERENCES, 1),
    ]
    assert history[0].detail == "keyword 'DUR'"
    assert await any_store.consent_history(WA_ID, ["other"], 10) == []


async def test_window_and_consent_come_in_one_lookup_per_number(any_store):
    await any_store.record_inbound([(WA_ID, START)], NUMBER)
    await any_store.record_inbound([("905550000001", START)], "")
    await any_store.record_consent([_out()], "200000000000001", [], START)
    found = await any_store.contacts_many([WA_ID, "905550000001", "905550000002"], [NUMBER, ""])
    assert found[WA_ID] == store.ContactState(START, consent.NO_CONSENT_RECORD)
    assert found["905550000001"].last_inbound == START
    assert "905550000002" not in found
    other = await any_store.contacts_many([WA_ID], ["200000000000001"])
    assert other[WA_ID].last_inbound is None
    assert other[WA_ID].consent.all_out is not None
    # opting in again: the latest change of the row wins
    back = consent.ConsentChange(
        WA_ID, consent.Change.OPTED_IN, consent.Scope.ALL, consent.Source.API, START
    )
    await any_store.record_consent([back], "200000000000001", [], START + timedelta(seconds=1))
    again = await any_store.contacts_many([WA_ID], ["200000000000001"])
    assert not again[WA_ID].consent.opted_out


async def test_contacts_are_listed_by_number_with_the_opt_out_filter(any_store):
    await any_store.record_inbound([(f"90555000000{i}", START) for i in range(4)], NUMBER)
    await any_store.record_consent([_out(wa_id="905550000002")], NUMBER, [], START)
    await any_store.record_consent([_out(wa_id="905550000009")], NUMBER, [], START)
    await any_store.record_consent([_out(wa_id="905550000005")], "elsewhere", [], START)
    every = await any_store.list_contacts([NUMBER], None, None, 10)
    assert every.wa_ids == [f"90555000000{i}" for i in (0, 1, 2, 3, 9)]
    assert every.next_after is None
    out = await any_store.list_contacts([NUMBER], True, None, 10)
    assert out.wa_ids == ["905550000002", "905550000009"]
    rest = await any_store.list_contacts([NUMBER], False, None, 2)
    assert rest == store.ContactPage(["905550000000", "905550000001"], "905550000001")
    assert (await any_store.list_contacts([NUMBER], False, "905550000001", 2)).wa_ids == [
        "905550000003"
    ]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_an_opt_out_racing_claims_never_lets_a_later_claim_take_a_message(backend, request):
    """Claims run while the opt-out commits. Whatever the interleaving: each message is either
    claimed (before the commit) or cancelled by it, never both; a claim after the commit finds
    nothing; and the send-time lookup of the claimed ones sees the opt-out."""
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    message_store = sql.SqlMessageStore.from_url(url)
    try:
        for round_ in range(5):
            ids = [f"r{round_}-{i}" for i in range(300)]
            await message_store.add_many([_message(i) for i in ids])
            claimed: list[str] = []

            async def claim_all(worker: str, claimed: list[str] = claimed) -> None:
                while True:
                    batch = await message_store.claim_due(START, 7, worker, LEASE)
                    if not batch:
                        return
                    claimed.extend(m.id for m in batch)
                    await asyncio.sleep(0)

            async def opt_out() -> int:
                await asyncio.sleep(random.random() / 100)  # somewhere among the claims
                (n,) = await message_store.record_consent([_out()], NUMBER, ["default"], START)
                return n

            results = await asyncio.gather(claim_all("w1"), claim_all("w2"), opt_out())
            cancelled = results[2]
            statuses = {i: (await _get(message_store, i)).status for i in ids}
            assert len(claimed) == len(set(claimed))  # never claimed twice
            assert {i for i, s in statuses.items() if s == S.SENDING} == set(claimed)
            assert {i for i, s in statuses.items() if s == S.CANCELLED} == set(ids) - set(claimed)
            assert cancelled == len(ids) - len(claimed)
            assert await message_store.claim_due(START, 1000, "w3", LEASE) == []
            state = (await message_store.contacts_many([WA_ID], [NUMBER]))[WA_ID]
            assert state.consent.blocking(None) is not None  # what the dispatcher checks
            # the next round starts opted in again
            back = consent.ConsentChange(
                WA_ID, consent.Change.OPTED_IN, consent.Scope.ALL, consent.Source.API, START
            )
            await message_store.record_consent([back], NUMBER, ["default"], START)
    finally:
        await message_store.close()


class OptOutAfterClaim:
    """The store, with an opt-out committed right after each claim returns: the messages were
    claimed before it, so only the dispatcher's send-time check can stop them."""

    def __init__(self, inner: sql.SqlMessageStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def claim_due(self, *args: Any, **kwargs: Any) -> list[messages.ScheduledMessage]:
        batch = await self.inner.claim_due(*args, **kwargs)
        if batch:
            await self.inner.record_consent([_out()], NUMBER, ["default"], START)
        return batch


async def test_the_dispatcher_checks_consent_again_before_sending(sqlite_url):
    inner = sql.SqlMessageStore.from_url(sqlite_url)
    clock = testing.FrozenClock(START)
    sender = testing.FakeSender()
    try:
        await inner.add_many([_message("a"), _message("b", recipient="+905559998877")])
        d = dispatcher.Dispatcher(
            message_store=OptOutAfterClaim(inner),
            sender=sender,
            phone_number_id=NUMBER,
            clock=clock,
            config=dispatch_config.DispatchConfig(
                messages_per_second=1000.0, flush_delay_seconds=0.0, shutdown_grace_seconds=0.5
            ),
            policy=retries.RetryPolicy(random=random.Random(7).random),
            limiter=ratelimit.RateLimiter(1000.0, 0.0),
            worker_id="worker-test",
        )
        await d.run(burst=True)
        await d.stop()
        a = await _get(inner, "a")
        assert (a.status, a.status_reason) == (S.CANCELLED, "opted_out")
        assert "opted out of all messages" in (a.last_error_text or "")
        assert a.claimed_by is None
        assert (await _get(inner, "b")).status == S.SENT  # another contact
        assert [call.recipient for call in sender.calls] == ["+905559998877"]
        assert await inner.attempts("a") == []  # nothing was asked of Meta
    finally:
        await inner.close()
