"""Dispatcher with FakeSender + InMemoryMessageStore + FrozenClock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import dispatcher, retries

Status = messages.MessageStatus
AO = messages.AttemptOutcome


async def until(condition, what: str, within: float = 20.0) -> None:
    """Wait for `condition()`: a deadline against a hang, never a statement about speed."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def add(store: testing.InMemoryMessageStore, *items: messages.ScheduledMessage) -> None:
    await store.add_many(list(items))


async def test_burst_sends_what_is_due_and_returns(clock, memory_store, sender, make_dispatcher):
    now = clock.now()
    await add(
        memory_store,
        *(testing.make_message(f"m{i}", now, recipient=f"+9055500000{i:02d}") for i in range(20)),
        testing.make_message("later", now + timedelta(minutes=5)),
    )
    d = make_dispatcher()
    await d.run(burst=True)
    assert len(sender.calls) == 20
    for i in range(20):
        row = memory_store.rows[f"m{i}"]
        assert row.status == Status.SENT
        assert row.wamid is not None
        assert row.attempts == 1
        assert row.claimed_by is None
    assert memory_store.rows["later"].status == Status.QUEUED
    assert d.health()["sent"] == 20
    await d.stop()
    assert d.health()["state"] == "stopped"


async def test_burst_claims_again_while_a_slow_send_holds_a_slot(
    clock, memory_store, sender, make_dispatcher
):
    """A burst claims the next rows as soon as the sender's slots have room, not once every
    message of the last claim is done: one slow send never leaves the other slots idle."""
    now = clock.now()
    await add(
        memory_store,
        *(testing.make_message(f"m{i}", now, recipient=f"+9055500000{i:02d}") for i in range(8)),
    )
    sender.hang_next(1, seconds=None)  # the first send never answers
    d = make_dispatcher(send_concurrency=2, claim_batch_size=2)
    burst = asyncio.create_task(d.run(burst=True))
    await until(lambda: len(sender.sent) == 7, "the seven other messages sent", within=10)
    assert sender.calls[0].id == "m0"
    assert memory_store.rows["m7"].status == Status.SENT
    assert not burst.done()  # still waiting for the hung send
    await d.stop()  # the hung send is cancelled and recorded ambiguous
    await burst
    assert memory_store.rows["m0"].status != Status.SENT


async def test_permanent_error_costs_one_call(clock, memory_store, sender, make_dispatcher):
    await add(memory_store, testing.make_message("p", clock.now()))
    sender.fail_next(1, errors.PermanentFailure("(#131026) undeliverable", code=131026))
    d = make_dispatcher()
    await d.run(burst=True)
    row = memory_store.rows["p"]
    assert (row.status, row.last_error_code, row.attempts) == (Status.FAILED, 131026, 1)
    assert row.last_error_text == "(#131026) undeliverable"
    assert len(sender.calls) == 1
    (attempt,) = await memory_store.attempts("p")
    assert attempt.outcome == AO.FAILED
    assert attempt.error_code == 131026


async def test_temporary_error_requeues_with_backoff(clock, memory_store, sender, make_dispatcher):
    await add(memory_store, testing.make_message("t", clock.now()))
    sender.fail_next(1, errors.TemporaryFailure("(#131000) oops", code=131000))
    policy = retries.RetryPolicy(random=lambda: 0.5, base_seconds=10)
    d = make_dispatcher(policy=policy)
    await d.run(burst=True)
    row = memory_store.rows["t"]
    assert row.status == Status.QUEUED
    assert row.attempts == 1
    assert row.run_at == clock.now() + timedelta(seconds=5)
    assert row.last_error_code == 131000
    clock.advance(5)
    await d.run(burst=True)
    assert memory_store.rows["t"].status == Status.SENT
    assert [a.outcome for a in await memory_store.attempts("t")] == [AO.RETRY, AO.SENT]


async def test_attempts_exhausted_fail(clock, memory_store, sender, make_dispatcher):
    await add(memory_store, testing.make_message("x", clock.now()))
    sender.fail_next(10, errors.TemporaryFailure("went wrong", code=131000))
    d = make_dispatcher(policy=retries.RetryPolicy(max_attempts=3, random=lambda: 0.0))
    for _ in range(5):
        await d.run(burst=True)
    row = memory_store.rows["x"]
    assert (row.status, row.attempts) == (Status.FAILED, 3)
    assert row.last_error_text == "attempts exhausted (3): went wrong"
    assert len(sender.calls) == 3


async def test_account_error_pauses_and_defers(clock, memory_store, sender, make_dispatcher):
    now = clock.now()
    await add(
        memory_store,
        *(testing.make_message(f"a{i}", now, recipient=f"+9055511100{i}") for i in range(5)),
    )
    sender.fail_next(1, errors.AccountFailure("(#190) token expired", code=190))
    d = make_dispatcher(send_concurrency=1)
    await d.run(burst=True)
    assert len(sender.calls) == 1
    health = d.health()
    assert health["state"] == "paused"
    (pause,) = health["paused"]
    assert pause["code"] == 190
    assert pause["phone_number_id"] == "106540352242922"
    until = now + timedelta(seconds=300)
    assert pause["until"] == until.isoformat()
    for i in range(5):
        row = memory_store.rows[f"a{i}"]
        assert row.status == Status.QUEUED
        assert row.attempts == 0
    assert memory_store.rows["a0"].last_error_code == 190
    assert await memory_store.attempts("a0") == []  # a deferral, not an attempt
    clock.advance(299)
    await d.run(burst=True)
    assert len(sender.calls) == 1  # still paused
    clock.advance(2)
    await d.run(burst=True)
    assert all(memory_store.rows[f"a{i}"].status == Status.SENT for i in range(5))
    assert d.health()["state"] in ("idle", "running")
    assert d.health()["paused"] == []


async def test_expired_message_fails_without_sending(clock, memory_store, sender, make_dispatcher):
    due = clock.now() - timedelta(hours=25)
    await add(
        memory_store,
        testing.make_message("old", due),
        testing.make_message("late", clock.now() - timedelta(hours=23)),
    )
    d = make_dispatcher()
    await d.run(burst=True)
    row = memory_store.rows["old"]
    assert row.status == Status.FAILED
    assert row.attempts == 0
    assert row.last_error_text is not None
    assert row.last_error_text.startswith(
        f"expired: due at {due.isoformat()}, more than MAX_LATENESS"
    )
    (attempt,) = await memory_store.attempts("old")
    assert attempt.outcome == AO.EXPIRED
    assert memory_store.rows["late"].status == Status.SENT
    assert [m.id for m in sender.calls] == ["late"]


async def test_pair_gap_defers_second_message(clock, memory_store, sender, make_dispatcher):
    now = clock.now()
    await add(memory_store, testing.make_message("one", now), testing.make_message("two", now))
    d = make_dispatcher(pair_interval=6.0, send_concurrency=1)
    await d.run(burst=True)
    assert [m.id for m in sender.calls] == ["one"]
    row = memory_store.rows["two"]
    assert row.status == Status.QUEUED
    assert row.attempts == 0
    assert row.run_at == now + timedelta(seconds=6)
    clock.advance(6)
    await d.run(burst=True)
    assert memory_store.rows["two"].status == Status.SENT


async def test_a_pause_during_the_token_wait_gives_the_recipient_gap_back(
    clock, memory_store, sender, make_dispatcher
):
    """ "second" books its recipient's gap, then waits for a send slot; meanwhile "first" meets
    an expired token (190) a second later and the number pauses. "second" is released unsent,
    so when the pause ends it goes at once, not PAIR_INTERVAL after a send that never was."""
    now = clock.now()
    await add(
        memory_store,
        testing.make_message("first", now, recipient="+905551112233"),
        testing.make_message("second", now, recipient="+905551112244"),
    )

    def expired_token_a_second_later() -> errors.SendError:
        clock.advance(1)
        return errors.AccountFailure("Error validating access token", code=190)

    sender.fail_next(1, expired_token_a_second_later)
    sender.latency = 0.05  # "first" is on the wire while "second" waits for its slot
    policy = retries.RetryPolicy(account_pause_seconds=2)
    d = make_dispatcher(rate=4.0, pair_interval=6.0, policy=policy)  # 1 slot, then 1 per 0.25 s
    await d.run(burst=True)
    assert [m.id for m in sender.calls] == ["first"]
    resume = now + timedelta(seconds=3)
    for message_id in ("first", "second"):
        row = memory_store.rows[message_id]
        assert (row.status, row.run_at, row.attempts) == (Status.QUEUED, resume, 0)
    clock.advance(2)
    await d.run(burst=True)
    assert memory_store.rows["second"].status == Status.SENT
    assert memory_store.rows["first"].status == Status.SENT
    await d.stop()


@pytest.mark.parametrize(("resend", "status"), [(True, Status.QUEUED), (False, Status.FAILED)])
async def test_reaper_recovers_dead_worker(
    clock, memory_store, sender, make_dispatcher, resend, status
):
    now = clock.now()
    await add(memory_store, testing.make_message("orphan", now - timedelta(minutes=2)))
    await memory_store.claim_due(
        now - timedelta(minutes=2), 10, "dead-worker", now - timedelta(minutes=1)
    )
    d = make_dispatcher(policy=retries.RetryPolicy(resend_ambiguous=resend))
    assert await d.reap() == 1
    row = memory_store.rows["orphan"]
    assert row.status == status
    assert row.attempts == 1
    (attempt,) = await memory_store.attempts("orphan")
    assert attempt.outcome == AO.AMBIGUOUS
    assert attempt.worker == "dead-worker"
    if resend:
        await d.run(burst=True)
        assert memory_store.rows["orphan"].status == Status.SENT
    else:
        assert row.last_error_text is not None
        assert row.last_error_text.startswith("ambiguous: may have been sent")


async def test_rate_limited_with_retry_after(clock, memory_store, sender, make_dispatcher):
    await add(memory_store, testing.make_message("r", clock.now()))
    sender.rate_limit_next(1, retry_after=0.05)
    d = make_dispatcher()
    await d.run(burst=True)
    row = memory_store.rows["r"]
    assert row.status == Status.QUEUED
    assert row.run_at == clock.now() + timedelta(seconds=0.05)
    assert d.limiter.bucket(d.phone_number_id).rate < 1000  # slowed down


async def test_stop_releases_unsent_and_marks_cut_sends_ambiguous(
    clock, memory_store, sender, make_dispatcher
):
    now = clock.now()
    await add(
        memory_store,
        *(testing.make_message(f"s{i}", now, recipient=f"+9055522200{i}") for i in range(6)),
    )
    sender.hang_next(1)  # the first send never answers
    # One token per 100 s: however slow the machine, the others are still waiting for theirs
    # when stop() comes.
    d = make_dispatcher(rate=0.01, send_concurrency=4, shutdown_grace_seconds=0.1)
    await d.start()
    await until(lambda: sender.calls, "the first send")
    await d.stop()
    rows = [memory_store.rows[f"s{i}"] for i in range(6)]
    cut = [r for r in rows if r.id == sender.calls[0].id]
    assert cut[0].status == Status.QUEUED
    assert cut[0].attempts == 1
    (attempt,) = await memory_store.attempts(cut[0].id)
    assert (attempt.outcome, attempt.sent_as) == (AO.AMBIGUOUS, messages.SentAs.TEXT)
    released = [r for r in rows if r.id != sender.calls[0].id]
    assert all(r.status == Status.QUEUED and r.attempts == 0 for r in released)
    assert all(r.claimed_by is None for r in rows)
    assert len(sender.calls) == 1  # the rest were waiting for a token


async def test_nudge_wakes_the_loop(clock, memory_store, sender, make_dispatcher):
    d = make_dispatcher()
    await d.start()
    try:
        await asyncio.sleep(0.05)
        message = testing.make_message("n", clock.now())
        await add(memory_store, message)
        d.nudge(message.run_at)
        # Without the nudge it would wait for the safety poll (30 s): 10 s tells them apart.
        await until(lambda: memory_store.rows["n"].status == Status.SENT, "the send", within=10)
    finally:
        await d.stop()


async def test_health_and_metrics(clock, memory_store, sender, make_dispatcher):
    await add(
        memory_store,
        testing.make_message("h1", clock.now()),
        testing.make_message("h2", clock.now(), recipient="+905559990000"),
    )
    sender.fail_message("h2", errors.PermanentFailure("(#131051) unsupported", code=131051))
    d = make_dispatcher()
    await d.run(burst=True)
    health = d.health()
    assert set(health) >= {"state", "paused", "in_flight", "sent", "failed", "last_error", "worker"}
    assert (health["sent"], health["failed"], health["in_flight"]) == (1, 1, 0)
    assert health["last_error"]["code"] == 131051
    text = dispatcher.render_metrics(d).decode()
    assert 'whatsapp_scheduler_messages_sent_total{category="SERVICE",sender="default"} 1.0' in text
    assert 'whatsapp_scheduler_messages_failed_total{code="131051",sender="default"} 1.0' in text
    assert "whatsapp_scheduler_send_lateness_seconds_bucket" in text
    assert 'whatsapp_scheduler_queue_depth{status="queued"} 0.0' in text


async def test_metrics_registries_are_separate(make_dispatcher):
    a, b = make_dispatcher(), make_dispatcher()
    a.metrics.sent.labels("SERVICE", "default").inc()
    assert (
        b'messages_sent_total{category="SERVICE",sender="default"} 0.0'
        in dispatcher.render_metrics(b)
    )


async def test_log_line_has_no_body(clock, memory_store, sender, make_dispatcher, caplog):
    await add(memory_store, testing.make_message("l", clock.now(), body="TOP SECRET TEXT"))
    d = make_dispatcher()
    with caplog.at_level("INFO", logger="whatsapp_scheduler.dispatch"):
        await d.run(burst=True)
    records = [r for r in caplog.records if r.getMessage().startswith("send attempt")]
    assert len(records) == 1
    record = records[0]
    assert record.message_id == "l"
    assert record.outcome == "sent"
    assert "TOP SECRET" not in str(record.__dict__)


async def test_a_send_slot_is_freed_only_after_its_outcome_is_committed(
    clock, memory_store, sender, make_dispatcher, monkeypatch
):
    """At most `send_concurrency` messages are sent but not yet recorded: a crash then makes
    the reaper resend at most that many. With commits held back, the sender must see no more
    than the slots, however long it waits."""
    now = clock.now()
    await add(
        memory_store,
        *(testing.make_message(f"s{i}", now, recipient=f"+9055500001{i:02d}") for i in range(8)),
    )
    commits = asyncio.Event()
    record = memory_store.record

    async def held_record(outcomes):
        await commits.wait()
        return await record(outcomes)

    monkeypatch.setattr(memory_store, "record", held_record)
    d = make_dispatcher(send_concurrency=2)
    run = asyncio.create_task(d.run(burst=True))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while len(sender.calls) < 2 and loop.time() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # time for a third send, were a slot free before its commit
    assert len(sender.calls) == 2
    commits.set()
    await asyncio.wait_for(run, timeout=30)
    assert len(sender.calls) == 8
    assert all(memory_store.rows[f"s{i}"].status == Status.SENT for i in range(8))
    await d.stop()


async def test_metrics_say_how_overdue_the_queue_is(clock, memory_store, make_dispatcher):
    """`queue_overdue_seconds`: how late the oldest due message is (an alert needs no send to
    have happened: a stopped queue shows here, not in the send lateness)."""
    d = make_dispatcher()
    gauge = "whatsapp_scheduler_queue_overdue_seconds"
    await d._update_depth()
    assert d.metrics.registry.get_sample_value(gauge) == 0.0
    await add(memory_store, testing.make_message("late", clock.now() - timedelta(seconds=90)))
    await d._update_depth()
    assert d.metrics.registry.get_sample_value(gauge) == 90.0
    await d.stop()


async def test_the_reaper_leaves_alone_claims_still_waiting_for_a_send_slot(
    clock, memory_store, sender, make_dispatcher
):
    """Slow sends let a claimed row's lease pass while it waits for a slot. The process that
    claimed it is alive: reaping it would record a false ambiguous attempt and send it twice."""
    now = clock.now()
    await add(
        memory_store,
        *(testing.make_message(f"p{i}", now, recipient=f"+9055500002{i:02d}") for i in range(3)),
    )
    sender.latency = 0.3
    d = make_dispatcher(send_concurrency=1, lease_seconds=1.0)
    await d.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not sender.calls and loop.time() < deadline:
            await asyncio.sleep(0.01)
        clock.advance(timedelta(seconds=2))  # every claimed row's lease has passed
        assert await d.reap() == 0
        deadline = loop.time() + 30
        while len(sender.calls) < 3 and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # time for a resend to show, were one made
    finally:
        await d.stop()
    assert sorted(m.id for m in sender.calls) == ["p0", "p1", "p2"]
    outcomes = [a.outcome for a in memory_store.attempt_rows]
    assert AO.AMBIGUOUS not in outcomes


async def test_a_timed_job_runs_at_start_and_stop_waits_for_a_run_in_progress(make_dispatcher):
    """The template sync's timed job (`add_timed_job`): its first run comes at start, not a
    whole interval later; stop() lets a run in progress finish instead of cancelling it."""
    d = make_dispatcher()
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        await release.wait()
        finished.set()

    d.add_timed_job("test-job", 3600, work, at_start=True)
    await d.start()
    async with asyncio.timeout(20):  # only against a hang: an hour's interval would be 3600 s
        await started.wait()
    stopping = asyncio.create_task(d.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "stop waits for the job's run"
    release.set()
    async with asyncio.timeout(20):
        await stopping
    assert finished.is_set()
