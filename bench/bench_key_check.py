"""What a stored API key costs POST /schedule against the environment's API_KEY: one server,
the two keys in alternating blocks, so both see the same machine at the same moment.

    .venv/bin/python bench/bench_key_check.py [--blocks 20] [--block 500] [--clients 32]

Starts one `serve --sandbox --no-dispatcher` on a fresh SQLite file, after `keys create --scope
write` made a stored key there. Then, block after block, `--block` POST /schedule requests from
`--clients` concurrent clients, sent with API_KEY (A) or with the stored key (B: hashed and
looked up in api_keys on every request), in the order A B B A A B ... (ABBA, so neither side
always goes first). Prints each block's requests/s and the server's CPU time per request
(user + system of all its threads, from /proc: what a request costs, which other work on a
shared machine moves far less than the rate), and the medians; the ratios B/A are the key
check's cost (issue 15: at most 5%). bench_api_ab.py --stored-key measures the rate between
whole server runs, which a noisy machine moves by more than the difference.
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
import bench_api  # bench/ is on sys.path when a benchmark runs as a script
import bench_api_ab
import benchservice


async def block(url: str, key: str, tag: str, total: int, clients: int) -> float:
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"X-API-Key": key}
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:

        async def worker() -> None:
            for i in counter:
                async with session.post("/schedule", json=bench_api.body(i, tag)) as response:
                    assert response.status == 200, await response.text()
                    await response.read()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return total / (time.perf_counter() - began)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(url: str, pid: int, stored: str, blocks: int, size: int, clients: int) -> None:
    await block(url, bench_api_ab.ENV_KEY, "warm", size, clients)  # warm-up, not counted
    rates: dict[str, list[float]] = {"API_KEY": [], "stored key": []}
    costs: dict[str, list[float]] = {"API_KEY": [], "stored key": []}
    for n in range(blocks):
        side = "API_KEY" if n % 4 in (0, 3) else "stored key"
        key = bench_api_ab.ENV_KEY if side == "API_KEY" else stored
        before = cpu_seconds(pid)
        rate = await block(url, key, f"b{n}", size, clients)
        cost = (cpu_seconds(pid) - before) / size * 1e6
        rates[side].append(rate)
        costs[side].append(cost)
        print(f"block {n + 1:>2} {side:>10}: {rate:,.0f} req/s, {cost:,.0f} us CPU/request")
    a, b = (statistics.median(rates[s]) for s in ("API_KEY", "stored key"))
    ca, cb = (statistics.median(costs[s]) for s in ("API_KEY", "stored key"))
    print(f"medians: API_KEY {a:,.0f} req/s, stored key {b:,.0f} req/s, ratio {b / a:.3f}")
    print(
        f"         API_KEY {ca:,.0f} us, stored key {cb:,.0f} us CPU/request, ratio {cb / ca:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block", type=int, default=500, help="requests per block")
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "keys.db"
        stored = bench_api_ab.make_key(db)
        proc, url, _ = benchservice.start(db, bench_api_ab.ENV_KEY)
        try:
            asyncio.run(run(url, proc.pid, stored, args.blocks, args.block, args.clients))
        finally:
            benchservice.stop(proc)


if __name__ == "__main__":
    main()
