"""Webhook stall benchmark (issue 13, part 5): how long `/health` waits while one signed webhook
of 20,000 statuses is applied, this revision against a base revision in the same run.

    .venv/bin/python bench/bench_webhook_stall.py --base REV [--rounds 3] [--count 20000]

Each round, for the base (a temporary git worktree of REV, first on PYTHONPATH) and for this
tree in turn: a fresh SQLite file with `count` messages in status `sent`, `serve --sandbox
--no-dispatcher` on it, one webhook POST with a `delivered` status for each, and meanwhile a
second client asking `/health` one request after another. Reported per variant (medians over
the rounds): the webhook's own time, and the longest and the median `/health` answer time
while the webhook was in flight. The ratio of the longest waits is the figure to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import bench_webhook  # bench/ is on sys.path when a benchmark runs as a script
import benchservice

from whatsapp_scheduler import server
from whatsapp_scheduler.whatsapp import webhooks


async def one_round(pythonpath: str | None, count: int) -> tuple[float, float, float]:
    """(webhook seconds, longest /health wait, median /health wait) for one variant."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        wamids = await bench_webhook.seed(db, count)
        body = bench_webhook.payload(wamids)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": webhooks.sign(body, server.SANDBOX_APP_SECRET),
        }
        if pythonpath is not None:
            os.environ["PYTHONPATH"] = pythonpath
        try:
            proc, url, _ = benchservice.start(db, bench_webhook.KEY, timeout=60)
        finally:
            os.environ.pop("PYTHONPATH", None)
        waits: list[float] = []
        try:
            async with aiohttp.ClientSession() as session:
                done = asyncio.Event()

                async def poll_health() -> None:
                    while not done.is_set():
                        began = time.perf_counter()
                        async with session.get(url + "/health") as resp:
                            await resp.read()
                        waits.append(time.perf_counter() - began)

                poller = asyncio.create_task(poll_health())
                began = time.perf_counter()
                async with session.post(url + "/webhook", data=body, headers=headers) as resp:
                    answer = await resp.json()
                elapsed = time.perf_counter() - began
                done.set()
                await poller
            assert resp.status == 200, answer
            assert answer["applied"] == count, answer
        finally:
            benchservice.stop(proc)
    return elapsed, max(waits), statistics.median(waits)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {"base": [], "this": []}
    with benchservice.base_worktree(args.base) as base:
        for round_number in range(args.rounds):
            for name, path in (("base", str(base)), ("this", None)):
                figures = await one_round(path, args.count)
                results[name].append(figures)
                print(
                    f"round {round_number + 1} {name}: webhook {figures[0]:.2f} s, /health "
                    f"longest {figures[1]:.3f} s, median {figures[2]:.3f} s"
                )
    medians = {
        name: [statistics.median(f[i] for f in runs) for i in range(3)]
        for name, runs in results.items()
    }
    for name, (webhook, longest, median) in medians.items():
        label = args.base if name == "base" else "this tree"
        print(
            f"{label}: webhook {webhook:.2f} s, /health longest {longest:.3f} s, "
            f"median {median:.3f} s (medians of {args.rounds})"
        )
    ratio = medians["base"][1] / medians["this"][1]
    print(f"longest /health wait: {ratio:.1f}x shorter than {args.base}")


if __name__ == "__main__":
    asyncio.run(main())
