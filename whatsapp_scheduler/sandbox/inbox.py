"""The web inbox at ``/``: conversations with status ticks, logs, fault controls, live via SSE.

The page is rendered once per visit with Jinja2 (``templates/inbox.html``, loaded when the
application is built, never at import); ``static/inbox.js`` then follows
``GET /_sandbox/events``, a Server-Sent-Events stream of ``message``, ``status``, ``request``,
``webhook`` and ``settings`` events (JSON data), and posts the forms to the control API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from whatsapp_scheduler.sandbox import config as config_mod

if TYPE_CHECKING:
    from whatsapp_scheduler.sandbox.standin import StandIn

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
PAGE_REQUESTS = 200
HEARTBEAT_SECONDS = 15.0
MAX_EVENTS_PER_WRITE = 200


def _event_bytes(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Inbox:
    """Handlers of the inbox page and its event stream."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._template = env.get_template("inbox.html")

    async def page(self, _request: web.Request) -> web.Response:
        """Render the inbox with the current conversations, logs and settings."""
        s = self.standin
        conversations = sorted(s.conversations.values(), key=lambda c: -c.updated_at)
        labels = {n.phone_number_id: n.label or n.phone_number_id for n in s.numbers.values()}
        html = self._template.render(
            number_labels=labels,
            conversations=conversations,
            requests=list(s.mailbox.requests)[-PAGE_REQUESTS:][::-1],
            webhook_log=s.webhook_log[-PAGE_REQUESTS:][::-1],
            limits=s.limits,
            faults=s.faults,
            webhooks=s.webhooks,
            config=s.config,
            control_token=s.control_token,  # for inbox.js; other sites cannot read this page
            # "<" escaped so no string in the state can close the <script> element.
            state_json=json.dumps(
                {
                    "limits": config_mod.to_json(s.limits),
                    "faults": config_mod.to_json(s.faults),
                    "webhooks": config_mod.to_json(s.webhooks),
                    "numbers": labels,
                }
            ).replace("<", "\\u003c"),
        )
        return web.Response(text=html, content_type="text/html")

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: every bus event as ``event: <kind>`` + ``data: <json>``."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        bus = self.standin.bus
        queue = bus.subscribe()
        try:
            await response.write(_event_bytes("hello", {"requests": len(self.standin.requests)}))
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": ping\n\n")
                    continue
                if item is None:
                    break
                chunks = [_event_bytes(*item)]
                finished = False
                while not queue.empty() and len(chunks) < MAX_EVENTS_PER_WRITE:
                    more = queue.get_nowait()
                    if more is None:
                        finished = True
                        break
                    chunks.append(_event_bytes(*more))
                await response.write(b"".join(chunks))
                if finished:
                    break
        except ConnectionError:
            logger.debug("SSE client went away")
        finally:
            bus.unsubscribe(queue)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response


def add_routes(app: web.Application, standin: StandIn) -> Inbox:
    """Register ``/``, ``/_sandbox/events`` and ``/_sandbox/static/`` on ``app``."""
    inbox = Inbox(standin)
    app.router.add_get("/", inbox.page)
    app.router.add_get("/_sandbox/events", inbox.events)
    app.router.add_static("/_sandbox/static", HERE / "static")
    return inbox
