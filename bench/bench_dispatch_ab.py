"""The dispatcher benchmark against two revisions, interleaved in one run (ratios you can trust
on a noisy machine: both sides see the same machine at the same time).

    .venv/bin/python bench/bench_dispatch_ab.py --base 2674f8a [--rounds 5] [--messages 10000]

Checks `--base` out into a temporary git worktree; each round runs that revision's
`bench/bench_dispatch.py --runs 1` and then this checkout's (the order alternates between
rounds), each from its own tree with its own package first on PYTHONPATH and this checkout's
.venv. Reported: the drain rate (10,000 due messages through the Cloud API client to the
stand-in, MESSAGES_PER_SECOND=1000) and the lateness of 1,000 messages spread over
`--seconds`, medians over the rounds, and this checkout's ratio to the base.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import benchservice  # bench/ is on sys.path when a benchmark runs as a script

ROOT = Path(__file__).resolve().parents[1]
DRAIN = re.compile(r"drain \d+ msgs: median (\d+) msg/s")
LATENESS = re.compile(r"lateness .*: p50 ([\d.]+) ms, p99 ([\d.]+) ms")


def run(tree: Path, args: argparse.Namespace) -> tuple[float, float, float]:
    """(drain msg/s, lateness p50 ms, p99 ms) of one run of `tree`'s benchmark."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [
        sys.executable,
        str(tree / "bench" / "bench_dispatch.py"),
        "--runs",
        "1",
        "--messages",
        str(args.messages),
        "--drain",
        "--lateness-test",
        "--seconds",
        str(args.seconds),
    ]
    out = subprocess.run(
        command, cwd=tree, env=env, capture_output=True, text=True, check=True
    ).stdout
    drain = DRAIN.search(out)
    late = LATENESS.search(out)
    if drain is None or late is None:
        raise SystemExit(f"unexpected output from {tree}:\n{out}")
    return float(drain.group(1)), float(late.group(1)), float(late.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="the revision to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {"base": [], "this": []}
    with benchservice.base_worktree(args.base) as base:
        for round_ in range(args.rounds):
            order = [("base", base), ("this", ROOT)]
            for name, tree in order if round_ % 2 == 0 else reversed(order):
                results[name].append(run(tree, args))
                drain, p50, p99 = results[name][-1]
                print(
                    f"round {round_ + 1} {name}: drain {drain:.0f} msg/s, "
                    f"p50 {p50} ms, p99 {p99} ms",
                    flush=True,
                )
    medians = {
        k: [statistics.median(col) for col in zip(*v, strict=True)] for k, v in results.items()
    }
    print(f"\nmedians of {args.rounds} rounds (base {args.base}):")
    for i, label in enumerate(["drain msg/s", "lateness p50 ms", "lateness p99 ms"]):
        b, t = medians["base"][i], medians["this"][i]
        print(f"  {label:16} base {b:8.1f}   this {t:8.1f}   this/base {t / b:.2f}")


if __name__ == "__main__":
    main()
