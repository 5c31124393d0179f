"""Fixtures for the stand-in's integration tests: the stand-in, a client, a webhook receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from whatsapp_scheduler.sandbox import StandIn, StandInConfig

TOKEN = "test-token"
CONTROL_TOKEN = "test-control-token"  # the control API's X-Sandbox-Token
PHONE_ID = "106540352242922"
SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
#: How long to wait for something that must happen (a webhook, the stand-in going idle). Only
#: a deadline against a hang: generous, because a loaded 2-core CI machine is slow and a
#: deadline costs nothing while the test passes. Tests about timing measure it instead.
WAIT = 15.0


class FakeClock:
    """A hand-moved monotonic clock (seconds)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Post:
    raw: bytes
    headers: dict[str, str]
    at: float = 0.0  # the receiver's loop.time() when it arrived

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def value(self) -> dict[str, Any]:
        value: dict[str, Any] = self.json["entry"][0]["changes"][0]["value"]
        return value


@dataclass
class Receiver:
    """A tiny webhook receiver on loopback: records POSTs, answers the GET handshake."""

    url: str = ""
    posts: list[Post] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)
    gets: list[dict[str, str]] = field(default_factory=list)  # the handshakes' queries
    verify_token: str = VERIFY_TOKEN
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle_post(self, request: web.Request) -> web.Response:
        raw = await request.read()
        async with self._changed:
            at = asyncio.get_running_loop().time()
            self.posts.append(Post(raw, dict(request.headers), at))
            self._changed.notify_all()
        return web.Response(status=self.replies.pop(0) if self.replies else 200)

    async def handle_get(self, request: web.Request) -> web.Response:
        q = request.query
        self.gets.append(dict(q))
        if q.get("hub.mode") == "subscribe" and q.get("hub.verify_token") == self.verify_token:
            return web.Response(text=q.get("hub.challenge", ""))
        return web.Response(status=403, text="bad token")

    @property
    def statuses(self) -> list[dict[str, Any]]:
        """Every status entry received, in arrival order (retried posts included)."""
        return [s for p in self.posts for s in p.value.get("statuses", [])]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait (at most WAIT seconds) until ``predicate()`` holds."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(predicate)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/webhook", rec.handle_post)
    app.router.add_get("/webhook", rec.handle_get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}/webhook"
    yield rec
    await runner.cleanup()


MakeStandIn = Callable[..., Awaitable[StandIn]]


@pytest.fixture
async def make_standin() -> AsyncIterator[MakeStandIn]:
    """Start a stand-in with test credentials and ``StandInConfig`` overrides."""
    started: list[StandIn] = []

    async def factory(**overrides: Any) -> StandIn:
        values: dict[str, Any] = {
            "access_token": TOKEN,
            "phone_number_id": PHONE_ID,
            "app_secret": SECRET,
            "webhook_verify_token": VERIFY_TOKEN,
            "control_token": CONTROL_TOKEN,
        }
        standin = StandIn(StandInConfig(**(values | overrides)))
        await standin.start()
        started.append(standin)
        return standin

    yield factory
    for standin in started:
        await standin.stop()


@pytest.fixture
async def standin(make_standin: MakeStandIn) -> StandIn:
    return await make_standin()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the stand-in with its control token (as the inbox page sends it)."""
    async with aiohttp.ClientSession(headers={"X-Sandbox-Token": CONTROL_TOKEN}) as session:
        yield session


def _text_body(to: str = "+16505551234", body: str = "hello", **extra: Any) -> dict[str, Any]:
    """A valid text send body."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def _template_body(to: str = "+16505551234", **extra: Any) -> dict[str, Any]:
    """A valid template send body."""
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}],
        },
        **extra,
    }


async def _send(
    http: aiohttp.ClientSession,
    standin: StandIn,
    body: Any,
    *,
    token: str | None = TOKEN,
    phone_id: str = PHONE_ID,
    version: str = "v23.0",
    client_timeout: float | None = None,
) -> tuple[int, Any]:
    """POST ``body`` to the send endpoint; return (HTTP status, decoded JSON or text)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes | str) else {"json": body}
    if client_timeout is not None:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=client_timeout)
    url = f"{standin.url}/{version}/{phone_id}/messages"
    async with http.post(url, headers=headers, **kwargs) as reply:
        text = await reply.text()
        try:
            return reply.status, json.loads(text)
        except ValueError:
            return reply.status, text


Send = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def send(http: aiohttp.ClientSession) -> Send:
    """``await send(standin, body, token=..., phone_id=..., version=..., client_timeout=...)``."""

    async def bound(standin: StandIn, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return await _send(http, standin, body, **kwargs)

    return bound


@pytest.fixture
def text_body() -> Callable[..., dict[str, Any]]:
    """``text_body(to=..., body=..., **extra)``: a valid text send body."""
    return _text_body


@pytest.fixture
def template_body() -> Callable[..., dict[str, Any]]:
    """``template_body(to=..., **extra)``: a valid template send body."""
    return _template_body
