"""Webhook benchmark (issue #5): one signed Meta webhook POST carrying 1,000 statuses, applied
by a real `whatsapp-scheduler serve` subprocess on a SQLite file holding 1,000 sent messages.

    .venv/bin/python bench/bench_webhook.py [--runs 3] [--count 1000] [--events]

Each run seeds a fresh database (1,000 messages in status `sent`, each with its wamid), starts
`serve --sandbox --no-dispatcher` on it (APP_SECRET unset: the sandbox default), POSTs one webhook with
a `delivered` status for every message, signed like Meta's (X-Hub-Signature-256), and times
the request until the answer (all 1,000 applied, committed). Reports each run and the median.
`--events` also sets STATUS_WEBHOOK_URL, so every applied status writes an outbox row too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import benchservice  # bench/ is on sys.path when a benchmark runs as a script

from whatsapp_scheduler import server, testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import Outcome, migrate, sql
from whatsapp_scheduler.whatsapp import webhooks

KEY = "bench-webhook-key-0123456789"


async def seed(db: Path, count: int) -> list[str]:
    """`count` messages in status sent; returns their wamids."""
    url = f"sqlite:///{db}"
    await asyncio.to_thread(migrate.upgrade, url)
    store = sql.SqlMessageStore.from_url(url)
    now = datetime.now(UTC)
    batch = [
        testing.make_message(f"wh{i:05d}", now - timedelta(minutes=5), recipient=f"+9055{i:08d}")
        for i in range(count)
    ]
    await store.add_many(batch)
    await store.claim_due(now, count, "bench", now + timedelta(minutes=5))
    outcomes = [
        Outcome(
            message_id=m.id,
            worker="bench",
            status=messages.MessageStatus.SENT,
            finished_at=now,
            attempt=messages.AttemptOutcome.SENT,
            wamid=f"wamid.bench{i:05d}",
        )
        for i, m in enumerate(batch)
    ]
    assert await store.record(outcomes) == count
    await store.close()
    return [o.wamid or "" for o in outcomes]


def payload(wamids: list[str]) -> bytes:
    ts = str(int(time.time()))
    statuses = [
        {"id": w, "status": "delivered", "timestamp": ts, "recipient_id": "905500000000"}
        for w in wamids
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
        "statuses": statuses,
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


async def one_run(count: int, events: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        wamids = await seed(db, count)
        body = payload(wamids)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": webhooks.sign(body, server.SANDBOX_APP_SECRET),
        }
        extra = {"STATUS_WEBHOOK_URL": "http://127.0.0.1:9/unreachable"} if events else {}
        proc, url, _ = benchservice.start(db, KEY, extra, timeout=30)
        try:
            async with aiohttp.ClientSession() as session:
                began = time.perf_counter()
                async with session.post(url + "/webhook", data=body, headers=headers) as resp:
                    answer = await resp.json()
                elapsed = time.perf_counter() - began
            assert resp.status == 200, answer
            assert answer["applied"] == count, answer
        finally:
            benchservice.stop(proc)
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--events", action="store_true")
    args = parser.parse_args()
    times = []
    for run in range(args.runs):
        elapsed = await one_run(args.count, args.events)
        times.append(elapsed)
        print(f"run {run + 1}: {args.count} statuses applied in {elapsed:.3f} s")
    median = statistics.median(times)
    print(
        f"median of {args.runs}: {median:.3f} s ({args.count / median:,.0f} statuses/s)"
        f"{' with status events' if args.events else ''}; floor 1.000 s: "
        f"{'PASS' if median <= 1.0 else 'FAIL'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
