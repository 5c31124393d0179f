"""REST API benchmarks (issue #2 floors), against a real `whatsapp-scheduler serve` subprocess.

    .venv/bin/python bench/bench_api.py [--requests 10000] [--rows 1000000] [--skip-million]
        [--only-million --starts 5]

1. POST /schedule from 32 concurrent clients (one process, SQLite): requests/s.
2. POST /schedule/batch with 1,000 messages per request: messages stored/s.
3. With 1,000,000 queued rows: start-up to a healthy /health, GET /schedule p50/p99, RSS.

The load generator is this process (aiohttp); the service is another. On a 2-core machine they
share the CPU, so the figures are a floor for a service with a machine of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import benchservice  # bench/ is on sys.path when a benchmark runs as a script

KEY = "bench-api-key-0123456789abcdef"


RECIPIENTS = 10_000_000  # distinct recipients cycled through (--recipients)


def body(i: int, tag: str) -> dict[str, str]:
    return {
        "id": f"{tag}-{i}",
        "alici": f"+90555{i % RECIPIENTS:07d}",
        "tarih": "2030-01-01",
        "saat": f"{(i // 60) % 24:02d}:{i % 60:02d}",
        "mesaj": f"benchmark message {i}",
    }


async def post_single(url: str, total: int, concurrency: int) -> float:
    headers = {"X-API-Key": KEY}
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:

        async def worker() -> None:
            for i in counter:
                async with session.post("/schedule", json=body(i, "single")) as response:
                    assert response.status == 200, await response.text()
                    await response.read()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - began)


async def post_batches(url: str, batches: int, clients: int = 4) -> float:
    """`batches` requests of 1,000 messages from `clients` concurrent clients."""
    headers = {"X-API-Key": KEY}
    counter = iter(range(batches))
    async with aiohttp.ClientSession(url, headers=headers) as session:

        async def client() -> None:
            for b in counter:
                payload = {"messages": [body(b * 1000 + i, "batch") for i in range(1000)]}
                async with session.post("/schedule/batch", json=payload) as response:
                    result = await response.json()
                    assert result["stored"] == 1000, result

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return batches * 1000 / (time.perf_counter() - began)


async def list_latency(url: str, samples: int) -> tuple[float, float]:
    headers = {"X-API-Key": KEY}
    times = []
    async with aiohttp.ClientSession(url, headers=headers) as session:
        for _ in range(samples):
            began = time.perf_counter()
            async with session.get("/schedule") as response:
                assert response.status == 200
                await response.read()
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def prefill(db: Path, rows: int) -> None:
    """Insert `rows` queued messages straight into SQLite (the API's batch path is measured above)."""
    base = datetime(2030, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")

    def row(i: int) -> tuple[object, ...]:
        due = (base + timedelta(seconds=i)).replace(tzinfo=None).isoformat(sep=" ")
        return (f"pre-{i}", f"+90555{i:07d}", f"message {i}", "Europe/Istanbul", "2030-01-01",
                "03:00", f"h{i}", "queued", due, due, now, now, None)  # fmt: skip

    benchservice.insert_messages(db, map(row, range(rows)))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post_benchmarks(db: Path, args: argparse.Namespace) -> None:
    """Parts 1-2: POST /schedule and POST /schedule/batch on a fresh database."""
    proc, url, _ = benchservice.start(db, KEY)
    try:
        single = asyncio.run(post_single(url, args.requests, 32))
        print(f"POST /schedule, 32 clients: {single:,.0f} requests/s ({args.requests} requests)")
        batch = asyncio.run(post_batches(url, args.batches, args.batch_clients))
        print(
            f"POST /schedule/batch x1000, {args.batch_clients} clients: {batch:,.0f} "
            f"messages/s ({args.batches} batches)"
        )
    finally:
        benchservice.stop(proc)


def main() -> None:
    global RECIPIENTS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument(
        "--only-million", action="store_true", help="skip the POST benchmarks (parts 1-2)"
    )
    parser.add_argument(
        "--starts",
        type=int,
        default=1,
        help="start the service this many times on the million rows",
    )
    parser.add_argument("--batch-clients", type=int, default=4, help="concurrent batch clients")
    parser.add_argument(
        "--recipients",
        type=int,
        default=10_000_000,
        help="distinct recipients to cycle through (default: every message its own; a shop "
        "messaging its 1,000 customers is --recipients 1000)",
    )
    args = parser.parse_args()
    RECIPIENTS = args.recipients
    with tempfile.TemporaryDirectory() as tmp:
        if not args.only_million:
            post_benchmarks(Path(tmp) / "bench.db", args)
        if args.skip_million:
            return
        db2 = Path(tmp) / "million.db"
        proc, url, _ = benchservice.start(db2, KEY)  # creates the schema
        benchservice.stop(proc)
        began = time.perf_counter()
        prefill(db2, args.rows)
        print(f"prefilled {args.rows:,} queued rows in {time.perf_counter() - began:.1f}s")
        for _ in range(args.starts):
            proc, url, startup = benchservice.start(db2, KEY)
            try:
                p50, p99 = asyncio.run(list_latency(url, 300))
                print(f"start-up to healthy /health with {args.rows:,} rows: {startup:.2f}s")
                print(
                    f"GET /schedule (100 of {args.rows:,} queued): "
                    f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                )
                print(f"service RSS after the list requests: {rss_mb(proc.pid):.0f} MB")
            finally:
                benchservice.stop(proc)


if __name__ == "__main__":
    main()
