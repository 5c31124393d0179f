"""Campaigns (issue 19) against real `whatsapp-scheduler serve` subprocesses on SQLite files.

    .venv/bin/python bench/bench_campaign.py [--recipients 100000] [--samples 200]
        [--rounds 3] [--base REV]

1. The same N messages two ways, each on a fresh database, in one run: one POST /campaigns to N
   stored contacts (label `bench`, `{{name}}` in the text; the answer comes when every message
   is durable), and POST /schedule/batch with 1,000 per request from 4 clients (the client
   building the same texts). Prints both times and the ratio.
2. With that campaign stored: GET /campaigns/{id} (the funnel: its tallies, revision 0021) and
   GET /campaigns/{id}/messages?status=queued (a page of 100) p50 / p99 over `--samples`.

Loading the contacts (POST /contacts, 10,000 per request) is set-up, timed apart. The load
generator is this process (aiohttp), the service another: on 2 cores they share the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import benchservice  # bench/ is on sys.path when a benchmark runs as a script

KEY = "bench-api-key-0123456789abcdef"
TIMEOUT = aiohttp.ClientTimeout(total=1800)
DAY = "2030-01-01"


def phone(i: int) -> str:
    return f"+90555{i:07d}"


async def load_contacts(url: str, n: int) -> float:
    headers = {"X-API-Key": KEY}
    began = time.perf_counter()
    async with aiohttp.ClientSession(url, headers=headers, timeout=TIMEOUT) as session:
        for start in range(0, n, 10_000):
            chunk = [
                {"phone": phone(i), "name": f"Kişi {i}", "labels": ["bench"]}
                for i in range(start, min(n, start + 10_000))
            ]
            async with session.post("/contacts", json={"contacts": chunk}) as response:
                answer = await response.json()
                assert answer["stored"] == len(chunk), answer
    return time.perf_counter() - began


async def create_campaign(url: str, n: int) -> tuple[float, str]:
    headers = {"X-API-Key": KEY}
    body = {
        "name": "bench",
        "mesaj": "Merhaba {{name}}, benchmark",
        "audience": {"labels": ["bench"]},
        "tarih": DAY,
        "saat": "09:00",
    }
    async with aiohttp.ClientSession(url, headers=headers, timeout=TIMEOUT) as session:
        began = time.perf_counter()
        async with session.post("/campaigns", json=body) as response:
            answer = await response.json()
        took = time.perf_counter() - began
    assert answer["recipients"] == n, {k: answer.get(k) for k in ("recipients", "reasons")}
    return took, str(answer["id"])


async def post_batches(url: str, n: int, clients: int = 4) -> float:
    headers = {"X-API-Key": KEY}
    counter = iter(range(0, n, 1000))
    async with aiohttp.ClientSession(url, headers=headers, timeout=TIMEOUT) as session:

        async def client() -> None:
            for start in counter:
                payload = {
                    "messages": [
                        {"id": f"b-{i}", "alici": phone(i), "tarih": DAY, "saat": "09:00",
                         "mesaj": f"Merhaba Kişi {i}, benchmark"}
                        for i in range(start, min(n, start + 1000))
                    ]
                }  # fmt: skip
                async with session.post("/schedule/batch", json=payload) as response:
                    result = await response.json()
                    assert result["refused"] == 0, result["results"][0]

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - began


async def latency(url: str, path: str, samples: int) -> tuple[float, float]:
    headers = {"X-API-Key": KEY}
    times = []
    async with aiohttp.ClientSession(url, headers=headers, timeout=TIMEOUT) as session:
        for _ in range(samples):
            began = time.perf_counter()
            async with session.get(path) as response:
                assert response.status == 200, await response.text()
                await response.read()
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)]


def _settled(pid: int, since: float) -> float:
    """The service's CPU since `since` once it has gone quiet (under 10 ms in 0.3 s): what a
    request left running after its answer (a campaign's WAL checkpoint) counted too."""
    last = benchservice.cpu_seconds(pid)
    for _ in range(100):
        time.sleep(0.3)
        now = benchservice.cpu_seconds(pid)
        if now - last < 0.01:
            break
        last = now
    return now - since


def _campaign_side(
    tmp: Path, n: int, samples: int, env: dict[str, str] | None
) -> tuple[float, tuple[float, float, float], tuple[float, float], tuple[float, float]]:
    """A fresh database: load the contacts, one POST /campaigns, then the funnel's and the
    recipients page's latencies: (load s, (create s, its service CPU s until the answer, and
    until the service is quiet again), funnel p50/p99, page p50/p99)."""
    db = tmp / f"campaign-{time.monotonic_ns()}.db"
    proc, url, _ = benchservice.start(db, KEY, extra_env=env)
    try:
        loading = asyncio.run(load_contacts(url, n))
        cpu = benchservice.cpu_seconds(proc.pid)
        created, cid = asyncio.run(create_campaign(url, n))
        created_cpu = benchservice.cpu_seconds(proc.pid) - cpu
        settled = _settled(proc.pid, cpu)
        funnel = asyncio.run(latency(url, f"/campaigns/{cid}", samples))
        page = asyncio.run(
            latency(url, f"/campaigns/{cid}/messages?status=queued&limit=100", samples)
        )
    finally:
        benchservice.stop(proc)
    return loading, (created, created_cpu, settled), funnel, page


def _batch_side(tmp: Path, n: int) -> tuple[float, float, float]:
    """POST /schedule/batch of the same messages: (wall s, the service's CPU s until the last
    answer, and until it is quiet again)."""
    proc, url, _ = benchservice.start(tmp / f"batch-{time.monotonic_ns()}.db", KEY)
    try:
        cpu = benchservice.cpu_seconds(proc.pid)
        wall = asyncio.run(post_batches(url, n))
        return wall, benchservice.cpu_seconds(proc.pid) - cpu, _settled(proc.pid, cpu)
    finally:
        benchservice.stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="rounds, sides interleaved")
    parser.add_argument(
        "--base", metavar="REV", help="also time POST /campaigns at this revision (A/B)"
    )
    parser.add_argument(
        "--no-batch", action="store_true", help="skip the /schedule/batch side (funnel only)"
    )
    args = parser.parse_args()
    n = args.recipients
    batches: list[tuple[float, float, float]] = []
    created: list[tuple[float, float, float]] = []
    based: list[tuple[float, float, float]] = []
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        base_env = None
        if args.base:
            tree = stack.enter_context(benchservice.base_worktree(args.base))
            base_env = {"PYTHONPATH": str(tree)}
        for round_ in range(args.rounds):
            if not args.no_batch:
                batches.append(_batch_side(tmp, n))
            if base_env is not None and round_ % 2:  # the base first every other round
                based.append(_campaign_side(tmp, n, 1, base_env)[1])
            loading, made, funnel, page = _campaign_side(tmp, n, args.samples, None)
            created.append(made)
            if base_env is not None and not round_ % 2:
                based.append(_campaign_side(tmp, n, 1, base_env)[1])
    med = statistics.median

    def line(what: str, runs: list[tuple[float, float, float]]) -> None:
        wall, cpu, quiet = (med(r[i] for r in runs) for i in range(3))
        rounds = ", ".join(f"{r[0]:.2f}/{r[1]:.2f}" for r in runs)
        print(f"  rounds (wall/CPU s): {rounds}")
        print(
            f"{what:<36}{wall:6.2f} s wall ({n / wall:,.0f} msg/s), {cpu:6.2f} s service CPU "
            f"({quiet:.2f} s until quiet)"
        )

    print(f"recipients {n:,}; {args.rounds} rounds, sides interleaved; medians")
    print(f"contacts loaded (set-up, last)      {loading:.2f} s")
    if batches:
        line("POST /schedule/batch (1,000 x 4)", batches)
    line("POST /campaigns (one request)", created)
    if based:
        line(f"POST /campaigns at {args.base}", based)
    for what, runs in (("", created), (f" at {args.base}", based)):
        if batches and runs:
            wall = [b[0] / c[0] for b, c in zip(batches, runs, strict=True)]
            cpu = [b[1] / c[1] for b, c in zip(batches, runs, strict=True)]
            quiet = [b[2] / c[2] for b, c in zip(batches, runs, strict=True)]
            print(
                f"ratio batch / campaign{what}: wall {med(wall):.2f}x "
                f"(rounds: {', '.join(f'{x:.2f}' for x in wall)}), service CPU "
                f"{med(cpu):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in cpu)}), "
                f"until quiet {med(quiet):.2f}x"
            )
    print(f"GET /campaigns/{{id}}  p50 / p99      {funnel[0]:.1f} / {funnel[1]:.1f} ms (last)")
    print(f"GET .../messages page p50 / p99     {page[0]:.1f} / {page[1]:.1f} ms (last)")


if __name__ == "__main__":
    main()
