"""Dashboard page latency with 1,000,000 messages stored (issue #7: each page <= 100 ms p99).

    .venv/bin/python bench/bench_dashboard.py [--rows 1000000] [--samples 200] [--runs 3]

Prefills a SQLite file straight through sqlite3 (like bench_api.py): 5% queued in the future,
the rest sent / delivered / read / failed / cancelled over the past, 10,000 recipients. Then
serves it with `whatsapp-scheduler serve --sandbox --no-dispatcher`, signs in like a browser and
times each page sequentially. Each run restarts the service; the figures are per-run p50/p99
and their medians over the runs. Client and service share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import benchservice  # bench/ is on sys.path when a benchmark runs as a script
import httpx

KEY = "bench-dashboard-key-0123456789"
HISTORY = ["sent"] * 20 + ["delivered"] * 25 + ["read"] * 40 + ["failed"] * 5 + ["cancelled"] * 5
STATUSES = HISTORY + ["queued"] * 5


def prefill(db: Path, rows: int) -> None:
    past = datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None)  # SQLite keeps naive UTC
    future = datetime(2031, 1, 1, tzinfo=UTC).replace(tzinfo=None)

    def row(i: int) -> tuple[object, ...]:
        status = STATUSES[i % 100]
        due = (
            future + timedelta(seconds=i)
            if status == "queued"
            else past + timedelta(seconds=i * 30)
        )
        text = due.isoformat(sep=" ")
        error = 131047 if status == "failed" else None
        return (f"pre-{i}", f"+90555{i % 10_000:07d}", f"message {i}", "Europe/Istanbul",
                due.date().isoformat(), due.strftime("%H:%M"), f"h{i}", status, text, text, text,
                text, error)  # fmt: skip

    benchservice.insert_messages(db, map(row, range(rows)))


def sign_in(client: httpx.Client) -> None:
    form = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post("/signin", data={"api_key": KEY, "csrf": token[1], "next": "/"})
    assert answer.status_code == 303, answer.status_code


def pages(client: httpx.Client) -> dict[str, str]:
    first = client.get("/").text
    upcoming_next = re.search(r'href="(/\?cursor=[^"]+)" rel="next"', first)
    history = client.get("/history").text
    history_next = re.search(r'href="(/history\?[^"]+)" rel="next"', history)
    assert upcoming_next
    assert history_next
    return {
        "upcoming": "/",
        "upcoming p2": upcoming_next[1].replace("&amp;", "&"),
        "history": "/history",
        "history p2": history_next[1].replace("&amp;", "&"),
        "history failed": "/history?status=failed",
        "history recipient": "/history?recipient=%2B905550000042",
        "history one day": "/history?date_from=2025-03-01&date_to=2025-03-01",
        "message": "/message/pre-94",
        "compose": "/compose",
        "import": "/import",
        "recipient check": "/dashboard/api/recipient?value=05551234567",
    }


def measure(url: str, samples: int) -> dict[str, tuple[float, float]]:
    results = {}
    with httpx.Client(base_url=url, timeout=10) as client:
        sign_in(client)
        for name, path in pages(client).items():
            for _ in range(5):  # warm caches
                client.get(path)
            times = []
            for _ in range(samples):
                began = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            results[name] = (statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "dashboard.db"
        proc, _, _ = benchservice.start(db, KEY)  # creates the schema
        benchservice.stop(proc)
        began = time.perf_counter()
        prefill(db, args.rows)
        print(f"prefilled {args.rows:,} rows in {time.perf_counter() - began:.0f}s")
        runs = []
        for run in range(args.runs):
            proc, url, _ = benchservice.start(db, KEY)
            try:
                runs.append(measure(url, args.samples))
            finally:
                benchservice.stop(proc)
            worst = max(p99 for _, p99 in runs[-1].values())
            print(f"run {run + 1}: worst p99 {worst:.1f} ms")
        print(f"\n{'page':20s} {'p50 ms':>8s} {'p99 ms':>8s}   (median of {args.runs} runs)")
        for name in runs[0]:
            p50 = statistics.median(r[name][0] for r in runs)
            p99 = statistics.median(r[name][1] for r in runs)
            flag = "" if p99 <= 100 else "  OVER 100 ms"
            print(f"{name:20s} {p50:8.1f} {p99:8.1f}{flag}")
        print(f"\n{datetime.now(UTC).isoformat(timespec='seconds')}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
