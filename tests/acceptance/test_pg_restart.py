"""PostgreSQL restarted under three sending `serve` processes (issue 13 part 7).

This test stops and starts the machine's shared PostgreSQL cluster (`pg_ctlcluster`, as
root), which every other PostgreSQL test uses: it is marked `pg_restart` and runs only when
selected (`scripts/test -m pg_restart`) or in CI's full run (CI=true; tests/conftest.py). It
leaves the cluster running whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.acceptance.conftest import BIN, Service, base_env, free_port, now_local, start_standin
from tests.acceptance.conftest import wait_health as _wait_health
from tests.integration.conftest import postgres_template, postgres_url  # noqa: F401
from whatsapp_scheduler.store import urls

KEY = "pgrestart-key-0123456789"
TOKEN = "pgrestart-token"
NUMBER_ID = "123456789012345"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.pg_restart,
    pytest.mark.timeout(170),
]


def _cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _cluster_up() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode == 0


def _rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(urls.libpq_url(database_url)) as conn:
        return conn.execute(query).fetchall()


class HealthWatch:
    """Polls each service's /health and keeps what it answered, with the time."""

    def __init__(self, services: list[Service]) -> None:
        self.services = services
        self.seen: dict[int, list[tuple[float, int, str]]] = {s.port: [] for s in services}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                for service in self.services:
                    try:
                        answer = await client.get(service.url + "/health")
                        body = answer.json()
                        entry = (time.time(), answer.status_code, str(body.get("database")))
                    except (httpx.TransportError, ValueError) as exc:
                        entry = (time.time(), 0, type(exc).__name__)
                    self.seen[service.port].append(entry)
                await asyncio.sleep(0.1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def last(self, service: Service) -> tuple[float, int, str] | None:
        entries = self.seen[service.port]
        return entries[-1] if entries else None


async def _until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_postgres_restart_under_three_senders_sends_each_message_once(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    rate, total = 100, 1500
    standin = await start_standin(TOKEN, NUMBER_ID)
    env = base_env(
        tmp_path,
        DATABASE_URL=postgres_url,
        API_KEY=KEY,
        ACCESS_TOKEN=TOKEN,
        PHONE_NUMBER_ID=NUMBER_ID,
        GRAPH_API_URL=standin.url,
        PAIR_INTERVAL="0",
        MESSAGES_PER_SECOND=str(rate),
    )  # no APP_SECRET: no webhook grace, so a claim wrongly taken over would go out twice
    services = []
    for _ in range(3):
        port = free_port()
        services.append(Service([str(BIN), "serve", "--port", str(port)], env, port, tmp_path))
    watch = HealthWatch(services)
    try:
        workers = [(await _wait_health(s))["dispatcher"]["worker"] for s in services]
        async with httpx.AsyncClient(
            base_url=services[0].url, headers={"X-API-Key": KEY}, timeout=30
        ) as api:
            for chunk in range(total // 500):
                tarih, saat = now_local()  # per batch: a loaded machine took > 60 s for them all
                batch = [
                    {"id": f"r{chunk}-{i}", "alici": f"+90555{chunk}{i:06d}", "tarih": tarih,
                     "saat": saat, "mesaj": f"m{i}"}
                    for i in range(500)
                ]  # fmt: skip
                answer = (await api.post("/schedule/batch", json={"messages": batch})).json()
                assert answer["stored"] == 500, answer
        watch.start()
        await _until(lambda: len(standin.requests) >= 300, "the first sends")
        await asyncio.to_thread(_cluster, "stop")
        # Every instance says so while the database is away.
        for service in services:
            await _until(
                lambda s=service: (watch.last(s) or (0, 0, ""))[1:] == (503, "unreachable"),
                f"/health on {service.port} to show the outage",
            )
        down_at = time.time()
        await asyncio.to_thread(_cluster, "start")
        up_at = time.time()
        deadline = time.monotonic() + 90
        while True:
            (open_rows,) = (
                await asyncio.to_thread(
                    _rows,
                    postgres_url,
                    "SELECT count(*) FROM messages WHERE status NOT IN ('sent', 'failed')",
                )
            )[0]
            if open_rows == 0:
                break
            assert time.monotonic() < deadline, f"{open_rows} messages still open"
            await asyncio.sleep(0.2)
        for service in services:
            await _until(
                lambda s=service: (watch.last(s) or (0, 0, ""))[1:] == (200, "ok"),
                f"/health on {service.port} to recover",
            )
        final = dict(
            await asyncio.to_thread(_rows, postgres_url, "SELECT id, status FROM messages")
        )
        after = await asyncio.to_thread(
            _rows,
            postgres_url,
            "SELECT worker, count(*) FROM attempts WHERE outcome = 'sent' "
            f"AND started_at > to_timestamp({up_at}) GROUP BY worker",
        )
        outcomes = Counter(
            row[0]
            for row in await asyncio.to_thread(_rows, postgres_url, "SELECT outcome FROM attempts")
        )
        states = [(await _wait_health(s))["dispatcher"]["state"] for s in services]
    finally:
        await watch.stop()
        for service in services:
            service.stop()
        await standin.stop()
        if not _cluster_up():  # never leave the shared cluster down
            await asyncio.to_thread(_cluster, "start")
    assert len(final) == total
    assert set(final.values()) == {"sent"}, Counter(final.values())
    sends = Counter(r.biz_opaque_callback_data for r in standin.requests if r.status == 200)
    assert set(sends) == set(final)  # none lost
    assert max(sends.values()) == 1, [k for k, n in sends.items() if n > 1]  # none twice
    assert outcomes == {"sent": total}, outcomes  # no claim was taken over or cut off
    # Each dispatcher reconnected by itself: all three recorded sends after the restart.
    assert {row[0] for row in after} == set(workers), after
    assert states == ["running"] * 3
    print(
        f"outage {up_at - down_at:.1f} s after every /health said unreachable; sends after "
        f"the restart per worker: {sorted(row[1] for row in after)}"
    )
