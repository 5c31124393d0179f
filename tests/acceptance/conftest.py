"""Acceptance tests run the real command as a subprocess and talk to it over HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from whatsapp_scheduler import sandbox

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent / "whatsapp-scheduler"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """A running `whatsapp-scheduler serve` (or `python main.py`) subprocess."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], port: int, cwd: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.api_key = env.get("API_KEY", "")  # /health shows the dispatcher with the key only
        self.log = cwd / f"service-{port}.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            list(argv), env=env, cwd=cwd, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def wait_healthy(self, timeout: float = 45.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"service exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"service not healthy after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        if self._log_file.closed:
            return self.process.returncode
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode

    def kill(self) -> None:
        if self._log_file.closed:
            return
        self.process.kill()
        self.process.wait()
        self._log_file.close()


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"API_KEY", "ACCESS_TOKEN", "PHONE_NUMBER_ID", "DATABASE_URL", "APP_SECRET"}
    }
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'acceptance.db'}", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[object]:
    started: list[Service] = []

    def start(argv: Sequence[str], **env: str) -> Service:
        port = free_port()
        full = [*argv, "--port", str(port)] if "--port" not in argv else list(argv)
        service = Service(full, base_env(tmp_path, **env), port, tmp_path)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def now_local() -> tuple[str, str]:
    """`tarih` and `saat` for "now", to the second. To the minute it was up to 59 s in the
    past already, and the API refuses a time more than 60 s past: a request (or a loop of
    batches) that crossed the next minute was refused, depending on the second it began."""
    now = datetime.now(ZoneInfo("Europe/Istanbul"))
    return now.date().isoformat(), now.strftime("%H:%M:%S")


async def start_standin(token: str, number_id: str) -> sandbox.StandIn:
    """The stand-in Cloud API in the test's own loop: no limits, every request logged."""
    standin = sandbox.StandIn(
        sandbox.StandInConfig(
            access_token=token,
            phone_number_id=number_id,
            throughput_per_second=None,
            pair_rate=None,
            request_log_size=100_000,
        )
    )
    await standin.start()
    return standin


async def wait_health(service: Service, timeout: float = 45) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=1) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise AssertionError(service.output())
            try:
                answer = await client.get(
                    service.url + "/health", headers={"X-API-Key": service.api_key}
                )
                if answer.status_code == 200:
                    return dict(answer.json())
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("service not healthy:\n" + service.output())


async def assert_idle_worker_wakes(
    api_service: Service, worker: Service, standin: sandbox.StandIn, key: str, ready: str
) -> float:
    """With `worker` idle (its log says `ready`), schedule a message due now through
    `api_service`; the worker must send it at once, not at its safety poll (600 s). Returns
    the delay in seconds, from the API process's own `created_at` to the stand-in's stamp."""
    await wait_health(api_service)
    deadline = time.monotonic() + 30
    while ready not in worker.output():
        assert worker.process.poll() is None, worker.output()
        assert time.monotonic() < deadline, worker.output()
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the worker is idle: nothing due, next wake = safety poll
    tarih, saat = now_local()
    async with httpx.AsyncClient(
        base_url=api_service.url, headers={"X-API-Key": key}, timeout=10
    ) as api:
        body = {"id": "wake-1", "alici": "+905551234567", "tarih": tarih, "saat": saat,
                "mesaj": "Selam"}  # fmt: skip
        answer = await api.post("/schedule", json=body)
        assert answer.status_code == 200, answer.text
        stored = datetime.fromisoformat(answer.json()["created_at"]).timestamp()
        deadline = time.monotonic() + 20  # only against a hang: the assertion below is the bound
        while not standin.sends_for("wake-1") and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        sends = standin.sends_for("wake-1")
        assert sends, worker.output()
        delay = sends[0].received_at - stored  # both wall clocks of this machine
        print(f"stored by one process, sent by another after {delay * 1000:.0f} ms")
        # Tens of ms on an idle machine (a 50 ms file watch or NOTIFY, a claim, a send); 2 s
        # leaves room for a loaded 2-core machine and still tells "at once" from the 600 s
        # safety poll, or from a watch that only looked every few seconds.
        assert delay < 2.0
        deadline = time.monotonic() + 20
        status = (await api.get("/status/wake-1")).json()
        while status["status"] == "sending" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            status = (await api.get("/status/wake-1")).json()
        assert status["status"] in {"sent", "delivered", "read"}, status
    return delay
