"""The campaign wizard's live count (`store.audience_overview`, docs/dashboard.md, "Contacts
and campaigns") beside loading the same audience (`store.audience_profiles`, what a campaign's
creation reads), on one SQLite file, in one run.

    .venv/bin/python bench/bench_audience.py [--contacts 200000] [--runs 5]

Fills one sender's address book with `--contacts` contacts through the store's own upsert (a
label `vip` on one in 10, `new` on one in 4, an attribute `city` of five values), then times,
per run, each read as the median of 5 calls, for three audiences: a label, a label and an
attribute, and a label plus 1,000 listed numbers. Prints the medians over the runs and the
ratio (load / count) of each: the count is what the page asks for on every keystroke.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from whatsapp_scheduler.core import contacts
from whatsapp_scheduler.store import migrate, sql

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CITIES = ("Izmir", "Ankara", "Istanbul", "Bursa", "Antalya")


def _contact(i: int) -> contacts.Change:
    labels = [label for label, every in (("vip", 10), ("new", 4)) if i % every == 0]
    values = {"name": f"Kişi {i}", "labels": labels, "attributes": {"city": CITIES[i % 5]}}
    return contacts.Change(f"+90555{i:07d}", contacts.check_fields(values))


async def median_of(fn: Callable[[], Awaitable[object]], calls: int = 5) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    listed = [f"+90555{i:07d}" for i in range(1, 2001, 2)]  # 1,000 numbers, a tenth in vip
    cases: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
        "label vip": (["vip"], {}, []),
        "label new + city=Izmir": (["new"], {"city": "Izmir"}, []),
        "label vip + 1,000 numbers": (["vip"], {}, listed),
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'audience.db'}"
        migrate.upgrade(url)
        s = sql.SqlMessageStore.from_url(url)
        try:
            for start in range(0, args.contacts, contacts.MAX_UPSERT):
                stop = min(start + contacts.MAX_UPSERT, args.contacts)
                await s.upsert_profiles("default", [_contact(i) for i in range(start, stop)], NOW)
            times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in cases}
            sizes: dict[str, tuple[int, int]] = {}
            for name, (labels, attributes, phones) in cases.items():
                size, _ = await s.audience_overview("default", labels, attributes, phones, 3)
                book = await s.audience_profiles("default", labels, attributes)
                extra = set(phones) - {p.phone for p in book}
                sizes[name] = (size, len(book) + len(extra))
            for _ in range(args.runs):
                for name, (labels, attributes, phones) in cases.items():

                    async def count(
                        labels: list[str] = labels,
                        attributes: dict[str, str] = attributes,
                        phones: list[str] = phones,
                    ) -> object:
                        return await s.audience_overview("default", labels, attributes, phones, 3)

                    async def load(
                        labels: list[str] = labels,
                        attributes: dict[str, str] = attributes,
                        phones: list[str] = phones,
                    ) -> object:
                        found = await s.audience_profiles("default", labels, attributes)
                        return found, await s.get_profiles("default", phones)

                    times[name][0].append(await median_of(count))
                    times[name][1].append(await median_of(load))
        finally:
            await s.close()
    print(f"contacts {args.contacts:,}, runs {args.runs} (each the median of 5 calls)")
    for name, (count_times, load_times) in times.items():
        c, lo = statistics.median(count_times), statistics.median(load_times)
        got, expected = sizes[name]
        print(
            f"{name:28} recipients {got:>7,} (loaded: {expected:,})  count {c * 1000:7.1f} ms"
            f"  load {lo * 1000:7.1f} ms  load / count {lo / c:5.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
