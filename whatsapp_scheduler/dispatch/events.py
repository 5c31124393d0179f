"""Status events for the client app: the deliverer of the outbox (STATUS_WEBHOOK_URL).

The store writes one `message.status` event per reported status change (sent, delivered,
read, failed, cancelled) into the `events` table, in the same transaction as the change
(`store/outbox.py` has the JSON). `EventDeliverer` runs beside the dispatcher, never in its
way: it claims due events with a lease, POSTs each one, and records the result in the table::

    POST <STATUS_WEBHOOK_URL>
    Content-Type: application/json
    X-Scheduler-Event: message.status
    X-Scheduler-Event-Id: <outbox id, for de-duplication>
    X-Scheduler-Signature-256: sha256=<hex HMAC-SHA256(raw body, STATUS_WEBHOOK_SECRET or API_KEY)>

Any 2xx is delivered. Anything else (another status, a timeout, a refused connection) is
retried from the table after 1 s, 2 s, 4 s ... capped at `cap_seconds`, up to `max_attempts`
deliveries, then the event is marked `dead` and logged. A deliverer that dies mid-delivery
leaves its claims leased; they come due again when the lease ends, so delivery is
at-least-once and the receiver should de-duplicate on X-Scheduler-Event-Id. Events of one
message may arrive out of order after a retry: order them by status rank or `at`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import aiohttp

from whatsapp_scheduler import store
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.whatsapp import webhooks

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Scheduler-Signature-256"
EVENT_ID_HEADER = "X-Scheduler-Event-Id"
#: Back-off between deliveries of one event: base * 2**(attempt - 1), capped.
BASE_SECONDS = 1.0
CAP_SECONDS = 600.0
#: How long a claimed event belongs to this deliverer (longer than one POST's timeout).
LEASE_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 10.0
#: Idle wait between two looks at the outbox; `nudge()` cuts it short.
POLL_SECONDS = 0.5
BATCH = 50


def sign(body: bytes, secret: str) -> str:
    """The X-Scheduler-Signature-256 value for `body`: Meta's scheme, with our secret."""
    return webhooks.sign(body, secret)


def signature_valid(body: bytes, header: str | None, secret: str) -> bool:
    """The receiver's check (constant time), as shown in docs/webhooks.md."""
    return webhooks.signature_valid(body, header, secret)


def retry_delay(attempt: int, base: float = BASE_SECONDS, cap: float = CAP_SECONDS) -> float:
    """Seconds to wait after failed delivery number `attempt` (1, 2, 3 ...)."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


class EventDeliverer:
    """POSTs outbox events to the client app's URL; see the module docstring."""

    def __init__(
        self,
        message_store: store.MessageStore,
        url: str,
        secret: str,
        *,
        clock: clock_mod.Clock | None = None,
        max_attempts: int = 15,
        base_seconds: float = BASE_SECONDS,
        cap_seconds: float = CAP_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        batch: int = BATCH,
    ) -> None:
        self.store = message_store
        self.url = url
        self._secret = secret
        self.clock = clock or clock_mod.SystemClock()
        self.max_attempts = max_attempts
        self.base_seconds = base_seconds
        self.cap_seconds = cap_seconds
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.timeout_seconds = timeout_seconds
        self.batch = batch
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self.counts = {"delivered": 0, "retried": 0, "dead": 0}

    def __repr__(self) -> str:  # never show the secret
        return f"EventDeliverer(url={self.url!r})"

    async def start(self) -> None:
        """Open the HTTP session and start delivering in the background."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        self._session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
        self._task = asyncio.create_task(self._run(), name="status-events")
        logger.info("status events: delivering to the client app")

    async def stop(self) -> None:
        """Stop after the current round; undelivered events stay in the table."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def nudge(self) -> None:
        """Look at the outbox now (e.g. right after a status change)."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                delivered = await self.deliver_due()
            except Exception:  # the store or a bug: log, wait, carry on
                logger.exception("status events: delivery round failed")
                delivered = 0
            if delivered:
                continue  # there may be more due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """One round: claim due events, POST them concurrently, record the results."""
        now = self.clock.now()
        lease = now + timedelta(seconds=self.lease_seconds)
        events = await self.store.claim_events(now, self.batch, lease)
        if not events:
            return 0
        results = await asyncio.gather(*(self._deliver(event) for event in events))
        await self.store.finish_events(results)
        return len(events)

    async def _deliver(self, event: store.Event) -> store.EventResult:
        body = event.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "whatsapp-scheduler",
            "X-Scheduler-Event": "message.status",
            EVENT_ID_HEADER: str(event.id),
            SIGNATURE_HEADER: sign(body, self._secret),
        }
        error: str | None = None
        try:
            assert self._session is not None, "start() first"
            # A redirect is an answer, not a new address: following it would send the signed
            # event wherever the receiver (or whoever controls its answers) points.
            async with self._session.post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    self.counts["delivered"] += 1
                    return store.EventResult(event.id, store.EventState.DELIVERED, self.clock.now())
                error = f"HTTP {response.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = type(exc).__name__
        return self._failed(event, error, self.clock.now())

    def _failed(self, event: store.Event, error: str, now: datetime) -> store.EventResult:
        attempt = event.attempts + 1
        if attempt >= self.max_attempts:
            self.counts["dead"] += 1
            logger.error(
                "status event given up",
                extra={"event_id": event.id, "message_id": event.message_id, "error": error},
            )
            return store.EventResult(event.id, store.EventState.DEAD, now, error=error)
        self.counts["retried"] += 1
        delay = retry_delay(attempt, self.base_seconds, self.cap_seconds)
        logger.warning(
            "status event not delivered; retrying",
            extra={"event_id": event.id, "error": error, "retry_in_seconds": delay},
        )
        retry_at = now + timedelta(seconds=delay)
        return store.EventResult(
            event.id, store.EventState.PENDING, now, retry_at=retry_at, error=error
        )
