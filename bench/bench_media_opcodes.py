"""What a media message's `POST /schedule` makes the interpreter do beyond a text's, counted
rather than timed (issue 18): the bytecodes executed per request (`sys.settrace` with
`f_trace_opcodes`, every thread: the store's too), through the whole ASGI app in process on a
SQLite file, no HTTP. On a shared machine the CPU time of bench_media_schedule.py moves as much
between runs as the gap it measures; this count repeats to a few dozen bytecodes.

Kinds as in bench_media_schedule.py (text, image by our id, image by link with
`MEDIA_LINK_CHECK=false`, and a text padded to the id request's byte length), each warmed
first (`--warm` requests: the caches of senders, files, hosts), then `--requests` sequential
requests counted: one at a time, so every add is its own transaction and the count repeats
(32 concurrent clients share the store's transactions, and their count moves with the
grouping). With `--base REV`, REV is counted too, in a process of its own (its package first
on PYTHONPATH). The client's own work (making each body) is in the count, alike per kind.

    .venv/bin/python bench/bench_media_opcodes.py [--requests 500] [--base REV]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import benchservice  # bench/ is on sys.path when a benchmark runs as a script
from bench_media_schedule import KEY, KINDS, PNG, body

ROOT = Path(__file__).resolve().parents[1]
_counting = False
_count = 0


def _opcode(frame: FrameType, event: str, arg: object) -> Any:
    global _count
    if event == "opcode":
        _count += 1
    return _opcode


def _tracer(frame: FrameType, event: str, arg: object) -> Any:
    if not _counting:
        return None
    frame.f_trace_opcodes = True
    frame.f_trace_lines = False
    return _opcode


async def count(requests: int, warm: int) -> dict[str, float]:
    """Bytecodes per request, by kind, of the package first on sys.path."""
    global _counting, _count
    import httpx

    from whatsapp_scheduler import server
    from whatsapp_scheduler import settings as settings_mod
    from whatsapp_scheduler.store import migrate
    from whatsapp_scheduler.web import app as app_mod

    settings = settings_mod.Settings()
    migrate.upgrade(settings.database_url)
    app = app_mod.create_app(settings)
    kinds = (*KINDS, "padded")
    answers: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"X-API-Key": KEY}
        ) as client:
            sent = await client.post("/media", files={"file": ("a.png", PNG, "image/png")})
            media_id = str(sent.json()["id"])
            server.tune_gc()

            async def post(kind: str, n: int, tag: str) -> None:
                for i in range(n):
                    payload = json.dumps(body(kind, i, tag, media_id)).encode()
                    answer = await client.post(
                        "/schedule", content=payload, headers={"Content-Type": "application/json"}
                    )
                    assert answer.status_code == 200, answer.text

            for kind in kinds:
                await post(kind, warm, f"{kind}w")
            for kind in kinds:
                _count, _counting = 0, True
                await post(kind, requests, f"{kind}0")
                _counting = False
                answers[kind] = _count / requests
    return answers


def child(requests: int, warm: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            API_KEY=KEY,
            DATABASE_URL=f"sqlite:///{tmp}/bench.db",
            LOG_LEVEL="WARNING",
            MEDIA_LINK_CHECK="false",
        )
        sys.settrace(_tracer)
        threading.settrace(_tracer)
        print(json.dumps(asyncio.run(count(requests, warm))))


def run_tree(path: Path, requests: int, warm: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=f"{path}{os.pathsep}{Path(__file__).parent}")
    command = [sys.executable, __file__, "--child", "--requests", str(requests)]
    done = subprocess.run(
        [*command, "--warm", str(warm)], env=env, capture_output=True, text=True, check=True
    )
    answer: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def main(args: argparse.Namespace) -> None:
    if args.child:
        child(args.requests, args.warm)
        return
    trees = {"this tree": ROOT}
    with contextlib.ExitStack() as stack:
        if args.base:
            checkout = stack.enter_context(benchservice.base_worktree(args.base))
            trees = {f"base {args.base}": checkout, **trees}
        print(f"bytecodes per POST /schedule ({args.requests} sequential per kind)")
        for name, path in trees.items():
            found = run_tree(path, args.requests, args.warm)
            extra = "  ".join(f"{k} {v - found['text']:+.0f}" for k, v in found.items())
            print(f"  {name}: text {found['text']:.0f}; beyond it: {extra}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--base", default=None, help="git revision to count too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    main(parser.parse_args())
