"""The daily messaging limit at send time (docs/limits.md): templates to contacts outside
their 24-hour window count once per contact in a moving 24 h; the one that would exceed the
portfolio's limit is deferred (`messaging_limit`) to the time a slot frees, nothing sent."""

from __future__ import annotations

from datetime import timedelta

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import messages

Status = messages.MessageStatus
TEMPLATE = {"name": "offer", "language": {"code": "tr"}}


def _template(message_id: str, due, recipient: str) -> messages.ScheduledMessage:
    return testing.make_message(message_id, due, recipient=recipient, body=None, template=TEMPLATE)


async def test_the_contact_past_the_limit_waits_for_a_slot(
    clock, memory_store, sender, make_dispatcher
):
    now = clock.now()
    await memory_store.add_many(
        [
            _template("t1", now, "+905550000001"),
            _template("t2", now, "+905550000002"),
            _template("t1b", now, "+905550000001"),  # the same contact: counted once
            testing.make_message("text", now, recipient="+905550000009"),  # a text: not counted
        ]
    )
    await memory_store.record_inbound([("905550000003", now - timedelta(hours=1))])
    await memory_store.add_many([_template("open", now, "+905550000003")])  # inside its window
    d = make_dispatcher(messaging_limit=2)
    await d.run(burst=True)
    assert sorted(m.id for m in sender.calls) == ["open", "t1", "t1b", "t2", "text"]
    await memory_store.add_many([_template("t3", now, "+905550000004")])
    clock.advance(timedelta(hours=1))
    await d.run(burst=True)
    row = memory_store.rows["t3"]
    assert (row.status, row.status_reason) == (Status.QUEUED, "messaging_limit")
    assert row.run_at == now + timedelta(hours=24)  # when t1's and t2's bookings end
    assert row.attempts == 0
    assert sender.sends_for("t3") == 0
    clock.set(now + timedelta(hours=24))
    await d.run(burst=True)
    assert memory_store.rows["t3"].status == Status.SENT
    await d.stop()


async def test_a_senders_own_limit_is_shared_by_its_portfolio(clock, memory_store):
    from whatsapp_scheduler.core import senders
    from whatsapp_scheduler.dispatch import config as dispatch_config
    from whatsapp_scheduler.dispatch import dispatcher, ratelimit, retries
    from whatsapp_scheduler.dispatch.senders import StaticSenders

    def sender(name: str, number: str, portfolio: str, limit: str | None):
        own = senders.Sender(name, number, portfolio=portfolio, messaging_limit=limit)
        return senders.SenderCredentials(own, f"token-{name}")

    fake = testing.FakeSender()
    d = dispatcher.Dispatcher(
        message_store=memory_store,
        clock=clock,
        config=dispatch_config.DispatchConfig(messages_per_second=1000, flush_delay_seconds=0),
        policy=retries.RetryPolicy(),
        limiter=ratelimit.RateLimiter(1000, 0),
        senders=StaticSenders(
            [
                sender("a", "111", "p1", "250"),
                sender("b", "222", "p1", "250"),
                sender("c", "333", "p2", None),  # MESSAGING_LIMIT: unlimited here
            ]
        ),
        connect=lambda _credentials: fake,
        worker_id="w",
    )
    now = clock.now()
    batch = [
        _template(f"{name}{i}", now, f"+9055{offset + i:08d}").evolve(sender=name)
        for name, offset, count in (("a", 0, 200), ("b", 1000, 60), ("c", 2000, 30))
        for i in range(count)
    ]
    await memory_store.add_many(batch)
    await d.run(burst=True)
    waiting = [m for m in memory_store.rows.values() if m.status == Status.QUEUED]
    assert len(fake.calls) == 280  # 250 of portfolio p1, all 30 of c
    assert {m.status_reason for m in waiting} == {"messaging_limit"}
    assert len(waiting) == 10
    assert {m.sender for m in waiting} <= {"a", "b"}
    await d.stop()


async def test_the_frequency_cap_defers_the_third_marketing_message_in_seven_days(
    clock, memory_store, sender, make_dispatcher
):
    from whatsapp_scheduler.core import limits

    now = clock.now()
    marketing = [
        _template(f"mk{i}", now, "+905550000001").evolve(category="MARKETING") for i in range(3)
    ]
    utility = _template("ut", now, "+905550000001").evolve(category="UTILITY")
    other = _template("mk-other", now, "+905550000002").evolve(category="MARKETING")
    await memory_store.add_many([*marketing, utility, other])
    d = make_dispatcher(frequency_cap=limits.FrequencyCap(2, 7))
    await d.run(burst=True)
    assert sorted(m.id for m in sender.calls) == ["mk-other", "mk0", "mk1", "ut"]
    row = memory_store.rows["mk2"]
    assert (row.status, row.status_reason) == (Status.QUEUED, "frequency_cap")
    assert row.run_at == now + timedelta(days=7)
    clock.advance(timedelta(days=1))
    await d.run(burst=True)  # still capped: the two sent a day ago count
    assert memory_store.rows["mk2"].status == Status.QUEUED
    clock.set(now + timedelta(days=7))
    await d.run(burst=True)
    assert memory_store.rows["mk2"].status == Status.SENT
    await d.stop()


async def test_a_marketing_send_in_flight_elsewhere_holds_a_later_claim_briefly(
    clock, memory_store, sender, make_dispatcher
):
    """Two processes, cap 1 in 7 days, two marketing messages to one contact: the one another
    process claimed first (still `sending`, not yet recorded) makes this process's later claim
    wait IN_FLIGHT_RECHECK, not send; once the other is recorded sent, this one waits the whole
    period; had the other not been sent, this one would go at the recheck."""
    from whatsapp_scheduler.core import limits
    from whatsapp_scheduler.dispatch import limit_gate
    from whatsapp_scheduler.store import Outcome

    now = clock.now()
    theirs = _template("theirs", now - timedelta(seconds=1), "+905550000001")
    mine = _template("mine", now, "+905550000001")
    other_contact = _template("other", now, "+905550000009")
    await memory_store.add_many(
        [m.evolve(category="MARKETING") for m in (theirs, mine, other_contact)]
    )
    (claimed,) = await memory_store.claim_due(now, 1, "elsewhere", now + timedelta(minutes=5))
    assert claimed.id == "theirs"
    clock.advance(timedelta(seconds=1))
    d = make_dispatcher(frequency_cap=limits.FrequencyCap(1, 7))
    await d.run(burst=True)
    assert [c.id for c in sender.calls] == ["other"]
    row = memory_store.rows["mine"]
    assert (row.status, row.status_reason) == (Status.QUEUED, "frequency_cap")
    assert row.run_at == clock.now() + limit_gate.IN_FLIGHT_RECHECK
    sent_at = clock.now()
    await memory_store.record(
        [
            Outcome(
                message_id="theirs",
                worker="elsewhere",
                status=Status.SENT,
                finished_at=sent_at,
                attempt=messages.AttemptOutcome.SENT,
                started_at=sent_at,
                wamid="wamid.theirs",
            )
        ]
    )
    clock.advance(limit_gate.IN_FLIGHT_RECHECK)
    await d.run(burst=True)
    assert memory_store.rows["mine"].run_at == sent_at + timedelta(days=7)
    assert [c.id for c in sender.calls] == ["other"]
    await d.stop()


async def test_a_claim_older_than_the_one_in_flight_elsewhere_goes(clock, memory_store):
    """The order is the claims' (time, then id), the same in every process: the earlier one
    goes, the later one waits; a batch's own messages are not 'elsewhere'."""
    from whatsapp_scheduler.core import limits
    from whatsapp_scheduler.dispatch import limit_gate

    now = clock.now()
    gate = limit_gate.FrequencyGate(memory_store, limits.FrequencyCap(1, 7))
    early = _template("early", now, "+905550000001").evolve(category="MARKETING")
    late = _template("late", now, "+905550000001").evolve(category="MARKETING")
    await memory_store.add_many([early, late])
    (got_early,) = await memory_store.claim_due(now, 1, "w1", now + timedelta(minutes=5))
    clock.advance(timedelta(seconds=2))
    (got_late,) = await memory_store.claim_due(clock.now(), 1, "w2", now + timedelta(minutes=5))
    await gate.prepare([got_early], clock.now())  # process w1
    assert gate.check(got_early) is None
    await gate.prepare([got_late], clock.now())  # process w2
    assert gate.check(got_late) == clock.now() + limit_gate.IN_FLIGHT_RECHECK
    # one process holding both: its own claim is counted once, in claim order
    both = limit_gate.FrequencyGate(memory_store, limits.FrequencyCap(2, 7))
    await both.prepare([got_early, got_late], clock.now())
    assert (both.check(got_early), both.check(got_late)) == (None, None)
