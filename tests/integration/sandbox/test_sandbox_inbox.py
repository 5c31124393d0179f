"""The web inbox, its Server-Sent Events stream and the read-only control endpoints."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from whatsapp_scheduler.sandbox import StandIn


async def test_inbox_page_shows_messages_and_the_sandbox_banner(
    standin: StandIn, send, text_body, http
) -> None:
    _, reply = await send(standin, text_body(body="<script>alert(1)</script> see you"))
    wamid = reply["messages"][0]["id"]

    async with http.get(standin.url + "/") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        html = await r.text()

    assert "Sandbox — nothing here reaches WhatsApp" in html
    assert f'data-wamid="{wamid}"' in html
    assert "+16505551234" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; see you" in html
    assert "<script>alert(1)</script>" not in html
    async with http.get(standin.url + "/_sandbox/static/inbox.js") as r:
        assert r.status == 200


async def read_events(response: aiohttp.ClientResponse, wanted: str) -> dict[str, Any]:
    """Read SSE lines until an event named ``wanted`` arrives; return its data."""
    event = None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == wanted:
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return data
    raise AssertionError(f"stream ended before a {wanted!r} event")


async def test_sse_stream_delivers_message_and_status_events(
    standin: StandIn, send, text_body, http
) -> None:
    async with http.get(standin.url + "/_sandbox/events") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        async with asyncio.timeout(15):  # only against a hang
            await read_events(stream, "hello")
            _, reply = await send(standin, text_body(body="live!"))
            message = await read_events(stream, "message")
            status = await read_events(stream, "status")

    wamid = reply["messages"][0]["id"]
    assert message["wamid"] == wamid
    assert message["text"] == "live!"
    assert message["wa_id"] == "16505551234"
    assert status["wamid"] == wamid
    assert status["status"] == "sent"


async def test_sse_stream_ends_when_the_stand_in_stops(make_standin, http) -> None:
    standin = await make_standin()
    async with http.get(standin.url + "/_sandbox/events") as stream:
        await read_events(stream, "hello")
        await standin.stop()
        async with asyncio.timeout(15):  # only against a hang
            rest = await stream.content.read()
    assert b"event:" not in rest


async def test_conversations_endpoint(standin: StandIn, send, text_body, http) -> None:
    await send(standin, text_body(to="+16505550001"))
    await standin.inbound("+16505550002", "hi", name="Ada")

    async with http.get(standin.url + "/_sandbox/conversations") as r:
        convs = await r.json()
    assert {c["wa_id"] for c in convs} == {"16505550001", "16505550002"}

    async with http.get(standin.url + "/_sandbox/conversations/+16505550002") as r:
        conv = await r.json()
    assert conv["profile_name"] == "Ada"
    assert conv["last_inbound"] is not None
    assert conv["messages"][0]["direction"] == "in"

    async with http.get(standin.url + "/_sandbox/conversations/+19999999999") as r:
        assert r.status == 404


async def test_requests_endpoint(standin: StandIn, send, text_body, http) -> None:
    for n in range(3):
        await send(standin, text_body(biz_opaque_callback_data=f"job-{n}"))
    async with http.get(standin.url + "/_sandbox/requests?limit=2") as r:
        rows = await r.json()
    assert [row["biz_opaque_callback_data"] for row in rows] == ["job-1", "job-2"]
    async with http.get(standin.url + "/_sandbox/requests?callback_data=job-0") as r:
        [row] = await r.json()
    assert row["status"] == 200
    assert row["answer"]["messages"][0]["id"] == row["wamid"]


def _typed(kind: str, value: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": "+16505551234",
        "type": kind,
        kind: value,
    }


async def test_the_inbox_shows_media_links_maps_and_buttons_safely(
    standin: StandIn, send, http
) -> None:
    """A document's name as a link, a location's map link, an interactive message's buttons
    and its URL button; a caption with markup escaped, a `javascript:` URL never an href."""
    document = {"link": "https://cdn.example.com/fatura.pdf", "filename": "fatura.pdf",
                "caption": "<img src=x onerror=alert(1)>"}  # fmt: skip
    buttons = {
        "type": "button",
        "body": {"text": "Gelecek misiniz?"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Evet <b>"}},
                               {"type": "reply", "reply": {"id": "n", "title": "Hayır"}}]},
    }  # fmt: skip
    cta = {
        "type": "cta_url",
        "body": {"text": "Fatura"},
        "action": {"name": "cta_url",
                   "parameters": {"display_text": "Aç", "url": "javascript:alert(1)"}},
    }  # fmt: skip
    place = {"latitude": 41.0369, "longitude": 28.985, "name": "Mağaza"}
    for kind, value in (
        ("document", document),
        ("interactive", buttons),
        ("location", place),
        ("contacts", [{"name": {"formatted_name": "Resepsiyon"}}]),
    ):
        status, reply = await send(standin, _typed(kind, value))
        assert status == 200, reply
    # A URL button whose url is not http(s) is refused as Meta does: it never reaches the inbox.
    status, reply = await send(standin, _typed("interactive", cta))
    assert (status, reply["error"]["code"]) == (400, 131009)
    async with http.get(standin.url + "/") as r:
        html = await r.text()
    assert '<a class="att-link" href="https://cdn.example.com/fatura.pdf"' in html
    assert ">fatura.pdf</a>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html
    assert 'data-reply="button_reply" data-id="y" data-title="Evet &lt;b&gt;"' in html
    assert ">Evet &lt;b&gt;</button></li><li>" in html
    assert "javascript:alert(1)" not in html.split("<template", 1)[0].replace("&#34;", "")
    assert 'href="https://www.openstreetmap.org/?mlat=41.0369&amp;mlon=28.985' in html
    assert ">Mağaza on the map</a>" in html
    assert "[contacts] Resepsiyon" in html
