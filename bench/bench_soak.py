"""Soak: N minutes at 1,000 msg/s with the stand-in's status webhooks on (issue 13, part 7).

Usage::

    .venv/bin/python bench/bench_soak.py                  # 10 minutes at 1,000/s
    .venv/bin/python bench/bench_soak.py --minutes 1      # a short check of the bench itself
    .venv/bin/python bench/bench_soak.py --rate 300       # what a smaller machine sustains

Set-up: a SQLite file prefilled with `rate x minutes x 60` messages due one after another at
`rate`/s (from a few seconds after the start); a real `whatsapp-scheduler serve` with
MESSAGES_PER_SECOND=`rate` sends them to the stand-in, which runs in its own process (this
script, `--standin`) without throughput or pair limits and POSTs 3 signed statuses per message
(sent, delivered, read, `--delays` apart) to the service's /webhook, one status per POST
(`--batch`), as Meta does by default: ~3,000 webhook POSTs/s at 1,000/s, on `--lanes` (64)
concurrent connections.

Asserts (exit status 1 if one fails, after printing every figure):

- every message sent once: one `sent` attempt per message in the attempts table, and the
  stand-in accepted each message id exactly once;
- every status applied: every message ends `read`, with its 3 receipts stored;
- webhook answer p99 <= 250 ms (Meta's expectation), timed by the stand-in around each POST
  (request written to answer read; the stand-in's own event loop lag is included, so this
  overstates rather than understates);
- RSS of the `serve` process grows <= 10% from the end of the first minute (`--warmup`) to
  the end of the run;
- the sends kept the rate asked: their mean rate (first to last recorded start) >= 98 % of
  `--rate` (everything sent in the end, but late, is not a pass).

Printed besides: the send rate (mean, busiest 1 s of the recorded starts), lateness of the
sends (start - due), statuses applied per second, the CPU seconds of the service and of the
stand-in (where the time goes), and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchservice  # bench/ is on sys.path when a benchmark runs as a script
from bench_dispatch import busiest_second

TOKEN = "soak-token"
NUMBER_ID = "106540352242922"
APP_SECRET = "soak-app-secret"
VERIFY_TOKEN = "soak-verify-token"
API_KEY = "soak-api-key-0123456789abcdef"


# -- the stand-in process ---------------------------------------------------------------------


async def run_standin(port: int, webhook_url: str, delays: str, lanes: int, batch: int) -> None:
    """The stand-in with timed webhook POSTs and a count of accepted message ids; prints
    "ready", serves until stdin closes, then prints one JSON line of figures."""
    from whatsapp_scheduler import sandbox
    from whatsapp_scheduler.sandbox import webhooks

    latencies: list[float] = []
    original = webhooks.WebhookSender._deliver

    async def timed(self: webhooks.WebhookSender, post: Any) -> None:
        began = time.perf_counter()
        await original(self, post)
        latencies.append(time.perf_counter() - began)

    webhooks.WebhookSender._deliver = timed  # type: ignore[method-assign]
    # The stand-in posts on 8 lanes, one POST at a time each: ~500 POSTs/s here, a sixth of
    # the load asked for. Meta posts concurrently: more lanes (a benchmark-only change).
    webhooks.LANES = lanes
    sent, delivered, read = (float(x) for x in delays.split(","))
    config = sandbox.StandInConfig(
        access_token=TOKEN,
        phone_number_id=NUMBER_ID,
        app_secret=APP_SECRET,
        webhook_url=webhook_url,
        throughput_per_second=None,
        pair_rate=None,
        status_delays=sandbox.StatusDelays(sent, delivered, read),
        request_log_size=1000,
        webhook_batch_size=batch,
    )
    standin = sandbox.StandIn(config)
    accepted: collections.Counter[str] = collections.Counter()

    class CountingLog(collections.deque):  # type: ignore[type-arg]
        def append(self, record: Any) -> None:
            if record.status == 200:
                accepted[record.biz_opaque_callback_data] += 1
            super().append(record)

    standin.mailbox.requests = CountingLog(maxlen=1000)
    await standin.start(host="127.0.0.1", port=port)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)  # until the parent closes stdin
    await standin.stop()
    latencies.sort()
    figures = {
        "accepted": len(accepted),
        "accepted_twice": sum(1 for n in accepted.values() if n > 1),
        "webhook_posts": len(latencies),
        "webhook_p50": latencies[len(latencies) // 2] if latencies else None,
        "webhook_p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
        "webhook_max": latencies[-1] if latencies else None,
        "cpu_seconds": sum(os.times()[:2]),
    }
    print(json.dumps(figures), flush=True)


# -- the run ------------------------------------------------------------------------------------


def prefill(db: Path, count: int, rate: float, start: datetime) -> None:
    """`count` queued messages, message i due at `start + i / rate`."""
    subprocess.run(
        [str(benchservice.BIN), "db", "upgrade"],
        env=dict(os.environ, DATABASE_URL=f"sqlite:///{db}"),
        check=True,
        stdout=subprocess.DEVNULL,
    )

    def rows() -> Iterator[tuple[object, ...]]:
        created = start.replace(tzinfo=None).isoformat(sep=" ")
        for i in range(count):
            due = (start + timedelta(seconds=i / rate)).replace(tzinfo=None).isoformat(sep=" ")
            body = f"soak {i}"
            digest = hashlib.sha256(body.encode()).hexdigest()
            yield (
                f"soak{i:07d}", f"+9055{i:08d}", body, "UTC", "2026-01-01", "09:00", digest,
                "queued", due, due, created, created, None,
            )  # fmt: skip

    benchservice.insert_messages(db, rows())


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return conn.execute(sql).fetchall()


def parse_utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def soak(args: argparse.Namespace) -> bool:
    count = int(args.rate * args.minutes * 60)
    print(
        f"date: {datetime.now(UTC).isoformat()}  machine: {platform.node()} "
        f"{os.cpu_count()} cpus, {platform.processor() or platform.machine()}  python: "
        f"{platform.python_version()}"
    )
    print(
        f"soak: {count} messages at {args.rate:.0f}/s for {args.minutes:g} min, delays {args.delays}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "soak.db"
        lead = 20.0 + count / 200_000  # the service starts meanwhile
        start = datetime.now(UTC) + timedelta(seconds=lead)
        t = time.monotonic()
        prefill(db, count, args.rate, start)
        print(f"  prefilled in {time.monotonic() - t:.1f} s")
        service_port, standin_port = benchservice.free_port(), benchservice.free_port()
        standin = subprocess.Popen(
            [sys.executable, __file__, "--standin", str(standin_port),
             f"http://127.0.0.1:{service_port}/webhook", args.delays, str(args.lanes),
             str(args.batch)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert standin.stdout is not None
        assert standin.stdin is not None
        if standin.stdout.readline().strip() != b"ready":
            raise SystemExit("stand-in did not start")
        env = dict(
            os.environ,
            API_KEY=API_KEY,
            DATABASE_URL=f"sqlite:///{db}",
            ACCESS_TOKEN=TOKEN,
            PHONE_NUMBER_ID=NUMBER_ID,
            APP_SECRET=APP_SECRET,
            WEBHOOK_VERIFY_TOKEN=VERIFY_TOKEN,
            GRAPH_API_URL=f"http://127.0.0.1:{standin_port}",
            MESSAGES_PER_SECOND=str(args.rate),
            PAIR_INTERVAL="0",
            LOG_LEVEL="WARNING",
        )
        command = [str(benchservice.BIN), "serve", "--port", str(service_port)]
        if args.profile:  # the event loop's thread (cProfile sees only the main thread)
            command = [sys.executable, "-m", "cProfile", "-o", args.profile, "-m"]
            command += ["whatsapp_scheduler", "serve", "--port", str(service_port)]
        service = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        rss: list[tuple[float, int]] = []
        try:
            began = start.timestamp()
            end = began + args.minutes * 60
            while time.time() < end:
                time.sleep(5)
                rss.append((time.time() - began, rss_kib(service.pid)))
                done = query(
                    db, "SELECT count(*) FROM messages WHERE status IN ('sent','delivered','read')"
                )
                print(
                    f"  t={rss[-1][0]:6.0f} s  rss {rss[-1][1] / 1024:7.1f} MiB  sent so far {done[0][0]}"
                )
            deadline = time.time() + args.drain
            while time.time() < deadline:  # the last sends and statuses
                (left,) = query(db, "SELECT count(*) FROM messages WHERE status <> 'read'")[0]
                if left == 0:
                    break
                time.sleep(2)
            service_cpu = cpu_seconds(service.pid)
        finally:
            service.terminate()
            service.wait(60)
            standin.stdin.close()
            figures = json.loads(standin.stdout.readline())
            standin.wait(60)
        statuses = dict(query(db, "SELECT status, count(*) FROM messages GROUP BY status"))
        attempts = query(db, "SELECT message_id, started_at FROM attempts WHERE outcome = 'sent'")
        per_message = collections.Counter(m for m, _ in attempts)
        receipts = query(db, "SELECT count(*) FROM receipts")[0][0]
        lateness = sorted(
            parse_utc(s) - parse_utc(d)
            for s, d in query(
                db,
                "SELECT a.started_at, m.due_at FROM attempts a JOIN messages m ON m.id = a.message_id"
                " WHERE a.outcome = 'sent'",
            )
        )
        stamps = sorted(parse_utc(s) for _, s in attempts)
        applied = query(db, "SELECT min(received_at), max(received_at) FROM receipts")[0]
    mean = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    warm = [kib for at, kib in rss if at >= args.warmup]
    growth = (warm[-1] - warm[0]) / warm[0] if len(warm) >= 2 else None
    span = parse_utc(applied[1]) - parse_utc(applied[0]) if applied[0] else 0.0
    print(f"statuses of messages: {statuses}")
    print(f"sends: {len(stamps)} recorded, mean {mean:.1f}/s, busiest 1 s {busiest_second(stamps)}")
    if lateness:
        print(
            f"lateness (start - due): p50 {lateness[len(lateness) // 2]:.3f} s, p99 "
            f"{lateness[int(len(lateness) * 0.99) - 1]:.3f} s, max {lateness[-1]:.3f} s"
        )
    print(f"receipts stored: {receipts} ({receipts / span if span else 0:.0f}/s over {span:.0f} s)")
    print(
        f"webhook POSTs: {figures['webhook_posts']}, answer p50 "
        f"{(figures['webhook_p50'] or 0) * 1000:.1f} ms, p99 {(figures['webhook_p99'] or 0) * 1000:.1f} ms, "
        f"max {(figures['webhook_max'] or 0) * 1000:.1f} ms"
    )
    print(
        f"RSS of serve: {', '.join(f'{at:.0f}s {kib / 1024:.0f} MiB' for at, kib in rss[:: max(1, len(rss) // 8)])}; "
        f"growth after {args.warmup:.0f} s: {'n/a' if growth is None else f'{growth * 100:.1f} %'}"
    )
    print(f"CPU seconds: serve {service_cpu:.0f}, stand-in {figures['cpu_seconds']:.0f}")
    checks = {
        "every message sent once (attempts)": len(per_message) == count
        and max(per_message.values(), default=0) == 1,
        "every message accepted once (stand-in)": figures["accepted"] == count
        and figures["accepted_twice"] == 0,
        "every status applied": statuses == {"read": count} and receipts == 3 * count,
        "webhook answer p99 <= 250 ms": (figures["webhook_p99"] or 1.0) <= 0.25,
        # All sent and applied in the end says little if the sends fell behind the rate asked.
        f"sends kept the rate: mean >= 98 % of {args.rate:.0f}/s": mean >= 0.98 * args.rate,
        "RSS growth <= 10 % after the first minute": growth is not None and growth <= 0.10,
    }
    for what, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if args.profile:
        import pstats

        print(f"profile of serve's event loop thread ({args.profile}), by own time:")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    return all(checks.values())


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=1000.0, help="MESSAGES_PER_SECOND (max 1000)")
    p.add_argument("--delays", default="0.1,0.5,1.0", help="stand-in SENT,DELIVERED,READ delays")
    p.add_argument("--warmup", type=float, default=60.0, help="RSS growth is measured after it")
    p.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the tail")
    p.add_argument("--lanes", type=int, default=64, help="stand-in webhook POSTs in parallel")
    p.add_argument("--batch", type=int, default=1, help="statuses per webhook POST (Meta: 1)")
    p.add_argument("--profile", metavar="PATH", help="run serve under cProfile, write PATH")
    p.add_argument("--standin", nargs=5, help=argparse.SUPPRESS)
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.standin:
        port, webhook_url, delays, lanes, batch = arguments.standin
        asyncio.run(run_standin(int(port), webhook_url, delays, int(lanes), int(batch)))
    else:
        sys.exit(0 if soak(arguments) else 1)
