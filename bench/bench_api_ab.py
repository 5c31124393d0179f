"""The REST API benchmark against two revisions, interleaved in one run (ratios you can trust on a
noisy machine: both sides see the same machine at the same time).

    .venv/bin/python bench/bench_api_ab.py --base 3f60db3 [--rounds 3] [--requests 5000]

Checks `--base` out into a temporary git worktree and runs it from this checkout's .venv
(PYTHONPATH puts its package first); each round starts a fresh `serve --sandbox
--no-dispatcher` per revision and recipient mix, then measures POST /schedule (32 clients) and
POST /schedule/batch (1,000 per request, 4 clients), as bench_api.py does. The base revision
must run with today's dependencies (uv.lock) and accept today's command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from pathlib import Path

import bench_api  # bench/ is on sys.path when a benchmark runs as a script
import benchservice

ROOT = Path(__file__).resolve().parents[1]


def measure(pythonpath: str | None, recipients: int, requests: int) -> tuple[float, float]:
    if pythonpath:
        os.environ["PYTHONPATH"] = pythonpath
    else:
        os.environ.pop("PYTHONPATH", None)
    bench_api.RECIPIENTS = recipients
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, _ = benchservice.start(Path(tmp) / "ab.db", bench_api.KEY)
        try:
            single = asyncio.run(bench_api.post_single(url, requests, 32))
            batch = asyncio.run(bench_api.post_batches(url, 20, 4))
        finally:
            benchservice.stop(proc)
    return single, batch


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    with benchservice.base_worktree(args.base) as base:
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for round_ in range(args.rounds):
            for label, path in (("this checkout", None), (args.base, str(base))):
                for recipients in (10_000_000, 1000):
                    figures = measure(path, recipients, args.requests)
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
