"""The whole path with real processes: API -> SQLite -> dispatcher -> Cloud API stand-in.

The service runs as a subprocess; the stand-in runs in the test's own event loop, so every
request that reaches "Meta" is counted, even across a kill -9 of the service.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from datetime import datetime
from pathlib import Path
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
        await _wait_healthy(first)
        tarih, saat = _now_local()
        async with httpx.AsyncClient(
            base_url=first.url, headers={"X-API-Key": KEY}, timeout=30
        ) as api:
            for chunk in range(total // 1000):
                batch = [
                    {
                        "id": f"k{chunk}-{i}",
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
