"""The dispatcher's drain with media against text, in one run (issue 18): the cost per message
of an image by link, and of an image by our uploaded id (uploaded once, then sent by Meta's
cached id), as a share of a text's.

Each round drains `--messages` due messages of each kind from a fresh SQLite file through the
real dispatcher and `CloudApiSender`, with no rate limit (the pipeline's own ceiling, so the
ratio is the CPU per message); kinds alternate within a round, rounds repeat. Target: media
by link >= 95% of text's rate. The server is the stand-in (`--server standin`: its own process
on the same 2 cores, checking each body as Meta would, more work for media than for a text)
or `bench/bare_meta.py` (`--server bare`: answers only, the same tiny work for every kind, as
Meta's servers cost our cores nothing). The dispatcher process's own CPU per message is
printed too: our cost, apart from the server's.

    .venv/bin/python bench/bench_media_dispatch.py [--messages 5000] [--rounds 3] [--server bare]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dispatch
import benchservice

from whatsapp_scheduler import bootstrap, testing
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.dispatch import ratelimit
from whatsapp_scheduler.service import media as media_service

#: The dispatcher process's CPU per message (µs), per kind: our own cost, apart from the
#: stand-in's (a separate process on the same cores, which is what bounds the drain rate).
cpu_per_message: dict[str, list[float]] = {"text": [], "link": [], "upload": []}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\0" * 50_000


async def drain(url: str, directory: Path, name: str, kind: str, count: int) -> float:
    database, store = await bench_dispatch.fresh_store(directory, f"{name}.db")
    now = datetime.now(UTC)
    content = None
    if kind == "link":
        content = {
            "type": "image",
            "image": {"link": "https://cdn.example.com/a.jpg", "caption": "c"},
        }
    elif kind == "upload":
        library = media_service.MediaLibrary(store, clock_mod.SystemClock())
        file = await library.upload(io.BytesIO(JPEG), len(JPEG), "a.jpg", None)
        content = {"type": "image", "image": {"id": file.id, "caption": "c"}}
    batch = [
        testing.make_message(
            f"{name}-{i:06d}",
            now,
            recipient=f"+9055{i:08d}",
            body=None if content else "bench",
            content=content,
        )
        for i in range(count)
    ]
    await bench_dispatch.add_all(store, batch)
    config = bench_dispatch.make_settings(url, database, send_concurrency=64, claim_batch_size=500)
    d = await bootstrap.build_dispatcher(config, store)
    for path in d.paths.values():
        path.limiter = ratelimit.RateLimiter(1e9, 0)
    started, cpu = time.perf_counter(), time.process_time()
    await d.run(burst=True)
    elapsed = time.perf_counter() - started
    cpu_per_message[kind].append((time.process_time() - cpu) / count * 1e6)
    sent = d.health()["sent"]
    await d.stop()
    await store.close()
    if sent != count:
        raise RuntimeError(f"{kind}: sent {sent} of {count}")
    return count / elapsed


async def main(args: argparse.Namespace) -> None:
    kinds = ("text", "link", "upload")
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    server = (
        benchservice.bare_process() if args.server == "bare" else bench_dispatch.standin_process()
    )
    with tempfile.TemporaryDirectory() as tmp, server as url:
        for round_ in range(args.rounds):
            order = kinds if round_ % 2 == 0 else tuple(reversed(kinds))
            for kind in order:
                rates[kind].append(
                    await drain(url, Path(tmp), f"{kind}{round_}", kind, args.messages)
                )
    text = statistics.median(rates["text"])
    print(f"{args.messages} messages per drain, {args.rounds} rounds, no rate limit, {args.server}")
    for kind in kinds:
        median = statistics.median(rates[kind])
        shown = " / ".join(f"{r:.0f}" for r in rates[kind])
        print(f"  {kind:7} median {median:7.0f} msg/s  ({shown})  {median / text:.2f}x text")
    base = statistics.median(cpu_per_message["text"])
    print("dispatcher CPU per message (this process; the stand-in runs in its own)")
    for kind in kinds:
        median = statistics.median(cpu_per_message[kind])
        shown = " / ".join(f"{c:.0f}" for c in cpu_per_message[kind])
        print(
            f"  {kind:7} median {median:5.0f} µs  ({shown})  text's rate / this: {base / median:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--server",
        choices=("standin", "bare"),
        default="standin",
        help="the stand-in (checks each body as Meta does) or bench/bare_meta.py (answers only)",
    )
    asyncio.run(main(parser.parse_args()))
