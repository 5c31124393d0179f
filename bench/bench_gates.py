"""What the send-time checks of issue 17 cost the dispatcher: A/B in one run, interleaved.

    .venv/bin/python bench/bench_gates.py [--rounds 5] [--messages 5000]

Each round drains `--messages` due MARKETING template messages (each to a new contact, outside
any 24-hour window: the worst case, every check has work) through the real dispatcher, the
Cloud API client and the stand-in in its own process, with no rate limit (so the figure is the
pipeline's own cost per message, not the 1,000/s cap), twice, in alternating order:

- A: no QUIET_HOURS, MESSAGING_LIMIT unlimited, no MARKETING_FREQUENCY_CAP (the consent check
  always runs: it is not a setting);
- B: QUIET_HOURS set (a window 12 hours away from now: checked, nothing moved, the contacts'
  zones read), MESSAGING_LIMIT=100000 (every contact booked), MARKETING_FREQUENCY_CAP=1000/1d
  (every contact's marketing sends read).

Prints the median cost per message of each side and B/A (goal: <= 1.10).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench_dispatch
import benchservice  # noqa: F401  (bench/ on sys.path)

from whatsapp_scheduler import bootstrap, testing
from whatsapp_scheduler.dispatch import ratelimit

TEMPLATE = {"name": "bench_offer", "language": {"code": "tr"}}


ONLY: tuple[str, ...] = ("quiet", "limit", "cap")


def _gated() -> dict[str, object]:
    start = (datetime.now(UTC) + timedelta(hours=12)).strftime("%H:%M")
    end = (datetime.now(UTC) + timedelta(hours=12, minutes=30)).strftime("%H:%M")
    values: dict[str, object] = {
        "quiet": ("quiet_hours", f"{start}-{end}"),
        "limit": ("messaging_limit", "100000"),
        "cap": ("marketing_frequency_cap", "1000/1d"),
    }
    return dict(v for k, v in values.items() if k in ONLY)  # type: ignore[misc]


async def drain(url: str, directory: Path, name: str, count: int, gated: bool) -> float:
    """Microseconds per message of one burst drain."""
    database, store = await bench_dispatch.fresh_store(directory, f"{name}.db")
    now = datetime.now(UTC)
    batch = [
        testing.make_message(
            f"{name}-{i:06d}",
            now,
            recipient=f"+9055{i:08d}",
            body=None,
            template=TEMPLATE,
            category="MARKETING",
        )
        for i in range(count)
    ]
    await bench_dispatch.add_all(store, batch)
    extra = _gated() if gated else {}
    config = bench_dispatch.make_settings(
        url, database, send_concurrency=64, claim_batch_size=500, **extra
    )
    d = await bootstrap.build_dispatcher(config, store)
    for path in d.paths.values():
        path.limiter = ratelimit.RateLimiter(1e9, 0)
    started = time.perf_counter()
    await d.run(burst=True)
    elapsed = time.perf_counter() - started
    sent = d.health()["sent"]
    await d.stop()
    await store.close()
    if sent != count:
        raise RuntimeError(f"{name}: sent {sent} of {count}")
    return elapsed / count * 1e6


async def main(args: argparse.Namespace) -> None:
    plain: list[float] = []
    gated: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, bench_dispatch.standin_process() as url:
        directory = Path(tmp)
        for r in range(args.rounds):
            order = [False, True] if r % 2 == 0 else [True, False]
            for is_gated in order:
                cost = await drain(url, directory, f"r{r}{int(is_gated)}", args.messages, is_gated)
                (gated if is_gated else plain).append(cost)
                print(f"round {r + 1} {'B gated' if is_gated else 'A plain'}: {cost:,.0f} us/msg")
    a, b = statistics.median(plain), statistics.median(gated)
    ratios = [g / p for p, g in zip(plain, gated, strict=True)]
    print(f"A plain: median {a:,.0f} us/msg ({1e6 / a:,.0f} msg/s)")
    print(f"B gated: median {b:,.0f} us/msg ({1e6 / b:,.0f} msg/s)")
    print(f"B/A: {b / a:.2f} (per round: {', '.join(f'{x:.2f}' for x in ratios)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument(
        "--only", default="quiet,limit,cap", help="B's checks, of quiet,limit,cap (default all)"
    )
    parsed = parser.parse_args()
    ONLY = tuple(parsed.only.split(","))
    asyncio.run(main(parsed))
