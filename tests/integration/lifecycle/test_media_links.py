"""Media links asked once at schedule time (docs/message-types.md, "Links"): a 404 or a dead
host is the warning `link_unreachable` (never a refusal), a server refusing HEAD is asked for
one byte instead, and the request goes to the address that was checked, whatever the name
resolves to a second time (DNS rebinding)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from tests.integration.lifecycle.conftest import due_now
from whatsapp_scheduler.service import links

PHONE = "+905551230101"


@pytest.fixture
async def media_server() -> AsyncIterator[tuple[str, list[tuple[str, str, str]]]]:
    """A file server on loopback: /ok.jpg, /gone.jpg (404), /nohead.jpg (HEAD 405)."""
    seen: list[tuple[str, str, str]] = []  # (method, path, Host header)

    async def serve(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, request.headers.get("Host", "")))
        if request.path == "/gone.jpg":
            return web.Response(status=404)
        if request.path == "/nohead.jpg" and request.method == "HEAD":
            return web.Response(status=405)
        return web.Response(body=b"\xff\xd8\xff", status=206 if request.method == "GET" else 200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    links._reached.clear()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_a_dead_link_warns_and_a_live_one_does_not(live, media_server):
    base, seen = media_server
    async with live(media_allow_private_links=True) as env:
        answers = {}
        for name in ("ok", "gone", "nohead"):
            request = {"id": f"l-{name}", "alici": PHONE, "type": "image",
                       "image": {"link": f"{base}/{name}.jpg"}, **due_now()}  # fmt: skip
            answer = await env.client.post("/schedule", json=request)
            assert answer.status_code == 200, answer.text
            answers[name] = [w for w in answer.json()["warnings"] if w.startswith("link_")]
        assert answers["ok"] == []
        assert answers["nohead"] == []  # HEAD refused, one ranged byte answered
        assert answers["gone"] == ["link_unreachable: image.link: HTTP 404"]
        assert ("GET", "/nohead.jpg", f"{base.removeprefix('http://')}") in seen
        assert (await env.client.get("/status/l-gone")).json()["status"] in (
            "queued", "sending", "sent", "delivered", "read",
        )  # fmt: skip


async def test_a_batch_of_links_is_asked_at_once_within_the_budget(media_server):
    base, seen = media_server
    hosts = [("image.link", f"{base}/ok.jpg?n={i}", "127.0.0.1") for i in range(40)]
    began = time.monotonic()
    failed = await links._ask_all([(i, f, u, a) for i, (f, u, a) in enumerate(hosts)])
    assert failed == []
    assert len(seen) == 40
    assert time.monotonic() - began < links.LINK_CHECK_SECONDS + 1


async def test_the_request_goes_to_the_checked_address_not_a_new_lookup(media_server):
    base, seen = media_server
    port = base.rsplit(":", 1)[1]
    # `media.invalid` resolves nowhere: only the pinned address can have answered.
    reason = await links._ask(
        f"http://media.invalid:{port}/ok.jpg", "127.0.0.1", "media.invalid",
        aiohttp.ClientTimeout(total=5),
    )  # fmt: skip
    assert reason is None
    assert seen[-1] == ("HEAD", "/ok.jpg", f"media.invalid:{port}")


async def test_a_host_that_never_answers_is_a_warning_within_the_budget():
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts, never answers

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    links._reached.clear()
    url = f"http://127.0.0.1:{port}/a.jpg"
    began = time.monotonic()
    ((index, field, asked, reason),) = await links._ask_all([(0, "image.link", url, "127.0.0.1")])
    took = time.monotonic() - began
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()
    assert (index, field, asked) == (0, "image.link", url)
    assert reason.startswith("no answer: ")
    assert took < links.LINK_CHECK_SECONDS


async def test_concurrent_requests_naming_a_new_link_share_one_ask(media_server):
    """Clients scheduling the same new link at once: the link is asked once, and every
    request gets its answer (the warning), not one ask per request."""
    base, seen = media_server
    url = f"{base}/gone.jpg?shared"
    answers = await asyncio.gather(
        *(links._ask_all([(0, "image.link", url, "127.0.0.1")]) for _ in range(8))
    )
    assert answers == [[(0, "image.link", url, "HTTP 404")]] * 8
    assert [s for s in seen if s[1] == "/gone.jpg"] == [("HEAD", "/gone.jpg", base[7:])]
    assert links._asking == {}  # nothing left under way
    await links._ask_all([(0, "image.link", url, "127.0.0.1")])
    assert len(seen) == 1  # and kept: not asked again within the minute
