"""The dashboard chart's read (`store.due_tally`, docs/dashboard.md) beside the Upcoming list's
read, on one SQLite file, in one run.

    .venv/bin/python bench/bench_stats.py [--rows 1000000] [--recent 300000] [--runs 7]

Prefills `--rows` messages straight through sqlite3, `--recent` of them due in the last 14
days (a large sender: ~21,000 a day) and the rest a year before; statuses as a real history
(5 % failed with a code). Times, per run, one `due_tally` over the 14 local days and one page of
Upcoming (`store.list` of 50 queued messages with the page's count up to 10,000), each as the
median of 5 calls; prints the medians over the runs and their ratio. The dashboard keeps the
chart's answer 5 s per key scope, so the tally costs at most one such read per 5 s however
many pages are open.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import benchservice  # bench/ is on sys.path when a benchmark runs as a script

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.store import migrate, sql
from whatsapp_scheduler.web.routes import dashboard_stats

STATUSES = ["sent"] * 20 + ["delivered"] * 25 + ["read"] * 40 + ["failed"] * 5 + ["cancelled"] * 5
STATUSES += ["queued"] * 5
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def prefill(db: Path, rows: int, recent: int) -> None:
    start_recent = (NOW - timedelta(days=14)).replace(tzinfo=None)
    old = (NOW - timedelta(days=400)).replace(tzinfo=None)
    step = timedelta(days=14) / max(recent, 1)

    def row(i: int) -> tuple[object, ...]:
        status = STATUSES[i % 100]
        due = start_recent + step * i if i < recent else old + timedelta(seconds=i)
        text = due.isoformat(sep=" ")
        error = 131026 if status == "failed" else None
        return (f"b-{i}", f"+90555{i % 10_000:07d}", "x", "Europe/Istanbul",
                due.date().isoformat(), due.strftime("%H:%M"), f"h{i}", status, text, text, text,
                text, error)  # fmt: skip

    benchservice.insert_messages(db, map(row, range(rows)))


async def median_of(fn: Callable[[], Awaitable[object]], calls: int = 5) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--recent", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "stats.db"
        url = f"sqlite:///{db}"
        migrate.upgrade(url)
        prefill(db, args.rows, args.recent)
        s = sql.SqlMessageStore.from_url(url)
        zone = zoneinfo.ZoneInfo("Europe/Istanbul")
        bounds = dashboard_stats.day_bounds(NOW.astimezone(zone).date(), zone)
        query = MessageQuery(
            statuses=(messages.MessageStatus.QUEUED,), limit=50, count_up_to=10_000
        )
        tally, listing = [], []
        try:
            found = await s.due_tally(bounds)
            counted = sum(sum(p.values()) for p in found.by_period)
            for _ in range(args.runs):
                tally.append(await median_of(lambda: s.due_tally(bounds)))
                listing.append(await median_of(lambda: s.list(query)))
        finally:
            await s.close()
    t, u = statistics.median(tally), statistics.median(listing)
    print(f"rows {args.rows:,}, due in the 14 days {counted:,}")
    print(f"due_tally (chart)      median {t * 1000:8.1f} ms  (runs: "
          + ", ".join(f"{x * 1000:.1f}" for x in tally) + ")")  # fmt: skip
    print(f"list (Upcoming page)   median {u * 1000:8.1f} ms  (runs: "
          + ", ".join(f"{x * 1000:.1f}" for x in listing) + ")")  # fmt: skip
    print(f"ratio chart / Upcoming list: {t / u:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
