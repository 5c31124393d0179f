"""Meta's template catalogue: what checking a template message against it costs POST /schedule
and POST /schedule/batch, and how long a sync of 6,000 templates (Meta's most per WABA) takes.

    .venv/bin/python bench/bench_templates.py check [--blocks 12] [--block 400] [--clients 16]
    .venv/bin/python bench/bench_templates.py sync [--templates 6000] [--rounds 3]

`check`: one `serve --sandbox --no-dispatcher` (it syncs the stand-in's seeded catalogue before
it answers, and registers the sandbox's second number as the sender `branch`, which has no WABA
id). The same template message (`randevu_hatirlatma`, tr, two parameters) goes in alternating
blocks (ABBA) from `branch` (A: no catalogue, the shape checks and the `template_unchecked`
warning) and from `default` (B: checked against the synced catalogue: name, language, status,
header, body parameters, buttons). Single requests and batches of 100. Prints each block's
rate and the server's CPU time per message (from /proc: what a message costs, which other work
on a shared machine moves far less than the rate) and the medians; B/A is the check's cost
(issue 16: at most 10 % for POST /schedule, 15 % for the batch endpoint).

`sync`: a stand-in in this process holding `--templates` templates in one WABA (each with a
body of two parameters, a footer and a button, as Meta's list answers them, 250 a page (the client's page size)
because the stand-in pages like Meta does: `limit`, `after` cursors), and a TemplateCatalogue
on a fresh SQLite file syncing it: seconds per sync (read every page + replace the table), the
median of `--rounds` (goal: <= 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import bench_api_ab  # bench/ is on sys.path when a benchmark runs as a script
import benchservice
from bench_key_check import cpu_seconds

TEMPLATE = {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["Ayşe", "10:00"]}
BATCH = 100


def _message(i: int, tag: str, sender: str) -> dict[str, Any]:
    return {
        "id": f"{tag}-{i}",
        "alici": f"+90555{i % 5000:07d}",
        "tarih": "2030-01-01",
        "saat": f"{(i // 60) % 24:02d}:{i % 60:02d}",
        "template": TEMPLATE,
        "gonderen": sender,
    }


async def _block(
    url: str, sender: str, tag: str, total: int, clients: int, batch: bool
) -> tuple[float, int]:
    """`total` messages from `sender`, single or in batches of BATCH; (messages/s, count)."""
    per = BATCH if batch else 1
    counter = iter(range(0, total, per))
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"X-API-Key": bench_api_ab.ENV_KEY}
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:

        async def worker() -> None:
            for start in counter:
                if batch:
                    body = {"messages": [_message(start + k, tag, sender) for k in range(BATCH)]}
                    path = "/schedule/batch"
                else:
                    body, path = _message(start, tag, sender), "/schedule"
                async with session.post(path, json=body) as response:
                    text = await response.text()
                    assert response.status == 200, text
                    if batch:
                        assert '"refused":0' in text.replace(" ", ""), text[:300]

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return total / (time.perf_counter() - began), total


async def check(url: str, pid: int, blocks: int, size: int, clients: int) -> None:
    single = size
    for batch in (False, True):
        kind = "batch of 100" if batch else "POST /schedule"
        # A batch block as long as a single one takes: ~10x the messages (else 4 requests).
        size = single * 10 if batch else single
        await _block(url, "branch", f"warm{batch}", size, clients, batch)  # not counted
        costs: dict[str, list[float]] = {"branch": [], "default": []}
        rates: dict[str, list[float]] = {"branch": [], "default": []}
        for n in range(blocks):
            sender = "branch" if n % 4 in (0, 3) else "default"
            before = cpu_seconds(pid)
            rate, count = await _block(url, sender, f"{int(batch)}b{n}", size, clients, batch)
            cost = (cpu_seconds(pid) - before) / count * 1e6
            costs[sender].append(cost)
            rates[sender].append(rate)
            label = "A no catalogue" if sender == "branch" else "B catalogue"
            print(f"{kind} block {n + 1:>2} {label:>14}: {rate:,.0f} msg/s, {cost:,.0f} us CPU/msg")
        ca, cb = (statistics.median(costs[s]) for s in ("branch", "default"))
        ra, rb = (statistics.median(rates[s]) for s in ("branch", "default"))
        print(
            f"{kind} medians: A {ca:,.0f} us, B {cb:,.0f} us CPU/msg, ratio {cb / ca:.3f}; "
            f"rate A {ra:,.0f}, B {rb:,.0f} msg/s, ratio {rb / ra:.3f}"
        )


async def sync(count: int, rounds: int) -> None:
    from whatsapp_scheduler.core import catalogue as pure
    from whatsapp_scheduler.core.clock import SystemClock
    from whatsapp_scheduler.sandbox import StandIn, StandInConfig
    from whatsapp_scheduler.service.templates import TemplateCatalogue
    from whatsapp_scheduler.store import migrate, sql
    from whatsapp_scheduler.whatsapp import templates_api

    token = "bench-templates-token"
    async with StandIn(StandInConfig(access_token=token)) as standin:
        waba = standin.config.waba_id
        for i in range(count):
            standin.add_template(
                {
                    "name": f"sablon_{i:05d}",
                    "language": "tr" if i % 2 else "en_US",
                    "status": "APPROVED",
                    "category": "UTILITY" if i % 3 else "MARKETING",
                    "parameter_format": "POSITIONAL",
                    "components": [
                        {"type": "BODY", "text": f"Merhaba {{{{1}}}}, {i} numaralı {{{{2}}}}."},
                        {"type": "FOOTER", "text": "Yanıtlamak için yazın"},
                        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Tamam"}]},
                    ],
                    "quality_score": {"score": "GREEN"},
                }
            )
        source = templates_api.CloudApiTemplates(
            graph_api_url=standin.url, graph_api_version="v23.0"
        )
        took: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'sync.db'}"
            migrate.upgrade(url)
            store = sql.SqlMessageStore.from_url(url)
            try:
                catalogue = TemplateCatalogue(store, SystemClock(), source=source)
                for n in range(rounds):
                    began = time.perf_counter()
                    raw = await source.fetch(waba, token)
                    fetched = time.perf_counter()
                    parsed = [pure.from_meta(item, waba, SystemClock().now()) for item in raw]
                    stored = await store.replace_templates(waba, [t for t in parsed if t])
                    await catalogue.reload()
                    done = time.perf_counter()
                    took.append(done - began)
                    print(
                        f"round {n + 1}: {len(raw)} read in {fetched - began:.2f} s, "
                        f"{stored} stored and reloaded in {done - fetched:.2f} s, "
                        f"total {done - began:.2f} s"
                    )
            finally:
                await store.close()
    print(f"median sync of {count} templates: {statistics.median(took):.2f} s (goal <= 5 s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("check")
    p.add_argument("--blocks", type=int, default=12)
    p.add_argument("--block", type=int, default=400, help="messages per block")
    p.add_argument("--clients", type=int, default=16)
    p = commands.add_parser("sync")
    p.add_argument("--templates", type=int, default=6000)
    p.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.command == "sync":
        asyncio.run(sync(args.templates, args.rounds))
        return
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, _ = benchservice.start(Path(tmp) / "t.db", bench_api_ab.ENV_KEY)
        try:
            asyncio.run(check(url, proc.pid, args.blocks, args.block, args.clients))
        finally:
            benchservice.stop(proc)


if __name__ == "__main__":
    main()
