"""The circuit breaker of a sender (dispatch/breaker.py): its state machine, and the dispatcher
with it (FakeSender + InMemoryMessageStore + FrozenClock, burst runs: no timing involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import breaker, metrics, retries

Status = messages.MessageStatus
AO = messages.AttemptOutcome
NUMBER = "106540352242922"
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def refused() -> errors.SendError:
    return errors.TemporaryFailure("could not connect: ClientConnectorError")


def http_503() -> errors.SendError:
    return errors.TemporaryFailure("(#2) Service temporarily unavailable", code=2, http_status=503)


def make_breaker(**config: float) -> tuple[breaker.Breaker, metrics.DispatchMetrics]:
    m = metrics.DispatchMetrics()
    return breaker.Breaker(breaker.BreakerConfig(**config), m), m  # type: ignore[arg-type]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def claimed(message_id: str, when: datetime) -> messages.ScheduledMessage:
    """A row as the dispatcher holds it after claiming it at `when`."""
    return testing.make_message(message_id, T0, status=Status.SENDING, claimed_at=when)


# -- which failures are an outage -------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (refused(), True),  # the request never left
        (errors.AmbiguousFailure("no answer after sending: ServerTimeoutError"), True),
        (errors.AmbiguousFailure("HTTP 502 without a Graph error", http_status=502), True),
        (http_503(), True),  # API Service
        (errors.TemporaryFailure("(#131016) unavailable", code=131016, http_status=503), True),
        (errors.TemporaryFailure("(#133004) unavailable", code=133004, http_status=503), True),
        (errors.TemporaryFailure("(#131000) went wrong", code=131000, http_status=500), False),
        (errors.RateLimited("(#130429) rate", code=130429, http_status=429), False),
        (errors.AccountFailure("(#190) token expired", code=190, http_status=401), False),
        (errors.PermanentFailure("(#131026) undeliverable", code=131026), False),
    ],
)
def test_is_outage(error: errors.SendError, outage: bool) -> None:
    assert breaker.is_outage(error) is outage


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="breaker"):
        breaker.BreakerConfig(threshold=0)
    with pytest.raises(ValueError, match="breaker"):
        breaker.BreakerConfig(base_seconds=10, cap_seconds=5)


# -- the state machine ------------------------------------------------------------------------


def test_threshold_opens_and_only_the_first_failure_of_a_streak_counts() -> None:
    b, m = make_breaker()
    results = [b.failed(NUMBER, f"m{i}", refused(), at(i * 0.1)) for i in range(5)]
    assert [r.counted for r in results] == [True, False, False, False, False]
    assert [r.opened for r in results] == [False, False, False, False, True]
    assert b.state(NUMBER) is breaker.State.OPEN
    assert b.claim_limit(NUMBER, at(1), 200) == 0
    assert b.held_until(NUMBER, at(1)) == at(0.4 + 5)  # BASE after the failure that opened it
    assert not b.admit(NUMBER, claimed("m9", at(0.2)))  # claimed before: held
    gauge = "whatsapp_scheduler_sender_breaker_state"
    assert m.registry.get_sample_value(gauge, {"phone_number_id": NUMBER}) == 1
    opened = "whatsapp_scheduler_sender_breaker_opened_total"
    assert m.registry.get_sample_value(opened, {"phone_number_id": NUMBER}) == 1


def test_an_answer_ends_the_streak() -> None:
    b, _ = make_breaker()
    for i in range(4):
        b.failed(NUMBER, f"m{i}", refused(), at(i))
    assert b.answered(NUMBER, at(5)) is False  # it was not open
    again = [b.failed(NUMBER, f"n{i}", refused(), at(10 + i)) for i in range(4)]
    assert [r.counted for r in again] == [True, False, False, False]
    assert b.state(NUMBER) is breaker.State.CLOSED
    assert b.claim_limit(NUMBER, at(20), 200) == 200


def test_one_probe_after_the_backoff_which_doubles_up_to_the_cap() -> None:
    b, m = make_breaker(base_seconds=5, cap_seconds=30)
    for i in range(5):
        b.failed(NUMBER, f"m{i}", refused(), T0)
    probe_times = []
    now = T0
    for _ in range(6):
        probe_at = b.held_until(NUMBER, now)
        assert probe_at is not None
        probe_times.append((probe_at - now).total_seconds())
        assert b.claim_limit(NUMBER, probe_at - timedelta(seconds=1), 200) == 0
        now = probe_at
        assert b.claim_limit(NUMBER, now, 200) == 1  # the probe's claim
        assert b.state(NUMBER) is breaker.State.PROBING
        assert b.claim_limit(NUMBER, now, 200) == 0  # only one
        assert not b.admit(NUMBER, claimed("m1", now - timedelta(seconds=1)))  # held
        assert b.admit(NUMBER, claimed("m0", now))  # the probe
        assert b.admit(NUMBER, claimed("m0", now))  # its second check, after the token wait
        assert not b.admit(NUMBER, claimed("m2", now))  # only one probe
        failed = b.failed(NUMBER, "m0", http_503(), now)
        assert (failed.counted, failed.opened, failed.state) == (False, True, breaker.State.OPEN)
    assert probe_times == [5, 10, 20, 30, 30, 30]
    opened = "whatsapp_scheduler_sender_breaker_opened_total"
    assert m.registry.get_sample_value(opened, {"phone_number_id": NUMBER}) == 7


def test_a_successful_probe_closes_it() -> None:
    b, m = make_breaker()
    for i in range(5):
        b.failed(NUMBER, f"m{i}", refused(), T0)
    assert b.claim_limit(NUMBER, at(5), 200) == 1
    assert b.admit(NUMBER, claimed("m0", at(5)))
    assert b.answered(NUMBER, at(5.2)) is True
    assert b.state(NUMBER) is breaker.State.CLOSED
    assert b.claim_limit(NUMBER, at(5.2), 200) == 200
    assert b.held_until(NUMBER, at(5.2)) is None
    assert b.as_json(at(5.2)) == []
    gauge = "whatsapp_scheduler_sender_breaker_state"
    assert m.registry.get_sample_value(gauge, {"phone_number_id": NUMBER}) == 0
    # A new streak starts from nothing: its first failure counts again.
    assert b.failed(NUMBER, "m1", refused(), at(6)).counted


def test_a_send_in_flight_when_it_opened_neither_counts_nor_moves_the_probe() -> None:
    b, _ = make_breaker()
    for i in range(5):
        b.failed(NUMBER, f"m{i}", refused(), T0)
    late = b.failed(NUMBER, "m7", refused(), at(1))
    assert (late.counted, late.opened, late.state) == (False, False, breaker.State.OPEN)
    assert b.held_until(NUMBER, at(1)) == at(5)


def test_a_probe_claim_that_never_reached_meta_hands_the_probe_on() -> None:
    b, _ = make_breaker()
    for i in range(5):
        b.failed(NUMBER, f"m{i}", refused(), T0)
    assert b.claim_limit(NUMBER, at(5), 200) == 1
    expired = claimed("m0", at(5))
    b.settle(NUMBER, expired)  # e.g. too late for MAX_LATENESS: never admitted
    assert b.state(NUMBER) is breaker.State.OPEN
    assert b.claim_limit(NUMBER, at(5), 200) == 1
    deferred = claimed("m1", at(5.1))
    assert b.admit(NUMBER, deferred)
    b.settle(NUMBER, deferred)  # admitted, then deferred by the pair gap
    assert b.state(NUMBER) is breaker.State.OPEN
    assert b.claim_limit(NUMBER, at(5.1), 200) == 1
    probe = claimed("m2", at(5.2))
    assert b.admit(NUMBER, probe)
    b.failed(NUMBER, "m2", refused(), at(5.3))
    b.settle(NUMBER, probe)  # it was sent: the failure decided, settling changes nothing
    assert b.held_until(NUMBER, at(5.3)) == at(5.3 + 10)


def test_a_held_message_settling_leaves_the_probe_alone() -> None:
    b, _ = make_breaker()
    for i in range(5):
        b.failed(NUMBER, f"m{i}", refused(), T0)
    assert b.claim_limit(NUMBER, at(5), 200) == 1
    old = claimed("m7", at(0.1))  # claimed before the breaker opened
    assert not b.admit(NUMBER, old)
    b.settle(NUMBER, old)
    assert b.state(NUMBER) is breaker.State.PROBING
    assert b.claim_limit(NUMBER, at(5), 200) == 0


def test_the_reason_names_what_failed_and_the_next_probe() -> None:
    b, _ = make_breaker()
    for i in range(3):
        b.failed(NUMBER, f"m{i}", refused(), T0)
    for i in range(2):
        b.failed(NUMBER, f"n{i}", http_503(), T0)
    [entry] = b.as_json(T0)
    probe = at(5).isoformat()
    assert entry == {
        "phone_number_id": NUMBER,
        "kind": "outage",
        "code": 2,
        "reason": f"Meta unavailable: connection error x3, 503 x2, next probe at {probe}",
        "until": probe,
        "state": "open",
        "since": T0.isoformat(),
        "failures": 5,
        "next_probe_at": probe,
    }


def test_each_sender_has_its_own_breaker() -> None:
    b, _ = make_breaker()
    for i in range(5):
        b.failed(NUMBER, f"m{i}", refused(), T0)
    assert b.state(NUMBER) is breaker.State.OPEN
    assert b.state("other-number") is breaker.State.CLOSED
    assert b.claim_limit("other-number", T0, 200) == 200
    assert b.admit("other-number", claimed("x", T0))
    assert [e["phone_number_id"] for e in b.as_json(T0)] == [NUMBER]


# -- the retry rule of an outage failure ------------------------------------------------------


def test_decide_outage_keeps_the_place_in_the_queue() -> None:
    policy = retries.RetryPolicy(max_attempts=5)
    message = testing.make_message("m", T0)
    decision = policy.decide_outage(refused(), message, counted=False, now=at(30))
    assert decision.action == retries.Action.RETRY
    assert decision.attempt == AO.RETRY
    assert decision.run_at == message.run_at
    assert decision.counts_attempt is False
    ambiguous = errors.AmbiguousFailure("HTTP 503 without a Graph error", http_status=503)
    assert (
        policy.decide_outage(ambiguous, message, counted=True, now=at(30)).attempt == AO.AMBIGUOUS
    )


def test_decide_outage_counted_can_still_exhaust_attempts() -> None:
    policy = retries.RetryPolicy(max_attempts=2)
    message = testing.make_message("m", T0, attempts=1)
    assert (
        policy.decide_outage(refused(), message, counted=True, now=T0).action == retries.Action.FAIL
    )
    assert (
        policy.decide_outage(refused(), message, counted=False, now=T0).action
        == retries.Action.RETRY
    )


def test_decide_outage_without_resend_ambiguous_still_fails_an_ambiguous_send() -> None:
    policy = retries.RetryPolicy(resend_ambiguous=False)
    message = testing.make_message("m", T0)
    ambiguous = errors.AmbiguousFailure("no answer after sending: ServerTimeoutError")
    decision = policy.decide_outage(ambiguous, message, counted=False, now=T0)
    assert decision.action == retries.Action.FAIL
    assert decision.error_text is not None
    assert decision.error_text.startswith(retries.AMBIGUOUS_TEXT)
    # A refused connection never reached Meta: resent even at-most-once.
    assert policy.decide_outage(refused(), message, counted=False, now=T0).action == (
        retries.Action.RETRY
    )


# -- the dispatcher with its breaker ----------------------------------------------------------


async def test_outage_pauses_the_sender_and_fails_nothing(
    clock, memory_store, sender, make_dispatcher
):
    start = clock.now()
    ids = [f"m{i:02d}" for i in range(12)]
    await memory_store.add_many(
        [
            testing.make_message(mid, start + timedelta(seconds=i), recipient=f"+9055500001{i:02d}")
            for i, mid in enumerate(ids)
        ]
    )
    clock.advance(20)  # all due
    sender.fail_next(1000, refused)
    d = make_dispatcher(send_concurrency=4)
    await d.run(burst=True)
    assert len(sender.calls) == 5  # the threshold, then nothing more is sent
    health = d.health()
    assert health["state"] == "paused"
    [paused] = health["paused"]
    assert paused["kind"] == "outage"
    assert paused["reason"].startswith("Meta unavailable: connection error x5, next probe at ")
    assert {memory_store.rows[mid].status for mid in ids} == {Status.QUEUED}
    assert sum(memory_store.rows[mid].attempts for mid in ids) == 1  # the streak's first

    # Ten minutes of probes that fail: one send per probe, never a failed message.
    probes = 0
    for _ in range(60):
        clock.advance(10)
        calls = len(sender.calls)
        await d.run(burst=True)
        probes += len(sender.calls) - calls
        assert len(sender.calls) - calls <= 1
    assert 3 <= probes <= 10  # 5 s, 10 s, 20 s ... capped at 300 s over 600 s
    assert {memory_store.rows[mid].status for mid in ids} == {Status.QUEUED}
    assert d.health()["failed"] == 0

    # Meta is back: the next probe succeeds and the queue drains in due order.
    sender.clear_faults()
    clock.advance(300)
    await d.run(burst=True)
    assert [m.id for m in sender.sent] == ids
    assert {memory_store.rows[mid].status for mid in ids} == {Status.SENT}
    assert max(memory_store.rows[mid].attempts for mid in ids) <= 2
    health = d.health()
    assert (health["state"], health["paused"], health["failed"]) == ("idle", [], 0)
    attempts = await memory_store.attempts(ids[0])
    assert [a.outcome for a in attempts][-1] == AO.SENT
    await d.stop()


async def test_max_lateness_still_ends_a_message_during_an_outage(
    clock, memory_store, sender, make_dispatcher
):
    await memory_store.add_many([testing.make_message("old", clock.now())])
    sender.fail_next(1000, http_503)
    d = make_dispatcher(max_lateness=timedelta(minutes=30))
    await d.run(burst=True)
    for _ in range(12):
        clock.advance(300)
        await d.run(burst=True)
    row = memory_store.rows["old"]
    assert row.status == Status.FAILED
    assert row.last_error_text is not None
    assert row.last_error_text.startswith("expired")
    await d.stop()


async def test_a_lone_message_does_not_spend_its_attempts(
    clock, memory_store, sender, make_dispatcher
):
    """One message and Meta down: it trips the breaker alone and waits on the probes."""
    await memory_store.add_many([testing.make_message("solo", clock.now())])
    sender.fail_next(1000, refused)
    d = make_dispatcher(policy=retries.RetryPolicy(max_attempts=3))
    for _ in range(40):
        await d.run(burst=True)
        clock.advance(15)
    row = memory_store.rows["solo"]
    assert (row.status, row.attempts) == (Status.QUEUED, 1)
    assert len(sender.calls) > 3  # more sends than MAX_ATTEMPTS, none of them fatal
    sender.clear_faults()
    clock.advance(300)
    await d.run(burst=True)
    assert memory_store.rows["solo"].status == Status.SENT
    await d.stop()


async def test_a_message_meta_refuses_is_not_an_outage(
    clock, memory_store, sender, make_dispatcher
):
    """Permanent errors prove Meta is up: no breaker, the message fails as before."""
    await memory_store.add_many(
        [testing.make_message(f"p{i}", clock.now(), recipient=f"+90555000020{i}") for i in range(6)]
    )
    sender.fail_next(6, errors.PermanentFailure("(#131026) undeliverable", code=131026))
    d = make_dispatcher()
    await d.run(burst=True)
    assert d.health()["paused"] == []
    assert d.health()["failed"] == 6
    await d.stop()


async def test_at_a_probe_time_a_too_late_message_ends_and_the_next_one_probes(
    clock, memory_store, sender, make_dispatcher
):
    start = clock.now()
    await memory_store.add_many(
        [
            testing.make_message("early", start, recipient="+905550000301"),
            testing.make_message("late", start + timedelta(minutes=20), recipient="+905550000302"),
        ]
    )
    sender.fail_next(5, refused)
    d = make_dispatcher(max_lateness=timedelta(minutes=30))
    await d.run(burst=True)  # "early" alone opens the breaker
    assert d.health()["paused"][0]["kind"] == "outage"
    clock.advance(timedelta(minutes=40))  # "early" is now too late, "late" is not
    await d.run(burst=True)  # the probe time: "early" expires, "late" is the probe and is sent
    assert memory_store.rows["early"].status == Status.FAILED
    assert memory_store.rows["early"].last_error_text.startswith("expired")
    assert memory_store.rows["late"].status == Status.SENT
    assert [m.id for m in sender.sent] == ["late"]
    assert d.health()["paused"] == []
    await d.stop()


def test_the_number_is_exported_closed_before_any_failure(make_dispatcher) -> None:
    d = make_dispatcher()
    text = d.metrics.render().decode()
    assert f'whatsapp_scheduler_sender_breaker_state{{phone_number_id="{NUMBER}"}} 0.0' in text
    assert (
        f'whatsapp_scheduler_sender_breaker_opened_total{{phone_number_id="{NUMBER}"}} 0.0' in text
    )
