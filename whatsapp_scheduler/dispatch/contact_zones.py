"""The time zones of the claimed messages' contacts, for quiet hours at send time.

Quiet hours are the recipient's nights: when the recipient is a contact of the message's sender
with a time zone (`contacts.timezone`), the hours are read in that zone, else in the message's
own (docs/limits.md). One `store.get_profiles` read per claimed batch, and only while the
sender has quiet hours; the answers are kept per message until its attempt ends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, messages

logger = logging.getLogger(__name__)


class ContactZones:
    """Message id -> its contact's time zone, for the messages claimed and not yet done."""

    def __init__(self, message_store: store.MessageStore) -> None:
        self.store = message_store
        self._zones: dict[str, str] = {}

    async def prepare(self, sender: str, batch: Sequence[messages.ScheduledMessage]) -> None:
        """One read for a batch of one sender. On a store error the messages' own zones are
        used (what quiet hours were moved by at schedule time, when no contact had a zone)."""
        wanted = [m for m in batch if m.quiet_hours is not False]
        if not wanted:
            return
        try:
            found = await self.store.get_profiles(sender, [m.recipient for m in wanted])
        except errors.StoreError:
            logger.warning("contacts' time zones not read; using the messages' own")
            return
        for message in wanted:
            profile = found.get(message.recipient)
            if profile is not None and profile.timezone:
                self._zones[message.id] = profile.timezone

    def zone_of(self, message: messages.ScheduledMessage) -> str:
        """The zone its quiet hours are read in: its contact's, else its own."""
        return self._zones.get(message.id, message.timezone)

    def forget(self, message_id: str) -> None:
        self._zones.pop(message_id, None)
