"""The dispatcher's daily-messaging-limit check (docs/limits.md, "Daily messaging limit").

Meta lets a business portfolio reach at most MESSAGING_LIMIT unique contacts with templates
outside their 24-hour window in a moving 24 h; past it, sends fail. Per claimed batch the gate
reads the recipients' windows (one `store.contacts_many`) and books every template message's
recipient whose window is closed against the portfolio's limit (one `store.book_contacts`, a
transaction shared by every process on PostgreSQL). `check()` then answers, per message, the
time a slot frees if its contact did not fit: the dispatcher defers it to then
(`messaging_limit`, no attempt) instead of sending it into a failure. A contact already
reached within 24 h costs nothing more; a booked contact whose send is then held back (a
pause, a pair gap) stays counted, which errs on the safe side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from whatsapp_scheduler import store
from whatsapp_scheduler.core import consent, errors, limits, messages, window

logger = logging.getLogger(__name__)

REASON = "messaging_limit"


class MessagingLimitGate:
    """Books a claimed batch's template recipients against the portfolio's daily limit."""

    def __init__(self, message_store: store.MessageStore) -> None:
        self.store = message_store
        self._refused: dict[str, datetime] = {}  # message id -> when a slot frees

    async def prepare(
        self,
        batch: Sequence[messages.ScheduledMessage],
        numbers: Sequence[str],
        portfolio: str,
        limit: int | None,
        now: datetime,
        goes: Callable[[messages.ScheduledMessage], bool] = lambda _m: True,
        known: Mapping[str, store.ContactState] | None = None,
    ) -> None:
        """Book the batch's template messages to contacts outside their window (those that
        `goes` says may be sent now) against `limit` (None: unlimited, nothing booked). The
        windows are read from `known` when given (what the consent check read of the whole
        batch, under the same numbers), else from the store. On a store error the batch goes
        as it is."""
        if limit is None:
            return
        templates = [
            m
            for m in batch
            if (m.template is not None or m.fallback_template is not None) and goes(m)
        ]
        if not templates:
            return
        try:
            found = known
            if found is None:
                found = await self.store.contacts_many(
                    [window.wa_id(m.recipient) for m in templates], numbers
                )
            outside = [
                m
                for m in templates
                if not window.is_open(_last_inbound(found.get(window.wa_id(m.recipient))), now)
            ]
            if not outside:
                return
            answers = await self.store.book_contacts(
                portfolio, [window.wa_id(m.recipient) for m in outside], limit, now
            )
        except errors.StoreError:
            logger.warning("messaging limit not booked; sending the claimed batch as it is")
            return
        for message in outside:
            frees = answers.get(window.wa_id(message.recipient))
            if frees is not None:
                self._refused[message.id] = frees

    def check(self, message: messages.ScheduledMessage) -> datetime | None:
        """When a slot frees for `message` (its contact did not fit), or None (forgets it)."""
        return self._refused.pop(message.id, None)

    def forget(self, message_id: str) -> None:
        self._refused.pop(message_id, None)


FREQUENCY_REASON = "frequency_cap"


#: How long a message waits whose cap another process's send in flight may have reached.
IN_FLIGHT_RECHECK = timedelta(seconds=30)


class FrequencyGate:
    """MARKETING_FREQUENCY_CAP: at most `cap.count` MARKETING messages per contact from one
    sender in `cap.days` days. Per claimed batch one read of what was sent (`store.
    marketing_sent`); a message over the cap is deferred to when the oldest counted one is
    `cap.days` old. Several processes: a message being sent by another process (`sending`,
    claimed before this one: the claim's time, then the id, orders them the same way in every
    process) counts too, but as a maybe: if only it makes the cap, this one waits
    `IN_FLIGHT_RECHECK` and is checked again, by when the other was sent (then it counts for
    good) or was not (then this one goes). So one process never sends past the cap because
    another's send had not been recorded yet, and a maybe never costs a whole period."""

    def __init__(self, message_store: store.MessageStore, cap: limits.FrequencyCap) -> None:
        self.store = message_store
        self.cap = cap
        self._refused: dict[str, datetime] = {}

    async def prepare(
        self,
        batch: Sequence[messages.ScheduledMessage],
        now: datetime,
        goes: Callable[[messages.ScheduledMessage], bool] = lambda _m: True,
    ) -> None:
        marketing = [m for m in batch if m.category == consent.MARKETING and goes(m)]
        if not marketing:
            return
        period = timedelta(days=self.cap.days)
        sender, recipients = marketing[0].sender, sorted({m.recipient for m in marketing})
        try:
            sent, in_flight = await self.store.marketing_recent(sender, recipients, now - period)
        except errors.StoreError:
            logger.warning("frequency cap not read; sending the claimed batch as it is")
            return
        batch_ids = {m.id for m in batch}
        for message in marketing:  # in claim order; the batch's own sends count too
            times = sent.setdefault(message.recipient, [])
            if len(times) >= self.cap.count:
                frees = times[len(times) - self.cap.count] + period
                self._refused[message.id] = max(frees, now + timedelta(seconds=1))
                continue
            mine = (message.claimed_at or now, message.id)
            ahead = [
                f
                for f in in_flight.get(message.recipient, ())
                if f[1] not in batch_ids and f < mine
            ]
            if len(times) + len(ahead) >= self.cap.count:  # maybe over: look again soon
                self._refused[message.id] = now + IN_FLIGHT_RECHECK
            else:
                times.append(now)

    def check(self, message: messages.ScheduledMessage) -> datetime | None:
        """When `message` may go under the cap, if it is over it now (forgets it)."""
        return self._refused.pop(message.id, None)

    def refuses(self, message_id: str) -> bool:
        return message_id in self._refused

    def forget(self, message_id: str) -> None:
        self._refused.pop(message_id, None)


def _last_inbound(state: store.ContactState | None) -> datetime | None:
    return state.last_inbound if state is not None else None
