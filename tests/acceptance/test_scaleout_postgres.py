"""Several real processes on one PostgreSQL database: shared work, shared rate, crash recovery.

The services run as subprocesses; the stand-in Cloud API runs in the test's own event loop, so
every request that reaches "Meta" is counted and timed, even across a kill -9.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.acceptance.conftest import (
    BIN,
    Service,
    assert_idle_worker_wakes,
    base_env,
    free_port,
    now_local,
    start_standin,
    wait_health,
)
from tests.integration.conftest import postgres_template, postgres_url  # noqa: F401
from whatsapp_scheduler import sandbox, settings
from whatsapp_scheduler.store import urls

KEY = "scaleout-key-0123456789abcdef"
TOKEN = "scaleout-token"
NUMBER_ID = "123456789012345"
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(170)]


def _env(tmp_path: Path, database_url: str, graph_url: str, **extra: str) -> dict[str, str]:
    return base_env(
        tmp_path,
        DATABASE_URL=database_url,
        API_KEY=KEY,
        ACCESS_TOKEN=TOKEN,
        PHONE_NUMBER_ID=NUMBER_ID,
        GRAPH_API_URL=graph_url,
        PAIR_INTERVAL="0",
        **extra,
    )


def _rows(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(urls.libpq_url(database_url)) as conn:
        return conn.execute(query, params).fetchall()


async def _until_all_final(database_url: str, timeout: float) -> None:
    """Wait until every message is sent or failed (or `timeout` passes; the caller asserts).

    The query runs on a thread: the stand-in serves in this event loop, and a blocking
    connect + query every 0.1 s held its requests back and stamped them late, in bunches."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (open_rows,) = (
            await asyncio.to_thread(
                _rows,
                database_url,
                "SELECT count(*) FROM messages WHERE status NOT IN ('sent', 'failed')",
            )
        )[0]
        if open_rows == 0:
            return
        await asyncio.sleep(0.1)


def _send_times(database_url: str) -> list[float]:
    """When each recorded send started, by the dispatchers' own clocks (attempts table)."""
    query = "SELECT extract(epoch FROM started_at)::float8 FROM attempts WHERE outcome = 'sent'"
    return [row[0] for row in _rows(database_url, query)]


def _max_in_window(stamps: list[float], window: float) -> int:
    best, start = 0, 0
    for end, at in enumerate(stamps):
        while at - stamps[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_three_processes_share_work_and_rate_and_survive_a_kill_9(tmp_path, postgres_url):  # noqa: F811
    rate, total = 300, 10_000
    standin = await start_standin(TOKEN, NUMBER_ID)
    # LEASE_SECONDS stays 60: the killed process's claims must be freed by the knowledge of
    # its death (its advisory lock is free), long before a lease could end.
    env = _env(tmp_path, postgres_url, standin.url, MESSAGES_PER_SECOND=str(rate))
    services = []
    for _ in range(3):
        port = free_port()
        services.append(Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path))
    try:
        workers = [(await wait_health(s))["dispatcher"]["worker"] for s in services]
        async with httpx.AsyncClient(
            base_url=services[0].url, headers={"X-API-Key": KEY}, timeout=30
        ) as api:
            for chunk in range(total // 1000):
                tarih, saat = now_local()  # per batch: a loaded machine took > 60 s for them all
                batch = [
                    {"id": f"s{chunk}-{i}", "alici": f"+90555{chunk}{i:06d}", "tarih": tarih,
                     "saat": saat, "mesaj": f"m{i}"}
                    for i in range(1000)
                ]  # fmt: skip
                answer = (await api.post("/schedule/batch", json={"messages": batch})).json()
                assert answer["stored"] == 1000, answer
        while len(standin.mailbox.requests) < 3000:
            await asyncio.sleep(0.01)
        services[1].kill()
        killed_at = time.time()  # the clock of `received_at`
        leases = dict(
            await asyncio.to_thread(
                _rows,
                postgres_url,
                "SELECT id, lease_until FROM messages WHERE status = 'sending' AND claimed_by = %s",
                workers[1],
            )
        )
        in_flight = set(leases)
        await _until_all_final(postgres_url, 90)
        final = dict(_rows(postgres_url, "SELECT id, status FROM messages"))
        recovered = _rows(
            postgres_url,
            "SELECT message_id, finished_at, error_text FROM attempts "
            "WHERE outcome = 'ambiguous' AND worker = %s",
            workers[1],
        )
        recorded = _send_times(postgres_url)
        health = [(await wait_health(s))["dispatcher"] for s in (services[0], services[2])]
    finally:
        for service in services:
            service.stop()
        await standin.stop()
    ok = [r for r in standin.requests if r.status == 200]
    assert len(final) == total
    assert set(final.values()) == {"sent"}, Counter(final.values())
    sends = Counter(r.biz_opaque_callback_data for r in ok)
    assert set(sends) == set(final)  # every message reached "Meta"
    duplicated = {message_id for message_id, n in sends.items() if n > 1}
    assert duplicated <= in_flight  # only the killed process's in-flight sends went twice
    # Its send slots are freed only after their outcomes commit (SEND_CONCURRENCY, default 64).
    assert len(duplicated) <= settings.Settings.model_fields["send_concurrency"].default
    assert max(sends.values()) <= 2
    assert sum(h["reaped"] for h in health) >= len(in_flight)  # the others took its leases over
    # ... because they knew it was dead: every claim it left was freed before its lease ended.
    # (A peer may have taken some in the instant before the test read them: a superset.)
    assert {row[0] for row in recovered} >= in_flight
    for message_id, finished_at, error_text in recovered:
        assert error_text == "worker died mid-send: may have been sent"
        if message_id in leases:
            assert finished_at < leases[message_id]
    # The rate is measured on the send times the dispatchers recorded (the client's own
    # observation), plus, for the killed process's sends it never got to record, the
    # stand-in's stamps. The stand-in's stamps alone measure this test process's event loop
    # too: on a loaded machine it stalls, then stamps a bunch of requests at once (a busiest
    # 10 s of 3,208 was seen so, beside a CPU hog).
    unrecorded = [r.received_at for r in ok if r.biz_opaque_callback_data in in_flight]
    unrecorded = [t for t in unrecorded if t <= killed_at]
    stamps = sorted(recorded + unrecorded)
    before_kill = [t for t in stamps if t <= killed_at]
    rate_before_kill = (len(before_kill) - 1) / (before_kill[-1] - before_kill[0])
    overall = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    busiest_10s = _max_in_window(stamps, 10.0)
    as_received = _max_in_window(sorted(r.received_at for r in ok), 10.0)
    print(
        f"combined rate: {rate_before_kill:.1f}/s with 3 processes, {overall:.1f}/s overall, "
        f"busiest 10 s: {busiest_10s} sent ({as_received} as the stand-in stamped them); "
        f"in flight at kill: {len(in_flight)}, sent twice: {len(duplicated)}; "
        f"per-process sent: {[h['sent'] for h in health]}"
    )
    # GCRA: at most rate x 10 s + a quarter second's burst (3,075) in any 10 s; 5 % allows a
    # little for clocks and for a process that resumes late from its token's sleep.
    assert rate_before_kill <= rate * 1.05
    assert busiest_10s <= rate * 10 * 1.05
    # The three share the work: each survivor sent some, and so did the killed one before
    # the kill. How fast they go together is a speed, not a guarantee: it depends on what
    # else the machine runs (153/s of 300 was seen with a test suite beside it), so it is
    # measured in bench/bench_postgres.py; that shared limiters do not waste slots is asserted
    # without subprocesses in tests/integration/conftest.py (`assert_limiters_share_one_rate`).
    assert all(h["sent"] > 0 for h in health), health
    killed_sent = _rows(
        postgres_url,
        "SELECT count(*) FROM attempts WHERE outcome = 'sent' AND worker = %s",
        workers[1],
    )
    assert killed_sent[0][0] > 0


async def test_idle_worker_sends_a_message_scheduled_through_another_process_at_once(
    tmp_path,
    postgres_url,  # noqa: F811
):
    standin = await start_standin(TOKEN, NUMBER_ID)
    env = _env(tmp_path, postgres_url, standin.url, SAFETY_POLL_SECONDS="600")
    api_port, worker_port = free_port(), free_port()
    api_service = Service(
        [str(BIN), "serve", "--no-dispatcher", "--port", str(api_port)], env, api_port, tmp_path
    )
    worker = Service([str(BIN), "worker"], env, worker_port, tmp_path)
    try:
        await assert_idle_worker_wakes(api_service, worker, standin, KEY, "due listener: listening")
    finally:
        api_service.stop()
        stopped = worker.stop()
        await standin.stop()  # before any assertion here: never leave its sockets open
        assert stopped == 0, worker.output()


async def test_three_processes_keep_one_gap_per_recipient(tmp_path, postgres_url):  # noqa: F811
    """PAIR_INTERVAL=1 s held by the fleet, not per process: three processes claiming two rows
    at a time share 18 messages to 3 recipients, and a stand-in that refuses a pair faster
    than every 0.5 s (131056) never has to.

    The fleet books the sends 1 s apart; a process sends right after its booking, but a
    loaded machine can hold one back a few hundred ms (a 200 ms margin once proved too
    little, 300 ms is close), so the stand-in and the check allow 500 ms. Without the shared gap, processes send to one
    recipient within milliseconds of each other: refused, and gaps near 0."""
    standin = sandbox.StandIn(
        sandbox.StandInConfig(
            access_token=TOKEN,
            phone_number_id=NUMBER_ID,
            throughput_per_second=None,
            pair_rate=sandbox.PairRate(per_second=1 / 0.5, capacity=1),
        )
    )
    await standin.start()
    env = _env(tmp_path, postgres_url, standin.url, CLAIM_BATCH_SIZE="2")
    env["PAIR_INTERVAL"] = "1"
    services = []
    for _ in range(3):
        port = free_port()
        services.append(Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path))
    recipients = [f"+90555000{n:04d}" for n in range(3)]
    try:
        for service in services:
            await wait_health(service)
        tarih, saat = now_local()
        batch = [
            {"id": f"pair-{r}-{i}", "alici": recipient, "tarih": tarih, "saat": saat,
             "mesaj": f"m{i}"}
            for i in range(6)
            for r, recipient in enumerate(recipients)
        ]  # fmt: skip
        async with httpx.AsyncClient(
            base_url=services[0].url, headers={"X-API-Key": KEY}, timeout=30
        ) as api:
            answer = (await api.post("/schedule/batch", json={"messages": batch})).json()
            assert answer["stored"] == 18, answer
        await _until_all_final(postgres_url, 40)
        final = dict(_rows(postgres_url, "SELECT id, status FROM messages"))
        started = _rows(
            postgres_url,
            "SELECT m.recipient, extract(epoch FROM a.started_at)::float8 FROM attempts a "
            "JOIN messages m ON m.id = a.message_id WHERE a.outcome = 'sent'",
        )
        sent_by = [(await wait_health(s))["dispatcher"]["sent"] for s in services]
    finally:
        for service in services:
            service.stop()
        await standin.stop()
    refused = [r for r in standin.requests if r.error_code == 131056]
    assert refused == [], f"{len(refused)} sends refused by the pair rate"
    assert set(final.values()) == {"sent"}, Counter(final.values())
    assert sum(1 for n in sent_by if n) >= 2, sent_by  # the work really was shared
    for recipient in recipients:
        # The send times the dispatchers recorded, and those the stand-in stamped.
        for stamps in (
            sorted(at for to, at in started if to == recipient),
            sorted(r.received_at for r in standin.requests if r.wa_id == recipient.lstrip("+")),
        ):
            gaps = [b - a for a, b in itertools.pairwise(stamps)]
            assert len(stamps) == 6
            assert min(gaps) >= 0.5, (recipient, gaps)
    print(f"sent per process: {sent_by}")
