"""The dispatcher's send-time consent check (docs/consent.md, "What consent does").

An opt-out cancels the queued messages it covers in its own transaction; what this check adds
is the messages already claimed when the opt-out was committed. One `store.contacts_many` read
per claimed batch (all of one sender); the dispatcher then asks `check()` for each message just
before sending it. A message its recipient opted out of is cancelled (`status_reason`
`opted_out`), never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from whatsapp_scheduler import store
from whatsapp_scheduler.core import consent, errors, messages, window

logger = logging.getLogger(__name__)


class ConsentGate:
    """Looks up the consent of a claimed batch's recipients; refuses what an opt-out covers."""

    def __init__(self, message_store: store.MessageStore) -> None:
        self.store = message_store
        self._refused: dict[str, str] = {}  # message id -> the refusal's text

    async def prepare(
        self, batch: Sequence[messages.ScheduledMessage], numbers: Sequence[str] = ("",)
    ) -> Mapping[str, store.ContactState] | None:
        """One read for the batch (whose sender's contacts are kept under `numbers`); returns
        what it read (every recipient's state that exists: the messaging limit's check reads
        their windows from it instead of reading again), None if nothing was read. On a store
        error the batch goes as it is: the opt-out's own transaction cancelled every message
        that was still queued."""
        if not batch:
            return None
        try:
            found = await self.store.contacts_many(
                [window.wa_id(m.recipient) for m in batch], numbers
            )
        except errors.StoreError:
            logger.warning("consent lookup failed; sending the claimed batch as it is")
            return None
        for message in batch:
            state = found.get(window.wa_id(message.recipient))
            blocked = state.consent.blocking(message.category) if state is not None else None
            if blocked is not None:
                scope, out = blocked
                self._refused[message.id] = consent.refusal(message.recipient, scope, out)
        return found

    def check(self, message: messages.ScheduledMessage) -> str | None:
        """Why `message` must not be sent (its recipient opted out), or None (forgets it)."""
        return self._refused.pop(message.id, None)

    def refuses(self, message_id: str) -> bool:
        """Whether `check` will refuse that message (it stays to be checked)."""
        return message_id in self._refused

    def forget(self, message_id: str) -> None:
        self._refused.pop(message_id, None)
