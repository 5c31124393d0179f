"""Background delivery of signed webhooks to the service, with retries; the GET handshake.

:class:`WebhookSender` owns one long-lived ``aiohttp.ClientSession`` and a few worker tasks,
each reading its own ``asyncio.Queue``, so the send endpoint only does ``put_nowait``. A delivery that is
not answered with 200 is retried after ``retry_base * 2^(n-1)`` seconds (capped at
``retry_cap``) up to ``max_attempts`` times: Meta's 7-day backoff, compressed
(docs/meta-cloud-api.md, "Delivery and retries"). Status entries queued together may share one
POST when ``batch_size`` > 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from whatsapp_scheduler.sandbox import payloads
from whatsapp_scheduler.sandbox.config import WebhookSettings

logger = logging.getLogger(__name__)

#: Worker lanes; the statuses of one message always share a lane (keeps their order).
LANES = 8
DELIVERY_LOG_SIZE = 2000


@dataclass(slots=True)
class _Post:
    """A prepared POST: the exact bytes (re-sent unchanged on retry) and what they carry."""

    body: bytes
    count: int
    summary: list[str]
    lane: int
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class _Status:
    """One ``statuses[]`` entry and the business number it is about (its envelope's)."""

    entry: dict[str, Any]
    phone_number_id: str | None


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """Outcome of Meta's GET handshake ("Verification handshake") against the callback URL."""

    ok: bool
    url: str
    status: int | None
    challenge: str
    body: str
    error: str | None = None


@dataclass
class WebhookSender:
    """Worker lanes POSTing signed webhook envelopes to ``settings.url``.

    Each lane is a queue with one worker. All statuses of one message go to the same lane, so
    they leave in order (sent, delivered, read) unless a retry or an injected fault reorders
    them, as with Meta.
    """

    settings: WebhookSettings
    app_secret: str
    #: Wraps a ``value`` in the envelope of the business number (id, or None: the main one).
    wrap: Callable[[dict[str, Any], str | None], dict[str, Any]]
    on_attempt: Callable[[dict[str, Any]], None] = lambda _record: None
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=DELIVERY_LOG_SIZE))
    _lanes: list[asyncio.Queue[_Status | _Post]] = field(init=False)
    _carry: dict[int, _Status] = field(default_factory=dict, init=False)  # next batch's first
    _session: aiohttp.ClientSession | None = field(default=None, init=False)
    _workers: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _closed: bool = field(default=False, init=False)
    _pending: int = field(default=0, init=False)
    _idle: asyncio.Event = field(init=False)

    def __post_init__(self) -> None:
        self._lanes = [asyncio.Queue() for _ in range(LANES)]
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        """Open the HTTP session and start one worker per lane."""
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            connector=aiohttp.TCPConnector(limit=LANES * 2),
        )
        self._workers = [asyncio.create_task(self._work(lane)) for lane in range(LANES)]

    async def close(self) -> None:
        """Stop the workers and close the session (undelivered posts are dropped)."""
        self._closed = True
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- producers -----------------------------------------------------------------------

    def add_pending(self, count: int = 1) -> None:
        """Count work that will reach a lane later (delayed statuses) as pending."""
        self._pending += count
        self._idle.clear()

    def done_pending(self, count: int = 1) -> None:
        """Mark ``count`` pending items finished (delivered, given up or dropped)."""
        self._pending -= count
        if self._pending <= 0:
            self._pending = 0
            self._idle.set()

    def put_status(self, entry: dict[str, Any], phone_number_id: str | None = None) -> None:
        """Queue one ``statuses[]`` entry on its message's lane; its webhook's
        ``metadata.phone_number_id`` is the number that sent the message."""
        self.add_pending()
        self._lanes[hash(entry["id"]) % LANES].put_nowait(_Status(entry, phone_number_id))

    def put_value(
        self, value: dict[str, Any], key: str, phone_number_id: str | None = None
    ) -> None:
        """Queue a whole webhook ``value`` (inbound message) as its own POST on ``key``'s lane."""
        self.add_pending()
        lane = hash(key) % LANES
        post = self._prepare(value, 1, ["inbound"], lane, phone_number_id)
        self._lanes[lane].put_nowait(post)

    def put_envelope(self, envelope: dict[str, Any], key: str, summary: str) -> None:
        """Queue a whole webhook body (a change of the WhatsApp Business Account itself, e.g.
        a template's status) as its own POST on ``key``'s lane."""
        self.add_pending()
        lane = hash(key) % LANES
        body = json.dumps(envelope, separators=(",", ":")).encode("utf-8")
        self._lanes[lane].put_nowait(_Post(body, 1, [summary], lane))

    async def wait_idle(self) -> None:
        """Wait until nothing is scheduled, queued, in flight or awaiting a retry."""
        await self._idle.wait()

    # -- workers -------------------------------------------------------------------------

    def _prepare(
        self,
        value: dict[str, Any],
        count: int,
        summary: list[str],
        lane: int,
        phone_number_id: str | None = None,
    ) -> _Post:
        body = json.dumps(self.wrap(value, phone_number_id), separators=(",", ":")).encode("utf-8")
        return _Post(body, count, summary, lane)

    def _batch(self, first: _Status, lane: int) -> _Post:
        """Statuses of one business number per POST (its `metadata.phone_number_id`); one of
        another number starts the next batch."""
        queue = self._lanes[lane]
        entries = [first.entry]
        while len(entries) < self.settings.batch_size and not queue.empty():
            item = queue.get_nowait()
            if isinstance(item, _Post):  # a retry or inbound post goes on its own
                queue.put_nowait(item)
                break
            if item.phone_number_id != first.phone_number_id:
                self._carry[lane] = item
                break
            entries.append(item.entry)
        summary = [f"{e['status']} …{e['id'][-12:]}" for e in entries]
        value = payloads.statuses_value(entries)
        return self._prepare(value, len(entries), summary, lane, first.phone_number_id)

    async def _work(self, lane: int) -> None:
        queue = self._lanes[lane]
        while True:
            carried = self._carry.pop(lane, None)
            item = carried if carried is not None else await queue.get()
            post = item if isinstance(item, _Post) else self._batch(item, lane)
            try:
                await self._deliver(post)
            except Exception:  # a worker must survive anything a receiver does
                logger.exception("webhook delivery crashed")
                self.done_pending(post.count)

    def _requeue(self, post: _Post) -> None:
        if not self._closed:
            self._lanes[post.lane].put_nowait(post)

    async def _deliver(self, post: _Post) -> None:
        url = self.settings.url
        if url is None or self._session is None:
            self.done_pending(post.count)
            return
        post.attempt += 1
        status: int | None = None
        error: str | None = None
        headers = {
            "Content-Type": "application/json",
            payloads.SIGNATURE_HEADER: payloads.sign(post.body, self.app_secret),
        }
        try:
            async with self._session.post(url, data=post.body, headers=headers) as reply:
                status = reply.status
                await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._record(url, post, status, error)
        if status == 200:
            self.done_pending(post.count)
        elif post.attempt >= self.settings.max_attempts:
            logger.warning("webhook dropped after %d attempts: %s", post.attempt, post.summary)
            self.done_pending(post.count)
        else:
            delay = self.settings.retry_delay(post.attempt)
            asyncio.get_running_loop().call_later(delay, self._requeue, post)

    def _record(self, url: str, post: _Post, status: int | None, error: str | None) -> None:
        record = {
            "at": time.time(),
            "url": url,
            "attempt": post.attempt,
            "status": status,
            "error": error,
            "carries": post.summary,
        }
        self.log.append(record)
        self.on_attempt(record)

    # -- handshake -----------------------------------------------------------------------

    async def handshake(
        self, url: str | None = None, verify_token: str | None = None
    ) -> HandshakeResult:
        """GET ``url`` like Meta does when a callback is configured; check the echo."""
        target = url or self.settings.url
        token = verify_token if verify_token is not None else self.settings.verify_token
        challenge = str(secrets.randbelow(9 * 10**9) + 10**9)
        if target is None or self._session is None:
            return HandshakeResult(False, target or "", None, challenge, "", "no webhook URL")
        params = {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": token or "",
        }
        try:
            async with self._session.get(target, params=params) as reply:
                body = await reply.text()
                ok = reply.status == 200 and body.strip() == challenge
                return HandshakeResult(ok, target, reply.status, challenge, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return HandshakeResult(
                False, target, None, challenge, "", f"{type(exc).__name__}: {exc}"
            )
