"""The simulated phone's side of a message: which statuses happen, when, and how they are told.

:func:`plan_statuses` is pure (the dice come from an injected ``random.Random``): it turns the
webhook settings and faults into an ordered list of :class:`PlannedStatus`. The
:class:`StatusScheduler` plays a plan on the event loop: each step updates the inbox's
:class:`~whatsapp_scheduler.sandbox.records.ChatMessage`, publishes a live event, and hands a
``statuses[]`` entry to the :class:`~whatsapp_scheduler.sandbox.webhooks.WebhookSender` (twice
when duplicated; not at all when ``delivered`` is skipped).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from whatsapp_scheduler.sandbox import graph_errors, payloads
from whatsapp_scheduler.sandbox.config import Faults, WebhookSettings
from whatsapp_scheduler.sandbox.records import ChatMessage, EventBus
from whatsapp_scheduler.sandbox.webhooks import WebhookSender

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlannedStatus:
    """One status of a plan: ``at`` seconds after the send; ``copies`` webhooks (0 = skipped)."""

    at: float
    status: str
    pricing: bool = False
    code: int | None = None
    copies: int = 1


def _roll(rng: random.Random, probability: float) -> bool:
    """True with ``probability``; draws no number for 0 or 1 (keeps the hot path lean)."""
    if probability <= 0.0:
        return False
    if probability >= 1.0:
        return True
    return rng.random() < probability


def plan_statuses(
    rng: random.Random,
    settings: WebhookSettings,
    faults: Faults,
    *,
    async_code: int | None = None,
) -> list[PlannedStatus]:
    """The statuses one accepted message goes through, in the order their webhooks go out.

    A message bound to fail asynchronously gets a single ``failed`` status carrying
    ``async_code``. Otherwise: ``sent`` (with pricing), ``delivered`` with
    ``delivered_probability`` (with pricing), ``read`` with ``read_probability`` after it.
    Faults then apply: ``skip_delivered_rate`` drops the delivered webhook (read takes the
    pricing), ``reorder_rate`` swaps delivered and read, ``duplicate_rate`` doubles a webhook.
    """
    delays = settings.status_delays
    if async_code is not None:
        return [PlannedStatus(delays.sent, "failed", code=async_code, copies=_copies(rng, faults))]
    at = delays.sent
    plan = [PlannedStatus(at, "sent", pricing=True)]
    if not _roll(rng, settings.delivered_probability):
        return _duplicated(rng, faults, plan)
    at += delays.delivered
    delivered = PlannedStatus(at, "delivered", pricing=True)
    if not _roll(rng, settings.read_probability):
        return _duplicated(rng, faults, [*plan, delivered])
    read = PlannedStatus(at + delays.read, "read")
    if _roll(rng, faults.skip_delivered_rate):
        delivered = replace(delivered, pricing=False, copies=0)
        read = replace(read, pricing=True)
        return _duplicated(rng, faults, [*plan, delivered, read])
    if _roll(rng, faults.reorder_rate):
        # read's webhook goes out at delivered's moment, delivered's afterwards.
        early_read = replace(read, at=delivered.at)
        late_delivered = replace(delivered, at=read.at)
        return _duplicated(rng, faults, [*plan, early_read, late_delivered])
    return _duplicated(rng, faults, [*plan, delivered, read])


def _copies(rng: random.Random, faults: Faults) -> int:
    return 2 if _roll(rng, faults.duplicate_rate) else 1


def _duplicated(
    rng: random.Random, faults: Faults, plan: list[PlannedStatus]
) -> list[PlannedStatus]:
    if faults.duplicate_rate <= 0.0:
        return plan
    return [replace(p, copies=_copies(rng, faults)) if p.copies else p for p in plan]


class StatusScheduler:
    """Plays status plans on the event loop and feeds the webhook sender."""

    def __init__(
        self,
        sender: WebhookSender,
        bus: EventBus,
        wall_clock: Callable[[], float],
    ) -> None:
        self.sender = sender
        self.bus = bus
        self.wall_clock = wall_clock
        self._closed = False

    def schedule(
        self,
        message: ChatMessage,
        wa_id: str,
        plan: list[PlannedStatus],
        *,
        template: bool,
    ) -> None:
        """Start playing ``plan`` for ``message`` (sent to ``wa_id``)."""
        if not plan:
            return
        self.sender.add_pending(len(plan))
        self._step(message, wa_id, plan, 0, 0.0, template)

    def _step(
        self,
        message: ChatMessage,
        wa_id: str,
        plan: list[PlannedStatus],
        index: int,
        now: float,
        template: bool,
    ) -> None:
        # Steps are chained (each schedules the next) so equal times keep their order.
        # After close() the callbacks still fire but do nothing.
        loop = asyncio.get_running_loop()
        delta = plan[index].at - now
        args = (message, wa_id, plan, index, template)
        if delta <= 0:
            loop.call_soon(self._fire, *args)
        else:
            loop.call_later(delta, self._fire, *args)

    def _fire(
        self,
        message: ChatMessage,
        wa_id: str,
        plan: list[PlannedStatus],
        index: int,
        template: bool,
    ) -> None:
        if self._closed:
            return
        step = plan[index]
        self.emit(message, wa_id, step, template=template)
        self.sender.done_pending()
        if index + 1 < len(plan):
            self._step(message, wa_id, plan, index + 1, step.at, template)

    def emit(
        self, message: ChatMessage, wa_id: str, step: PlannedStatus, *, template: bool
    ) -> None:
        """Apply one status to the chat message, publish it, and queue its webhook(s)."""
        title = graph_errors.title_for(step.code) if step.code is not None else None
        moved = message.advance(step.status, step.code, title)
        if moved and self.bus.active:
            self.bus.publish(
                "status",
                {
                    "wamid": message.wamid,
                    "wa_id": wa_id,
                    "status": message.status,
                    "error_code": message.error_code,
                    "error_title": message.error_title,
                },
            )
        if not step.copies or self.sender.settings.url is None:
            return
        entry = payloads.status_entry(
            message.wamid,
            step.status,
            timestamp=self.wall_clock(),
            recipient_id=wa_id,
            callback_data=message.callback_data,
            pricing=payloads.pricing_for(template=template) if step.pricing else None,
            errors=[graph_errors.status_error(step.code)] if step.code is not None else None,
        )
        for _ in range(step.copies):
            self.sender.put_status(entry, message.phone_number_id)

    def close(self) -> None:
        """Stop playing plans (pending steps are dropped)."""
        self._closed = True
