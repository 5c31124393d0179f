"""The series claim's own cost by the store thread's CPU (docs/series.md, "The cost in the claim").

Usage::

    PYTHONPATH=bench:. .venv/bin/python bench/bench_series_claim.py --runs 5
    PYTHONPATH=bench:. .venv/bin/python bench/bench_series_claim.py --outcomes
    PYTHONPATH=bench:. .venv/bin/python bench/bench_series_claim.py --sql "DROP INDEX ix_messages_wamid"

`bench_series.py`'s set-up (5,000 due plain messages, or as many due occurrences of daily
series at one time of day, ids of the service's kind, WAL checkpointed), then the store's
claims of 500 called directly on this thread, timed by `time.thread_time` (steadier than the
wall clock on a shared machine): per message, plain and series alternating, medians. With
`--verbose` each drain's parts too: each statement kind (SQLAlchemy's cursor events), the
commit (the dialect's `do_commit`), `continue_series` and `insert_occurrences`.
`--outcomes`: the outcome writes instead (sent, with a wamid, 100 a call) of the rows
claimed. `--sql`: statements run on each file after its set-up (an index dropped or made
partial: an experiment, not the schema).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bench_dispatch  # bench/ is on sys.path when a benchmark runs as a script
import bench_series
import sqlalchemy as sa

from whatsapp_scheduler import store as store_mod
from whatsapp_scheduler.core.messages import AttemptOutcome
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.store import sql, sql_series

Spent = dict[str, float]


def timed_method(cls: type, name: str, spent: Spent) -> None:
    """`cls.name` adds its thread CPU seconds to `spent[name]`."""
    fn: Callable[..., Any] = getattr(cls, name)

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return fn(self, *args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.thread_time() - started

    setattr(cls, name, timed)


def time_statements(target: sql.SqlMessageStore, spent: Spent) -> None:
    """Each statement's thread CPU by its first words, and the commits'."""
    started: dict[int, float] = {}

    def before(_conn: Any, cursor: Any, *_: Any) -> None:
        started[id(cursor)] = time.thread_time()

    def after(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        kind = "sql: " + " ".join(statement.split()[:3])
        spent[kind] = spent.get(kind, 0.0) + time.thread_time() - started.pop(id(cursor))

    sa.event.listen(target._engine, "before_cursor_execute", before)
    sa.event.listen(target._engine, "after_cursor_execute", after)
    dialect = target._engine.dialect
    commit = dialect.do_commit

    def do_commit(connection: Any) -> None:
        begun = time.thread_time()
        try:
            commit(connection)
        finally:
            spent["commit"] = spent.get("commit", 0.0) + time.thread_time() - begun

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]


async def one(
    directory: Path, name: str, series: bool, args: argparse.Namespace, spent: Spent
) -> float:
    """Thread CPU seconds per message of one file's claims (or outcome writes)."""
    database, target = await bench_dispatch.fresh_store(directory, name)
    now = datetime.now(UTC)
    if series:
        batch = bench_series.occurrences(name, args.messages, now)
        bench_series.insert_series(database, batch, now)
    else:
        batch = bench_series.plain(name, args.messages, now)
    await bench_dispatch.add_all(target, batch)
    with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
        for statement in args.sql:
            conn.execute(statement)
    bench_series.checkpoint(database)
    gc.collect()
    spent.clear()
    time_statements(target, spent)
    lease = now + timedelta(minutes=5)
    claimed = []
    started = time.thread_time()
    while got := target._claim_due(now + timedelta(seconds=1), 500, "bench", lease, None, []):
        claimed += got
    elapsed = time.thread_time() - started
    if args.outcomes:
        outcomes = [
            store_mod.Outcome(
                m.id, "bench", S.SENT, now, AttemptOutcome.SENT, started_at=now, wamid=f"w.{m.id}"
            )
            for m in claimed
        ]
        gc.collect()
        started = time.thread_time()
        for start in range(0, len(outcomes), 100):
            target._record(outcomes[start : start + 100])
        elapsed = time.thread_time() - started
    await target.close()
    if len(claimed) != args.messages:
        raise RuntimeError(f"claimed {len(claimed)} of {args.messages}")
    if args.verbose:
        parts = ", ".join(f"{k} {v / len(claimed) * 1e6:.1f}" for k, v in sorted(spent.items()))
        print(f"  {'series' if series else 'plain'}: {parts} µs/msg")
    return elapsed / len(claimed)


async def main(args: argparse.Namespace) -> None:
    spent: Spent = {}
    timed_method(sql_series.SqlSeriesMixin, "continue_series", spent)
    timed_method(sql_series.SqlSeriesMixin, "insert_occurrences", spent)
    print(f"date: {datetime.now(UTC).isoformat()}  python: {sys.version.split()[0]}")
    found: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        warm = argparse.Namespace(**{**vars(args), "messages": 1000, "verbose": False})
        for series in (False, True):  # compiled statements, caches: not counted
            await one(directory, f"w{series:d}", series, warm, spent)
        for run in range(args.runs):
            for series in (False, True) if run % 2 == 0 else (True, False):
                name = f"{'s' if series else 'p'}{run}"
                found[series].append(await one(directory, name, series, args, spent))
    what = "outcome writes" if args.outcomes else "claims"
    a, b = (statistics.median(found[s]) * 1e6 for s in (False, True))
    rounds = ", ".join(
        f"{(s - p) * 1e6:.1f}" for p, s in zip(found[False], found[True], strict=True)
    )
    print(
        f"{what}, store-thread CPU, medians of {args.runs}: plain {a:.1f} µs/msg, series "
        f"{b:.1f}: +{b - a:.1f} µs per occurrence (rounds: {rounds})"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=5_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--outcomes", action="store_true", help="the outcome writes, not the claims")
    p.add_argument("--verbose", action="store_true", help="each drain's parts")
    p.add_argument("--sql", action="append", default=[], help="run on each file after set-up")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
