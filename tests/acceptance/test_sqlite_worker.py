"""`serve --no-dispatcher` beside `worker` on one SQLite file, as real processes: a message
stored through the API process is sent by the idle worker at its time, not at the worker's
next safety poll (SQLite has no NOTIFY; the worker watches the file's commits)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx
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

pytestmark = pytest.mark.slow  # serve and worker subprocesses: 10-11 s each

KEY = "sqlite-worker-key-0123456789"
TOKEN = "sqlite-worker-token"
NUMBER_ID = "123456789012345"


def _env(tmp_path: Path, graph_url: str) -> dict[str, str]:
    return base_env(
        tmp_path,
        API_KEY=KEY,
        ACCESS_TOKEN=TOKEN,
        PHONE_NUMBER_ID=NUMBER_ID,
        GRAPH_API_URL=graph_url,
        SAFETY_POLL_SECONDS="600",  # only a wake-up can send a message in time
    )


async def test_idle_sqlite_worker_sends_what_another_process_stored_at_once(tmp_path):
    standin = await start_standin(TOKEN, NUMBER_ID)
    env = _env(tmp_path, standin.url)
    api_port = free_port()
    api_service = Service(
        [str(BIN), "serve", "--no-dispatcher", "--port", str(api_port)], env, api_port, tmp_path
    )
    worker = Service([str(BIN), "worker"], env, free_port(), tmp_path)
    try:
        await assert_idle_worker_wakes(
            api_service, worker, standin, KEY, "due watcher: watching the SQLite file"
        )
    finally:
        api_service.stop()
        stopped = worker.stop()
        await standin.stop()  # before any assertion here: never leave its sockets open
        assert stopped == 0, worker.output()


async def test_a_second_serve_on_the_same_sqlite_file_stands_by_then_takes_over(tmp_path):
    """Two `serve` processes on one SQLite file: one dispatcher sends, the other stands by
    (one rate limit, not two); a message stored through the standby's API is sent once, by
    the active one; when that one stops, the standby takes over. `dispatch --burst` refuses
    to run beside them."""
    standin = await start_standin(TOKEN, NUMBER_ID)
    env = _env(tmp_path, standin.url)
    ports = [free_port(), free_port()]
    first = Service([str(BIN), "serve", "--port", str(ports[0])], env, ports[0], tmp_path)
    await wait_health(first)
    second = Service([str(BIN), "serve", "--port", str(ports[1])], env, ports[1], tmp_path)
    try:
        assert (await wait_health(first))["dispatcher"]["state"] == "running"
        health = await wait_health(second)
        assert health["dispatcher"]["state"] == "standby", health
        assert health["dispatcher"]["active_pid"] == first.process.pid
        assert "stands by and takes over" in second.output()
        burst = await asyncio.to_thread(
            subprocess.run,
            [str(BIN), "dispatch", "--burst"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert burst.returncode == 2, burst.stderr
        assert f"a dispatcher (pid {first.process.pid}) is already running" in burst.stderr
        async with httpx.AsyncClient(headers={"X-API-Key": KEY}, timeout=10) as api:

            async def schedule(service: Service, message_id: str) -> None:
                tarih, saat = now_local()
                body = {"id": message_id, "alici": "+905551234567", "tarih": tarih,
                        "saat": saat, "mesaj": "Selam"}  # fmt: skip
                answer = await api.post(service.url + "/schedule", json=body)
                assert answer.status_code == 200, answer.text

            async def sent(message_id: str, within: float) -> None:
                deadline = time.monotonic() + within
                while not standin.sends_for(message_id):
                    assert time.monotonic() < deadline, first.output() + second.output()
                    await asyncio.sleep(0.02)

            async def counted_sent(service: Service) -> int:
                """/health's sent count once it counts one: the stand-in logs a request
                before it answers, and the service counts the send only on the answer."""
                deadline = time.monotonic() + 20
                while (count := (await wait_health(service))["dispatcher"]["sent"]) < 1:
                    assert time.monotonic() < deadline, service.output()
                    await asyncio.sleep(0.05)
                return int(count)

            await schedule(second, "via-standby")
            await sent("via-standby", 20)  # the active one watches the file (every second)
            assert await counted_sent(first) == 1
            assert first.stop() == 0
            deadline = time.monotonic() + 30  # only against a hang, like the others here
            while (await wait_health(second))["dispatcher"]["state"] != "running":
                assert time.monotonic() < deadline, second.output()
                await asyncio.sleep(0.1)
            await schedule(second, "after-take-over")
            await sent("after-take-over", 20)
            assert await counted_sent(second) == 1
        assert len(standin.sends_for("via-standby")) == 1
    finally:
        first.stop()
        stopped = second.stop()
        await standin.stop()
        assert stopped == 0, second.output()
