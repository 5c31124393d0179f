"""Status events to the client app (STATUS_WEBHOOK_URL), over loopback HTTP: signed, retried
after a failure, and durable across a restart of the deliverer (the outbox is a table)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import API_KEY
from tests.integration.lifecycle.conftest import due_now
from whatsapp_scheduler import store, testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import events
from whatsapp_scheduler.store import migrate, sql

SECRET = "client-app-secret"
PHONE = "+905551230004"


class Receiver:
    """A tiny client app: records each POST; answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/events", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(body) for _, body in self.received]

    async def wait_for(self, count: int, within: float = 30.0) -> None:
        """Wait for `count` POSTs; the deadline only guards against a hang (generous)."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} events arrived")
            await asyncio.sleep(0.02)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def test_status_changes_reach_the_client_app_signed(live, receiver):
    receiver.answers = [500]  # the first delivery fails: retried after ~1 s
    async with live(
        events=True, status_webhook_url=receiver.url, status_webhook_secret=SECRET
    ) as env:
        request = {"id": "ev-1", "alici": PHONE, "mesaj": "hi", **due_now()}
        assert (await env.client.post("/schedule", json=request)).status_code == 200
        await env.dispatch()
        await env.wait_status("ev-1", "read")
        await receiver.wait_for(4)  # 500, then sent, delivered, read
        await asyncio.sleep(0.2)
    for headers, body in receiver.received:
        assert events.signature_valid(body, headers[events.SIGNATURE_HEADER], SECRET)
        assert headers["X-Scheduler-Event"] == "message.status"
    first_headers, first_body = receiver.received[0]
    retried = [
        b
        for h, b in receiver.received[1:]
        if h[events.EVENT_ID_HEADER] == first_headers[events.EVENT_ID_HEADER]
    ]
    assert retried == [first_body]  # the same event again, byte for byte
    statuses = {b["status"] for b in receiver.bodies()}
    assert statuses == {"sent", "delivered", "read"}
    sent = next(b for b in receiver.bodies() if b["status"] == "sent")
    assert sent["id"] == "ev-1"
    assert sent["previous_status"] == "sending"
    assert sent["gonderen"] == "default"  # no `gonderen` given: the default sender
    assert str(sent["whatsapp_message_id"]).startswith("wamid.")
    assert sent["sent_as"] == "text"
    assert sent["error"] is None


async def test_failed_and_cancelled_events_and_api_key_default(live, receiver):
    async with live(events=True, status_webhook_url=receiver.url) as env:
        env.standin.fail_recipient(PHONE, 131026)
        request = {"id": "ev-2", "alici": PHONE, "mesaj": "hi", **due_now()}
        assert (await env.client.post("/schedule", json=request)).status_code == 200
        later = {
            "id": "ev-3",
            "alici": PHONE,
            "mesaj": "hi",
            "tarih": "2099-01-01",
            "saat": "09:00",
        }
        assert (await env.client.post("/schedule", json=later)).status_code == 200
        assert (await env.client.delete("/schedule/ev-3")).status_code == 200
        await env.dispatch()
        await receiver.wait_for(2)
    for headers, body in receiver.received:  # no STATUS_WEBHOOK_SECRET: signed with API_KEY
        assert events.signature_valid(body, headers[events.SIGNATURE_HEADER], API_KEY)
    by_id = {b["id"]: b for b in receiver.bodies()}
    assert by_id["ev-3"]["status"] == "cancelled"
    assert by_id["ev-2"]["status"] == "failed"
    assert by_id["ev-2"]["error"]["code"] == 131026


async def test_events_survive_a_restart_of_the_deliverer(tmp_path: Path, receiver, make_message):
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    message_store = sql.SqlMessageStore.from_url(url, events_enabled=True)
    try:
        now = datetime.now(UTC)
        message = make_message(due_at=now - timedelta(seconds=1))
        await message_store.add(message)
        await message_store.claim_due(now, 1, "w1", now + timedelta(minutes=1))
        outcome = store.Outcome(
            message_id=message.id,
            worker="w1",
            status=messages.MessageStatus.SENT,
            finished_at=now,
            attempt=messages.AttemptOutcome.SENT,
            wamid="wamid.restart",
        )
        assert await message_store.record([outcome]) == 1
        # 1st deliverer: the client app is down; the retry is written to the table.
        down = events.EventDeliverer(
            message_store, "http://127.0.0.1:9/events", SECRET, base_seconds=0.3
        )
        await down.start()
        assert await down.deliver_due() == 1
        await down.stop()
        assert down.counts["retried"] == 1
        # A deliverer that claims the event and dies before recording anything.
        crashed = await message_store.claim_events(
            datetime.now(UTC) + timedelta(seconds=1), 10, datetime.now(UTC) + timedelta(seconds=1)
        )
        assert len(crashed) == 1
        # 2nd deliverer ("after the restart"): picks it up once the lease is over.
        up = events.EventDeliverer(message_store, receiver.url, SECRET, poll_seconds=0.05)
        await up.start()
        try:
            await receiver.wait_for(1)
        finally:
            await up.stop()
        ((headers, body),) = receiver.received
        assert events.signature_valid(body, headers[events.SIGNATURE_HEADER], SECRET)
        assert json.loads(body)["whatsapp_message_id"] == "wamid.restart"
        assert (
            await message_store.claim_events(datetime.now(UTC) + timedelta(days=1), 10, now) == []
        )
    finally:
        await message_store.close()


async def test_gives_up_after_max_attempts(receiver, make_message):
    message_store = testing.InMemoryMessageStore(events_enabled=True)
    message = make_message()
    await message_store.add(message)
    await message_store.cancel(message.id, datetime.now(UTC))
    receiver.answers = [503, 503, 503]
    # This test runs the rounds itself: the background loop must not take one of them (it
    # looked again every 0.5 s, and a slow machine let it deliver the retry first).
    deliverer = events.EventDeliverer(
        message_store, receiver.url, SECRET, max_attempts=2, base_seconds=0.01, poll_seconds=3600
    )
    await deliverer.start()
    try:
        assert await deliverer.deliver_due() == 1
        await asyncio.sleep(0.05)
        assert await deliverer.deliver_due() == 1
        await asyncio.sleep(0.05)
        assert await deliverer.deliver_due() == 0
    finally:
        await deliverer.stop()
    assert deliverer.counts == {"delivered": 0, "retried": 1, "dead": 1}
    assert message_store.events[0].state == "dead"
    assert message_store.events[0].last_error == "HTTP 503"


@pytest.mark.parametrize(
    ("attempt", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (10, 512.0), (11, 600.0), (40, 600.0)]
)
def test_retry_delay_doubles_up_to_the_cap(attempt, delay):
    assert events.retry_delay(attempt) == delay


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed(receiver, make_message, code):
    """The event goes to STATUS_WEBHOOK_URL only: a receiver answering with a redirect gets a
    failed attempt ("HTTP 3xx"), and the signed event never reaches the other address."""

    class Redirect(web.HTTPException):
        status_code = code

    async def handle(_request: web.Request) -> web.Response:
        raise Redirect(headers={"Location": receiver.url})

    app = web.Application()
    app.router.add_post("/moved", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/moved"
    message_store = testing.InMemoryMessageStore(events_enabled=True)
    message = make_message()
    await message_store.add(message)
    await message_store.cancel(message.id, datetime.now(UTC))
    deliverer = events.EventDeliverer(message_store, url, SECRET, max_attempts=1, poll_seconds=3600)
    await deliverer.start()
    try:
        assert await deliverer.deliver_due() == 1
    finally:
        await deliverer.stop()
        await runner.cleanup()
    assert message_store.events[0].last_error == f"HTTP {code}"
    assert receiver.received == []
