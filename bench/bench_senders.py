"""Two senders from one process (issue #15): combined >= 1.8x one sender's rate, same run.

SQLite file queue -> one Dispatcher with two senders (`default` and `branch`, each its own
number, token, `CloudApiSender` over the one aiohttp session, and 1,000 msg/s bucket) -> the
stand-in in its own process (`python -m whatsapp_scheduler.sandbox --extra-number ...`, no
throughput limit). Each round drains, on a fresh file:

- one sender: `--count` due messages of `default` (the other sender registered, idle);
- two senders: `--count` due messages of each.

The rate of a drain is its messages over the time from the first recorded send start to the
last (`attempts.started_at`); the wall time of the burst run is printed beside it. Rounds
alternate the two cases; the medians and their ratio are printed (target: ratio >= 1.8: the
limits are per number, so the process must not be the bottleneck up to 2,000/s).

Usage::

    .venv/bin/python bench/bench_senders.py [--count 10000] [--rounds 3] [--loop]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import benchservice  # bench/ is on sys.path when a benchmark runs as a script

from whatsapp_scheduler import bootstrap, settings, testing
from whatsapp_scheduler import server as server_mod
from whatsapp_scheduler.core import senders
from whatsapp_scheduler.dispatch.senders import StaticSenders
from whatsapp_scheduler.store import migrate, sql

TOKEN, NUMBER_ID = "bench-token", "106540352242922"
BRANCH_TOKEN, BRANCH_ID = "bench-branch-token", "106540352242923"
RATE = 1000.0


def standin_process() -> contextlib.AbstractContextManager[str]:
    """The stand-in in its own process with both numbers, no throughput limit."""
    return benchservice.standin_process(
        TOKEN, NUMBER_ID, extra_numbers=[f"{BRANCH_ID}:{BRANCH_TOKEN}:branch"]
    )


def source() -> StaticSenders:
    return StaticSenders(
        [
            senders.SenderCredentials(
                senders.Sender("default", NUMBER_ID, from_environment=True), TOKEN
            ),
            senders.SenderCredentials(
                senders.Sender("branch", BRANCH_ID, messages_per_second=RATE), BRANCH_TOKEN
            ),
        ]
    )


async def drain(
    url: str, directory: Path, name: str, per_sender: int, names: list[str], *, loop: bool = False
) -> tuple[float, float, dict[str, float]]:
    """One drain (a burst, or with `loop` the running dispatcher as `serve` runs it, until
    every message is sent): the send rate, the wall-time rate, and each sender's own rate."""
    database = f"sqlite:///{directory / name}"
    await asyncio.to_thread(migrate.upgrade, database)
    store = sql.SqlMessageStore.from_url(database)
    now = datetime.now(UTC)
    rows = [
        testing.make_message(
            f"{sender}-{i:06d}", now, recipient=f"+9055{i:08d}", body="bench", sender=sender
        )
        for sender in names
        for i in range(per_sender)
    ]
    for start in range(0, len(rows), 1000):
        await store.add_many(rows[start : start + 1000])
    config = settings.Settings(
        _env_file=None,
        access_token=TOKEN,  # type: ignore[arg-type]
        phone_number_id=NUMBER_ID,
        graph_api_url=url,
        database_url=database,
        messages_per_second=RATE,
        pair_interval=0,
        claim_batch_size=500,
    )
    d = await bootstrap.build_dispatcher(config, store, senders=source())
    t0 = time.perf_counter()
    if loop:
        await d.start()
        while d.health()["sent"] < len(rows):
            await asyncio.sleep(0.01)
    else:
        await d.run(burst=True)
    wall = time.perf_counter() - t0
    health = d.health()
    await d.stop()
    starts: dict[str, list[float]] = {n: [] for n in names}
    for row in await store.get_many([r.id for r in rows]):
        [attempt] = await store.attempts(row.id)
        starts[row.sender].append(attempt.started_at.timestamp())
    await store.close()
    if health["sent"] != len(rows):
        raise RuntimeError(f"not drained: sent {health['sent']} of {len(rows)}")
    every = sorted(t for s in starts.values() for t in s)
    rate = (len(every) - 1) / (every[-1] - every[0])
    each = {n: (len(s) - 1) / (max(s) - min(s)) for n, s in starts.items()}
    return rate, len(rows) / wall, each


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="messages per sender")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--server",
        choices=("standin", "bare"),
        default="standin",
        help="the stand-in (checks each body and token as Meta does) or bench/bare_meta.py "
        "(answers only: what is left is this process's own ceiling)",
    )
    parser.add_argument(
        "--loop",
        action="store_true",
        help="run the dispatcher's loop (`start`, as `serve` does) instead of a burst drain",
    )
    args = parser.parse_args()
    one: list[float] = []
    two: list[float] = []
    server = standin_process() if args.server == "standin" else benchservice.bare_process()
    with server as url, tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rate1, wall1, _ = await drain(
                url, Path(tmp), f"one{r}.db", args.count, ["default"], loop=args.loop
            )
            rate2, wall2, each = await drain(
                url, Path(tmp), f"two{r}.db", args.count, ["default", "branch"], loop=args.loop
            )
            one.append(rate1)
            two.append(rate2)
            shares = ", ".join(f"{n} {v:,.0f}" for n, v in each.items())
            print(
                f"round {r + 1}: one sender {rate1:,.0f} msg/s (wall {wall1:,.0f}); "
                f"two senders {rate2:,.0f} msg/s (wall {wall2:,.0f}; {shares}); "
                f"ratio {rate2 / rate1:.2f}",
                flush=True,
            )
    m1, m2 = statistics.median(one), statistics.median(two)
    print(f"median: one sender {m1:,.0f} msg/s, two senders {m2:,.0f} msg/s, ratio {m2 / m1:.2f}")
    print("target: ratio >= 1.8:", "met" if m2 / m1 >= 1.8 else "NOT met")


if __name__ == "__main__":
    # On uvloop, as `whatsapp-scheduler serve` runs its dispatcher (`server.run_async`).
    server_mod.run_async(main)
