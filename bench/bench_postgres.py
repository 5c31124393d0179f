"""PostgreSQL scale-out benchmark: throughput of 2 instances vs 1 SQLite instance; claim latency.

Usage::

    .venv/bin/python bench/bench_postgres.py                 # both parts, 3 runs each
    .venv/bin/python bench/bench_postgres.py --throughput    # drain: SQLite x1 vs PostgreSQL x1, x2
    .venv/bin/python bench/bench_postgres.py --claim         # 1,000,000 rows: EXPLAIN + claim p99
    .venv/bin/python bench/bench_postgres.py --pairs         # fleet-wide pair-gap bookings/s
    .venv/bin/python bench/bench_postgres.py --window        # 2 instances, 1,000/s: busiest 1 s

Throughput: 10,000 due messages drained in burst mode with the rate limit lifted (no token
bucket, no shared limit), the stand-in in its own process (as in bench_dispatch.py, whose SQLite
drain runs here too, in the same session). Each PostgreSQL instance is its own OS process; all
are started, set up, then told "go" at once; the time runs from "go" to the last "done".

Claim: 1,000,000 rows (95% sent, 4% queued and due, 1% queued later); EXPLAIN (ANALYZE,
BUFFERS) of the store's real claim statement, then claim 100 + release (deferral) cycles through
`SqlMessageStore`, timing the claim. Target: p99 <= 10 ms.

Pairs: 2 `PostgresRateLimit`s (as 2 processes) book the gap of 4,000 distinct recipients
(`reserve_pair`), with 1, 16 and 64 concurrent sends: bookings/s. The dispatcher books one per
send, just before it, so this is the ceiling the fleet-wide gap puts on the send rate.

Window: 5,000 due messages drained by 2 instances sharing MESSAGES_PER_SECOND=1000 through
PostgreSQL (the limit on): the mean rate and the busiest sliding 1-s window of the send starts
the instances recorded (`attempts.started_at`; bound 1,020), and of the stand-in's stamps.

Needs TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres); each run uses
a fresh database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dispatch

from whatsapp_scheduler import bootstrap, store
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import ratelimit, sharedlimit
from whatsapp_scheduler.store import migrate, sql, urls

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database; yields its SQLAlchemy URL."""
    name = f"wsched_bench_{uuid.uuid4().hex[:8]}"
    admin = urls.libpq_url(urls.normalize_url(SERVER))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(urls.normalize_url(SERVER)).set(database=name)
    text = url.render_as_string(hide_password=False)
    try:
        migrate.upgrade(text)
        yield text
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- throughput -------------------------------------------------------------------------------


async def instance(graph_url: str, database: str, limited: bool = False) -> None:
    """One PostgreSQL instance (child process): set up, print "ready", wait for "go", drain.
    With `limited`, at MESSAGES_PER_SECOND=1000 shared through PostgreSQL."""
    message_store = sql.SqlMessageStore.from_url(database)
    config = bench_dispatch.make_settings(graph_url, database, claim_batch_size=500)
    d = await bootstrap.build_dispatcher(config, message_store)
    if not limited:
        d.limiter = ratelimit.RateLimiter(1e9, 0)  # lifted, as bench_dispatch --unlimited
    if d.shared_limiter is not None and not limited:  # ... and the smaller claims it brings
        await d.shared_limiter.close()
        d.shared_limiter = None
        d.config = dataclasses.replace(d.config, claim_batch_size=500)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    started = time.perf_counter()
    await d.run(burst=True)
    elapsed = time.perf_counter() - started
    print(f"done {d.health()['sent']} {elapsed:.3f}", flush=True)
    await d.stop()
    await message_store.close()


async def drain_postgres(
    graph_url: str, count: int, instances: int, windows: list[tuple[float, int, int]] | None = None
) -> float:
    """msg/s of `instances` processes draining `count` due messages from one database. With
    `windows`, the limit is on and (mean, busiest 1 s recorded, busiest 1 s stand-in) is added."""
    limited = windows is not None
    before = time.time()  # the clock of the stand-in's stamps
    with fresh_database() as database:
        seed = sql.SqlMessageStore.from_url(database)
        now = datetime.now(UTC)
        await bench_dispatch.add_all(seed, bench_dispatch.make_batch("p", [now] * count))
        await seed.close()
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--instance",
                graph_url,
                database,
                *(["--limited"] if limited else []),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(instances)
        ]
        for proc in procs:
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).strip() == b"ready"
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        sent = 0
        for proc in procs:
            assert proc.stdout is not None
            sent += int((await proc.stdout.readline()).split()[1])
        elapsed = time.perf_counter() - started
        for proc in procs:
            await proc.wait()
        if sent != count:
            raise RuntimeError(f"sent {sent} of {count}")
        if windows is not None:
            with psycopg.connect(urls.libpq_url(database)) as conn:
                rows = conn.execute(
                    "SELECT extract(epoch FROM started_at) FROM attempts WHERE outcome = 'sent'"
                ).fetchall()
            sent_at = [float(t) for (t,) in rows]
            received = bench_dispatch.standin_stamps(graph_url, before)
            windows.append(
                (
                    bench_dispatch.mean_rate(sent_at),
                    bench_dispatch.busiest_second(sent_at),
                    bench_dispatch.busiest_second(received),
                )
            )
        return count / elapsed


async def throughput(runs: int, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_dispatch.standin_process() as url:
        results: dict[str, list[float]] = {"sqlite x1": [], "postgres x1": [], "postgres x2": []}
        for run in range(runs):
            rate = await bench_dispatch.drain_once(url, Path(tmp), run, count, 64, True)
            results["sqlite x1"].append(rate)
            results["postgres x1"].append(await drain_postgres(url, count, 1))
            results["postgres x2"].append(await drain_postgres(url, count, 2))
            print(f"  run {run + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in results.items()))
        medians = {k: statistics.median(v) for k, v in results.items()}
        print(
            f"drain {count} msgs, no rate limit, medians of {runs}: "
            + ", ".join(f"{k} {v:.0f} msg/s" for k, v in medians.items())
        )
        print(f"ratio postgres x2 / sqlite x1: {medians['postgres x2'] / medians['sqlite x1']:.2f}")


async def window(runs: int, count: int) -> None:
    """The busiest second of 2 instances sharing 1,000/s through PostgreSQL."""
    with bench_dispatch.standin_process() as url:
        results: list[tuple[float, int, int]] = []
        for _ in range(runs):
            await drain_postgres(url, count, 2, results)
        bench_dispatch.print_windows(f"postgres x2, {count} due", 1000.0, results)


# -- fleet-wide pair-gap bookings ------------------------------------------------------------


async def pair_bookings(url: str, concurrency: int, count: int) -> float:
    """Bookings/s of `count` distinct recipients by 2 limiters, `concurrency` sends at once."""
    limits = [sharedlimit.PostgresRateLimit(url, 1000.0) for _ in range(2)]
    numbers = iter(range(count))

    async def sender(limit: sharedlimit.PostgresRateLimit) -> None:
        for n in numbers:
            assert await limit.reserve_pair(f"bench:+9055{n:08d}", 6.0) is None

    try:
        started = time.perf_counter()
        await asyncio.gather(*(sender(limits[k % 2]) for k in range(concurrency)))
        return count / (time.perf_counter() - started)
    finally:
        for limit in limits:
            await limit.close()


async def pairs(runs: int) -> None:
    for concurrency in (1, 16, 64):
        rates = []
        for _ in range(runs):
            with fresh_database() as url:
                rates.append(await pair_bookings(url, concurrency, 4000))
        print(
            f"pair-gap bookings, 2 limiters, {concurrency} concurrent sends, medians of {runs}: "
            f"{statistics.median(rates):,.0f}/s ("
            + " / ".join(f"{rate:,.0f}" for rate in rates)
            + ")"
        )


# -- claim latency at 1,000,000 rows -------------------------------------------------------------

_FILL = """
INSERT INTO messages (id, recipient, body, timezone, tarih, saat, content_hash, status, due_at, run_at,
                      attempts, created_at, updated_at)
SELECT 'b' || lpad(g::text, 8, '0'), '+9055' || lpad(g::text, 8, '0'), 'bench', 'UTC', '2026-01-01',
       '09:00', md5(g::text),
       CASE WHEN g %% 100 < 95 THEN 'sent' ELSE 'queued' END,
       t, t, 0, t, t
FROM (
    SELECT g, CASE WHEN g %% 100 < 99 THEN now() - (g || ' seconds')::interval
                   ELSE now() + interval '1 day' END AS t
    FROM generate_series(1, %(n)s) AS g
) AS rows
"""


def capture_claim_sql(message_store: sql.SqlMessageStore) -> list[tuple[str, Any]]:
    captured: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FOR UPDATE SKIP LOCKED" in statement:
            captured.append((statement, parameters))

    sa.event.listen(message_store._engine, "before_cursor_execute", before)
    return captured


async def claim_latency(rows: int, cycles: int) -> tuple[float, float]:
    with fresh_database() as database:
        t0 = time.perf_counter()
        with psycopg.connect(urls.libpq_url(database), autocommit=True) as conn:
            conn.execute(_FILL, {"n": rows})
            conn.execute("VACUUM ANALYZE messages")
            conn.execute("CHECKPOINT")  # write the bulk load out now, not during the timing
        print(f"  filled {rows} rows in {time.perf_counter() - t0:.1f} s")
        message_store = sql.SqlMessageStore.from_url(database)
        captured = capture_claim_sql(message_store)
        now = datetime.now(UTC)
        lease = now + timedelta(minutes=1)
        await message_store.claim_due(now, 100, "bench", lease)  # warm up; captures the SQL
        statement, params = captured[0]
        with psycopg.connect(urls.libpq_url(database)) as conn:
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).fetchall()
            conn.rollback()
        print("  EXPLAIN (ANALYZE, BUFFERS) of the claim:")
        print("\n".join("    " + line for (line,) in plan))
        timings = []
        for _ in range(cycles):
            now = datetime.now(UTC)
            t = time.perf_counter()
            claimed = await message_store.claim_due(now, 100, "bench", lease)
            timings.append(time.perf_counter() - t)
            if len(claimed) != 100:
                raise RuntimeError(f"claimed {len(claimed)}")
            await message_store.record([release(m, now) for m in claimed])
        await message_store.close()
        timings.sort()
        return timings[len(timings) // 2] * 1000, timings[int(len(timings) * 0.99) - 1] * 1000


def release(message: messages.ScheduledMessage, now: datetime) -> store.Outcome:
    """Give a claimed row back (a deferral), a day later so the next claim takes fresh rows."""
    return store.Outcome(
        message_id=message.id,
        worker="bench",
        status=messages.MessageStatus.QUEUED,
        finished_at=now,
        attempt=None,
        run_at=now + timedelta(days=1),
    )


async def main(args: argparse.Namespace) -> None:
    print(f"date: {datetime.now(UTC).isoformat()}  cpus: {os.cpu_count()}")
    both = not (args.throughput or args.claim or args.pairs or args.window)
    if args.window:
        await window(args.runs, args.window_messages)
    if args.throughput or both:
        await throughput(args.runs, args.messages)
    if args.claim or both:
        results = []
        for run in range(args.runs):
            p50, p99 = await claim_latency(args.rows, args.cycles)
            print(f"  claim run {run + 1}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
            results.append((p50, p99))
        print(
            f"claim 100 of {args.rows} rows, {args.cycles} cycles, medians of {args.runs}: "
            f"p50 {statistics.median(r[0] for r in results):.2f} ms, "
            f"p99 {statistics.median(r[1] for r in results):.2f} ms"
        )
    if args.pairs or both:
        await pairs(args.runs)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--throughput", action="store_true")
    p.add_argument("--claim", action="store_true")
    p.add_argument("--pairs", action="store_true")
    p.add_argument("--window", action="store_true", help="busiest 1 s, 2 instances at 1,000/s")
    p.add_argument("--window-messages", type=int, default=5_000)
    p.add_argument("--limited", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cycles", type=int, default=300)
    p.add_argument(
        "--instance", nargs=2, metavar=("GRAPH_URL", "DATABASE_URL"), help=argparse.SUPPRESS
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.instance:
        graph_url, database_url = arguments.instance
        asyncio.run(instance(graph_url, database_url, limited=arguments.limited))
    else:
        asyncio.run(main(arguments))
