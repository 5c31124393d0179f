"""run_standalone and ``python -m whatsapp_scheduler.sandbox``."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import aiohttp
import pytest

from whatsapp_scheduler.sandbox import StandIn, StandInConfig, run_standalone
from whatsapp_scheduler.sandbox.__main__ import build_parser, config_from_args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_standalone_serves_until_cancelled() -> None:
    port = free_port()
    task = asyncio.create_task(run_standalone("127.0.0.1", port, StandInConfig(access_token="t")))
    url = f"http://127.0.0.1:{port}/v23.0/{StandInConfig.phone_number_id}/messages"
    body = {"messaging_product": "whatsapp", "to": "+1650", "text": {"body": "hi"}}
    async with aiohttp.ClientSession() as http, asyncio.timeout(20):  # only against a hang
        while True:
            try:
                async with http.post(url, json=body, headers={"Authorization": "Bearer t"}) as r:
                    assert r.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again


def test_command_line_options_build_the_config() -> None:
    args = build_parser().parse_args(
        ["--port", "9001", "--throughput", "0", "--no-pair-rate", "--window", "sync",
         "--delays", "0.5,1,2", "--seed", "4", "--webhook-url", "http://127.0.0.1:8000/webhook"]
    )  # fmt: skip
    config = config_from_args(args)
    assert args.port == 9001
    assert config.throughput_per_second is None
    assert config.pair_rate is None
    assert config.window_check == "sync"
    assert (config.status_delays.sent, config.status_delays.read) == (0.5, 2.0)
    assert config.seed == 4
    assert config.webhook_url == "http://127.0.0.1:8000/webhook"
    meta = config_from_args(build_parser().parse_args(["--meta-like"]))
    assert (meta.window_check, meta.throughput_per_second) == ("async", 80.0)


def test_module_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "whatsapp_scheduler.sandbox", "--help"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert "nothing sent here reaches WhatsApp" in " ".join(out.stdout.split())
    assert "--webhook-url" in out.stdout


async def test_start_on_a_busy_port_raises_and_cleans_up(make_standin) -> None:
    running = await make_standin()
    port = int(running.url.rsplit(":", 1)[1])
    second = StandIn(StandInConfig())
    with pytest.raises(OSError, match="address already in use"):
        await second.start(port=port)
    with pytest.raises(RuntimeError, match="not started"):
        _ = second.url
