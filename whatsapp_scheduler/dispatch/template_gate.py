"""The dispatcher's send-time template check (docs/templates.md, "At send time").

A template checked when it was scheduled may have changed at Meta since (days may pass): Meta
DISABLED or REJECTED it, or PAUSED it for its quality. Sending it then only burns an attempt on
Meta's 132016 / 132015. Before each send the dispatcher asks `check()`: a template now DISABLED
or REJECTED fails the message at once with the reason (no request to Meta); a PAUSED one is
deferred (`template_paused`) by `PAUSED_RETRY` and checked again, until Meta unpauses it or
MAX_LATENESS ends the message. A template the catalogue does not know (no WABA id, never synced,
another name) goes as it is: Meta is the judge.

The statuses come from a `TemplateStatuses` (the service's template catalogue: its in-process
copy, kept current by the sync and Meta's template webhooks); `prepare` lets it refresh once
per claimed batch, `check` is a dictionary lookup.

The category too may have changed (Meta re-categorises templates after approval, e.g. UTILITY
-> MARKETING): `recategorised` gives the claimed batch today's categories, so the send-time
consent check applies the rules of what will be sent, and `send_category` is what the attempt
records (SERVICE for a text; a fallback template's own category).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from whatsapp_scheduler.core import catalogue, errors, messages

logger = logging.getLogger(__name__)

#: A message whose template Meta has paused is checked again after this long.
PAUSED_RETRY = timedelta(minutes=5)
FAILING = frozenset({"DISABLED", "REJECTED"})
PAUSED = "PAUSED"


class TemplateStatuses(Protocol):
    """Meta's status of a sender's templates as last synced."""

    async def refresh(self) -> None:
        """Bring the in-process copy up to date if it is stale (cheap when it is not)."""

    def template_status(self, sender: str, name: str, language: str) -> str | None:
        """APPROVED, PAUSED, DISABLED, REJECTED ...; None: not in the catalogue."""

    def template_category(self, sender: str, name: str, language: str) -> str | None:
        """MARKETING, UTILITY, AUTHENTICATION; None: not in the catalogue."""


def _name_and_language(template: Mapping[str, Any]) -> tuple[str, str] | None:
    name = template.get("name")
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    if isinstance(name, str) and isinstance(code, str):
        return name, code
    return None


class TemplateGate:
    """Whether a claimed template message may go now (see the module docstring)."""

    def __init__(self, statuses: TemplateStatuses) -> None:
        self.statuses = statuses

    async def prepare(self, batch: Sequence[messages.ScheduledMessage]) -> None:
        """Refresh the statuses once for a batch holding templates; on a store error the
        batch goes with what is known (Meta still refuses a disabled template)."""
        if all(m.template is None for m in batch):
            return
        try:
            await self.statuses.refresh()
        except errors.StoreError:
            logger.warning("template catalogue refresh failed; using the copy in memory")

    def category(self, message: messages.ScheduledMessage) -> str | None:
        """The catalogue's category of the message's template now; None: a text, or a
        template the catalogue does not know."""
        named = _name_and_language(message.template) if message.template is not None else None
        if named is None:
            return None
        return self.statuses.template_category(message.sender, *named)

    def recategorised(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[messages.ScheduledMessage]:
        """The batch with each template message's category as the catalogue holds it now
        (unchanged where it does not know the template)."""
        found: list[messages.ScheduledMessage] = []
        for message in batch:
            now = self.category(message)
            if now is not None and now != message.category:
                logger.info(
                    "template re-categorised since it was scheduled",
                    extra=message.log_context() | {"category": now, "was": message.category},
                )
                message = message.evolve(category=now)
            found.append(message)
        return found

    def check(self, message: messages.ScheduledMessage) -> tuple[str, str] | None:
        """(`"failed"` | `"paused"`, the reason) for a template that must not go now; None
        for a text, or a template that may go."""
        if message.template is None:
            return None
        named = _name_and_language(message.template)
        if named is None:
            return None
        name, language = named
        status = self.statuses.template_status(message.sender, name, language)
        if status in FAILING:
            return "failed", (
                f"template {name!r} ({language}) is {status} at Meta since it was scheduled: "
                "nothing was sent"
            )
        if status == PAUSED:
            return "paused", f"template {name!r} ({language}) is PAUSED at Meta: waiting"
        return None


def send_category(
    gate: TemplateGate | None, message: messages.ScheduledMessage, sent_as: messages.SentAs
) -> str | None:
    """What an attempt is billed as: SERVICE for a text; a template's category (a fallback
    template's own, looked up); None where the catalogue does not know the template sent."""
    if message.template is None:
        return catalogue.SERVICE
    known = gate.category(message) if gate is not None else None
    if known is not None:
        return known
    # The message's recorded category is its own template's; a fallback is another template.
    return None if sent_as == messages.SentAs.FALLBACK_TEMPLATE else message.category
