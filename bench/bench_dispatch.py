"""Dispatcher benchmark: SQLite file queue -> Dispatcher -> CloudApiSender -> stand-in (own process).

Usage::

    .venv/bin/python bench/bench_dispatch.py                  # drain 10,000 due messages, 3 runs
    .venv/bin/python bench/bench_dispatch.py --rate-test      # MESSAGES_PER_SECOND=80 for 60 s
    .venv/bin/python bench/bench_dispatch.py --lateness-test  # 1,000 messages spread over 60 s
    .venv/bin/python bench/bench_dispatch.py --window-test    # 5,000 due at 1,000/s: busiest 1 s

Targets: drain >= 1,000 msg/s (MESSAGES_PER_SECOND=1000, the settings' maximum); observed rate
80/s +- 5%; lateness (request start - due_at) p50 <= 50 ms, p99 <= 250 ms; window test: no
sliding 1-s window of the recorded send starts (`attempts.started_at`) above 1.02 x the rate
(1,020 at 1,000/s), printed beside the mean and the stand-in's own receive stamps (which also
measure the stand-in's queueing, so they can bunch; docs/dispatcher.md, "Throughput").
The stand-in runs in a separate process (`python -m whatsapp_scheduler.sandbox`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import benchservice  # bench/ is on sys.path when a benchmark runs as a script

from whatsapp_scheduler import bootstrap, settings, testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import ratelimit
from whatsapp_scheduler.store import migrate, sql

TOKEN = "bench-token"
NUMBER_ID = "106540352242922"


def standin_process(throughput: str = "0") -> contextlib.AbstractContextManager[str]:
    """Run the stand-in in its own process; yields its base URL."""
    return benchservice.standin_process(TOKEN, NUMBER_ID, throughput=throughput)


def make_settings(url: str, database: str, **overrides: object) -> settings.Settings:
    values: dict[str, object] = {
        "access_token": TOKEN,
        "phone_number_id": NUMBER_ID,
        "graph_api_url": url,
        "database_url": database,
        "messages_per_second": 1000,
        "pair_interval": 0,
    }
    return settings.Settings(_env_file=None, **(values | overrides))  # type: ignore[arg-type]


async def fresh_store(directory: Path, name: str) -> tuple[str, sql.SqlMessageStore]:
    url = f"sqlite:///{directory / name}"
    await asyncio.to_thread(migrate.upgrade, url)
    return url, sql.SqlMessageStore.from_url(url)


def make_batch(prefix: str, dues: list[datetime]) -> list[messages.ScheduledMessage]:
    return [
        testing.make_message(f"{prefix}-{i:06d}", due, recipient=f"+9055{i:08d}", body="bench")
        for i, due in enumerate(dues)
    ]


async def burst_drain(
    url: str, database: str, store: sql.SqlMessageStore
) -> tuple[float, float, int]:
    """Drain every due message with the real dispatcher at no rate limit (64 sends at once,
    claims of 500): (wall seconds, this process's CPU seconds, messages sent)."""
    config = make_settings(url, database, send_concurrency=64, claim_batch_size=500)
    d = await bootstrap.build_dispatcher(config, store)
    for path in d.paths.values():
        path.limiter = ratelimit.RateLimiter(1e9, 0)
    started, cpu = time.perf_counter(), time.process_time()
    await d.run(burst=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    sent = int(d.health()["sent"])
    await d.stop()
    return elapsed, cpu, sent


async def add_all(store: sql.SqlMessageStore, items: list[messages.ScheduledMessage]) -> None:
    for start in range(0, len(items), 1000):
        await store.add_many(items[start : start + 1000])


async def drain_once(
    url: str, directory: Path, run: int, count: int, concurrency: int, unlimited: bool
) -> float:
    """Seconds-normalised rate of one burst drain of `count` due messages."""
    database, store = await fresh_store(directory, f"drain{run}.db")
    now = datetime.now(UTC)
    await add_all(store, make_batch(f"d{run}", [now] * count))
    config = make_settings(url, database, send_concurrency=concurrency, claim_batch_size=500)
    d = await bootstrap.build_dispatcher(config, store)
    if unlimited:  # above the settings' cap (1000/s): shows the pipeline's own ceiling
        for path in d.paths.values():  # each sender's path holds its own limiter
            path.limiter = ratelimit.RateLimiter(1e9, 0)
    started = time.perf_counter()
    await d.run(burst=True)
    elapsed = time.perf_counter() - started
    stats = await store.stats(datetime.now(UTC))
    sent = d.health()["sent"]
    await d.stop()
    await store.close()
    if stats.queued or stats.sending or sent != count:
        raise RuntimeError(f"not drained: {stats}, sent {sent}")
    return count / elapsed


async def rate_test(url: str, directory: Path, seconds: float) -> float:
    """Observed msg/s over `seconds` with MESSAGES_PER_SECOND=80 and a large backlog."""
    database, store = await fresh_store(directory, "rate.db")
    now = datetime.now(UTC)
    await add_all(store, make_batch("r", [now] * int(80 * seconds * 1.3)))
    config = make_settings(url, database, messages_per_second=80)
    d = await bootstrap.build_dispatcher(config, store)
    await d.start()
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    sent: int = d.health()["sent"]
    elapsed = time.perf_counter() - t0
    retried = d.health()["retried"]
    await d.stop()
    await store.close()
    print(f"  sent {sent} in {elapsed:.2f} s, retried (130429) {retried}")
    return sent / elapsed


async def lateness_test(
    url: str, directory: Path, count: int, spread: float
) -> tuple[float, float]:
    """p50/p99 of (request start - due_at) for `count` messages due at distinct instants."""
    database, store = await fresh_store(directory, "late.db")
    config = make_settings(url, database)
    d = await bootstrap.build_dispatcher(config, store)
    await d.start()
    start = datetime.now(UTC) + timedelta(seconds=3)
    dues = [start + timedelta(seconds=spread * i / count) for i in range(count)]
    await add_all(store, make_batch("l", dues))
    d.nudge(dues[0])
    while d.health()["sent"] < count:
        await asyncio.sleep(0.5)
    await d.stop()
    late = []
    for message in make_batch("l", dues):
        attempts = await store.attempts(message.id)
        late.append((attempts[-1].started_at - message.due_at).total_seconds())
    await store.close()
    late.sort()
    return late[len(late) // 2], late[int(len(late) * 0.99) - 1]


def busiest_second(stamps: Iterable[float]) -> int:
    """The most stamps (seconds) in any half-open window of 1 s, sliding, not aligned."""
    ordered = sorted(stamps)
    return max((bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def mean_rate(stamps: list[float]) -> float:
    """Sends per second from the first stamp to the last."""
    ordered = sorted(stamps)
    return (len(ordered) - 1) / (ordered[-1] - ordered[0])


def standin_stamps(url: str, since: float) -> list[float]:
    """The stand-in's receive times (wall clock, s) of the messages it accepted from `since`
    on (its log keeps the last 10,000)."""
    with urllib.request.urlopen(f"{url}/_sandbox/requests?limit=1000000", timeout=30) as answer:
        records = json.load(answer)
    return [
        r["received_at"]
        for r in records
        if r["status"] == 200 and r["path"].endswith("/messages") and r["received_at"] >= since
    ]


async def window_once(
    url: str, directory: Path, run: int, count: int, rate: float
) -> tuple[float, int, int]:
    """Drain `count` due messages at `rate` (one process): mean rate and the busiest 1 s of
    the recorded send starts, and the busiest 1 s as the stand-in stamped them."""
    database, store = await fresh_store(directory, f"window{run}.db")
    now = datetime.now(UTC)
    batch = make_batch(f"w{run}", [now] * count)
    await add_all(store, batch)
    config = make_settings(url, database, messages_per_second=rate, claim_batch_size=500)
    d = await bootstrap.build_dispatcher(config, store)
    before = time.time()  # the clock of the stand-in's stamps
    await d.run(burst=True)
    await d.stop()
    started: list[float] = []
    for message in batch:
        attempts = await store.attempts(message.id)
        started.extend(a.started_at.timestamp() for a in attempts if a.outcome == "sent")
    await store.close()
    if len(started) != count:
        raise RuntimeError(f"sent {len(started)} of {count}")
    received = standin_stamps(url, before)
    return mean_rate(started), busiest_second(started), busiest_second(received)


def print_windows(label: str, rate: float, results: list[tuple[float, int, int]]) -> None:
    for n, (mean, busiest, received) in enumerate(results, 1):
        print(
            f"  {label} run {n}: mean {mean:.1f}/s, busiest 1 s {busiest} recorded, {received} as the stand-in stamped them"
        )
    print(
        f"{label} at {rate:.0f}/s, medians of {len(results)}: mean "
        f"{statistics.median(r[0] for r in results):.1f}/s, busiest 1 s "
        f"{statistics.median(r[1] for r in results):.0f} recorded (max {max(r[1] for r in results)}, "
        f"bound {int(rate * 1.02)}), {statistics.median(r[2] for r in results):.0f} stand-in stamps"
    )


async def main(args: argparse.Namespace) -> None:
    print(
        f"date: {datetime.now(UTC).isoformat()}  cpus: {os.cpu_count()}  python: {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if args.window_test:
            with standin_process() as url:
                results = [
                    await window_once(url, directory, run, args.window_messages, 1000.0)
                    for run in range(args.runs)
                ]
                print_windows(f"one process, {args.window_messages} due", 1000.0, results)
        if not (args.rate_test or args.lateness_test or args.window_test) or args.drain:
            with standin_process() as url:
                rates = []
                for run in range(args.runs):
                    rates.append(
                        await drain_once(
                            url, directory, run, args.messages, args.concurrency, args.unlimited
                        )
                    )
                    print(f"  drain run {run + 1}: {rates[-1]:.0f} msg/s")
                print(f"drain {args.messages} msgs: median {statistics.median(rates):.0f} msg/s")
        if args.rate_test:
            with standin_process(throughput="80") as url:
                rates = [
                    await rate_test(url, directory, args.seconds) for _ in range(args.rate_runs)
                ]
                print(f"rate test (80/s): median {statistics.median(rates):.2f} msg/s {rates}")
        if args.lateness_test:
            with standin_process() as url:
                p50, p99 = await lateness_test(url, directory, 1000, args.seconds)
                print(
                    f"lateness 1000 msgs over {args.seconds:.0f} s: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
                )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--drain", action="store_true", help="also run the drain with other tests")
    p.add_argument("--unlimited", action="store_true", help="drain with no rate limit at all")
    p.add_argument("--rate-test", action="store_true", help="80/s for --seconds (60 s)")
    p.add_argument("--rate-runs", type=int, default=1)
    p.add_argument("--lateness-test", action="store_true", help="1,000 msgs over --seconds")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--window-test", action="store_true", help="busiest 1 s of a 1,000/s drain")
    p.add_argument("--window-messages", type=int, default=5_000)
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
