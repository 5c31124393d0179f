"""Scheduling a media message against a text (issue 18: "scheduling a media message costs no
more than a text one plus the upload"), against a real `serve --sandbox --no-dispatcher` on a
SQLite file.

Kinds, interleaved within a round (order reversed every other round), each `--requests`
single `POST /schedule` from 32 concurrent clients:

- text: the seed's `mesaj`;
- image by our id: a PNG uploaded once (`POST /media`, timed on its own), then named by id
  (the schedule-time check reads the file's row);
- image by link, `MEDIA_LINK_CHECK=false`: the link's host resolved and checked against
  private addresses (cached a minute), nothing asked. With the check on, each link is asked
  once a minute with a HEAD request to its host; no host outside this machine answers here;
- with `--padded`, also a text whose `mesaj` is padded so that each request's body has the
  byte length of the image-by-id request of the same number and round: how much of a media
  message's cost is merely its longer body (context, not the goal's yardstick).

The service's own CPU time per request (all its threads, from /proc) is printed beside the
rates: the client shares the two cores, so the rate is noisier than the cost. Its ratio to a
text's is given twice: of the medians, and the median of each round's own ratio (steadier
when the shared machine's speed drifts between rounds).

With `--base REV`, REV is checked out into a temporary git worktree and served too (this
checkout's .venv, PYTHONPATH putting its package first), beside this tree's service, both on
fresh SQLite files throughout; each round runs every kind on both, the trees' order and the
kinds' reversed every other round, so the two trees' costs are taken in one run, interleaved.

    .venv/bin/python bench/bench_media_schedule.py [--requests 2000] [--rounds 5] [--base REV]
        [--padded]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import benchservice  # bench/ is on sys.path when a benchmark runs as a script

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The service process's CPU time so far (all its threads: the store's too)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


KEY = "bench-api-key-0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20_000


def body(kind: str, i: int, tag: str, media_id: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"{tag}-{i}",
        "alici": f"+90555{i:07d}",
        "tarih": "2030-01-01",
        "saat": f"{(i // 60) % 24:02d}:{i % 60:02d}",
    }
    if kind == "text":
        return base | {"mesaj": f"benchmark message {i}"}
    if kind == "padded":  # a text as many bytes long as the image-by-id request (as sent)
        text = base | {"mesaj": f"benchmark message {i}"}
        wanted = len(json.dumps(body("id", i, tag.replace("padded", "id", 1), media_id)))
        text["mesaj"] += "x" * (wanted - len(json.dumps(text)))
        return text
    if kind == "id":
        return base | {"type": "image", "image": {"id": media_id, "caption": f"photo {i}"}}
    link = {"link": "https://93.184.215.14/photo.jpg", "caption": f"photo {i}"}
    return base | {"type": "image", "image": link}


async def post_all(url: str, kind: str, total: int, tag: str, media_id: str) -> float:
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=32)
    headers = {"X-API-Key": KEY}
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:

        async def worker() -> None:
            for i in counter:
                payload = body(kind, i, tag, media_id)
                async with session.post("/schedule", json=payload) as response:
                    assert response.status == 200, await response.text()
                    await response.read()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(32)))
        return total / (time.perf_counter() - began)


async def upload(url: str) -> tuple[str, float]:
    async with aiohttp.ClientSession(url, headers={"X-API-Key": KEY}) as session:
        form = aiohttp.FormData()
        form.add_field("file", PNG, filename="a.png", content_type="image/png")
        began = time.perf_counter()
        async with session.post("/media", data=form) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["id"]), time.perf_counter() - began


ROOT = Path(__file__).resolve().parents[1]
KINDS: tuple[str, ...] = ("text", "id", "link")


async def main(args: argparse.Namespace) -> None:
    kinds = (*KINDS, "padded") if args.padded else KINDS
    trees = {"this tree": str(ROOT)}
    # per tree, per kind: the rates and the service's CPU µs per request of each round
    rates: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, dict[str, list[float]]] = {}
    took: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if args.base:
            checkout = stack.enter_context(benchservice.base_worktree(args.base))
            trees = {f"base {args.base}": str(checkout), **trees}
        services = {}
        for n, (name, path) in enumerate(trees.items()):
            env = {"MEDIA_LINK_CHECK": "false", "PYTHONPATH": path}
            proc, url, _ = benchservice.start(Path(tmp) / f"bench{n}.db", KEY, env)
            stack.callback(benchservice.stop, proc)
            media_id, took[name] = await upload(url)
            await post_all(url, "text", 300, "warm", media_id)  # the first requests' costs
            services[name] = (proc, url, media_id)
            rates[name] = {k: [] for k in kinds}
            cpu[name] = {k: [] for k in kinds}
        for round_ in range(args.rounds):
            flip = round_ % 2 == 1
            for name in reversed(services) if flip else services:
                proc, url, media_id = services[name]
                for kind in reversed(kinds) if flip else kinds:
                    before = cpu_seconds(proc.pid)
                    rate = await post_all(url, kind, args.requests, f"{kind}{round_}", media_id)
                    cpu[name][kind].append((cpu_seconds(proc.pid) - before) / args.requests * 1e6)
                    rates[name][kind].append(rate)
    print(f"{args.requests} POST /schedule per kind and round, 32 clients, {args.rounds} rounds")
    for name in trees:
        report(name, took[name], rates[name], cpu[name])
    if args.base:
        old, this = list(trees)
        print("this tree / base, the service's CPU per request (medians)")
        for kind in kinds:
            ratio = statistics.median(cpu[this][kind]) / statistics.median(cpu[old][kind])
            print(f"  {kind:6} {ratio:.2f}x")


def report(
    name: str, took: float, rates: dict[str, list[float]], cpu: dict[str, list[float]]
) -> None:
    print(f"{name}: the upload (20 KB PNG): {took * 1000:.1f} ms")
    text = statistics.median(rates["text"])
    for kind in rates:
        median = statistics.median(rates[kind])
        shown = " / ".join(f"{r:.0f}" for r in rates[kind])
        print(f"  {kind:6} median {median:6.0f} req/s  ({shown})  {median / text:.2f}x text")
    base = statistics.median(cpu["text"])
    print("  the service's CPU per request (all its threads)")
    for kind in cpu:
        median = statistics.median(cpu[kind])
        shown = " / ".join(f"{c:.0f}" for c in cpu[kind])
        # and the median of each round's own ratio: the kinds of a round run back to back,
        # so a round the shared machine slowed down counts once, not against one kind
        paired = statistics.median(c / t for c, t in zip(cpu[kind], cpu["text"], strict=True))
        print(
            f"  {kind:6} median {median:5.0f} µs  ({shown})  {median / base:.2f}x text's"
            f"  (per round: {paired:.3f}x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base", default=None, help="git revision to compare with")
    parser.add_argument(
        "--padded", action="store_true", help="also a text padded to the id request's length"
    )
    asyncio.run(main(parser.parse_args()))
