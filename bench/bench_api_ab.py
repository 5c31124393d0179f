"""The REST API benchmark against two revisions, interleaved in one run (ratios you can trust on a
noisy machine: both sides see the same machine at the same time).

    .venv/bin/python bench/bench_api_ab.py --base 3f60db3 [--rounds 3] [--requests 5000]
        [--stored-key]

Checks `--base` out into a temporary git worktree and runs it from this checkout's .venv
(PYTHONPATH puts its package first); each round starts a fresh `serve --sandbox
--no-dispatcher` per revision and recipient mix, then measures POST /schedule (32 clients) and
POST /schedule/batch (1,000 per request, 4 clients), as bench_api.py does. The base revision
must run with today's dependencies (uv.lock) and accept today's command line.

`--stored-key` adds a third side: this checkout with a key made by `whatsapp-scheduler keys
create --scope write` (hashed and looked up in the api_keys table on every request) instead of
the environment's API_KEY, so the key check's cost is the ratio of the two in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

import bench_api  # bench/ is on sys.path when a benchmark runs as a script
import benchservice

ROOT = Path(__file__).resolve().parents[1]


ENV_KEY = bench_api.KEY
STORED = "stored key"


def measure(
    pythonpath: str | None, recipients: int, requests: int, stored_key: bool = False
) -> tuple[float, float]:
    if pythonpath:
        os.environ["PYTHONPATH"] = pythonpath
    else:
        os.environ.pop("PYTHONPATH", None)
    bench_api.RECIPIENTS = recipients
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ab.db"
        bench_api.KEY = make_key(db) if stored_key else ENV_KEY
        proc, url, _ = benchservice.start(db, ENV_KEY)
        try:
            single = asyncio.run(bench_api.post_single(url, requests, 32))
            batch = asyncio.run(bench_api.post_batches(url, 20, 4))
        finally:
            benchservice.stop(proc)
            bench_api.KEY = ENV_KEY
    return single, batch


def make_key(db: Path) -> str:
    """A write key in the api_keys table of `db` (the command migrates the file first)."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", API_KEY=ENV_KEY, LOG_LEVEL="WARNING")
    made = subprocess.run(
        [str(benchservice.BIN), "keys", "create", "--name", "bench", "--scope", "write"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return made.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument(
        "--stored-key",
        action="store_true",
        help="also measure this checkout with a stored (hashed, looked-up) write key",
    )
    args = parser.parse_args()
    with benchservice.base_worktree(args.base) as base:
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        sides: list[tuple[str, str | None, bool]] = [
            ("this checkout", None, False),
            (args.base, str(base), False),
        ]
        if args.stored_key:
            sides.append((STORED, None, True))
        for round_ in range(args.rounds):
            for label, path, stored in sides:
                for recipients in (10_000_000, 1000):
                    figures = measure(path, recipients, args.requests, stored)
                    results.setdefault((label, recipients), []).append(figures)
                    print(
                        f"round {round_ + 1} {label:>13} recipients {recipients:>10,}: "
                        f"single {figures[0]:,.0f} req/s, batch {figures[1]:,.0f} msg/s",
                        flush=True,
                    )
    print("medians:")
    for (label, recipients), runs in results.items():
        single = statistics.median(r[0] for r in runs)
        batch = statistics.median(r[1] for r in runs)
        print(
            f"  {label:>13} recipients {recipients:>10,}: single {single:,.0f} req/s, "
            f"batch {batch:,.0f} msg/s"
        )


if __name__ == "__main__":
    main()
