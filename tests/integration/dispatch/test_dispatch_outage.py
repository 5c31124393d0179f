"""Issue #13 part 3: a Meta outage must not fail messages.

Meta is down for 10 minutes of the test's clock: first nothing listens on its port (connection
refused), then the stand-in answers 503 to everything (with Graph code 2, then without a
body). The dispatcher (real `CloudApiSender` over loopback, real SQLite file) is driven in
burst runs while a `FrozenClock` steps through the outage, so it takes seconds of real time
and nothing depends on how fast anything runs. /health and /metrics are read over HTTP from
the app served by uvicorn.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import API_KEY
from tests.integration.conftest import ServedApp
from tests.integration.dispatch.conftest import NUMBER_ID, TOKEN
from whatsapp_scheduler import bootstrap, settings, testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import dispatcher as dispatcher_mod
from whatsapp_scheduler.sandbox import StandIn, StandInConfig
from whatsapp_scheduler.store import migrate, sql
from whatsapp_scheduler.web import app as app_mod

Status = messages.MessageStatus
STEP = 5.0  # seconds of the test's clock per burst run
OUTAGE = 600.0  # 10 minutes
MESSAGES = 30  # one due every 20 s, from the outage's start to its end


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Outage:
    """The system under test and what the test reads of it."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = testing.FrozenClock()
        self.port = free_port()
        self.url = f"sqlite:///{tmp_path / 'outage.db'}"
        self.settings = settings.Settings(
            _env_file=None,
            api_key=SecretStr(API_KEY),
            database_url=self.url,
            access_token=SecretStr(TOKEN),
            phone_number_id=NUMBER_ID,
            graph_api_url=f"http://127.0.0.1:{self.port}",
            messages_per_second=1000,
            pair_interval=0,
            request_timeout_seconds=2.0,
            connect_timeout_seconds=1.0,
            send_concurrency=4,
            breaker_threshold=5,
            breaker_base_seconds=5,
            breaker_cap_seconds=60,
        )
        self.standin = StandIn(
            StandInConfig.unlimited(access_token=TOKEN, phone_number_id=NUMBER_ID, seed=99)
        )
        self.store: sql.SqlMessageStore
        self.dispatcher: dispatcher_mod.Dispatcher
        self.http: httpx.AsyncClient

    async def step(self) -> None:
        """One burst run, then the clock moves on."""
        await self.dispatcher.run(burst=True)
        self.clock.advance(STEP)

    async def health(self) -> dict[str, Any]:
        response = await self.http.get("/health", headers={"X-API-Key": API_KEY})
        assert response.status_code == 200
        body: dict[str, Any] = response.json()["dispatcher"]
        return body

    async def statuses(self, ids: list[str]) -> dict[str, Status]:
        rows = await self.store.get_many(ids)
        return {row.id: row.status for row in rows}


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[Outage]:
    world = Outage(tmp_path)
    await asyncio.to_thread(migrate.upgrade, world.url)
    world.store = sql.SqlMessageStore.from_url(world.url)
    app = app_mod.create_app(world.settings, store=world.store, clock=world.clock)
    async with ServedApp(app) as served:
        world.dispatcher = await bootstrap.build_dispatcher(
            world.settings, world.store, clock=world.clock
        )
        app.state.runtime.dispatcher = world.dispatcher  # /health and /metrics report it
        world.http = httpx.AsyncClient(base_url=served.url, timeout=10)
        try:
            yield world
        finally:
            await world.http.aclose()
            await world.dispatcher.stop()
            await world.standin.stop()
    await world.store.close()


async def test_ten_minutes_of_outage_fail_nothing_and_all_go_out_in_due_order(
    outage: Outage,
) -> None:
    start = outage.clock.now()
    due = [start + timedelta(seconds=20 * i) for i in range(MESSAGES)]
    ids = [f"out-{i:02d}" for i in range(MESSAGES)]
    await outage.store.add_many(
        [
            testing.make_message(mid, at, recipient=f"+9055512{i:05d}")
            for i, (mid, at) in enumerate(zip(ids, due, strict=True))
        ]
    )

    reasons: list[str] = []
    while outage.clock.now() < start + timedelta(seconds=OUTAGE):
        elapsed = (outage.clock.now() - start).total_seconds()
        if elapsed == OUTAGE / 2:  # Meta's port answers again, with 503s
            outage.standin.set_faults(error_rate=1.0, error_status=503, error_body=True)
            await outage.standin.start(host="127.0.0.1", port=outage.port)
        if elapsed == OUTAGE * 3 / 4:  # ... now without a Graph error body
            outage.standin.set_faults(error_body=False)
        await outage.step()

        statuses = await outage.statuses(ids)
        assert Status.FAILED not in statuses.values(), f"a message failed at +{elapsed:.0f} s"
        assert Status.SENT not in statuses.values()
        health = await outage.health()
        assert health["failed"] == 0
        if elapsed >= 60:  # well past the first failures: the sender is paused
            assert health["state"] == "paused", health
            [paused] = health["paused"]
            assert paused["phone_number_id"] == NUMBER_ID
            assert paused["kind"] == "outage"
            assert paused["reason"].startswith("Meta unavailable: ")
            reasons.append(paused["reason"])

    assert "connection error x" in reasons[0]
    assert "next probe at " in reasons[0]
    assert "503 x" in reasons[-1]  # the stand-in's answers since it came back
    during = [r for r in outage.standin.requests if r.status == 503]
    assert during, "the 503 phase saw the probes"
    assert len(during) <= 2 * (OUTAGE / 2) / 60 + 1  # about one probe a minute (the cap), no storm

    # Meta is back. The next probe succeeds and the queue drains.
    outage.standin.set_faults(error_rate=0.0)
    for _ in range(int(120 / STEP)):  # the cap is 60 s: the next probe is within a minute
        await outage.step()
        if set((await outage.statuses(ids)).values()) == {Status.SENT}:
            break
    assert set((await outage.statuses(ids)).values()) == {Status.SENT}

    accepted = [r.biz_opaque_callback_data for r in outage.standin.requests if r.status == 200]
    assert accepted == ids  # each sent once, in due order
    rows = await outage.store.get_many(ids)
    assert max(row.attempts for row in rows) <= 2  # at most one failure counted, then sent
    health = await outage.health()
    assert (health["paused"], health["failed"], health["sent"]) == ([], 0, MESSAGES)

    metrics = await outage.http.get("/metrics", headers={"X-API-Key": API_KEY})
    assert metrics.status_code == 200
    label = f'{{phone_number_id="{NUMBER_ID}"}}'
    assert f"whatsapp_scheduler_sender_breaker_state{label} 0.0" in metrics.text
    opened = next(
        line
        for line in metrics.text.splitlines()
        if line.startswith(f"whatsapp_scheduler_sender_breaker_opened_total{label}")
    )
    assert float(opened.split()[-1]) >= 5  # opened, then reopened after each failed probe


async def until(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Wait for `condition()`: a deadline against a hang, never a statement about speed."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_running_dispatcher_probes_and_resumes_by_itself(
    standin: StandIn,
    sqlite_store: sql.SqlMessageStore,
    make_settings: Callable[..., settings.Settings],
    wait_final: Callable[..., Any],
) -> None:
    """The real clock and the dispatcher's own wake-ups (no burst runs): it opens, wakes for
    each probe, and drains the queue after the first successful one. The back-off is made
    short; nothing here asserts how long anything took."""
    standin.set_faults(error_rate=1.0, error_status=503, error_body=True)
    start = datetime.now(UTC) - timedelta(minutes=1)
    ids = [f"run-{i:02d}" for i in range(12)]
    await sqlite_store.add_many(
        [
            testing.make_message(mid, start + timedelta(seconds=i), recipient=f"+9055513{i:05d}")
            for i, mid in enumerate(ids)
        ]
    )
    d = await bootstrap.build_dispatcher(
        make_settings(send_concurrency=1, breaker_base_seconds=0.05, breaker_cap_seconds=0.2),
        sqlite_store,
    )
    await d.start()
    try:
        await until(lambda: d.health()["state"] == "paused", "the breaker on /health")
        threshold = 5
        await until(lambda: len(standin.requests) >= threshold + 3, "three failed probes")
        paused = d.health()["paused"]
        assert [p["kind"] for p in paused] == ["outage"]
        assert "503 x" in paused[0]["reason"]
        standin.set_faults(error_rate=0.0)
        rows = await wait_final(sqlite_store, ids)
        assert {r.status for r in rows} == {Status.SENT}
        accepted = [r.biz_opaque_callback_data for r in standin.requests if r.status == 200]
        assert accepted == ids
        assert max(r.attempts for r in rows) <= 2
        health = d.health()
        assert (health["state"], health["paused"], health["failed"]) == ("running", [], 0)
    finally:
        await d.stop()


async def test_two_processes_on_postgresql_each_with_its_own_breaker(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two dispatchers on one PostgreSQL database (the fleet's shared rate limit on), each with
    its own breaker, through 10 minutes of refused connections: nothing fails, every message
    is sent exactly once afterwards, and no message lost more than one attempt per process."""
    clock = testing.FrozenClock()
    port = free_port()
    config = settings.Settings(
        _env_file=None,
        database_url=postgres_url,
        access_token=SecretStr(TOKEN),
        phone_number_id=NUMBER_ID,
        graph_api_url=f"http://127.0.0.1:{port}",
        messages_per_second=1000,
        pair_interval=0,
        request_timeout_seconds=2.0,
        connect_timeout_seconds=1.0,
        send_concurrency=2,
        breaker_cap_seconds=60,
    )
    message_store = sql.SqlMessageStore.from_url(postgres_url)
    standin = StandIn(
        StandInConfig.unlimited(access_token=TOKEN, phone_number_id=NUMBER_ID, seed=7)
    )
    fleet = [
        await bootstrap.build_dispatcher(config, message_store, clock=clock, worker_id=f"w{i}")
        for i in range(2)
    ]
    try:
        start = clock.now()
        ids = [f"pg-{i:02d}" for i in range(20)]
        await message_store.add_many(
            [
                testing.make_message(
                    mid, start + timedelta(seconds=30 * i), recipient=f"+9055514{i:05d}"
                )
                for i, mid in enumerate(ids)
            ]
        )
        paused_seen = set()
        while clock.now() < start + timedelta(seconds=OUTAGE):
            await asyncio.gather(*(d.run(burst=True) for d in fleet))
            clock.advance(STEP)
            rows = await message_store.get_many(ids)
            assert {r.status for r in rows} <= {Status.QUEUED}, "a message left the queue"
            for d in fleet:
                if d.health()["paused"]:
                    paused_seen.add(d.worker_id)
        assert paused_seen  # at least one process saw Meta down and paused

        await standin.start(host="127.0.0.1", port=port)  # Meta is back
        for _ in range(int(120 / STEP)):
            await asyncio.gather(*(d.run(burst=True) for d in fleet))
            clock.advance(STEP)
            rows = await message_store.get_many(ids)
            if {r.status for r in rows} == {Status.SENT}:
                break
        rows = await message_store.get_many(ids)
        assert {r.status for r in rows} == {Status.SENT}
        accepted = [r.biz_opaque_callback_data or "" for r in standin.requests if r.status == 200]
        assert sorted(accepted) == ids  # each exactly once
        assert max(r.attempts for r in rows) <= 1 + len(fleet)
        assert sum(d.health()["failed"] for d in fleet) == 0
    finally:
        for d in fleet:
            await d.stop()
        await standin.stop()
        await message_store.close()
