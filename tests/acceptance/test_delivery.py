"""The whole path with real processes: API -> SQLite -> dispatcher -> Cloud API stand-in.

The service runs as a subprocess; the stand-in runs in the test's own event loop, so every
request that reaches "Meta" is counted, even across a kill -9 of the service.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.acceptance.conftest import BIN, Service, base_env, free_port
from whatsapp_scheduler import sandbox

#: The killed process's send slots: the bound on what it can have sent but not recorded.
SEND_CONCURRENCY = 32

KEY = "delivery-key-0123456789abcdef"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _now_local() -> tuple[str, str]:
    """To the second: see `now_local` in conftest.py (to the minute, a request crossing the
    next minute was refused as more than 60 s in the past)."""
    now = datetime.now(ZoneInfo("Europe/Istanbul"))
    return now.date().isoformat(), now.strftime("%H:%M:%S")


async def _wait_healthy(service: Service, timeout: float = 30) -> None:
    async with httpx.AsyncClient(timeout=1) as client:
        for _ in range(int(timeout / 0.05)):
            if service.process.poll() is not None:
                raise AssertionError(service.output())
            try:
                if (await client.get(service.url + "/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("service not healthy:\n" + service.output())


async def _schedule_then_kill(
    first: Service, standin: sandbox.StandIn, prefix: str, total: int
) -> None:
    """Schedule `total` messages due now (ids `{prefix}{chunk}-{i}`, batches of 1,000) on
    `first`, then kill -9 it once the stand-in has taken 400 of them: mid-batch."""
    await _wait_healthy(first)
    async with httpx.AsyncClient(base_url=first.url, headers={"X-API-Key": KEY}, timeout=30) as api:
        for chunk in range(total // 1000):
            tarih, saat = _now_local()  # per batch: a loaded machine took > 60 s for them all
            batch = [
                {
                    "id": f"{prefix}{chunk}-{i}",
                    "alici": f"+90555{chunk}{i:06d}",
                    "tarih": tarih,
                    "saat": saat,
                    "mesaj": f"m{i}",
                }
                for i in range(1000)
            ]
            answer = (await api.post("/schedule/batch", json={"messages": batch})).json()
            assert answer["stored"] == 1000, answer
    deadline = asyncio.get_running_loop().time() + 60
    while len(standin.requests) < 400:
        assert asyncio.get_running_loop().time() < deadline, first.output()
        await asyncio.sleep(0.02)
    first.kill()


def _statuses(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT id, status FROM messages").fetchall())


async def test_sandbox_serve_takes_a_message_to_read(tmp_path):
    port = free_port()
    service = Service(
        [str(BIN), "serve", "--sandbox", "--port", str(port), "--sandbox-port", str(free_port())],
        base_env(tmp_path, API_KEY=KEY),
        port,
        tmp_path,
    )
    try:
        await _wait_healthy(service)
        tarih, saat = _now_local()
        async with httpx.AsyncClient(base_url=service.url, headers={"X-API-Key": KEY}) as api:
            body = {
                "id": "now-1",
                "alici": "+905551234567",
                "tarih": tarih,
                "saat": saat,
                "mesaj": "Selam",
            }
            assert (await api.post("/schedule", json=body)).status_code == 200
            seen: list[str] = []
            # The sandbox's statuses take ~6 s to reach read; the deadline only guards against
            # a hang (it was 200 polls, ~10 s, too close to that on a loaded machine).
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                status = (await api.get("/status/now-1")).json()
                if not seen or seen[-1] != status["status"]:
                    seen.append(status["status"])
                if status["status"] == "read":
                    break
                await asyncio.sleep(0.05)
        assert seen[-1] == "read", seen
        order = ["queued", "sending", "sent", "delivered", "read"]
        assert seen == sorted(seen, key=order.index), seen  # only ever forward
        assert status["whatsapp_message_id"].startswith("wamid.")
        # Each step from the message's own record: polling every 50 ms saw them only if the
        # machine kept up ("sent" lasts 1.5 s in the sandbox).
        timeline = status["timeline"]
        assert timeline["sent"] is not None
        assert timeline["delivered"] is not None
        assert timeline["read"] is not None
    finally:
        assert service.stop() == 0


async def test_kill_9_mid_batch_loses_nothing_and_duplicates_only_what_was_in_flight(tmp_path):
    standin = sandbox.StandIn(
        sandbox.StandInConfig(
            access_token="acceptance-token",
            phone_number_id="123456789012345",
            throughput_per_second=None,
            pair_rate=None,
            request_log_size=100_000,
        )
    )
    url = await standin.start()
    db = tmp_path / "acceptance.db"
    env = base_env(
        tmp_path,
        API_KEY=KEY,
        ACCESS_TOKEN="acceptance-token",
        PHONE_NUMBER_ID="123456789012345",
        GRAPH_API_URL=url,
        MESSAGES_PER_SECOND="150",
        PAIR_INTERVAL="0",
        LEASE_SECONDS="2",
        SEND_CONCURRENCY=str(SEND_CONCURRENCY),
    )
    total = 2000
    port = free_port()
    first = Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path)
    try:
        await _schedule_then_kill(first, standin, "k", total)
        at_kill = _statuses(db)
        in_flight = {k for k, v in at_kill.items() if v == "sending"}
        sent_before = sum(1 for v in at_kill.values() if v == "sent")
        assert sent_before > 0
        second = Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path)
        try:
            await _wait_healthy(second)
            for _ in range(1200):
                final = _statuses(db)
                if all(v in {"sent", "failed"} for v in final.values()):
                    break
                await asyncio.sleep(0.1)
        finally:
            assert second.stop() == 0
    finally:
        first.stop()
        await standin.stop()
    assert len(final) == total
    assert set(final.values()) == {"sent"}, Counter(final.values())
    sends = Counter(r.biz_opaque_callback_data for r in standin.requests if r.status == 200)
    assert set(sends) == set(final)  # every message reached "Meta"
    duplicated = {message_id for message_id, n in sends.items() if n > 1}
    assert duplicated <= in_flight  # only what was in flight at the kill was sent twice
    # A send slot is freed only after its outcome is committed: no more than the slots can
    # have been sent but not recorded when the process died.
    assert len(duplicated) <= SEND_CONCURRENCY
    assert max(sends.values()) <= 2
    print(f"in flight at kill: {len(in_flight)}, sent twice: {len(duplicated)}")


#: RESEND_GRACE_SECONDS in the webhook kill test: room for the restart and the stand-in's
#: webhook retries to reach the new process (both a few seconds), far below the 60 s lease.
GRACE = 20


Row = tuple[Any, ...]


def _recovery_records(db: Path) -> tuple[dict[str, Row], list[Row]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, status, sent_at, wamid FROM messages").fetchall()
        attempts = conn.execute(
            "SELECT message_id, number, started_at, finished_at, outcome, error_text, worker "
            "FROM attempts ORDER BY message_id, number, id"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}, attempts


def _claims(db: Path) -> dict[str, tuple[str, datetime]]:
    """The `sending` rows: their worker and lease end."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT id, claimed_by, lease_until FROM messages WHERE status = 'sending'"
        ).fetchall()
    return {r[0]: (r[1], _utc(r[2])) for r in rows}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_kill_9_with_webhooks_resends_only_what_meta_did_not_take(tmp_path):
    """Issue 13 part 4: with Meta's status webhooks on (APP_SECRET), kill -9 mid-batch of
    2,000 and restart: 0 sent twice, 0 lost. The restarted process takes the SQLite file's
    dispatcher lock, so it knows its predecessor is dead and frees its claims at once (before
    their 60 s leases end); each waits RESEND_GRACE_SECONDS for a `sent` status carrying our
    id, which settles it with no second request; only what Meta never got is sent again."""
    port = free_port()
    secret = "acceptance-app-secret"
    standin = sandbox.StandIn(
        sandbox.StandInConfig(
            access_token="acceptance-token",
            phone_number_id="123456789012345",
            app_secret=secret,
            webhook_url=f"http://127.0.0.1:{port}/webhook",
            throughput_per_second=None,
            pair_rate=None,
            request_log_size=100_000,
            delivered_probability=0.0,  # `sent` is the proof; fewer posts on a 2-core box
            read_probability=0.0,
            # Meta retries a webhook for days; here ~1 s apart for a minute, so statuses the
            # killed process missed reach the restarted one.
            webhook_max_attempts=60,
            webhook_retry_cap=1.0,
        )
    )
    url = await standin.start()
    db = tmp_path / "acceptance.db"
    env = base_env(
        tmp_path,
        API_KEY=KEY,
        ACCESS_TOKEN="acceptance-token",
        PHONE_NUMBER_ID="123456789012345",
        GRAPH_API_URL=url,
        APP_SECRET=secret,
        RESEND_GRACE_SECONDS=str(GRACE),
        MESSAGES_PER_SECOND="150",
        PAIR_INTERVAL="0",
        SEND_CONCURRENCY=str(SEND_CONCURRENCY),
    )  # LEASE_SECONDS stays 60: a lease that ended cannot be what freed a claim
    total = 2000
    first = Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path)
    try:
        await _schedule_then_kill(first, standin, "w", total)
        at_kill = await asyncio.to_thread(_claims, db)
        assert at_kill, "nothing was in flight at the kill"
        second = Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path)
        try:
            await _wait_healthy(second)
            deadline = asyncio.get_running_loop().time() + 150
            while True:
                final = await asyncio.to_thread(_statuses, db)
                if all(v in {"sent", "failed"} for v in final.values()):
                    break
                assert asyncio.get_running_loop().time() < deadline, Counter(final.values())
                await asyncio.sleep(0.2)
            async with asyncio.timeout(60):
                await standin.wait_webhooks()
        finally:
            assert second.stop() == 0
    finally:
        first.stop()
        await standin.stop()
    rows, attempts = await asyncio.to_thread(_recovery_records, db)
    assert len(rows) == total
    assert {status for status, _, _ in rows.values()} == {"sent"}
    sends = Counter(r.biz_opaque_callback_data for r in standin.requests if r.status == 200)
    assert set(sends) == set(rows)  # 0 lost: every message reached "Meta"
    assert max(sends.values()) == 1, [k for k, n in sends.items() if n > 1]  # 0 sent twice
    by_message: dict[str, list[Row]] = {}
    for row in attempts:
        by_message.setdefault(row[0], []).append(row)
    reaped = {
        m: next(a for a in rows_ if a[4] == "ambiguous")
        for m, rows_ in by_message.items()
        if any(a[4] == "ambiguous" for a in rows_)
    }
    # Every claim the killed process left was freed because its death was known: the reap
    # (the ambiguous attempt, recorded by the new process) came before the lease's end.
    left = {m for m, (status, _, _) in rows.items() if m in at_kill and m in reaped}
    assert left, "no claim of the killed process was left to recover"
    for message_id in left:
        attempt = reaped[message_id]
        assert attempt[5] == "worker died mid-send: may have been sent", attempt
        assert _utc(attempt[3]) < at_kill[message_id][1], (attempt, at_kill[message_id])
    # Settled by Meta's status: no attempt after the ambiguous one. Resent: not before the
    # grace had passed.
    proven = [m for m in left if len(by_message[m]) == 1]
    resent = [m for m in left if len(by_message[m]) > 1]
    for message_id in proven:
        _, sent_at, wamid = rows[message_id]
        assert wamid is not None
        assert wamid.startswith("wamid.")
        assert sent_at is not None
    for message_id in resent:
        reap_at = _utc(reaped[message_id][3])
        resend_at = _utc(by_message[message_id][-1][2])
        assert resend_at >= reap_at + timedelta(seconds=GRACE), (message_id, reap_at, resend_at)
    settle = [(_utc(rows[m][1]) - _utc(reaped[m][3])).total_seconds() for m in resent] or [0.0]
    print(
        f"in flight at kill: {len(at_kill)}, recovered at once: {len(left)}, settled by a "
        f"status webhook: {len(proven)}, resent after the grace: {len(resent)} "
        f"(latest {max(settle):.1f} s after its recovery; grace {GRACE} s)"
    )
