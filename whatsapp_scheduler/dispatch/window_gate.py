"""The dispatcher's send-time check of the 24-hour window (the rules are in `window.py`).

Cheap on the hot path: with WINDOW_POLICY=send nothing is read at all (Meta decides); with
`fail` or `template`, one `store.last_inbound_many` read per claimed batch, for its free-form
texts only. The dispatcher then asks `check()` for each message just before sending it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime

from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, messages, window

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """What to send: `message` (maybe its fallback template instead), or nothing (`failure`)."""

    message: messages.ScheduledMessage
    failure: str | None = None  # the error text of a message failed without sending
    fallback: bool = False


class WindowGate:
    """Looks up contacts' last inbound message per claimed batch and applies WINDOW_POLICY."""

    def __init__(self, message_store: store.MessageStore, policy: window.WindowPolicy) -> None:
        self.store = message_store
        self.policy = policy
        self._seen: dict[str, datetime | None] = {}  # message id -> last inbound (looked up)

    @property
    def active(self) -> bool:
        """False for `send`: nothing to read, nothing to hold back."""
        return self.policy != window.WindowPolicy.SEND

    async def prepare(
        self, batch: Sequence[messages.ScheduledMessage], numbers: Sequence[str] = ("",)
    ) -> None:
        """One read for the batch's texts (all of one sender, whose windows are kept under
        `numbers`: its phone_number_id, and '' for the default sender); on a store error
        their check lets them through."""
        if not self.active:
            return
        texts = [m for m in batch if m.template is None]
        if not texts:
            return
        try:
            seen = await self.store.last_inbound_many(
                [window.wa_id(m.recipient) for m in texts], numbers
            )
        except errors.StoreError:
            logger.warning("window lookup failed; sending these texts as they are")
            return
        for message in texts:
            self._seen[message.id] = seen.get(window.wa_id(message.recipient))

    def check(self, message: messages.ScheduledMessage, now: datetime) -> Verdict:
        """The verdict for `message` about to be sent at `now` (forgets its lookup)."""
        if not self.active or message.template is not None:
            return Verdict(message)
        if message.id not in self._seen:
            return Verdict(message)  # not looked up (store error): let Meta decide
        last = self._seen.pop(message.id)
        decision = window.decide(
            self.policy,
            is_template=False,
            has_fallback=message.fallback_template is not None,
            last_inbound=last,
            at=now,
        )
        if decision.action == window.Action.FALLBACK:
            assert message.fallback_template is not None
            swapped = message.evolve(body=None, content=None, template=message.fallback_template)
            logger.info("window closed: sending the fallback template", extra=message.log_context())
            return Verdict(swapped, fallback=True)
        if decision.action == window.Action.FAIL and decision.reason is not None:
            return Verdict(message, failure=f"window closed: {decision.reason}")
        return Verdict(message)
