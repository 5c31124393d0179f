"""Series benchmark (docs/series.md): what making the next occurrence in the claim's
transaction adds to the dispatcher's cost per message, and start-up with 10,000 series.

Usage::

    .venv/bin/python bench/bench_series.py              # 5,000 messages a drain, 3 rounds A/B
    .venv/bin/python bench/bench_series.py --distinct   # no two series claimed at one time
    .venv/bin/python bench/bench_series.py --trees /tmp/base,.   # the drain A/B of two trees

A/B in one run, interleaved, the order alternating (this machine's speed drifts): A drains
plain due messages, B as many due occurrences of as many daily series started a week before
(each claim inserts the series' next occurrence, due tomorrow, so it is not drained): all at
one time of day (many recipients of one daily reminder), or with `--distinct` each at its
own. Both have ids of the service's own kind (32 hex characters, an occurrence's 48 with its
`@YYYYMMDDTHHMMSS`). SQLite file, the real dispatcher with the stand-in in its own process,
no rate limit (the pipeline's own ceiling). Goal: B's cost per message <= 1.05 x A's
(medians). Then start-up: opening the store, building the dispatcher and its first wake-up
query on a file with 10,000 active series against an empty one.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import gc
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
        series_id = service_like_id(prefix, i)
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


def service_like_id(prefix: str, i: int) -> str:
    """An id as the service makes one when the client gives none (`uuid4().hex`: 32 hex
    characters, in no order), for plain messages and series alike; reproducible. (The bench
    used `a0-000123` for a plain message and `b0-000123@...` for an occurrence: 9 and 25
    characters, where the service's own are 32 and 48.)"""
    return hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest()[:32]


def plain(prefix: str, count: int, now: datetime) -> list[messages.ScheduledMessage]:
    """`count` due plain messages: the same as `occurrences` but for the series (the same
    recipients, text, zone, time and ids of the service's own kind)."""
    return [
        testing.make_message(
            service_like_id(prefix, i), now, recipient=f"+9055{i:08d}", body="bench"
        )
        for i in range(count)
    ]


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


def checkpoint(url: str) -> None:
    """Move what the set-up wrote into the database file and empty the WAL: otherwise the
    drain's first commits copy it (SQLite's automatic checkpoint at 1,000 pages), and the
    series side's set-up, with its series rows, is the larger."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@dataclasses.dataclass
class Drain:
    """One burst drain, per message: wall-clock seconds, this process's CPU seconds (all its
    threads: the event loop and the store's; the stand-in is another process; steadier on a
    shared machine), and of that the store thread's CPU in the claims and in the outcome
    writes."""

    wall: float
    cpu: float
    claim: float
    record: float


def timed_store(store: sql.SqlMessageStore) -> collections.defaultdict[str, float]:
    """The store thread's CPU seconds per store method from now on (by the method's name)."""
    spent: collections.defaultdict[str, float] = collections.defaultdict(float)
    run = store._run

    async def timed_run(fn: Callable[..., Any], *args: Any) -> Any:
        def call(*values: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*values)
            finally:
                spent[getattr(fn, "__name__", "?")] += time.thread_time() - started

        return await run(call, *args)

    store._run = timed_run  # type: ignore[method-assign]
    return spent


async def drain(
    url: str, directory: Path, name: str, count: int, series: bool, distinct: bool = False
) -> Drain:
    """One burst drain of `count` due messages (or occurrences)."""
    database, store = await bench_dispatch.fresh_store(directory, name)
    now = datetime.now(UTC)
    if series:
        batch = occurrences(name, count, now, distinct)
        await asyncio.to_thread(insert_series, database, batch, now)
    else:
        batch = plain(name, count, now)
    await bench_dispatch.add_all(store, batch)
    await asyncio.to_thread(checkpoint, database)
    gc.collect()  # the previous drain's garbage is not this one's cost
    spent = timed_store(store)
    elapsed, cpu, sent = await bench_dispatch.burst_drain(url, database, store)
    stats = await store.stats(datetime.now(UTC))
    await store.close()
    if sent != count or stats.sending:
        raise RuntimeError(f"not drained: {stats}, sent {sent}")
    if series and stats.queued != count:  # every series has its next occurrence
        raise RuntimeError(f"expected {count} next occurrences, found {stats.queued}")
    return Drain(
        elapsed / count, cpu / count, spent["_claim_due"] / count, spent["_record"] / count
    )


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
        batch = plain(name, count, now)
    await bench_dispatch.add_all(store, batch)
    await asyncio.to_thread(checkpoint, database)
    gc.collect()
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


async def drain_pair(
    url: str, directory: Path, run: int, count: int, distinct: bool
) -> tuple[Drain, Drain]:
    """A plain drain and a series drain, the first of the two alternating with `run`: a drift
    of the machine or of the process (its heap, its caches, the files made) weighs on both."""
    done: dict[bool, Drain] = {}
    for series in (False, True) if run % 2 == 0 else (True, False):
        name = f"{'b' if series else 'a'}{run}"
        done[series] = await drain(url, directory, name, count, series, distinct)
    return done[False], done[True]


def medians(plain_runs: list[Drain], with_next: list[Drain]) -> tuple[Drain, Drain]:
    def of(runs: list[Drain]) -> Drain:
        return Drain(
            *(
                statistics.median(getattr(d, f.name) for d in runs)
                for f in dataclasses.fields(Drain)
            )
        )

    return of(plain_runs), of(with_next)


def describe(pair: tuple[Drain, Drain]) -> str:
    a, b = pair
    return (
        f"plain {a.wall * 1e6:.1f} µs/msg wall, CPU {a.cpu * 1e6:.1f} (claim {a.claim * 1e6:.1f}, "
        f"outcomes {a.record * 1e6:.1f}); series {b.wall * 1e6:.1f} wall, CPU {b.cpu * 1e6:.1f} "
        f"(claim {b.claim * 1e6:.1f}, outcomes {b.record * 1e6:.1f}): CPU ratio "
        f"{b.cpu / a.cpu:.3f}, +{(b.cpu - a.cpu) * 1e6:.1f} µs"
    )


async def one_round(args: argparse.Namespace) -> None:
    """`--round N`: one plain and one series drain, as JSON on stdout (for `--trees`)."""
    with tempfile.TemporaryDirectory() as tmp, bench_dispatch.standin_process() as url:
        await warm_up(url, Path(tmp), args.distinct)
        pair = await drain_pair(url, Path(tmp), args.round, args.messages, args.distinct)
    print(json.dumps([dataclasses.asdict(d) for d in pair]))


async def warm_up(url: str, directory: Path, distinct: bool) -> None:
    """A small drain of each kind, not counted: the process's first drain pays for its
    statements' compilation, its caches and the stand-in's first connections, which would
    weigh on whichever side goes first."""
    await drain_pair(url, directory, -1, 500, distinct)


def trees(args: argparse.Namespace) -> None:
    """`--trees A,B,...`: each round runs `--round` in a fresh process per tree (the code of
    that tree on PYTHONPATH, this bench's own code), the trees' order alternating."""
    names = args.trees.split(",")
    found: dict[str, list[tuple[Drain, Drain]]] = {name: [] for name in names}
    print(f"date: {datetime.now(UTC).isoformat()}  load: {os.getloadavg()}")
    for run in range(args.runs):
        for tree in names if run % 2 == 0 else names[::-1]:
            command = [sys.executable, __file__, "--round", str(run)]
            command += ["--messages", str(args.messages)] + (
                ["--distinct"] if args.distinct else []
            )
            env = {**os.environ, "PYTHONPATH": f"{Path(__file__).parent}{os.pathsep}{tree}"}
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            a, b = (Drain(**d) for d in json.loads(out.stdout.strip().splitlines()[-1]))
            found[tree].append((a, b))
            print(f"  round {run + 1} {tree}: {describe((a, b))}", flush=True)
    for tree, pairs in found.items():
        ratios = [b.cpu / a.cpu for a, b in pairs]
        summary = describe(medians([a for a, _ in pairs], [b for _, b in pairs]))
        print(f"{tree}: medians of {args.runs}: {summary}")
        print(f"  CPU ratios by round: {', '.join(f'{r:.3f}' for r in ratios)}")
        print(f"  median of the rounds' CPU ratios: {statistics.median(ratios):.3f}")
    print(f"end: {datetime.now(UTC).isoformat()}  load: {os.getloadavg()}")


async def main(args: argparse.Namespace) -> None:
    print(
        f"date: {datetime.now(UTC).isoformat()}  cpus: {os.cpu_count()}  python: {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as tmp, bench_dispatch.standin_process() as url:
        directory = Path(tmp)
        plain_runs: list[Drain] = []
        with_next: list[Drain] = []
        if not args.claims_only:
            await warm_up(url, directory, args.distinct)
        for run in range(0 if args.claims_only else args.runs):
            pair = await drain_pair(url, directory, run, args.messages, args.distinct)
            plain_runs.append(pair[0])
            with_next.append(pair[1])
            print(f"  round {run + 1}: {describe(pair)}")
        if plain_runs:
            print(f"medians of {args.runs}: {describe(medians(plain_runs, with_next))}")
        a = statistics.median([d.wall for d in plain_runs] or [1.0])
        plain_claims: list[float] = []
        series_claims: list[float] = []
        for run in range(args.runs):
            for series in (False, True) if run % 2 == 0 else (True, False):
                name = f"{'cb' if series else 'ca'}{run}"
                taken = await claims(directory, name, args.messages, series, args.distinct)
                (series_claims if series else plain_claims).append(taken)
        pa, pb = statistics.median(plain_claims), statistics.median(series_claims)
        share = (  # of the drain's cost: none measured with --claims-only
            f", {(pb - pa) / a * 100:.1f} % of the plain dispatcher's cost per message"
            if plain_runs
            else ""
        )
        print(
            f"the claim alone, medians of {args.runs}: plain {pa * 1e6:.1f} µs/msg, series "
            f"(with the next occurrence) {pb * 1e6:.1f} µs/msg: +{(pb - pa) * 1e6:.1f} µs/msg"
            f"{share}"
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
    p.add_argument("--round", type=int, help=argparse.SUPPRESS)
    p.add_argument(
        "--trees",
        help="comma-separated code trees (a checkout, or `git archive` of one): the drain A/B "
        "of each, in a fresh process per tree and round, interleaved",
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    options = parse()
    if options.trees:
        trees(options)
    elif options.round is not None:
        asyncio.run(one_round(options))
    else:
        asyncio.run(main(options))
