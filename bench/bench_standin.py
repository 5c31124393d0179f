"""Requests/s against the Cloud API stand-in on loopback, aiohttp client, several concurrencies.

Two set-ups, both by default: ``subprocess`` runs the stand-in in its own process
(``python -m whatsapp_scheduler.sandbox``), so server and client each may use a core;
``in-process`` runs both in one event loop, as the project's tests do. Limits are off, no
webhooks are sent; every request is a valid text send answered 200.

    .venv/bin/python bench/bench_standin.py                  # 20,000 sends x c=1,16,64, both modes
    .venv/bin/python bench/bench_standin.py --mode in-process -n 5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp

from whatsapp_scheduler.sandbox import StandIn, StandInConfig

TOKEN = "bench-token"
PHONE_NUMBER_ID = "106540352242922"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def standin_url(in_process: bool) -> AsyncIterator[str]:
    """A running stand-in with no limits and no webhooks; yields its base URL."""
    if in_process:
        standin = StandIn(
            StandInConfig.unlimited(access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID)
        )
        await standin.start()
        try:
            yield standin.url
        finally:
            await standin.stop()
        return
    port = _free_port()
    cmd = [sys.executable, "-m", "whatsapp_scheduler.sandbox", "--port", str(port),
           "--access-token", TOKEN, "--phone-number-id", PHONE_NUMBER_ID,
           "--throughput", "0", "--no-pair-rate"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url + "/_sandbox/state") as reply:
                        if reply.status == 200:
                            break
                await asyncio.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        async with asyncio.timeout(10):
            await proc.wait()


async def run(url: str, total: int, concurrency: int) -> tuple[float, Counter[int]]:
    """Send ``total`` text messages with ``concurrency`` workers; return (req/s, statuses)."""
    endpoint = f"{url}/v23.0/{PHONE_NUMBER_ID}/messages"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    statuses: Counter[int] = Counter()
    remaining = total

    async def worker(session: aiohttp.ClientSession, n: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            body = (
                '{"messaging_product":"whatsapp","recipient_type":"individual",'
                f'"to":"+1650555{n:04d}","type":"text","text":{{"body":"bench {remaining}"}},'
                f'"biz_opaque_callback_data":"job-{remaining}"}}'
            )
            async with session.post(endpoint, data=body, headers=headers) as reply:
                await reply.read()
                statuses[reply.status] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session, n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return total / elapsed, statuses


def say(line: str) -> None:
    """Print one line of the report (flushed, so progress shows while it runs)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def measure(in_process: bool, total: int, levels: list[int]) -> dict[int, float]:
    """req/s per concurrency level against one stand-in (statuses other than 200 fail)."""
    rates: dict[int, float] = {}
    async with standin_url(in_process) as url:
        await run(url, 500, 8)  # warm-up
        for level in levels:
            rate, statuses = await run(url, total, level)
            if set(statuses) != {200}:
                raise SystemExit(f"unexpected statuses {dict(statuses)}")
            rates[level] = rate
    return rates


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=20_000, help="per level")
    parser.add_argument("-c", "--concurrency", default="1,16,64")
    parser.add_argument("--mode", choices=("both", "subprocess", "in-process"), default="both")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    modes = {"subprocess": False, "in-process": True}
    if args.mode != "both":
        modes = {args.mode: modes[args.mode]}
    say(f"stand-in bench: {args.requests} text sends per level, {os.cpu_count()} CPUs")
    results = {name: await measure(flag, args.requests, levels) for name, flag in modes.items()}
    say(f"{'concurrency':>11}" + "".join(f"  {name + ' req/s':>18}" for name in results))
    for level in levels:
        say(f"{level:>11}" + "".join(f"  {rates[level]:>18.0f}" for rates in results.values()))


if __name__ == "__main__":
    asyncio.run(main())
