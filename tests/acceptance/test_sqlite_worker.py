"""`serve --no-dispatcher` beside `worker` on one SQLite file, as real processes: a message
stored through the API process is sent by the idle worker at its time, not at the worker's
next safety poll (SQLite has no NOTIFY; the worker watches the file's commits)."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.acceptance.conftest import (
    BIN,
    Service,
    base_env,
    free_port,
    now_local,
    start_standin,
    wait_health,
)

KEY = "sqlite-worker-key-0123456789"
TOKEN = "sqlite-worker-token"
NUMBER_ID = "123456789012345"


async def test_idle_sqlite_worker_sends_what_another_process_stored_at_once(tmp_path):
    standin = await start_standin(TOKEN, NUMBER_ID)
    env = base_env(
        tmp_path,
        API_KEY=KEY,
        ACCESS_TOKEN=TOKEN,
        PHONE_NUMBER_ID=NUMBER_ID,
        GRAPH_API_URL=standin.url,
        SAFETY_POLL_SECONDS="600",  # only a wake-up can send it in time
    )
    api_port = free_port()
    api_service = Service(
        [str(BIN), "serve", "--no-dispatcher", "--port", str(api_port)], env, api_port, tmp_path
    )
    worker = Service([str(BIN), "worker"], env, free_port(), tmp_path)
    try:
        await wait_health(api_service)
        deadline = time.monotonic() + 30
        while "due watcher: watching the SQLite file" not in worker.output():
            assert worker.process.poll() is None, worker.output()
            assert time.monotonic() < deadline, worker.output()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the worker is idle: nothing due, next wake = safety poll
        tarih, saat = now_local()
        async with httpx.AsyncClient(
            base_url=api_service.url, headers={"X-API-Key": KEY}, timeout=10
        ) as api:
            body = {"id": "wake-sqlite", "alici": "+905551234567", "tarih": tarih,
                    "saat": saat, "mesaj": "Selam"}  # fmt: skip
            scheduled = time.time()  # the clock of `received_at`
            assert (await api.post("/schedule", json=body)).status_code == 200
            while not standin.sends_for("wake-sqlite") and time.time() - scheduled < 5:
                await asyncio.sleep(0.005)
            sends = standin.sends_for("wake-sqlite")
            assert sends, worker.output()
            delay = sends[0].received_at - scheduled
            print(f"stored by the API process, sent by the worker after {delay * 1000:.0f} ms")
            assert delay < 1.0
            status = (await api.get("/status/wake-sqlite")).json()
            deadline = time.monotonic() + 5
            while status["status"] == "sending" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                status = (await api.get("/status/wake-sqlite")).json()
            assert status["status"] in {"sent", "delivered", "read"}
    finally:
        api_service.stop()
        stopped = worker.stop()
        await standin.stop()  # before any assertion here: never leave its sockets open
        assert stopped == 0, worker.output()
