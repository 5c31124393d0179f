"""Talking to Meta: the `MessageSender` protocol and what a successful send returns.

`cloud_api.CloudApiSender` is the real implementation (aiohttp, Graph API); `testing.FakeSender`
is the test double. A sender either returns a `SendReceipt` or raises one of the
`errors.SendError` subclasses, chosen by the class of Meta's error code in `errorcodes.py`; it
never decides whether to retry (that is `dispatch/retries.py`'s `RetryPolicy`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from whatsapp_scheduler.core import messages


@dataclasses.dataclass(frozen=True, slots=True)
class SendReceipt:
    """Meta accepted the message (HTTP 200). Delivery is reported later by webhooks."""

    wamid: str
    wa_id: str | None
    http_status: int = 200


class MessageSender(Protocol):
    """Hands one message to WhatsApp."""

    async def send(self, message: messages.ScheduledMessage) -> SendReceipt:
        """Send `message` once.

        Raises `errors.RateLimited`, `errors.TemporaryFailure` (`errors.AmbiguousFailure` when
        the request may have reached Meta), `errors.AccountFailure` or
        `errors.PermanentFailure`.
        """
        ...
