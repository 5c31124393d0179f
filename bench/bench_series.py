"""Series benchmark (docs/series.md): what making the next occurrence in the claim's
transaction adds to the dispatcher's cost per message, and start-up with 10,000 series.

Usage::

    .venv/bin/python bench/bench_series.py              # 5,000 messages a drain, 3 rounds A/B
    .venv/bin/python bench/bench_series.py --distinct   # no two series claimed at one time

A/B in one run, interleaved (this machine's speed drifts): A drains plain due messages, B as
many due occurrences of as many daily series started a week before (each claim inserts the
series' next occurrence, due tomorrow, so it is not drained): all at one time of day (many
recipients of one daily reminder), or with `--distinct` each at its own. SQLite file, the real dispatcher with the
stand-in in its own process, no rate limit (the pipeline's own ceiling). Goal: B's cost per
message <= 1.05 x A's (medians). Then start-up: opening the store, building the dispatcher
and its first wake-up query on a file with 10,000 active series against an empty one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench_dispatch  # bench/ is on sys.path when a benchmark runs as a script
import sqlalchemy as sa

from whatsapp_scheduler import bootstrap, testing
from whatsapp_scheduler.core import messages, recurrence
from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import sql, tables


def occurrences(
    prefix: str, count: int, now: datetime, distinct: bool = False
) -> list[messages.ScheduledMessage]:
    """`count` due occurrences of as many daily series (UTC), a minute ago (their 8th: the
    series started a week before, `insert_series`). `distinct`: each series a second
    earlier than the one before, so no two share a claimed time (the claim's remembered
    next times never serve twice)."""
    minute = now.replace(tzinfo=None, second=0, microsecond=0) - timedelta(minutes=1)
    found = []
    for i in range(count):
        series_id = f"{prefix}-{i:06d}"
        local = minute - timedelta(seconds=i) if distinct else minute
        message = testing.make_message(
            recurrence.occurrence_id(series_id, local),
            local.replace(tzinfo=UTC),
            recipient=f"+9055{i:08d}",
            body="bench",
        )
        found.append(
            message.evolve(
                timezone="UTC",
                local_date=local.strftime("%Y-%m-%d"),
                local_time=local.strftime("%H:%M:%S" if local.second else "%H:%M"),
                series_id=series_id,
            )
        )
    return found


def insert_series(url: str, rows: list[messages.ScheduledMessage], now: datetime) -> None:
    """The series rows, in bulk (the service adds one at a time; here only the claim counts)."""
    engine = engine_mod.create_engine(url)
    values = [
        {
            "id": m.series_id,
            "rule": "FREQ=DAILY",
            "timezone": "UTC",
            # naive local (UTC here), a week before: the claimed occurrence is the 8th
            "dtstart": (m.due_at.replace(tzinfo=None) - timedelta(days=7)).isoformat(),
            "status": "active",
            "sender": "default",
            "created_by": None,
            "created_at": now,
            "updated_at": now,
        }
        for m in rows
    ]
    with engine.begin() as conn:
        for start in range(0, len(values), 5000):
            conn.execute(sa.insert(tables.series), values[start : start + 5000])
    engine.dispose()


async def drain(
    url: str, directory: Path, name: str, count: int, series: bool, distinct: bool = False
) -> tuple[float, float]:
    """Seconds per message of one burst drain of `count` due messages (or occurrences), in
    wall-clock time and in this process's CPU time (all its threads: the event loop and the
    store's; the stand-in is another process). The CPU time is steadier on a shared machine."""
    database, store = await bench_dispatch.fresh_store(directory, name)
    now = datetime.now(UTC)
    if series:
        batch = occurrences(name, count, now, distinct)
        await asyncio.to_thread(insert_series, database, batch, now)
    else:
        batch = bench_dispatch.make_batch(name, [now] * count)
    await bench_dispatch.add_all(store, batch)
    elapsed, cpu, sent = await bench_dispatch.burst_drain(url, database, store)
    stats = await store.stats(datetime.now(UTC))
    await store.close()
    if sent != count or stats.sending:
        raise RuntimeError(f"not drained: {stats}, sent {sent}")
    if series and stats.queued != count:  # every series has its next occurrence
        raise RuntimeError(f"expected {count} next occurrences, found {stats.queued}")
    return elapsed / count, cpu / count


async def claims(
    directory: Path, name: str, count: int, series: bool, distinct: bool = False
) -> float:
    """Seconds per message of the store's claims alone (500 at a time) of `count` due ones:
    the only code a series changes on the send path."""
    database, store = await bench_dispatch.fresh_store(directory, name)
    now = datetime.now(UTC)
    if series:
        batch = occurrences(name, count, now, distinct)
        await asyncio.to_thread(insert_series, database, batch, now)
    else:
        batch = bench_dispatch.make_batch(name, [now] * count)
    await bench_dispatch.add_all(store, batch)
    lease = now + timedelta(minutes=5)
    started = time.perf_counter()
    claimed = 0
    while got := await store.claim_due(now + timedelta(seconds=1), 500, "bench", lease):
        claimed += len(got)
    elapsed = time.perf_counter() - started
    await store.close()
    if claimed != count:
        raise RuntimeError(f"claimed {claimed} of {count}")
    return elapsed / count


async def startup(url: str, directory: Path, name: str, series: int) -> float:
    """Seconds to open the store, build the dispatcher and ask when to wake."""
    database, store = await bench_dispatch.fresh_store(directory, name)
    if series:
        now = datetime.now(UTC) + timedelta(days=1)
        batch = occurrences(name, series, now)
        await asyncio.to_thread(insert_series, database, batch, now)
        await bench_dispatch.add_all(store, batch)
    await store.close()
    started = time.perf_counter()
    store = sql.SqlMessageStore.from_url(database)
    config = bench_dispatch.make_settings(url, database)
    d = await bootstrap.build_dispatcher(config, store)
    await store.next_run_at()
    await store.stats(datetime.now(UTC))
    elapsed = time.perf_counter() - started
    await d.stop()
    await store.close()
    return elapsed


async def main(args: argparse.Namespace) -> None:
    print(
        f"date: {datetime.now(UTC).isoformat()}  cpus: {os.cpu_count()}  python: {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as tmp, bench_dispatch.standin_process() as url:
        directory = Path(tmp)
        plain: list[tuple[float, float]] = []
        with_next: list[tuple[float, float]] = []
        for run in range(0 if args.claims_only else args.runs):
            plain.append(await drain(url, directory, f"a{run}", args.messages, series=False))
            with_next.append(
                await drain(url, directory, f"b{run}", args.messages, True, args.distinct)
            )
            print(
                f"  round {run + 1}: plain {plain[-1][0] * 1e6:.1f} µs/msg "
                f"(CPU {plain[-1][1] * 1e6:.1f}), with next occurrence "
                f"{with_next[-1][0] * 1e6:.1f} µs/msg (CPU {with_next[-1][1] * 1e6:.1f})"
            )
        a = statistics.median([w for w, _ in plain] or [1.0])
        b = statistics.median([w for w, _ in with_next] or [1.0])
        ca = statistics.median([c for _, c in plain] or [1.0])
        cb = statistics.median([c for _, c in with_next] or [1.0])
        print(
            f"dispatcher cost per message, medians of {args.runs}: plain {a * 1e6:.1f} µs "
            f"({1 / a:.0f} msg/s), series {b * 1e6:.1f} µs ({1 / b:.0f} msg/s): ratio {b / a:.3f}"
        )
        print(
            f"dispatcher process CPU per message, medians of {args.runs}: plain "
            f"{ca * 1e6:.1f} µs, series {cb * 1e6:.1f} µs: ratio {cb / ca:.3f}"
        )
        plain_claims: list[float] = []
        series_claims: list[float] = []
        for run in range(args.runs):
            plain_claims.append(await claims(directory, f"ca{run}", args.messages, False))
            series_claims.append(
                await claims(directory, f"cb{run}", args.messages, True, args.distinct)
            )
        pa, pb = statistics.median(plain_claims), statistics.median(series_claims)
        print(
            f"the claim alone, medians of {args.runs}: plain {pa * 1e6:.1f} µs/msg, series "
            f"(with the next occurrence) {pb * 1e6:.1f} µs/msg: +{(pb - pa) * 1e6:.1f} µs/msg, "
            f"{(pb - pa) / a * 100:.1f} % of the plain dispatcher's cost per message"
        )
        empty = [await startup(url, directory, f"e{run}", 0) for run in range(args.runs)]
        full = [await startup(url, directory, f"f{run}", args.series) for run in range(args.runs)]
        print(
            f"start-up (store + dispatcher + first wake-up query), medians: empty "
            f"{statistics.median(empty) * 1000:.1f} ms, {args.series:,} active series "
            f"{statistics.median(full) * 1000:.1f} ms"
        )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=5_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--claims-only", action="store_true", help="only the claim A/B and start-up")
    p.add_argument(
        "--distinct",
        action="store_true",
        help="each series its own time of day (the claim's remembered next times never hit)",
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
