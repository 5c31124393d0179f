"""Issue #15 part 3: several senders, and one sender's outage or pause never slows another's.

Two senders on one stand-in, each its own number and token: `default` and `branch`. The
dispatcher (real `CloudApiSender`s over one aiohttp session, real SQLite file) is driven in
burst runs while a `FrozenClock` steps through a minute and more, so nothing depends on how
fast this machine is: "on time" is "sent in the first run at or after its due time", read from
the records (`attempts.started_at` against `due_at`). Meanwhile `branch` answers 503 (Meta's
outage for that number only) or 190 (its token refused: that sender paused), and is mended
later; all its messages must then go out, none failed, and no attempt spent on the pause.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.integration.dispatch.conftest import NUMBER_ID, TOKEN, fast_policy
from whatsapp_scheduler import bootstrap, settings, testing
from whatsapp_scheduler.core import messages, senders
from whatsapp_scheduler.dispatch import dispatcher as dispatcher_mod
from whatsapp_scheduler.dispatch import ratelimit
from whatsapp_scheduler.dispatch.senders import StaticSenders
from whatsapp_scheduler.sandbox import Number, StandIn, StandInConfig
from whatsapp_scheduler.store import migrate, sql

Status = messages.MessageStatus
BRANCH_ID = "106540352242999"
BRANCH_TOKEN = "branch-test-token"
STEP = 5.0  # seconds of the test's clock per burst run
MESSAGES = 16  # per sender, one due every STEP
TROUBLE = 60.0  # seconds `branch` is in trouble, from the start


def credentials() -> list[senders.SenderCredentials]:
    return [
        senders.SenderCredentials(
            senders.Sender(name="default", phone_number_id=NUMBER_ID, from_environment=True),
            TOKEN,
        ),
        senders.SenderCredentials(
            senders.Sender(name="branch", phone_number_id=BRANCH_ID), BRANCH_TOKEN
        ),
    ]


def two_numbers(**extra: Any) -> StandIn:
    """A stand-in with the default number and `branch`, each with its own token."""
    return StandIn(
        StandInConfig.unlimited(
            access_token=TOKEN,
            phone_number_id=NUMBER_ID,
            extra_numbers=(Number(BRANCH_ID, BRANCH_TOKEN, label="branch"),),
            **extra,
        )
    )


async def real_clock_parts(
    tmp_path: Path, name: str, **overrides: Any
) -> tuple[sql.SqlMessageStore, StandIn, settings.Settings]:
    """A migrated SQLite file, a started two-number stand-in and settings pointing at both."""
    url = f"sqlite:///{tmp_path / name}"
    await asyncio.to_thread(migrate.upgrade, url)
    message_store = sql.SqlMessageStore.from_url(url)
    standin = two_numbers()
    await standin.start(host="127.0.0.1", port=0)
    config = settings.Settings(
        _env_file=None,
        database_url=url,
        access_token=SecretStr(TOKEN),
        phone_number_id=NUMBER_ID,
        graph_api_url=standin.url,
        pair_interval=0,
        **overrides,
    )
    return message_store, standin, config


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = testing.FrozenClock()
        self.url = f"sqlite:///{tmp_path / 'senders.db'}"
        self.standin = two_numbers(seed=15)
        self.store: sql.SqlMessageStore
        self.dispatcher: dispatcher_mod.Dispatcher

    def settings(self) -> settings.Settings:
        return settings.Settings(
            _env_file=None,
            database_url=self.url,
            access_token=SecretStr(TOKEN),
            phone_number_id=NUMBER_ID,
            graph_api_url=self.standin.url,
            messages_per_second=1000,
            pair_interval=0,
            request_timeout_seconds=2.0,
            connect_timeout_seconds=1.0,
            send_concurrency=4,
            breaker_threshold=3,
            breaker_base_seconds=5,
            breaker_cap_seconds=20,
        )

    async def add_messages(self) -> tuple[list[str], list[str]]:
        start = self.clock.now()
        rows: list[messages.ScheduledMessage] = []
        ids: dict[str, list[str]] = {"default": [], "branch": []}
        for i in range(MESSAGES):
            for name in ("default", "branch"):
                mid = f"{name}-{i:02d}"
                ids[name].append(mid)
                due = start + timedelta(seconds=STEP * i)
                rows.append(
                    testing.make_message(mid, due, recipient=f"+9055512{i:05d}", sender=name)
                )
        await self.store.add_many(rows)
        return ids["default"], ids["branch"]

    async def run_until_done(self, start: datetime, mend: float) -> float:
        """Burst runs STEP apart until every message is final; `branch` is mended at `mend`
        seconds after `start`; returns the seconds from `start` to the last run."""
        for _ in range(200):
            elapsed = (self.clock.now() - start).total_seconds()
            if elapsed == mend:
                self.standin.set_faults(error_rate=0.0)
                self.standin.set_token(BRANCH_ID, BRANCH_TOKEN)
            await self.dispatcher.run(burst=True)
            stats = await self.store.stats(self.clock.now())
            if stats.queued == 0 and stats.sending == 0:
                return elapsed
            self.clock.advance(STEP)
        raise AssertionError("messages still queued after 1,000 s of the test's clock")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    await asyncio.to_thread(migrate.upgrade, w.url)
    w.store = sql.SqlMessageStore.from_url(w.url)
    await w.standin.start(host="127.0.0.1", port=0)
    w.dispatcher = await bootstrap.build_dispatcher(
        w.settings(),
        w.store,
        clock=w.clock,
        policy=fast_policy(max_attempts=5, account_pause_seconds=20.0),
        senders=StaticSenders(credentials()),
    )
    try:
        yield w
    finally:
        await w.dispatcher.stop()
        await w.standin.stop()
        await w.store.close()


async def assert_on_time(world: World, ids: list[str]) -> None:
    """Each sent in the first burst run at or after its due time, with one attempt."""
    for row in await world.store.get_many(ids):
        assert row.status == Status.SENT, (row.id, row.status)
        [attempt] = await world.store.attempts(row.id)
        late = (attempt.started_at - row.due_at).total_seconds()
        assert 0 <= late < STEP, f"{row.id} sent {late:.1f} s after its due time"


async def sent_after(world: World, ids: list[str], mended_at: float, start: datetime) -> None:
    """All sent, none failed; those due before `branch` was mended sent after it."""
    rows = await world.store.get_many(ids)
    assert [r.status for r in rows] == [Status.SENT] * len(ids)  # none failed
    for row in rows:
        attempts = await world.store.attempts(row.id)
        sent = [a for a in attempts if a.outcome == messages.AttemptOutcome.SENT]
        assert len(sent) == 1
        if row.due_at < start + timedelta(seconds=mended_at):
            assert sent[0].started_at >= start + timedelta(seconds=mended_at), row.id


async def test_one_senders_outage_never_delays_the_other(world: World) -> None:
    start = world.clock.now()
    world.standin.set_faults(error_rate=1.0, error_status=503, error_phone_number_ids=[BRANCH_ID])
    default_ids, branch_ids = await world.add_messages()

    health_during = None
    for _ in range(3):  # the breaker of `branch` opens; `default` goes on
        await world.dispatcher.run(burst=True)
        world.clock.advance(STEP)
    health_during = world.dispatcher.health()
    elapsed = await world.run_until_done(start, mend=TROUBLE)

    await assert_on_time(world, default_ids)
    await sent_after(world, branch_ids, TROUBLE, start)
    # An outage costs a message at most the first failure of a streak (breaker.py).
    rows = await world.store.get_many(branch_ids)
    assert max(r.attempts for r in rows) <= 2
    assert elapsed >= TROUBLE
    assert health_during is not None
    per_sender = health_during["senders"]
    assert per_sender["default"]["state"] == "idle"  # between burst runs; not paused
    assert per_sender["default"]["paused"] == []
    assert per_sender["branch"]["state"] == "paused"
    assert per_sender["branch"]["breaker"] in {"open", "probing"}
    assert [p["phone_number_id"] for p in health_during["paused"]] == [BRANCH_ID]
    assert world.standin.requests, "nothing reached the stand-in"
    assert {r.phone_number_id for r in world.standin.requests} == {NUMBER_ID, BRANCH_ID}


async def test_a_refused_token_pauses_that_sender_only(world: World) -> None:
    start = world.clock.now()
    world.standin.set_token(BRANCH_ID, "another-token")  # what `branch` holds is refused: 190
    default_ids, branch_ids = await world.add_messages()

    await world.dispatcher.run(burst=True)
    health = world.dispatcher.health()
    assert health["senders"]["branch"]["state"] == "paused"
    [pause] = health["senders"]["branch"]["paused"]
    assert (pause["kind"], pause["code"]) == ("account", 190)
    assert health["senders"]["default"]["state"] == "idle"  # between burst runs; not paused
    world.clock.advance(STEP)
    await world.run_until_done(start, mend=TROUBLE)

    await assert_on_time(world, default_ids)
    await sent_after(world, branch_ids, TROUBLE, start)
    # A 190 pauses the sender and costs no attempt; the messages the pause deferred spent
    # nothing either: each message of `branch` has one attempt, the send. Meta saw one 190
    # per send slot (4) at most each time the pause ended with the token still refused
    # (+0, +20, +40 s; mended at +60).
    for row in await world.store.get_many(branch_ids):
        assert row.attempts == 1, (row.id, row.attempts)
    refused = [r for r in world.standin.requests if r.error_code == 190]
    assert 1 <= len(refused) <= 3 * 4
    assert {r.phone_number_id for r in refused} == {BRANCH_ID}


async def test_an_unknown_sender_fails_with_a_clear_error_and_a_new_one_is_picked_up(
    world: World,
) -> None:
    now = world.clock.now()
    await world.store.add_many(
        [
            testing.make_message("ghost-1", now, sender="ghost"),
            testing.make_message("late-1", now, sender="late"),
        ]
    )
    late = senders.SenderCredentials(
        senders.Sender(name="late", phone_number_id=BRANCH_ID), BRANCH_TOKEN
    )
    source = world.dispatcher.source
    assert isinstance(source, StaticSenders)
    source.senders.append(late)  # registered after the dispatcher loaded its senders
    await world.dispatcher.run(burst=True)

    ghost = await world.store.get("ghost-1")
    assert ghost is not None
    assert ghost.status == Status.FAILED
    assert ghost.last_error_text == "sender 'ghost' is not registered: nothing was sent"
    assert not [r for r in world.standin.requests if r.phone_number_id not in {BRANCH_ID}]
    sent = await world.store.get("late-1")
    assert sent is not None
    assert sent.status == Status.SENT
    assert "late" in world.dispatcher.health()["senders"]


def busiest_window(times: list[float]) -> int:
    """The most sends in any half-open 1-s window `[t, t + 1)` (see test_rate_windows.py)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1 + 1e-9:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_each_sender_keeps_its_own_rate(tmp_path: Path) -> None:
    """`default` at 50/s and `branch` at its own 20/s, both at once, on the real clock: no
    1-s window of a sender above its rate + 2%, and neither slowed to the other's pace."""
    message_store, standin, config = await real_clock_parts(
        tmp_path, "rates.db", messages_per_second=50
    )
    branch = senders.Sender(name="branch", phone_number_id=BRANCH_ID, messages_per_second=20)
    source = StaticSenders([credentials()[0], senders.SenderCredentials(branch, BRANCH_TOKEN)])
    d = await bootstrap.build_dispatcher(config, message_store, senders=source)
    try:
        now = d.clock.now()
        rows = [
            testing.make_message(f"{name}-{i:03d}", now, recipient=f"+9055513{i:05d}", sender=name)
            for name, count in (("default", 100), ("branch", 40))
            for i in range(count)
        ]
        await message_store.add_many(rows)
        await d.run(burst=True)
        times: dict[str, list[float]] = {"default": [], "branch": []}
        for row in await message_store.get_many([r.id for r in rows]):
            assert row.status == Status.SENT
            [attempt] = await message_store.attempts(row.id)
            times[row.sender].append(attempt.started_at.timestamp())
        assert d.health()["senders"]["branch"]["limit"]["messages_per_second"] == 20
    finally:
        await d.stop()
        await standin.stop()
        await message_store.close()
    assert busiest_window(times["default"]) <= 51  # floor(1.02 * 50)
    assert busiest_window(times["branch"]) <= 20  # floor(1.02 * 20)
    # Each at its own pace: `default`'s 100 take ~2 s at 50/s; at `branch`'s 20/s they would
    # take 5 s (the bound leaves a loaded machine more than twice the time it needs).
    span = max(times["default"]) - min(times["default"])
    assert span < 4.5, f"default took {span:.2f} s for 100 at 50/s"
    # ... and `branch` not faster than its own: after its first burst (a tenth of a second's
    # worth, `ratelimit.catch_up_burst`), one send per 1/20 s.
    after_burst = 40 - ratelimit.catch_up_burst(20)
    assert max(times["branch"]) - min(times["branch"]) >= after_burst / 20 * 0.98


async def test_the_window_at_send_time_is_the_senders_own(tmp_path: Path) -> None:
    """WINDOW_POLICY=fail: a contact who wrote to `branch` can get text from `branch`, not from
    `default` (a window is between a contact and one business number)."""
    message_store, standin, config = await real_clock_parts(
        tmp_path, "window.db", window_policy="fail"
    )
    d = await bootstrap.build_dispatcher(
        config, message_store, senders=StaticSenders(credentials())
    )
    try:
        now = d.clock.now()
        await message_store.record_inbound([("905551112233", now)], BRANCH_ID)
        await message_store.record_inbound([("905554445566", now)])  # before 0013: ''
        await message_store.add_many(
            [
                testing.make_message("to-branch", now, sender="branch"),
                testing.make_message("to-default", now, sender="default"),
                testing.make_message("old-window", now, recipient="+905554445566"),
                testing.make_message(
                    "old-for-branch", now, recipient="+905554445566", sender="branch"
                ),
            ]
        )
        await d.run(burst=True)
        rows = {
            r.id: r
            for r in await message_store.get_many(
                ["to-branch", "to-default", "old-window", "old-for-branch"]
            )
        }
    finally:
        await d.stop()
        await standin.stop()
        await message_store.close()
    assert rows["to-branch"].status == Status.SENT
    assert rows["to-default"].status == Status.FAILED
    assert (rows["to-default"].last_error_text or "").startswith("window closed")
    assert rows["old-window"].status == Status.SENT  # '' rows are the default sender's
    assert rows["old-for-branch"].status == Status.FAILED
