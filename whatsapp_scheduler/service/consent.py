"""Consent use cases (docs/consent.md): what a contact agreed to, per sender, and what that
does to messages. Used by the REST API (`/contacts`), the webhook and `SchedulerService`.

- Recorded from: an inbound keyword (OPT_OUT_KEYWORDS / OPT_IN_KEYWORDS, everything), Meta's
  `user_preferences` webhook and error 131050 (marketing only), error 131026 (undeliverable:
  a warning), and `PUT /contacts/{phone}/consent` (consent obtained elsewhere).
- An opt-out cancels the queued messages it covers in the same transaction (store
  `record_consent`); a new message it covers is refused (`refusal`); the dispatcher checks
  again just before sending (`dispatch/consent_gate.py`).
- Marketing: a template message whose category is MARKETING. The category comes from a
  `CategoryLookup` (the template catalogue), set on the message at schedule time; without one,
  a template's category is unknown, so a marketing-only opt-out stops nothing (a full one
  still stops everything).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Protocol

from whatsapp_scheduler import store
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import consent, errors, messages, notices, recipients, senders, window
from whatsapp_scheduler.whatsapp import webhooks

logger = logging.getLogger(__name__)

#: History rows shown by GET /contacts/{phone}.
HISTORY_LIMIT = 50
#: The error codes of a `failed` status webhook that change consent.
MARKETING_STOPPED_CODE = 131050
UNDELIVERABLE_CODE = 131026


class CategoryLookup(Protocol):
    """The category of templates by name for a sender (the template catalogue): MARKETING,
    UTILITY or AUTHENTICATION; names it does not know are left out."""

    async def categories(self, sender: str, names: Collection[str]) -> Mapping[str, str]: ...


class Numbers(Protocol):
    """`service.scheduler.WindowNumbers`: the numbers a sender's contacts are kept under."""

    async def numbers(self, sender: str) -> tuple[str, ...]: ...

    async def senders_at(self, phone_number_id: str) -> tuple[str, ...]: ...


def consent_number(numbers: Sequence[str]) -> str:
    """The number a sender's consent changes are written under: its own phone_number_id
    ('' only when the default sender has none configured)."""
    return next((n for n in numbers if n), "")


def template_name(message: messages.ScheduledMessage) -> str | None:
    name = message.template.get("name") if message.template is not None else None
    return name if isinstance(name, str) else None


class OptedOut(errors.ValidationFailed):
    """The 422 of a message its recipient opted out of; `i18n_key` and `params` let the
    dashboard say it in its own language (`web/i18n.py`, `consent.opted_out_<scope>`)."""

    def __init__(self, recipient: str, scope: consent.Scope, out: consent.OptOut) -> None:
        super().__init__("alici", consent.refusal(recipient, scope, out))
        self.i18n_key = f"consent.opted_out_{scope}"
        self.params = {"at": out.at.isoformat().replace("+00:00", "Z"), "source": str(out.source)}


def refusal(
    message: messages.ScheduledMessage, state: store.ContactState | None
) -> errors.ValidationFailed | None:
    """The 422 for a message its recipient opted out of (None: it may be stored). The rule
    that decides: `Consent.blocking(message.category)`."""
    return refusal_of(message.recipient, message.category, state)


def refusal_of(
    recipient: str, category: str | None, state: store.ContactState | None
) -> errors.ValidationFailed | None:
    """`refusal` of a message of `category` to `recipient`."""
    if state is None:
        return None
    blocked = state.consent.blocking(category)
    if blocked is None:
        return None
    scope, out = blocked
    return OptedOut(recipient, scope, out)


def warnings(state: store.ContactState | None) -> list[notices.ScheduleWarning]:
    """`undeliverable` when Meta's last 131026 for the number is newer than their last inbound
    message (a contact who wrote since is reachable)."""
    if state is None or state.consent.undeliverable_at is None:
        return []
    at = state.consent.undeliverable_at
    if state.last_inbound is not None and state.last_inbound > at:
        return []
    return [
        notices.ScheduleWarning(
            notices.WarningCode.UNDELIVERABLE,
            f"undeliverable: {consent.undeliverable_text(at)}",
            {"at": at.isoformat()},
        )
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class ContactReport:
    """A contact as GET /contacts answers it."""

    recipient: str  # E.164
    sender: str
    state: store.ContactState
    window_open: bool
    history: list[consent.ConsentEvent] = dataclasses.field(default_factory=list)


class ConsentService:
    """The rules for reading and recording consent."""

    def __init__(
        self,
        message_store: store.MessageStore,
        clock: clock_mod.Clock,
        numbers: Numbers,
        *,
        default_sender: str = senders.DEFAULT_SENDER_NAME,
        default_region: str = "TR",
        keywords: consent.Keywords = consent.DEFAULT_KEYWORDS,
    ) -> None:
        self.store = message_store
        self.clock = clock
        self.numbers = numbers
        self.default_sender = default_sender
        self.default_region = default_region
        self.keywords = keywords

    async def sender_numbers(
        self, gonderen: str | None, allowed: frozenset[str] | None
    ) -> tuple[str, tuple[str, ...]]:
        """The sender asked for (default: DEFAULT_SENDER) and its numbers; 422 naming
        `gonderen` for a name that is not a sender, or one the key may not see."""
        name = self.default_sender if gonderen is None else gonderen
        if not senders.valid_name(name):
            raise errors.ValidationFailed(
                "gonderen", "must be a sender's name ({NAME_RULE})", NAME_RULE=senders.NAME_RULE
            )
        if allowed is not None and name not in allowed:
            raise errors.ValidationFailed(
                "gonderen",
                "this API key sees only {value}",
                value=", ".join(sorted(allowed)) or "no sender",
            )
        numbers = await self.numbers.numbers(name)
        if not numbers:
            raise errors.ValidationFailed(
                "gonderen", "no sender named {name!r} (GET /senders lists them)", name=name
            )
        return name, numbers

    def _recipient(self, phone: str) -> str:
        return recipients.normalize(phone, self.default_region, field="phone")

    async def show(
        self, phone: str, gonderen: str | None, allowed: frozenset[str] | None
    ) -> ContactReport:
        recipient = self._recipient(phone)
        sender, numbers = await self.sender_numbers(gonderen, allowed)
        wa_id = window.wa_id(recipient)
        state = (await self.store.contacts_many([wa_id], numbers)).get(wa_id, store.ContactState())
        history = await self.store.consent_history(wa_id, numbers, HISTORY_LIMIT)
        return self._report(recipient, sender, state, history)

    def _report(
        self,
        recipient: str,
        sender: str,
        state: store.ContactState,
        history: list[consent.ConsentEvent] | None = None,
    ) -> ContactReport:
        now = self.clock.now()
        is_open = window.is_open(state.last_inbound, now, timedelta(0))
        return ContactReport(recipient, sender, state, is_open, history or [])

    async def put(
        self,
        phone: str,
        gonderen: str | None,
        allowed: frozenset[str] | None,
        change: consent.Change,
        scope: consent.Scope,
        note: str | None,
        key_name: str | None,
    ) -> tuple[ContactReport, int]:
        """Record consent obtained elsewhere (`opted_in` / `opted_out` of `scope`); returns the
        contact and the count of queued messages the change cancelled."""
        recipient = self._recipient(phone)
        sender, numbers = await self.sender_numbers(gonderen, allowed)
        wa_id = window.wa_id(recipient)
        now = self.clock.now()
        by = f"key {key_name}" if key_name is not None else "API_KEY"
        detail = f"{by}: {note}" if note else by
        number = consent_number(numbers)
        names = await self.numbers.senders_at(number)
        (cancelled,) = await self.store.record_consent(
            [consent.ConsentChange(wa_id, change, scope, consent.Source.API, now, detail)],
            number,
            names or (sender,),
            now,
        )
        logger.info(
            "consent recorded",
            extra={
                "change": str(change),
                "scope": str(scope),
                "source": "api",
                "cancelled": cancelled,
            },
        )
        return await self.show(recipient, sender, allowed), cancelled

    async def list(
        self,
        gonderen: str | None,
        allowed: frozenset[str] | None,
        opted_out: bool | None,
        after: str | None,
        limit: int,
    ) -> tuple[list[ContactReport], str | None]:
        sender, numbers = await self.sender_numbers(gonderen, allowed)
        page = await self.store.list_contacts(numbers, opted_out, after, limit)
        states = await self.store.contacts_many(page.wa_ids, numbers)
        reports = [
            self._report("+" + w, sender, states.get(w, store.ContactState())) for w in page.wa_ids
        ]
        return reports, page.next_after

    async def apply_webhook(self, delivery: webhooks.Delivery) -> int:
        """Record what Meta's webhook says about consent: keywords in inbound texts, marketing
        stop / resume (`user_preferences`), 131050 and 131026 in failed statuses. Returns the
        queued messages cancelled. Unknown contacts and numbers are recorded all the same."""
        per_number: dict[str, list[consent.ConsentChange]] = {}
        for m in delivery.inbound:
            found = self.keywords.classify(m.text) if m.type == "text" else None
            if found is not None:
                per_number.setdefault(m.phone_number_id or "", []).append(
                    consent.ConsentChange(
                        m.wa_id,
                        found,
                        consent.Scope.ALL,
                        consent.Source.KEYWORD,
                        m.timestamp,
                        f"keyword {m.text!r}"[:200],
                    )
                )
        for p in delivery.preferences:
            change = consent.Change.OPTED_OUT if p.stop else consent.Change.OPTED_IN
            per_number.setdefault(p.phone_number_id or "", []).append(
                consent.ConsentChange(
                    p.wa_id,
                    change,
                    consent.Scope.MARKETING,
                    consent.Source.USER_PREFERENCES,
                    p.timestamp,
                    p.detail,
                )
            )
        for u in delivery.statuses:
            if (
                u.error_code not in {MARKETING_STOPPED_CODE, UNDELIVERABLE_CODE}
                or not u.recipient_id
            ):
                continue
            if u.error_code == MARKETING_STOPPED_CODE:
                item = consent.ConsentChange(
                    u.recipient_id,
                    consent.Change.OPTED_OUT,
                    consent.Scope.MARKETING,
                    consent.Source.ERROR_131050,
                    u.timestamp,
                    f"wamid {u.wamid}",
                )
            else:
                item = consent.ConsentChange(
                    u.recipient_id,
                    consent.Change.UNDELIVERABLE,
                    consent.Scope.ALL,
                    consent.Source.ERROR_131026,
                    u.timestamp,
                    f"wamid {u.wamid}",
                )
            per_number.setdefault(u.phone_number_id or "", []).append(item)
        total = 0
        for number, changes in per_number.items():
            total += await self.record(changes, number)
        return total

    async def record(self, changes: Sequence[consent.ConsentChange], number: str) -> int:
        """Record `changes` reported for the business number `number` ('': not given, the
        default sender's): under its sender's consent number, cancelling that sender's
        queued messages the opt-outs cover."""
        names = await self.numbers.senders_at(number)
        if names:
            number = consent_number(await self.numbers.numbers(names[0])) or number
        counts = await self.store.record_consent(changes, number, names, self.clock.now())
        for change, cancelled in zip(changes, counts, strict=True):
            logger.info(
                "consent recorded",
                extra={
                    "change": str(change.change),
                    "scope": str(change.scope),
                    "source": str(change.source),
                    "cancelled": cancelled,
                },
            )
        return sum(counts)
