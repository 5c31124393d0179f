"""Does the dispatcher send a campaign's messages as fast as plain ones? (issue 19; goal: a
campaign's rate >= 95 % of plain messages', A/B in one run.)

    .venv/bin/python bench/bench_campaign_dispatch.py [--messages 5000] [--runs 5]

A: `--messages` plain due messages; B: as many due messages of one campaign (stored by
`create_campaign`, as `POST /campaigns` stores them). What differs on the send path: each
status change of a campaign message (the claim, the outcome) fires the funnel's trigger, which
appends two delta rows (docs/campaigns.md, "The funnel"); the dispatcher's fold job runs as in
production (every 5 s). SQLite file, the real dispatcher, the stand-in in its own process, no
rate limit (the pipeline's own ceiling), rounds interleaved (this machine's speed drifts).
Each drain reports its wall time and this process's CPU time per message (the stand-in is
another process); the funnel is checked against the messages after each campaign drain.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import bench_dispatch  # bench/ is on sys.path when a benchmark runs as a script

from whatsapp_scheduler.core import campaigns


async def drain(
    url: str, directory: Path, name: str, count: int, campaign: bool
) -> tuple[float, float]:
    database, store = await bench_dispatch.fresh_store(directory, name)
    now = datetime.now(UTC)
    cid = f"cmp_{name}"
    batch = bench_dispatch.make_batch(cid if campaign else name, [now] * count)
    if campaign:
        batch = [m.evolve(campaign_id=cid) for m in batch]
        made = campaigns.Campaign(
            id=cid, name=name, sender="default", spec={}, recipients=count, refused=0,
            created_at=now,
        )  # fmt: skip
        await store.create_campaign(made, batch)
    else:
        await bench_dispatch.add_all(store, batch)
    elapsed, cpu, sent = await bench_dispatch.burst_drain(url, database, store)
    if campaign:
        await store.fold_campaign_tallies()
        counts = await store.campaign_counts(cid)
        if counts.statuses != {"sent": count}:
            raise RuntimeError(f"the funnel says {counts.statuses}, {count} were sent")
    await store.close()
    if sent != count:
        raise RuntimeError(f"sent {sent} of {count}")
    return elapsed / count, cpu / count


async def main(args: argparse.Namespace) -> None:
    print(f"date: {datetime.now(UTC).isoformat()}  messages: {args.messages:,}  runs: {args.runs}")
    with tempfile.TemporaryDirectory() as tmp, bench_dispatch.standin_process() as url:
        plain: list[tuple[float, float]] = []
        of_campaign: list[tuple[float, float]] = []
        for run in range(args.runs):
            plain.append(await drain(url, Path(tmp), f"a{run}", args.messages, False))
            of_campaign.append(await drain(url, Path(tmp), f"b{run}", args.messages, True))
            print(
                f"  round {run + 1}: plain {plain[-1][0] * 1e6:.0f} µs/msg (CPU "
                f"{plain[-1][1] * 1e6:.0f}), campaign {of_campaign[-1][0] * 1e6:.0f} µs/msg "
                f"(CPU {of_campaign[-1][1] * 1e6:.0f})"
            )
    med = statistics.median
    a, b = med(w for w, _ in plain), med(w for w, _ in of_campaign)
    ca, cb = med(c for _, c in plain), med(c for _, c in of_campaign)
    print(
        f"rate, medians: plain {1 / a:,.0f} msg/s, campaign {1 / b:,.0f} msg/s: the campaign's "
        f"is {a / b * 100:.1f} % of plain (goal >= 95 %)"
    )
    print(
        f"CPU per message, medians: plain {ca * 1e6:.0f} µs, campaign {cb * 1e6:.0f} µs: {cb / ca:.3f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
